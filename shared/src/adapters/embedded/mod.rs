//! Embedded adapters for running locally with no AWS account: SQLite, a master key file and
//! a directory.

pub mod dir_archive;
pub mod local_vault;
pub mod sqlite_queue;
pub mod sqlite_records;
