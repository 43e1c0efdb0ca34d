//! The error catalogue: every code the API can answer with, its HTTP status, whether a retry
//! can help, and the message a person can act on. Every error body has one shape:
//! `{"error": {"code", "message", "retryable", "details", "request_id"}}`.

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::chains::error::ChainError;
use crate::ports::{ArchiveError, QueueError, RecordsError, VaultError};

macro_rules! catalogue {
    ($($variant:ident => ($status:ident, $retryable:literal, $message:literal),)+) => {
        /// A stable error code. The wire form is the SCREAMING_SNAKE_CASE name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorCode { $($variant,)+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)+ }
            }

            pub fn retryable(self) -> bool {
                match self { $(ErrorCode::$variant => $retryable,)+ }
            }

            /// The default message; an error may carry a more specific one.
            pub fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)+ }
            }
        }
    };
}

catalogue! {
    MalformedRequest => (BAD_REQUEST, false, "The request is malformed; see details for the field."),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, false, "The request body is larger than the 1 MiB allowed."),
    RouteNotFound => (NOT_FOUND, false, "No such route."),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, false, "This route does not accept that method."),
    WeakPassword => (BAD_REQUEST, false, "The password is too weak; see details for the reasons and how to fix it."),
    UserAlreadyExists => (CONFLICT, false, "A user with this email already exists; sign in instead."),
    InvalidCredentials => (UNAUTHORIZED, false, "Email or password is wrong."),
    AccountLocked => (LOCKED, false, "Too many failed sign-ins: the account is locked for a while."),
    InvalidRefreshToken => (UNAUTHORIZED, false, "The refresh token is invalid, expired or revoked; sign in again."),
    RefreshTokenReused => (UNAUTHORIZED, false, "This refresh token was already used; its sign-in is revoked. Sign in again."),
    Unauthorized => (UNAUTHORIZED, false, "A valid access token is required (Authorization: Bearer <token>)."),
    RateLimitExceeded => (TOO_MANY_REQUESTS, true, "Too many requests; retry after the time in details."),
    DraftNotFound => (NOT_FOUND, false, "No draft with this id belongs to you."),
    DraftVersionConflict => (CONFLICT, false, "The draft changed since the version you sent; reload it and apply your change again."),
    VersionRequired => (PRECONDITION_REQUIRED, false, "Send the draft's version in If-Match (its ETag) so no other change is overwritten."),
    DraftInvalid => (UNPROCESSABLE_ENTITY, false, "The draft has validation errors; fix them first (see its validation result)."),
    ComplianceReportNotFound => (NOT_FOUND, false, "This draft has no compliance report yet; run the checks first."),
    ComplianceGateClosed => (CONFLICT, false, "The compliance gate is closed for this draft; see details for the reasons."),
    ArchiveLinkInvalid => (FORBIDDEN, false, "The download link is invalid or has expired; ask for a new one."),
    NotFound => (NOT_FOUND, false, "The requested object does not exist."),
    DependencyUnavailable => (SERVICE_UNAVAILABLE, true, "A dependency of the service is unavailable; retry shortly."),
    RecordsUnavailable => (SERVICE_UNAVAILABLE, true, "The records store is unavailable; retry shortly."),
    KeyVaultUnavailable => (SERVICE_UNAVAILABLE, true, "The key vault is unavailable; retry shortly."),
    QueueUnavailable => (SERVICE_UNAVAILABLE, true, "The step queue is unavailable; retry shortly."),
    ArchiveUnavailable => (SERVICE_UNAVAILABLE, true, "The archive is unavailable; retry shortly."),
    NetworkNotConfigured => (BAD_REQUEST, false, "This network is not configured here; GET /v1/networks lists the ones that are."),
    NetworkUnreachable => (SERVICE_UNAVAILABLE, true, "The network's node cannot be reached right now; retry shortly."),
    NetworkMismatch => (BAD_GATEWAY, false, "The node configured for this network serves a different chain; nothing was sent. The operator must fix the network configuration."),
    TransactionRejected => (UNPROCESSABLE_ENTITY, false, "The network rejected the transaction; the message gives the node's reason."),
    InsufficientFunds => (UNPROCESSABLE_ENTITY, false, "The account does not hold enough to pay for this; fund it with at least the difference in details and try again."),
    FeeAboveCeiling => (SERVICE_UNAVAILABLE, true, "The network's fees are above the ceiling configured for it; nothing was sent. Retry when fees drop."),
    FaucetUnavailable => (BAD_REQUEST, false, "This network has no dev faucet; only local devnets do, through the local server."),
    ChainTimeout => (GATEWAY_TIMEOUT, true, "The network did not answer or confirm in time; retry shortly (resending the same transaction is safe)."),
    IdempotencyKeyRequired => (BAD_REQUEST, false, "This route requires an Idempotency-Key header: a new unique value (a UUID) per operation, sent unchanged when retrying it."),
    IdempotencyKeyMismatch => (UNPROCESSABLE_ENTITY, false, "This Idempotency-Key was already used for a different request; use a new key for a new request."),
    IdempotencyKeyInProgress => (CONFLICT, true, "A request with this Idempotency-Key is still in progress; retry after the time in details to get its answer."),
    WebhookNotFound => (NOT_FOUND, false, "No webhook subscription with this id belongs to you."),
    WebhookUrlNotAllowed => (BAD_REQUEST, false, "This webhook URL is not allowed: webhooks go to https URLs of public hosts."),
    DeploymentNotFound => (NOT_FOUND, false, "No deployment with this id belongs to you."),
    DeploymentStateConflict => (CONFLICT, false, "The deployment's state does not allow this; see details for its status."),
    DeploymentTimeout => (GATEWAY_TIMEOUT, true, "The deployment sent nothing within its deadline; retry it to start a new attempt."),
    AuditExportNotFound => (NOT_FOUND, false, "No audit export with this id belongs to you."),
    DeploymentMismatch => (BAD_GATEWAY, false, "The chain shows a token that differs from the draft; see the message for the differences."),
    Internal => (INTERNAL_SERVER_ERROR, false, "An internal error occurred; it has been logged with the request id."),
}

