//! AWS adapters. Credentials come from the standard provider chain only (the Lambda role in
//! production); the standard `AWS_ENDPOINT_URL` override points them at an emulator in tests.

pub mod dynamodb;
pub mod kms;
pub mod s3;
pub mod sqs;

// Every service crate re-exports the same smithy error and response types; any one will do.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;

/// An SDK failure as every adapter first sorts it, before mapping it to its port's error:
/// whether a retry may get past it, the service's error code (for the codes only that
/// adapter knows), and a message naming the call.
#[derive(Debug)]
pub(crate) struct SdkFailure {
    /// Transport trouble (timeout, no connection, an unreadable answer), or a service error
    /// that is throttling or the service's own fault (one of its transient codes, 5xx, 429).
    pub retryable: bool,
    /// The error code of a service error; `None` for every other failure.
    pub code: Option<String>,
    /// `"{context}: {reason}"`: a service error's reason is its code and message; the SDK's
    /// full error context (raw response and all) is only worth its length for the others.
    pub detail: String,
}

impl SdkFailure {
    /// Sorts `error`; `transient_codes` are the service's codes for conditions that pass on
    /// their own, and `context` names the operation and resource for the message.
    pub(crate) fn new<E>(
        error: &SdkError<E, HttpResponse>,
        transient_codes: &[&str],
        context: impl fmt::Display,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = error.code();
        let reason = match (error, code) {
            (SdkError::ServiceError(_), Some(code)) => {
                format!("{code}: {}", error.message().unwrap_or("no message"))
            }
            _ => DisplayErrorContext(error).to_string(),
        };
        let detail = format!("{context}: {reason}");
        match error {
            SdkError::ServiceError(service) => Self::service(
                service.raw().status().as_u16(),
                code,
                transient_codes,
                detail,
            ),
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self {
                retryable: true,
                code: None,
                detail,
            },
            // The request could not even be built: a bug or misconfiguration on our side.
            _ => Self {
                retryable: false,
                code: None,
                detail,
            },
        }
    }

    /// A service error answered with HTTP `status` and `code`.
    pub(crate) fn service(
        status: u16,
        code: Option<&str>,
        transient_codes: &[&str],
        detail: String,
    ) -> Self {
        let retryable = status >= 500
            || status == 429
            || code.is_some_and(|code| transient_codes.contains(&code));
        Self {
            retryable,
            code: code.map(str::to_owned),
            detail,
        }
    }

    /// The service error code, or `""` for failures without one.
    pub(crate) fn code(&self) -> &str {
        self.code.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::head_bucket::HeadBucketError;
    use aws_sdk_s3::primitives::SdkBody;

    type Error = SdkError<HeadBucketError, HttpResponse>;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn service_error(status: u16, code: Option<&str>) -> Error {
        let mut metadata = ErrorMetadata::builder().message("it went wrong");
        if let Some(code) = code {
            metadata = metadata.code(code);
        }
        SdkError::service_error(HeadBucketError::generic(metadata.build()), response(status))
    }

    fn sort(error: &Error) -> SdkFailure {
        SdkFailure::new(error, &["SlowDown"], "S3 HeadBucket of b")
    }

    #[test]
    fn transport_failures_are_retryable_and_carry_no_code() {
        for error in [
            Error::timeout_error("took too long"),
            Error::dispatch_failure(ConnectorError::io("connection refused".into())),
            Error::response_error("truncated body", response(200)),
        ] {
            let failure = sort(&error);
            assert!(failure.retryable, "{failure:?}");
            assert_eq!(failure.code, None);
            assert!(
                failure.detail.starts_with("S3 HeadBucket of b: "),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn requests_that_could_not_be_built_are_not_retryable() {
        let failure = sort(&Error::construction_failure("no bucket name"));
        assert!(!failure.retryable);
        assert_eq!(failure.code(), "");
    }

    #[test]
    fn service_errors_are_retryable_for_transient_codes_5xx_and_429() {
        assert!(sort(&service_error(400, Some("SlowDown"))).retryable);
        assert!(sort(&service_error(503, Some("Whatever"))).retryable);
        assert!(sort(&service_error(429, None)).retryable);
        let refused = sort(&service_error(403, Some("AccessDenied")));
        assert!(!refused.retryable);
        assert_eq!(refused.code(), "AccessDenied");
        assert_eq!(
            refused.detail,
            "S3 HeadBucket of b: AccessDenied: it went wrong"
        );
    }

    #[test]
    fn a_service_error_without_a_code_keeps_the_full_context() {
        let failure = sort(&service_error(400, None));
        assert!(!failure.retryable);
        assert_eq!(failure.code, None);
        assert!(failure.detail.contains("it went wrong"), "{failure:?}");
    }
}
