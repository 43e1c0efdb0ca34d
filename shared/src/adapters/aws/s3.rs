//! `S3Archive`: the archive port on one S3 bucket, objects encrypted at rest under the KMS
//! key, download links presigned with SigV4 (so S3 itself checks signature and expiry).

use crate::adapters::aws::SdkFailure;
use crate::adapters::embedded::dir_archive::{
    link_lifetime_in_whole_seconds, validate_content_type,
};
use crate::ports::archive::{
    Archive, ArchiveError, ArchiveResult, ArchiveUpload, ArchivedObject, PartBuffer,
    UPLOAD_PART_BYTES, validate_link_lifetime, validate_object_key,
};
use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
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

/// S3 numbers the parts of a multipart upload 1 to 10,000.
const MAX_PARTS: usize = 10_000;

/// An archive in the bucket `bucket`.
#[derive(Clone, Debug)]
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

    /// The encryption every object gets: the KMS key when there is one, else S3-managed keys.
    fn encryption(&self) -> (ServerSideEncryption, Option<String>) {
        match &self.kms_key_id {
            Some(kms_key_id) => (
                ServerSideEncryption::from(SSE_KMS),
                Some(kms_key_id.clone()),
            ),
            None => (ServerSideEncryption::from(SSE_S3), None),
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
        let (encryption, kms_key_id) = self.encryption();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key_id)
            .body(ByteStream::from(body))
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

    async fn start_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> ArchiveResult<Box<dyn ArchiveUpload>> {
        validate_object_key(key)?;
        validate_content_type(content_type)?;
        let (encryption, kms_key_id) = self.encryption();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(encryption)
            .set_ssekms_key_id(kms_key_id)
            .send()
            .await
            .map_err(|error| self.sdk_error("CreateMultipartUpload", error))?;
        let upload_id = created.upload_id.ok_or_else(|| {
            ArchiveError::Internal(format!(
                "S3 CreateMultipartUpload of {key} in bucket {} returned no upload id",
                self.bucket
            ))
        })?;
        Ok(Box::new(S3Upload {
            archive: self.clone(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            upload_id: Some(upload_id),
            buffer: PartBuffer::default(),
            parts: Vec::new(),
        }))
    }
}

/// A multipart upload in progress.
///
/// One dropped without `finish` or `abort` stays incomplete, invisible, in the bucket until
/// the bucket's lifecycle rule (AbortIncompleteMultipartUpload in infra/template.yaml) removes
/// its parts.
#[derive(Debug)]
struct S3Upload {
    archive: S3Archive,
    key: String,
    content_type: String,
    /// `None` once the upload is spent: aborted after an error.
    upload_id: Option<String>,
    buffer: PartBuffer,
    parts: Vec<CompletedPart>,
}

impl S3Upload {
    fn upload_id(&self) -> ArchiveResult<String> {
        self.upload_id.clone().ok_or_else(|| {
            ArchiveError::Internal(format!(
                "the upload of {} failed earlier and holds nothing",
                self.key
            ))
        })
    }

    async fn upload_part(&mut self, part: Vec<u8>) -> ArchiveResult<()> {
        let upload_id = self.upload_id()?;
        if self.parts.len() == MAX_PARTS {
            return Err(ArchiveError::Invalid(format!(
                "a streamed object is at most {MAX_PARTS} parts of {UPLOAD_PART_BYTES} bytes"
            )));
        }
        let part_number = i32::try_from(self.parts.len() + 1)
            .map_err(|_| ArchiveError::Internal("part number out of range".into()))?;
        let uploaded = self
            .archive
            .client
            .upload_part()
            .bucket(&self.archive.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(part_number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|error| self.archive.sdk_error("UploadPart", error))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(uploaded.e_tag)
                .build(),
        );
        Ok(())
    }

    /// Send what is buffered as the last part and join the parts into the object.
    async fn complete(&mut self) -> ArchiveResult<u64> {
        let rest = self.buffer.take_rest();
        if self.parts.is_empty() && rest.is_empty() {
            // Nothing was written: S3 may refuse to complete an upload of no parts, so store
            // the empty object directly and drop the multipart upload.
            self.abort_upload().await?;
            self.archive
                .put(&self.key, Vec::new(), &self.content_type)
                .await?;
            return Ok(0);
        }
        // The last part may be small; an object of whole parts has none.
        if !rest.is_empty() {
            self.upload_part(rest).await?;
        }
        let upload_id = self.upload_id()?;
        self.archive
            .client
            .complete_multipart_upload()
            .bucket(&self.archive.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| self.archive.sdk_error("CompleteMultipartUpload", error))?;
        Ok(self.buffer.total())
    }

    /// Abort the multipart upload, if it is still open.
    async fn abort_upload(&mut self) -> ArchiveResult<()> {
        let Some(upload_id) = self.upload_id.take() else {
            return Ok(());
        };
        self.archive
            .client
            .abort_multipart_upload()
            .bucket(&self.archive.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|error| self.archive.sdk_error("AbortMultipartUpload", error))?;
        Ok(())
    }

    /// After a failure, discard the parts sent so far. The original error is the one worth
    /// reporting; if the abort fails too, the lifecycle rule removes the parts later.
    async fn discard_after(&mut self, error: ArchiveError) -> ArchiveError {
        let _ = self.abort_upload().await;
        error
    }
}

#[async_trait]
impl ArchiveUpload for S3Upload {
    async fn write(&mut self, bytes: &[u8]) -> ArchiveResult<()> {
        self.upload_id()?;
        let mut input = bytes;
        while let Some(part) = self.buffer.fill(&mut input) {
            if let Err(error) = self.upload_part(part).await {
                return Err(self.discard_after(error).await);
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> ArchiveResult<u64> {
        self.upload_id()?;
        match self.complete().await {
            Ok(size) => Ok(size),
            Err(error) => Err(self.discard_after(error).await),
        }
    }

    async fn abort(mut self: Box<Self>) -> ArchiveResult<()> {
        self.abort_upload().await
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
