//! `S3Archive`: the archive port on one S3 bucket, objects encrypted at rest under the KMS
//! key, download links presigned with SigV4 (so S3 itself checks signature and expiry).

use crate::adapters::aws::SdkFailure;
use crate::adapters::embedded::dir_archive::{
    link_lifetime_in_whole_seconds, validate_content_type,
};
use crate::ports::archive::{
    Archive, ArchiveError, ArchiveResult, ArchivedObject, validate_link_lifetime,
    validate_object_key,
};
use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use std::time::Duration;

/// Server-side encryption under a KMS key (used when the archive is given one).
pub const SSE_KMS: &str = "aws:kms";
/// Server-side encryption under S3-managed keys (the fallback without a KMS key).
pub const SSE_S3: &str = "AES256";
/// The content type of objects stored without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Error codes after which a retry may succeed.
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
];

/// Error codes saying the configured bucket is missing.
const MISSING_BUCKET_CODES: &[&str] = &["NoSuchBucket", "NotFound"];

/// An archive in the bucket `bucket`.
#[derive(Debug)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
    kms_key_id: Option<String>,
}

impl S3Archive {
    /// With `kms_key_id`, objects are encrypted under that KMS key (`aws:kms`); without, under
    /// S3-managed keys (`AES256`).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        kms_key_id: Option<String>,
    ) -> Self {
        S3Archive {
            client,
            bucket: bucket.into(),
            kms_key_id,
        }
    }

    fn sdk_error<E>(&self, operation: &str, error: SdkError<E, HttpResponse>) -> ArchiveError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        archive_error(SdkFailure::new(
            &error,
            TRANSIENT_CODES,
            format_args!("S3 {operation} in bucket {}", self.bucket),
        ))
    }
}

/// Sort an S3 failure by whether a retry can help and whose fault it is.
fn archive_error(failure: SdkFailure) -> ArchiveError {
    let code = failure.code();
    if MISSING_BUCKET_CODES.contains(&code) {
        return ArchiveError::Unavailable(format!(
            "the configured bucket is missing: {}",
            failure.detail
        ));
    }
    // S3 reports trouble with the encryption key as `KMS.<KMS error code>`.
    if code.starts_with("KMS.") {
        return ArchiveError::Unavailable(format!(
            "the archive's KMS key is unusable: {}",
            failure.detail
        ));
    }
    if failure.retryable {
        return ArchiveError::Unavailable(failure.detail);
    }
    match code {
        "InvalidArgument" | "InvalidRequest" | "KeyTooLongError" | "EntityTooLarge" => {
            ArchiveError::Invalid(failure.detail)
        }
        _ => ArchiveError::Internal(failure.detail),
    }
}

#[async_trait]
impl Archive for S3Archive {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> ArchiveResult<()> {
        validate_object_key(key)?;
        validate_content_type(content_type)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match &self.kms_key_id {
            Some(kms_key_id) => request
                .server_side_encryption(ServerSideEncryption::from(SSE_KMS))
                .ssekms_key_id(kms_key_id),
            None => request.server_side_encryption(ServerSideEncryption::from(SSE_S3)),
        };
        request
            .send()
            .await
            .map_err(|error| self.sdk_error("PutObject", error))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> ArchiveResult<ArchivedObject> {
        validate_object_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.code() == Some("NoSuchKey") => {
                return Err(ArchiveError::NotFound(key.to_owned()));
            }
            Err(error) => return Err(self.sdk_error("GetObject", error)),
        };
        let content_type = output
            .content_type
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        let body = output.body.collect().await.map_err(|error| {
            ArchiveError::Unavailable(format!(
                "S3 GetObject of {key} in bucket {}: reading the body failed: {error}",
                self.bucket
            ))
        })?;
        Ok(ArchivedObject {
            content_type,
            body: body.to_vec(),
        })
    }

    async fn download_url(&self, key: &str, lifetime: Duration) -> ArchiveResult<String> {
        validate_object_key(key)?;
        validate_link_lifetime(lifetime)?;
        let presigning = PresigningConfig::expires_in(link_lifetime_in_whole_seconds(lifetime))
            .map_err(|error| ArchiveError::Invalid(format!("link lifetime: {error}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|error| self.sdk_error("presigned GetObject", error))?;
        Ok(request.uri().to_owned())
    }

    async fn health(&self) -> ArchiveResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| self.sdk_error("HeadBucket", error))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_classified() {
        let classify = |status, code| {
            archive_error(SdkFailure::service(
                status,
                Some(code),
                TRANSIENT_CODES,
                "d".into(),
            ))
        };
        for (status, code) in [
            (503, "SlowDown"),
            (500, "InternalError"),
            (400, "RequestTimeout"),
        ] {
            assert!(classify(status, code).is_retryable(), "{code}");
        }
        for code in ["NoSuchBucket", "NotFound"] {
            let error = classify(404, code);
            assert!(
                matches!(&error, ArchiveError::Unavailable(m) if m.contains("bucket is missing")),
                "{error:?}"
            );
        }
        let kms = classify(400, "KMS.DisabledException");
        assert!(
            matches!(&kms, ArchiveError::Unavailable(m) if m.contains("KMS key")),
            "{kms:?}"
        );
        assert!(matches!(
            classify(400, "InvalidArgument"),
            ArchiveError::Invalid(_)
        ));
        assert!(matches!(
            classify(403, "AccessDenied"),
            ArchiveError::Internal(_)
        ));
    }
}
