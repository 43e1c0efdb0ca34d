//! The audit trail's core: a hash chain of events per tenant, kept in the records port.
//!
//! Each event carries its tenant's sequence number (from 1), the previous event's hash and its
//! own: lowercase hex SHA-256 of the canonical encoding in `docs/audit-chain.md`, which anyone
//! can re-implement to check an export without access to the system. Appending is a
//! conditional create of the next sequence, so concurrent appends can never fork a chain;
//! [`prepare_append`] returns that create for the caller's own transaction, so an event and
//! what it records are written together or not at all.

/// The canonical encoding events are hashed over.
pub use crate::canonical;
pub mod chain;
pub mod event;
pub mod export;
pub mod exports;
pub mod origin;
pub mod store;
pub mod verify_export;

pub use canonical::CanonicalError;
pub use chain::{BreakReason, ChainBreak, ChainChecker, Continuity, verify};
pub use event::{AuditEvent, GENESIS_HASH, NewAuditEvent, Subject};
pub use export::{
    ExportEncoder, ExportError, ExportFilters, ExportFormat, ExportManifest, ExportSummary,
};
pub use origin::{Origin, types};
pub use store::{
    AuditFilter, AuditPage, append, event_key, head, list, partition, prepare_append, transact,
};
pub use verify_export::{
    ExportProblem, ProblemReason, VerifiedExport, verify_export, verify_export_with,
};

use crate::ports::{RecordKey, RecordsError};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The tenant, the event (a float in its payload, an empty field), the page size or the
    /// cursor is not acceptable. Nothing was written.
    #[error("invalid audit request: {0}")]
    Invalid(String),
    /// Other appends kept taking the next sequence first; a later retry may succeed.
    #[error("audit chain of tenant {tenant} stayed contended after {attempts} attempts")]
    Contended { tenant: String, attempts: u32 },
    /// A stored record in the chain's partition is not the event its key says it is.
    #[error("stored audit record {key} is not a valid event: {reason}")]
    Corrupt { key: RecordKey, reason: String },
    /// The records store could not be reached or was throttling; a retry may help.
    #[error("audit store unavailable: {0}")]
    Unavailable(String),
    #[error("audit store failed: {0}")]
    Internal(String),
}

impl AuditError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AuditError::Contended { .. } | AuditError::Unavailable(_)
        )
    }
}

impl AuditError {
    /// For callers whose writes and audit events share one records transaction: the
    /// records error that says the same (contention and outages stay retryable).
    pub fn into_records_error(self) -> RecordsError {
        match self {
            AuditError::Invalid(message) => RecordsError::Invalid(message),
            AuditError::Contended { .. } | AuditError::Unavailable(_) => {
                RecordsError::Unavailable(self.to_string())
            }
            AuditError::Corrupt { .. } | AuditError::Internal(_) => {
                RecordsError::Internal(self.to_string())
            }
        }
    }
}

impl From<RecordsError> for AuditError {
    fn from(error: RecordsError) -> Self {
        match error {
            RecordsError::Invalid(message) => AuditError::Invalid(message),
            RecordsError::Unavailable(message) => AuditError::Unavailable(message),
            other => AuditError::Internal(other.to_string()),
        }
    }
}
