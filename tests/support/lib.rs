//! Shared support for the integration tests: the AWS emulator connection and the port
//! contract suites.

pub mod aws;
pub mod contract;
pub mod family;
pub mod fault_proxy;
pub mod server;
