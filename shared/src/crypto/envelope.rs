//! Envelope encryption: each secret is sealed with its own AES-256-GCM data key, and only the
//! data key wrapped by the vault is stored beside the ciphertext.
//!
//! Why: the vault (KMS) takes at most 4 KiB per call and every byte it encrypts crosses the
//! network; with envelopes it only ever sees 32-byte keys, one per secret, so a leaked data
//! key exposes one secret only, and secrets of any size can be sealed. The
//! encryption context is bound twice: by the vault to the wrapped key, and here as AES-GCM
//! associated data, so an envelope moved to another owner or purpose cannot be opened.

use crate::ports::key_vault::{
    DataKey, EncryptionContext, KeyVault, MAX_DIRECT_PLAINTEXT, VaultError, VaultResult,
};
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretSlice};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The serialised format version; bump it when the layout or the algorithm changes.
pub const ENVELOPE_VERSION: u8 = 1;

/// Length of an AES-GCM nonce (96 bits, the size GCM is specified for).
pub const NONCE_LEN: usize = 12;

/// A sealed secret: the vault-wrapped data key, the nonce and the AES-256-GCM ciphertext
/// (with its tag). Serialises as `{"v":1,"wrapped_key":b64,"nonce":b64,"ciphertext":b64}`,
/// so it fits in a JSON record body; an unknown version is refused when deserialising.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EnvelopeWire", into = "EnvelopeWire")]
pub struct Envelope {
    wrapped_key: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

/// The stored shape of an [`Envelope`], kept apart so the in-memory type never holds an
/// unsupported version or undecoded base64.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeWire {
    v: u8,
    wrapped_key: String,
    nonce: String,
    ciphertext: String,
}

/// Why a stored envelope could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeFormatError {
    #[error("unsupported envelope version {0} (this build reads version {ENVELOPE_VERSION})")]
    UnsupportedVersion(u8),
    #[error("envelope field {0} is not valid base64")]
    BadBase64(&'static str),
    #[error("envelope nonce must be {NONCE_LEN} bytes")]
    BadNonce,
}

impl From<Envelope> for EnvelopeWire {
    fn from(envelope: Envelope) -> Self {
        EnvelopeWire {
            v: ENVELOPE_VERSION,
            wrapped_key: BASE64.encode(&envelope.wrapped_key),
            nonce: BASE64.encode(envelope.nonce),
            ciphertext: BASE64.encode(&envelope.ciphertext),
        }
    }
}

impl TryFrom<EnvelopeWire> for Envelope {
    type Error = EnvelopeFormatError;

    fn try_from(wire: EnvelopeWire) -> Result<Self, Self::Error> {
        if wire.v != ENVELOPE_VERSION {
            return Err(EnvelopeFormatError::UnsupportedVersion(wire.v));
        }
        let decode = |field: &'static str, text: &str| {
            BASE64
                .decode(text)
                .map_err(|_| EnvelopeFormatError::BadBase64(field))
        };
        let nonce = decode("nonce", &wire.nonce)?
            .try_into()
            .map_err(|_| EnvelopeFormatError::BadNonce)?;
        Ok(Envelope {
            wrapped_key: decode("wrapped_key", &wire.wrapped_key)?,
            nonce,
            ciphertext: decode("ciphertext", &wire.ciphertext)?,
        })
    }
}

/// Seal `plaintext` under a fresh data key from `vault`, bound to `context`.
pub async fn seal(
    vault: &dyn KeyVault,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Envelope, VaultError> {
    let DataKey {
        plaintext: data_key,
        wrapped: wrapped_key,
    } = vault.generate_data_key(context).await?;
    let sealed = aes_gcm_seal(
        data_key.expose_secret(),
        plaintext,
        &context.canonical_bytes(),
    );
    // Only the wrapped key is kept; the plaintext key is zeroized as its `SecretBox` drops.
    drop(data_key);
    let (nonce, ciphertext) = sealed?;
    Ok(Envelope {
        wrapped_key,
        nonce,
        ciphertext,
    })
}

/// Open an envelope sealed by [`seal`] with the same vault and context.
///
/// Any mismatch (other context, other vault, tampered bytes) is
/// [`VaultError::DecryptionFailed`].
pub async fn open(
    vault: &dyn KeyVault,
    envelope: &Envelope,
    context: &EncryptionContext,
) -> Result<SecretSlice<u8>, VaultError> {
    let data_key = vault.decrypt(&envelope.wrapped_key, context).await?;
    let data_key: &[u8; 32] = data_key
        .expose_secret()
        .try_into()
        .map_err(|_| VaultError::DecryptionFailed)?;
    aes_gcm_open(
        data_key,
        &envelope.nonce,
        &envelope.ciphertext,
        &context.canonical_bytes(),
    )
}

/// AES-256-GCM under `key` with a random nonce; returns the nonce and `ciphertext || tag`.
pub(crate) fn aes_gcm_seal(
    key: &[u8; 32],
    plaintext: &[u8],
    associated_data: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ciphertext = Aes256Gcm::new(key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: associated_data,
            },
        )
        .map_err(|_| VaultError::Internal("AES-GCM refused to encrypt".into()))?;
    Ok((nonce, ciphertext))
}

/// The inverse of [`aes_gcm_seal`]; a wrong key, nonce, tag or associated data is
/// [`VaultError::DecryptionFailed`]. The working buffer is zeroized.
pub(crate) fn aes_gcm_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    associated_data: &[u8],
) -> Result<SecretSlice<u8>, VaultError> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    Aes256Gcm::new(key.into())
        .decrypt_in_place(Nonce::from_slice(nonce), associated_data, &mut *buffer)
        .map_err(|_| VaultError::DecryptionFailed)?;
    Ok(secret_copy(&buffer))
}

