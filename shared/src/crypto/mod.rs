//! Cryptography the domain does itself, on top of the key vault port.

pub mod envelope;
