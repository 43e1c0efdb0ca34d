//! Accounts: registration and login with ARC-76-derived blockchain accounts whose seed is
//! kept only as a KMS envelope.

pub mod arc76;
mod error;
pub mod mnemonic;
pub mod password;
pub mod service;
pub mod tokens;

pub use error::{AccountError, rfc3339};
