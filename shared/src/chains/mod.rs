//! Chains: building, signing, submitting and confirming transactions on Algorand-family and
//! EVM networks.

pub mod algorand;
pub mod error;
