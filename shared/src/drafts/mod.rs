//! Token drafts: the standards catalogue, field-by-field validation, ARC-3 metadata, and
//! draft storage with optimistic concurrency.

pub mod amounts;
pub mod arc3;
pub mod service;
pub mod standards;
pub mod validate;