/// Direct encryption takes what KMS takes: 1 to [`MAX_DIRECT_PLAINTEXT`] bytes.
pub(crate) fn check_direct_plaintext_len(len: usize) -> VaultResult<()> {
    if len == 0 || len > MAX_DIRECT_PLAINTEXT {
        return Err(VaultError::Invalid(format!(
            "direct encryption takes 1 to {MAX_DIRECT_PLAINTEXT} bytes, got {len}; \
             seal larger secrets in an envelope"
        )));
    }
    Ok(())
}

/// A secret copy of `bytes` in an allocation of exactly their length, so turning it into a
/// boxed slice never reallocates and leaves an unzeroized copy behind.
pub(crate) fn secret_copy(bytes: &[u8]) -> SecretSlice<u8> {
    SecretSlice::from(bytes.to_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::adapters::embedded::local_vault::LocalKeyVault;

    fn vault() -> (tempfile::TempDir, LocalKeyVault) {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalKeyVault::open_or_create(&dir.path().join("master.key")).unwrap();
        (dir, vault)
    }

    fn context() -> EncryptionContext {
        EncryptionContext::for_user("u1", "mnemonic")
    }

    #[tokio::test]
    async fn round_trip() {
        let (_dir, vault) = vault();
        let envelope = seal(&vault, b"correct horse battery staple", &context())
            .await
            .unwrap();
        let opened = open(&vault, &envelope, &context()).await.unwrap();
        assert_eq!(opened.expose_secret(), b"correct horse battery staple");
    }

    #[tokio::test]
    async fn round_trip_of_empty_and_large_plaintexts() {
        let (_dir, vault) = vault();
        for plaintext in [Vec::new(), vec![7u8; 100_000]] {
            let envelope = seal(&vault, &plaintext, &context()).await.unwrap();
            let opened = open(&vault, &envelope, &context()).await.unwrap();
            assert_eq!(opened.expose_secret(), plaintext.as_slice());
        }
    }

    #[tokio::test]
    async fn wrong_context_fails() {
        let (_dir, vault) = vault();
        let envelope = seal(&vault, b"secret", &context()).await.unwrap();
        for other in [
            EncryptionContext::for_user("u2", "mnemonic"),
            EncryptionContext::for_user("u1", "other"),
            EncryptionContext::new().with("user", "u1"),
            context().with("extra", "pair"),
            EncryptionContext::new(),
        ] {
            let result = open(&vault, &envelope, &other).await;
            assert!(
                matches!(result, Err(VaultError::DecryptionFailed)),
                "{other:?} opened the envelope"
            );
        }
    }

    #[tokio::test]
    async fn tampering_with_any_part_fails() {
        let (_dir, vault) = vault();
        let envelope = seal(&vault, b"secret", &context()).await.unwrap();
        let mut tampered = Vec::new();
        for index in [0, envelope.ciphertext.len() - 1] {
            let mut copy = envelope.clone();
            copy.ciphertext[index] ^= 1;
            tampered.push(copy);
        }
        for index in [0, NONCE_LEN - 1] {
            let mut copy = envelope.clone();
            copy.nonce[index] ^= 1;
            tampered.push(copy);
        }
        for index in [0, 5, envelope.wrapped_key.len() - 1] {
            let mut copy = envelope.clone();
            copy.wrapped_key[index] ^= 1;
            tampered.push(copy);
        }
        let mut truncated = envelope.clone();
        truncated.ciphertext.pop();
        tampered.push(truncated);
        for copy in tampered {
            let result = open(&vault, &copy, &context()).await;
            assert!(
                matches!(result, Err(VaultError::DecryptionFailed)),
                "{copy:?} opened"
            );
        }
    }

    #[tokio::test]
    async fn each_secret_gets_its_own_data_key() {
        let (_dir, vault) = vault();
        let a = seal(&vault, b"same", &context()).await.unwrap();
        let b = seal(&vault, b"same", &context()).await.unwrap();
        assert_ne!(a.wrapped_key, b.wrapped_key);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[tokio::test]
    async fn serialised_form_is_stable_json_and_round_trips() {
        let (_dir, vault) = vault();
        let envelope = seal(&vault, b"secret", &context()).await.unwrap();
        let json = serde_json::to_value(&envelope).unwrap();
        let fields: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["ciphertext", "nonce", "v", "wrapped_key"]);
        assert_eq!(json["v"], 1);
        assert_eq!(json["nonce"], BASE64.encode(envelope.nonce));
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
        let opened = open(&vault, &back, &context()).await.unwrap();
        assert_eq!(opened.expose_secret(), b"secret");
    }

    #[test]
    fn unknown_versions_and_malformed_fields_are_refused() {
        let good = serde_json::json!({
            "v": 1, "wrapped_key": "AAAA", "nonce": BASE64.encode([0u8; 12]), "ciphertext": "AAAA"
        });
        assert!(serde_json::from_value::<Envelope>(good.clone()).is_ok());
        for (field, value) in [
            ("v", serde_json::json!(2)),
            ("nonce", serde_json::json!(BASE64.encode([0u8; 11]))),
            ("ciphertext", serde_json::json!("not base64!")),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert!(
                serde_json::from_value::<Envelope>(bad).is_err(),
                "{field} accepted"
            );
        }
    }
}
