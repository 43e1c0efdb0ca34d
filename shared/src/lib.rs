//! Walletless: the domain crate of the token issuance backend.
//!
//! Layout: [`ports`] are the traits the domain depends on; [`adapters`] implement them for
//! AWS and for the embedded local mode; [`api`] is the one HTTP layer (route table, handlers,
//! errors) served by the Lambda functions ([`lambda`]) and by the local server alike;
//! [`steps`] runs background steps from the queue; [`app`] wires ports to configuration.

pub mod accounts;
pub mod adapters;
pub mod api;
pub mod app;
pub mod audit;
pub mod canonical;
pub mod chains;
pub mod compliance;
pub mod config;
pub mod crypto;
pub mod deployments;
pub mod drafts;
pub mod lambda;
pub mod metrics;
pub mod networks;
pub mod ports;
pub mod steps;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod webhooks;
