//! The port contract suites: every adapter of a port (embedded and AWS on the emulator) passes
//! the same cases from `walletless_tests::contract`. One test binary for all of them; filter a
//! run with `cargo test -p walletless-tests --test contracts -- <port>::`.

mod archive;
mod audit_chain;
mod key_vault;
mod records;
mod step_queue;
