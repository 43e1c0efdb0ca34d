//! Chains: building, signing, submitting and confirming transactions on Algorand-family and
//! EVM networks.

pub mod algorand;
pub mod error;
pub mod evm;
pub mod faucet;
pub mod health;
pub(crate) mod http;
pub mod issue;
pub mod readback;
pub mod token;
