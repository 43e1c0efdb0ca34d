//! `KmsKeyVault`: the key vault port on one AWS KMS symmetric key.
//!
//! The master key never leaves KMS. Every call passes the encryption context, which KMS
//! binds to the ciphertext, and Decrypt also names the key, so a ciphertext made under any
//! other key is refused instead of silently decrypted with it.

use crate::adapters::aws::SdkFailure;
use crate::crypto::envelope::{check_direct_plaintext_len, secret_copy};
use crate::ports::key_vault::{DataKey, EncryptionContext, KeyVault, VaultError, VaultResult};
use async_trait::async_trait;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState};
use secrecy::{ExposeSecretMut as _, SecretBox, SecretSlice};
use std::collections::HashMap;
use zeroize::Zeroizing;

/// The key spec of the master key (what the template and test provisioning create).
pub const KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
/// The key usage of the master key.
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";
/// The data key spec asked of GenerateDataKey: 256-bit AES keys.
pub const DATA_KEY_SPEC: &str = "AES_256";

/// Error codes after which a retry may succeed.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "LimitExceededException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
];

/// Error codes saying the configured key is missing or not usable right now.
const KEY_STATE_CODES: &[&str] = &[
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
];

/// Error codes of Decrypt meaning "not a ciphertext of this key and context".
const NOT_OUR_CIPHERTEXT_CODES: &[&str] = &["InvalidCiphertextException", "IncorrectKeyException"];

/// How IAM words a denied permission ("User: ... is not authorized to perform: kms:Decrypt
/// ..."): a configuration fault, reported as such. Any other AccessDenied from Decrypt is KMS
/// saying the ciphertext names a key the caller cannot see ("The ciphertext refers to a
/// customer master key that does not exist ..."; moto sends it without a message for any
/// other key or a tampered key reference): not our ciphertext.
const IAM_DENIAL_MESSAGE: &str = "is not authorized to perform";

/// Whether a Decrypt error means the ciphertext is not ours (wrong key, context or bytes).
fn is_not_our_ciphertext(code: Option<&str>, message: Option<&str>) -> bool {
    match code {
        Some(code) if NOT_OUR_CIPHERTEXT_CODES.contains(&code) => true,
        Some("AccessDeniedException") => {
            !message.is_some_and(|message| message.contains(IAM_DENIAL_MESSAGE))
        }
        _ => false,
    }
}

/// A vault backed by the KMS key `key_id`.
#[derive(Debug)]
pub struct KmsKeyVault {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsKeyVault {
    /// `key_id` may be a key id, a key ARN, an alias name (`alias/...`) or an alias ARN.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        KmsKeyVault {
            client,
            key_id: key_id.into(),
        }
    }

    fn sdk_error<E>(&self, operation: &str, error: SdkError<E, HttpResponse>) -> VaultError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        vault_error(SdkFailure::new(
            &error,
            TRANSIENT_CODES,
            format_args!("KMS {operation} with key {}", self.key_id),
        ))
    }
}

/// Sort a KMS failure by whether a retry can help and whose fault it is.
fn vault_error(failure: SdkFailure) -> VaultError {
    if KEY_STATE_CODES.contains(&failure.code()) {
        return VaultError::Unavailable(format!(
            "the configured key is missing or disabled: {}",
            failure.detail
        ));
    }
    if failure.retryable {
        return VaultError::Unavailable(failure.detail);
    }
    match failure.code() {
        "ValidationException" | "InvalidKeyUsageException" | "InvalidGrantTokenException" => {
            VaultError::Invalid(failure.detail)
        }
        _ => VaultError::Internal(failure.detail),
    }
}

/// The context as KMS takes it; `None` for an empty context, which KMS treats the same.
fn kms_context(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| {
        context
            .pairs()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    })
}

/// Take a plaintext blob out of an SDK response, leaving no unzeroized copy of our own.
fn take_plaintext(blob: Option<Blob>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(blob.map(Blob::into_inner).unwrap_or_default())
}

