//! One contract suite per port. Each suite is a set of async functions that take a fresh
//! adapter; the test binaries run every function against both adapter families.

pub mod archive;
pub mod key_vault;
pub mod records;
pub mod step_queue;