/// The groups of the catalogue in its documentation, in the order they are shown.
pub const AREAS: &[&str] = &[
    "Requests",
    "Idempotency",
    "Accounts and sign-in",
    "Drafts",
    "Compliance",
    "Deployments",
    "Chains",
    "Webhooks",
    "Audit and downloads",
    "Dependencies",
];

impl ErrorCode {
    /// The group of [`AREAS`] the code is documented under. No wildcard: a new code must be
    /// placed before it compiles.
    pub fn area(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedRequest | PayloadTooLarge | RouteNotFound | MethodNotAllowed
            | RateLimitExceeded | NotFound | Internal => "Requests",
            IdempotencyKeyRequired | IdempotencyKeyMismatch | IdempotencyKeyInProgress => {
                "Idempotency"
            }
            WeakPassword | UserAlreadyExists | InvalidCredentials | AccountLocked
            | InvalidRefreshToken | RefreshTokenReused | Unauthorized => "Accounts and sign-in",
            DraftNotFound | DraftVersionConflict | VersionRequired | DraftInvalid => "Drafts",
            ComplianceReportNotFound | ComplianceGateClosed => "Compliance",
            DeploymentNotFound
            | DeploymentStateConflict
            | DeploymentTimeout
            | DeploymentMismatch => "Deployments",
            NetworkNotConfigured | NetworkUnreachable | NetworkMismatch | TransactionRejected
            | InsufficientFunds | FeeAboveCeiling | FaucetUnavailable | ChainTimeout => "Chains",
            WebhookNotFound | WebhookUrlNotAllowed => "Webhooks",
            AuditExportNotFound | ArchiveLinkInvalid => "Audit and downloads",
            DependencyUnavailable
            | RecordsUnavailable
            | KeyVaultUnavailable
            | QueueUnavailable
            | ArchiveUnavailable => "Dependencies",
        }
    }

    /// The wire form, e.g. `KEY_VAULT_UNAVAILABLE`.
    pub fn as_str(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(code)) => code,
            _ => format!("{self:?}"),
        }
    }
}

/// Where the generated catalogue is committed, relative to the workspace root.
pub const CATALOGUE_DOC: &str = "docs/errors.md";

/// The command that rewrites [`CATALOGUE_DOC`] from the code.
pub const CATALOGUE_DOC_COMMAND: &str =
    "WALLETLESS_UPDATE_DOCS=1 cargo test -p walletless --lib errors_doc";