#[async_trait]
impl KeyVault for KmsKeyVault {
    async fn generate_data_key(&self, context: &EncryptionContext) -> VaultResult<DataKey> {
        let mut output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::from(DATA_KEY_SPEC))
            .set_encryption_context(kms_context(context))
            .send()
            .await
            .map_err(|error| self.sdk_error("GenerateDataKey", error))?;
        let plaintext_bytes = take_plaintext(output.plaintext.take());
        let wrapped = output.ciphertext_blob.take().map(Blob::into_inner);
        let (Ok(key_bytes), Some(wrapped)) =
            (<&[u8; 32]>::try_from(plaintext_bytes.as_slice()), wrapped)
        else {
            return Err(VaultError::Internal(format!(
                "KMS GenerateDataKey with key {} returned no 32-byte key and wrapped key",
                self.key_id
            )));
        };
        let mut plaintext = SecretBox::new(Box::new([0u8; 32]));
        plaintext.expose_secret_mut().copy_from_slice(key_bytes);
        Ok(DataKey { plaintext, wrapped })
    }

    /// The SDK takes its own copy of `plaintext` for the request and does not zeroize it;
    /// domain code only encrypts small secrets directly, and prefers envelopes.
    async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> VaultResult<Vec<u8>> {
        check_direct_plaintext_len(plaintext.len())?;
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(kms_context(context))
            .send()
            .await
            .map_err(|error| self.sdk_error("Encrypt", error))?;
        output
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| VaultError::Internal("KMS Encrypt returned no ciphertext".into()))
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> VaultResult<SecretSlice<u8>> {
        if ciphertext.is_empty() {
            return Err(VaultError::DecryptionFailed);
        }
        let result = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(kms_context(context))
            .send()
            .await;
        let mut output = match result {
            Ok(output) => output,
            Err(error) if is_not_our_ciphertext(error.code(), error.message()) => {
                tracing::debug!(code = ?error.code(), key_id = %self.key_id, "KMS refused a ciphertext");
                return Err(VaultError::DecryptionFailed);
            }
            Err(error) => return Err(self.sdk_error("Decrypt", error)),
        };
        let plaintext = take_plaintext(output.plaintext.take());
        Ok(secret_copy(&plaintext))
    }

    /// Healthy when the key exists, is enabled, and is a symmetric encryption key.
    async fn health(&self) -> VaultResult<()> {
        let output = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|error| self.sdk_error("DescribeKey", error))?;
        let metadata = output.key_metadata.ok_or_else(|| {
            VaultError::Internal(format!(
                "KMS DescribeKey of {} returned no metadata",
                self.key_id
            ))
        })?;
        match metadata.key_state() {
            Some(KeyState::Enabled) => {}
            state => {
                return Err(VaultError::Unavailable(format!(
                    "KMS key {} is not enabled (state {})",
                    self.key_id,
                    state.map_or("unknown", KeyState::as_str)
                )));
            }
        }
        let usage = metadata.key_usage().map(|usage| usage.as_str());
        let spec = metadata.key_spec().map(|spec| spec.as_str());
        if usage != Some(KEY_USAGE) || spec != Some(KEY_SPEC) {
            return Err(VaultError::Invalid(format!(
                "KMS key {} is a {} key for {}; this vault needs a {KEY_SPEC} key for {KEY_USAGE}",
                self.key_id,
                spec.unwrap_or("unknown"),
                usage.unwrap_or("unknown"),
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_classified() {
        let classify = |status, code: Option<&str>| {
            vault_error(SdkFailure::service(
                status,
                code,
                TRANSIENT_CODES,
                "d".into(),
            ))
        };
        for code in [
            "ThrottlingException",
            "KMSInternalException",
            "DependencyTimeoutException",
        ] {
            assert!(classify(400, Some(code)).is_retryable(), "{code}");
        }
        assert!(classify(503, Some("Whatever")).is_retryable());
        assert!(classify(429, Some("Whatever")).is_retryable());
        for code in [
            "NotFoundException",
            "DisabledException",
            "KMSInvalidStateException",
        ] {
            let error = classify(400, Some(code));
            assert!(
                matches!(&error, VaultError::Unavailable(message) if message.contains("missing or disabled")),
                "{code}: {error:?}"
            );
        }
        assert!(matches!(
            classify(400, Some("ValidationException")),
            VaultError::Invalid(_)
        ));
        assert!(matches!(
            classify(400, Some("AccessDeniedException")),
            VaultError::Internal(_)
        ));
        assert!(matches!(classify(400, None), VaultError::Internal(_)));
    }

    #[test]
    fn iam_denials_are_not_mistaken_for_foreign_ciphertexts() {
        assert!(is_not_our_ciphertext(
            Some("InvalidCiphertextException"),
            None
        ));
        assert!(is_not_our_ciphertext(
            Some("IncorrectKeyException"),
            Some("x")
        ));
        assert!(is_not_our_ciphertext(
            Some("AccessDeniedException"),
            Some(
                "The ciphertext refers to a customer master key that does not exist, does not \
                 exist in this region, or you are not allowed to access."
            )
        ));
        assert!(!is_not_our_ciphertext(
            Some("AccessDeniedException"),
            Some("User: arn:aws:sts::1:assumed-role/r is not authorized to perform: kms:Decrypt")
        ));
        assert!(is_not_our_ciphertext(Some("AccessDeniedException"), None));
        assert!(!is_not_our_ciphertext(Some("ThrottlingException"), None));
        assert!(!is_not_our_ciphertext(None, None));
    }

    #[test]
    fn empty_context_is_left_out() {
        assert_eq!(kms_context(&EncryptionContext::new()), None);
        let context = kms_context(&EncryptionContext::for_user("u", "p")).unwrap();
        assert_eq!(context.len(), 2);
        assert_eq!(context["user"], "u");
    }
}
