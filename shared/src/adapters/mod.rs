//! Adapters of the ports, grouped by family.

pub mod aws;
pub mod embedded;
