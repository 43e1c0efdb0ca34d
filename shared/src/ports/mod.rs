//! The ports: what the domain needs from the outside world, as traits. Adapters live in
//! [`crate::adapters`], one family for AWS and one embedded family for local runs.

pub mod archive;
pub mod key_vault;
pub mod records;
pub mod step_queue;

pub use archive::{Archive, ArchiveError, ArchiveUpload, ArchivedObject};
pub use key_vault::{DataKey, EncryptionContext, KeyVault, VaultError};
pub use records::{
    Change, Expect, NewRecord, Order, Page, Query, Record, RecordKey, RecordStore, RecordsError,
    SortRange, Write,
};
pub use step_queue::{Delivery, QueueError, StepMessage, StepQueue};
