//! The accounts area's error, and how each case reaches callers.

use crate::api::{ApiError, ErrorCode};
use crate::ports::{RecordsError, VaultError};

use super::password::WeakPassword;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the password is too weak")]
    WeakPassword(WeakPassword),
    #[error("a user with this email already exists")]
    UserAlreadyExists,
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("the account is locked until {until}")]
    AccountLocked { until: i64 },
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("a rotated refresh token was used again")]
    RefreshTokenReused,
    #[error("missing or invalid access token")]
    Unauthorized,
    #[error("too many requests; retry in {retry_after_s}s")]
    RateLimited { retry_after_s: i64 },
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("accounts internal error: {0}")]
    Internal(String),
}

/// An audit event is written with the records it describes: its failure is theirs.
impl From<crate::audit::AuditError> for AccountError {
    fn from(error: crate::audit::AuditError) -> Self {
        AccountError::Records(error.into_records_error())
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::InvalidField { field, reason } => ApiError::malformed(field, reason),
            AccountError::WeakPassword(weak) => ApiError::new(ErrorCode::WeakPassword)
                .with_details(serde_json::json!({
                    "field": "password",
                    "reasons": weak.reasons,
                    "feedback": weak.feedback,
                })),
            AccountError::UserAlreadyExists => ApiError::new(ErrorCode::UserAlreadyExists),
            AccountError::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials),
            AccountError::AccountLocked { until } => {
                let unlock_at = rfc3339(until);
                ApiError::new(ErrorCode::AccountLocked)
                    .with_message(format!(
                        "Too many failed sign-ins: the account is locked until {unlock_at}."
                    ))
                    .with_details(serde_json::json!({ "locked_until": unlock_at }))
            }
            AccountError::InvalidRefreshToken => ApiError::new(ErrorCode::InvalidRefreshToken),
            AccountError::RefreshTokenReused => ApiError::new(ErrorCode::RefreshTokenReused),
            AccountError::Unauthorized => ApiError::new(ErrorCode::Unauthorized),
            AccountError::RateLimited { retry_after_s } => {
                ApiError::new(ErrorCode::RateLimitExceeded)
                    .with_details(serde_json::json!({ "retry_after_s": retry_after_s }))
            }
            AccountError::Records(error) => error.into(),
            AccountError::Vault(error) => error.into(),
            AccountError::Internal(reason) => {
                tracing::error!(%reason, "accounts internal error");
                ApiError::new(ErrorCode::Internal)
            }
        }
    }
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
