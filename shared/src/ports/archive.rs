//! The archive port: durable objects (audit exports, token metadata) and time-limited links.
//!
//! AWS: S3 with server-side encryption under the KMS key and presigned GET URLs. Embedded: a
//! directory, with HMAC-signed expiring links served by the local server.

use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("no archived object at {0}")]
    NotFound(String),
    #[error("invalid archive request: {0}")]
    Invalid(String),
    #[error("archive unavailable: {0}")]
    Unavailable(String),
    #[error("archive failed: {0}")]
    Internal(String),
}

impl ArchiveError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ArchiveError::Unavailable(_))
    }
}

pub type ArchiveResult<T> = Result<T, ArchiveError>;

/// A stored object as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedObject {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Longest lifetime of a download link (the SigV4 presigning limit).
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

#[async_trait]
pub trait Archive: Send + Sync + fmt::Debug {
    /// Store `body` at `key`, replacing what was there.
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> ArchiveResult<()>;

    async fn get(&self, key: &str) -> ArchiveResult<ArchivedObject>;

    /// A URL that downloads `key` without credentials until `lifetime` has passed.
    async fn download_url(&self, key: &str, lifetime: Duration) -> ArchiveResult<String>;

    /// Whether the archive answers.
    async fn health(&self) -> ArchiveResult<()>;
}

/// Object keys both adapters accept: relative slash-separated paths of safe characters,
/// no empty, `.` or `..` segment, at most 512 bytes.
pub fn validate_object_key(key: &str) -> ArchiveResult<()> {
    let invalid = |why: &str| Err(ArchiveError::Invalid(format!("object key {key:?} {why}")));
    if key.is_empty() || key.len() > 512 {
        return invalid("must be 1 to 512 bytes");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'='))
    {
        return invalid("may hold only letters, digits and / - _ . =");
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return invalid("has an empty, '.' or '..' segment");
    }
    Ok(())
}

pub fn validate_link_lifetime(lifetime: Duration) -> ArchiveResult<()> {
    if lifetime.is_zero() || lifetime > MAX_LINK_LIFETIME {
        return Err(ArchiveError::Invalid(
            "link lifetime must be between 1 second and 7 days".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_cannot_escape_or_be_ambiguous() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "./a",
            "a/",
            "sp ace",
            "uni\u{e9}",
            "a\\b",
        ] {
            assert!(validate_object_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "tenant/u1/exports/01J.jsonl", "x/y_z-1.csv", "k=v/a"] {
            assert!(validate_object_key(good).is_ok(), "{good:?} refused");
        }
    }
}