/// The catalogue as Markdown: the generated [`CATALOGUE_DOC`], grouped by [`AREAS`].
pub fn catalogue_markdown() -> String {
    let mut out = String::from("# Error catalogue\n\n");
    out.push_str(&format!(
        "<!-- Generated from `ErrorCode` in shared/src/api/errors.rs; do not edit. A test keeps \
         it equal to the code; regenerate with `{CATALOGUE_DOC_COMMAND}`. -->\n\n"
    ));
    out.push_str(
        "Every error answer of the API has one body shape, whatever the route:\n\n\
         ```json\n\
         {\"error\": {\"code\": \"DRAFT_NOT_FOUND\", \"message\": \"No draft with this id belongs to you.\", \
         \"retryable\": false, \"details\": null, \"request_id\": \"01J...\"}}\n\
         ```\n\n\
         `code` is one of the codes below and never changes meaning; `message` is the default \
         message below or a more specific one; `details` (an object, or null) carries what a \
         client can act on, e.g. the field of a `MALFORMED_REQUEST` or `retry_after_s`, which \
         is also sent as `Retry-After`. A retryable error may succeed when the same request \
         is sent again later; any other needs a change first. `GET /v1/openapi.json` lists the \
         codes each route can answer with, and `GET /v1/docs` shows them per route.\n",
    );
    for area in AREAS {
        out.push_str(&format!(
            "\n## {area}\n\n| code | HTTP status | retryable | message |\n|---|---|---|---|\n"
        ));
        for code in ErrorCode::ALL.iter().filter(|code| code.area() == *area) {
            let status = code.status();
            out.push_str(&format!(
                "| `{}` | {} {} | {} | {} |\n",
                code.as_str(),
                status.as_u16(),
                status.canonical_reason().unwrap_or_default(),
                if code.retryable() { "yes" } else { "no" },
                code.message().replace('|', "\\|"),
            ));
        }
    }
    out
}

/// An error answer: a catalogued code, a message and optional structured details.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.message().to_string(),
            details: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A 400 naming the field that is wrong.
    pub fn malformed(field: &str, why: impl Into<String>) -> Self {
        let why = why.into();
        Self::new(ErrorCode::MalformedRequest)
            .with_message(format!("{field}: {why}"))
            .with_details(serde_json::json!({ "field": field, "reason": why }))
    }

    /// The response body, stamped with the request id.
    pub fn body(&self, request_id: &str) -> Value {
        serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "retryable": self.code.retryable(),
                "details": self.details,
                "request_id": request_id,
            }
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

// Port errors reach callers as catalogued codes. Internal details go to the logs (by the
// router), never into the answer.
impl From<crate::audit::AuditError> for ApiError {
    fn from(error: crate::audit::AuditError) -> Self {
        use crate::audit::AuditError;
        match error {
            AuditError::Invalid(message) => ApiError::malformed("query", message),
            other => other.into_records_error().into(),
        }
    }
}

impl From<RecordsError> for ApiError {
    fn from(error: RecordsError) -> Self {
        match error {
            RecordsError::Unavailable(_) => ApiError::new(ErrorCode::RecordsUnavailable),
            _ => internal(&error),
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Unavailable(_) => ApiError::new(ErrorCode::KeyVaultUnavailable),
            _ => internal(&error),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Unavailable(_) => ApiError::new(ErrorCode::QueueUnavailable),
            _ => internal(&error),
        }
    }
}

impl From<ArchiveError> for ApiError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::Unavailable(_) => ApiError::new(ErrorCode::ArchiveUnavailable),
            ArchiveError::NotFound(_) => ApiError::new(ErrorCode::NotFound),
            _ => internal(&error),
        }
    }
}

// Chain errors name the network and carry what the caller can act on; the node's own words
// for a rejection are its reason, not an internal detail.
impl From<ChainError> for ApiError {
    fn from(error: ChainError) -> Self {
        let message = error.to_string();
        match error {
            ChainError::NetworkNotConfigured { network, .. } => {
                ApiError::new(ErrorCode::NetworkNotConfigured)
                    .with_details(serde_json::json!({ "network": network }))
            }
            ChainError::NetworkUnreachable { network, .. } => {
                tracing::warn!(error = %message, "network unreachable");
                ApiError::new(ErrorCode::NetworkUnreachable)
                    .with_details(serde_json::json!({ "network": network }))
            }
            ChainError::NetworkMismatch {
                network,
                expected,
                found,
            } => {
                tracing::error!(error = %message, "network mismatch");
                ApiError::new(ErrorCode::NetworkMismatch).with_details(serde_json::json!({
                    "network": network, "expected": expected, "found": found,
                }))
            }
            ChainError::TransactionRejected { message: reason } => {
                ApiError::new(ErrorCode::TransactionRejected)
                    .with_message(message)
                    .with_details(serde_json::json!({ "node_message": reason }))
            }
            // Amounts as strings: µAlgo and wei exceed what a JSON number holds exactly.
            ChainError::InsufficientFunds {
                address,
                needed,
                held,
            } => ApiError::new(ErrorCode::InsufficientFunds)
                .with_message(format!(
                    "{address} holds {held} but needs {needed}: fund it with at least {} more.",
                    needed.saturating_sub(held)
                ))
                .with_details(serde_json::json!({
                    "address": address,
                    "needed": needed.to_string(),
                    "held": held.to_string(),
                    "missing": needed.saturating_sub(held).to_string(),
                })),
            ChainError::FeeAboveCeiling {
                network,
                fee_per_gas,
                ceiling,
            } => ApiError::new(ErrorCode::FeeAboveCeiling)
                .with_message(message)
                .with_details(serde_json::json!({
                    "network": network,
                    "fee_per_gas": fee_per_gas.to_string(),
                    "ceiling": ceiling.to_string(),
                })),
            ChainError::Timeout { network, .. } => {
                tracing::warn!(error = %message, "chain timeout");
                ApiError::new(ErrorCode::ChainTimeout)
                    .with_details(serde_json::json!({ "network": network }))
            }
            ChainError::Malformed { .. } => internal(&error),
        }
    }
}

