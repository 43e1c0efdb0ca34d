//! Walletless: the domain crate of the token issuance backend.
//!
//! Layout: [`ports`] are the traits the domain depends on; [`adapters`] implement them for
//! AWS and for the embedded local mode; [`api`] is the one HTTP layer (route table, handlers,
//! errors) served by the Lambda functions and by the local server alike; [`steps`] runs
//! background steps from the queue.

pub mod adapters;
pub mod ports;
