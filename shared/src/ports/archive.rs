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

/// Size of the parts a streamed upload sends (S3 needs at least 5 MiB for every part but the last).
pub const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;

#[async_trait]
pub trait Archive: Send + Sync + fmt::Debug {
    /// Store `body` at `key`, replacing what was there.
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> ArchiveResult<()>;

    async fn get(&self, key: &str) -> ArchiveResult<ArchivedObject>;

    /// A URL that downloads `key` without credentials until `lifetime` has passed.
    async fn download_url(&self, key: &str, lifetime: Duration) -> ArchiveResult<String>;

    /// Whether the archive answers.
    async fn health(&self) -> ArchiveResult<()>;

    /// Start a streamed upload of the object at `key`. Nothing is visible at `key` (an existing
    /// object stays as it was) until `finish`; `abort` (or an error) leaves nothing behind.
    async fn start_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> ArchiveResult<Box<dyn ArchiveUpload>>;
}

/// An object being written in pieces, from [`Archive::start_upload`].
///
/// After an error the upload is spent: what was written is discarded, and further `write`s and
/// `finish` fail (a retried `write` could otherwise store its bytes twice); `abort` still
/// succeeds.
#[async_trait]
pub trait ArchiveUpload: Send + fmt::Debug {
    /// Append bytes. Adapters buffer at most about one part in memory.
    async fn write(&mut self, bytes: &[u8]) -> ArchiveResult<()>;

    /// Make the whole object visible at the key, atomically; returns its size in bytes.
    async fn finish(self: Box<Self>) -> ArchiveResult<u64>;

    /// Discard what was written.
    async fn abort(self: Box<Self>) -> ArchiveResult<()>;
}

/// Gathers an upload's bytes into parts of [`UPLOAD_PART_BYTES`], so adapters hold at most one.
#[derive(Debug, Default)]
pub(crate) struct PartBuffer {
    bytes: Vec<u8>,
    total: u64,
}

impl PartBuffer {
    /// Move bytes from the front of `input` into the buffer; a full part, when there is one, is
    /// taken out and returned. Call until `None`, when all of `input` is buffered.
    pub(crate) fn fill(&mut self, input: &mut &[u8]) -> Option<Vec<u8>> {
        let room = UPLOAD_PART_BYTES - self.bytes.len();
        let (now, later) = input.split_at(room.min(input.len()));
        self.bytes.extend_from_slice(now);
        self.total += now.len() as u64;
        *input = later;
        (self.bytes.len() == UPLOAD_PART_BYTES).then(|| std::mem::take(&mut self.bytes))
    }

    /// What is left after the last full part (possibly nothing).
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// Bytes passed to `fill` so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
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

    #[test]
    fn part_buffer_cuts_exact_parts_across_writes() {
        let mut buffer = PartBuffer::default();
        let mut parts = Vec::new();
        for len in [0, 3, UPLOAD_PART_BYTES - 1, 2 * UPLOAD_PART_BYTES + 5] {
            let piece = vec![7u8; len];
            let mut input = piece.as_slice();
            while let Some(part) = buffer.fill(&mut input) {
                parts.push(part.len());
            }
            assert!(input.is_empty());
        }
        assert_eq!(parts, [UPLOAD_PART_BYTES; 3]);
        assert_eq!(buffer.take_rest().len(), 7);
        assert_eq!(buffer.total(), 3 * UPLOAD_PART_BYTES as u64 + 7);
    }
}