fn internal(error: &dyn std::error::Error) -> ApiError {
    tracing::error!(error = %error, "internal error");
    ApiError::new(ErrorCode::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name}"
            );
            assert!(seen.insert(name));
        }
        assert_eq!(
            ErrorCode::KeyVaultUnavailable.as_str(),
            "KEY_VAULT_UNAVAILABLE"
        );
    }

    #[test]
    fn unavailable_codes_are_retryable_and_caller_mistakes_are_not() {
        for code in ErrorCode::ALL {
            if code.status() == StatusCode::SERVICE_UNAVAILABLE {
                assert!(code.retryable(), "{code:?}");
            }
            // A key still in progress is the one retryable conflict: its retry gets the answer.
            if matches!(
                code.status().as_u16(),
                400 | 401 | 403 | 404 | 405 | 409 | 413 | 423
            ) && *code != ErrorCode::IdempotencyKeyInProgress
            {
                assert!(!code.retryable(), "{code:?}");
            }
        }
    }

    #[test]
    fn chain_errors_map_to_their_codes() {
        let network = || "algorand-testnet".to_string();
        let cases = [
            (
                ChainError::NetworkNotConfigured {
                    network: network(),
                    family: "Algorand",
                },
                ErrorCode::NetworkNotConfigured,
            ),
            (
                ChainError::NetworkUnreachable {
                    network: network(),
                    reason: "refused".into(),
                },
                ErrorCode::NetworkUnreachable,
            ),
            (
                ChainError::NetworkMismatch {
                    network: network(),
                    expected: "a".into(),
                    found: "b".into(),
                },
                ErrorCode::NetworkMismatch,
            ),
            (
                ChainError::TransactionRejected {
                    message: "overspend".into(),
                },
                ErrorCode::TransactionRejected,
            ),
            (
                ChainError::InsufficientFunds {
                    address: "ADDR".into(),
                    needed: u128::from(u64::MAX) + 1,
                    held: 1,
                },
                ErrorCode::InsufficientFunds,
            ),
            (
                ChainError::Timeout {
                    network: network(),
                    operation: "GET /v2/status".into(),
                },
                ErrorCode::ChainTimeout,
            ),
            (
                ChainError::Malformed {
                    network: network(),
                    reason: "not JSON".into(),
                },
                ErrorCode::Internal,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.is_retryable(), code.retryable(), "{error:?}");
            assert_eq!(ApiError::from(error).code, code);
        }
        for code in [ErrorCode::NetworkUnreachable, ErrorCode::ChainTimeout] {
            assert!(code.retryable());
        }

        let rejected = ApiError::from(ChainError::TransactionRejected {
            message: "overspend".into(),
        });
        assert!(
            rejected.message.contains("overspend"),
            "{}",
            rejected.message
        );
        let funds = ApiError::from(ChainError::InsufficientFunds {
            address: "ADDR".into(),
            needed: 300_000,
            held: 100_000,
        });
        let details = funds.details.unwrap();
        assert_eq!(details["needed"], "300000");
        assert_eq!(details["held"], "100000");
        assert_eq!(details["missing"], "200000");
        assert!(funds.message.contains("200000"), "{}", funds.message);
        let mismatch = ApiError::from(ChainError::NetworkMismatch {
            network: network(),
            expected: "genesis a".into(),
            found: "genesis b".into(),
        });
        assert_eq!(mismatch.details.unwrap()["found"], "genesis b");
    }

    #[test]
    fn errors_doc_is_generated_from_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(CATALOGUE_DOC);
        let generated = catalogue_markdown();
        if std::env::var_os("WALLETLESS_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{CATALOGUE_DOC} is out of date with the error catalogue: run {CATALOGUE_DOC_COMMAND}"
        );
        for code in ErrorCode::ALL {
            assert!(AREAS.contains(&code.area()), "{code:?}");
            assert_eq!(
                generated
                    .matches(&format!("| `{}` |", code.as_str()))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn body_has_the_one_shape() {
        let body = ApiError::malformed("email", "missing").body("req-1");
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
        assert_eq!(body["error"]["retryable"], false);
        assert_eq!(body["error"]["details"]["field"], "email");
        assert_eq!(body["error"]["request_id"], "req-1");
    }
}
