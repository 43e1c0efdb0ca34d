//! Shared support for the integration tests: the AWS emulator connection, the port contract
//! suites, servers of either adapter family, and the local devnets.

pub mod aws;
pub mod chains;
pub mod contract;
pub mod family;
pub mod fault_proxy;
pub mod server;
pub mod throttling_proxy;
