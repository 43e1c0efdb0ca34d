//! The key vault port: data keys and small secrets, always bound to an encryption context.
//!
//! AWS: KMS (the master key never leaves it). Embedded: a master key file created on first
//! run. Domain code never calls `encrypt` on large data: it seals secrets with
//! [`crate::crypto::envelope`], which asks the vault for a fresh data key per secret.

use async_trait::async_trait;
use secrecy::{SecretBox, SecretSlice};
use std::collections::BTreeMap;
use std::fmt;

/// Non-secret pairs that bind a ciphertext to its owner and purpose (KMS encryption context).
/// Decryption fails unless exactly the same pairs are given again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The context of a secret that belongs to one user and serves one purpose.
    pub fn for_user(user_id: &str, purpose: &str) -> Self {
        Self::new().with("user", user_id).with("purpose", purpose)
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A canonical, unambiguous byte encoding (sorted keys, length-prefixed), used as the
    /// associated data of AES-GCM wherever the context is bound locally.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in &self.0 {
            for part in [key, value] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

/// A fresh 256-bit data key: the plaintext for immediate use (zeroized on drop) and the same
/// key wrapped by the vault's master key, which is what gets stored.
pub struct DataKey {
    pub plaintext: SecretBox<[u8; 32]>,
    pub wrapped: Vec<u8>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("plaintext", &"[redacted]")
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The ciphertext is not valid under this vault and context (wrong context, tampering,
    /// another key). Retrying cannot help.
    #[error("decryption refused: the ciphertext does not match this key and context")]
    DecryptionFailed,
    #[error("invalid key vault request: {0}")]
    Invalid(String),
    /// The vault could not be reached or was throttling; a retry may help.
    #[error("key vault unavailable: {0}")]
    Unavailable(String),
    #[error("key vault failed: {0}")]
    Internal(String),
}

impl VaultError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, VaultError::Unavailable(_))
    }
}

pub type VaultResult<T> = Result<T, VaultError>;

/// The most a direct `encrypt` takes (the KMS limit); larger secrets go through envelopes.
pub const MAX_DIRECT_PLAINTEXT: usize = 4096;

#[async_trait]
pub trait KeyVault: Send + Sync + fmt::Debug {
    /// A new AES-256 data key bound to `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> VaultResult<DataKey>;

    /// Encrypt at most [`MAX_DIRECT_PLAINTEXT`] bytes under the master key.
    async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> VaultResult<Vec<u8>>;

    /// Decrypt what `encrypt` produced, or a wrapped data key, given the same context.
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> VaultResult<SecretSlice<u8>>;

    /// Whether the master key is usable.
    async fn health(&self) -> VaultResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_order_independent_and_unambiguous() {
        let a = EncryptionContext::new().with("a", "b").with("c", "d");
        let b = EncryptionContext::new().with("c", "d").with("a", "b");
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        // "ab"+"c" must not collide with "a"+"bc".
        let x = EncryptionContext::new().with("ab", "c");
        let y = EncryptionContext::new().with("a", "bc");
        assert_ne!(x.canonical_bytes(), y.canonical_bytes());
    }
}
