//! Schemas of the bodies that handlers build as JSON values (or from private structs) rather
//! than from a public type that could derive them. These types exist only to describe the
//! wire: nothing constructs them (they derive `Serialize` only so that the schema derive reads
//! their serde attributes). Their shapes are checked against real answers by the
//! schemathesis run in `tests/http/openapi.rs`, so a handler that drifts fails it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::accounts::service::Profile;
use crate::api::ErrorCode;
use crate::app::DependencyStatus;
use crate::audit::AuditEvent;
use crate::audit::export::ExportFormat;
use crate::chains::health::NetworkHealth;
use crate::compliance::report::{RuleResult, Summary};
use crate::compliance::rules::Rule as ComplianceRule;
use crate::deployments::service::DeploymentView;
use crate::drafts::standards::{Field, Rule as StandardRule};
use crate::networks::{ChainFamily, Network};
use crate::webhooks::{Delivery, Subscription};

/// Every error answer: one shape whatever the route.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The catalogued code (docs/errors.md): stable, never changes meaning.
    pub code: ErrorCode,
    /// The code's default message, or a more specific one.
    pub message: String,
    /// Whether the same request can succeed when sent again later.
    pub retryable: bool,
    /// What a client can act on (the field of a malformed request, `retry_after_s`, ...).
    pub details: Option<Value>,
    /// The request's id, also in `X-Request-Id`: quote it when reporting a problem.
    pub request_id: String,
}

/// Why a deployment failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentFailure {
    /// A catalogued error code (see `ErrorCode`), as a string.
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// `GET /v1/health` when every dependency answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` (otherwise the answer is 503 `DEPENDENCY_UNAVAILABLE`).
    pub status: String,
    /// The server's version.
    pub version: String,
    /// Each dependency by name (records, key vault, queues, archive).
    pub dependencies: BTreeMap<String, DependencyStatus>,
}

/// A configured network with a live probe of its node.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkWithHealth {
    #[serde(flatten)]
    pub network: Network,
    pub health: NetworkHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkList {
    pub networks: Vec<NetworkWithHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterRequest {
    /// ASCII only; trimmed and lower-cased.
    pub email: String,
    /// At least 16 characters, at most 256 bytes, strong (zxcvbn score 4).
    pub password: String,
    /// `displayName` is accepted too.
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyExportRequest {
    pub password: String,
}

/// A new session's tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// Always `Bearer`.
    pub token_type: String,
    /// An HS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    /// Opaque; rotated on every use.
    pub refresh_token: String,
}

/// A session and the signed-in user (registration, sign-in).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    #[serde(flatten)]
    pub tokens: Tokens,
    pub user_id: String,
    pub algorand_address: String,
    pub evm_address: String,
    pub user: Profile,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    #[serde(flatten)]
    pub tokens: Tokens,
    /// The accounts stay the same: recover them with the key export, not by re-deriving.
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    pub signed_out: bool,
}

/// The user's keys: whoever holds them controls the accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedKeys {
    pub algorand_address: String,
    /// The 25-word Algorand mnemonic.
    pub algorand_mnemonic: String,
    pub evm_address: String,
    /// The EVM private key, `0x` and 64 hex digits.
    pub evm_private_key: String,
    pub warning: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StandardRuleView {
    pub id: StandardRule,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StandardView {
    pub id: String,
    pub title: String,
    pub family: ChainFamily,
    pub fields: Vec<Field>,
    pub rules: Vec<StandardRuleView>,
    /// The configured networks of the standard's chain family.
    pub networks: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StandardCatalogue {
    pub standards: Vec<StandardView>,
}

/// A token draft: `params` are the standard's fields (see `GET /v1/standards`). Saved even
/// while invalid; the answer carries the validation result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Draft {
    /// A standard id of `GET /v1/standards`.
    pub standard: String,
    /// A network id of `GET /v1/networks`.
    pub network: String,
    pub params: BTreeMap<String, Value>,
    /// The issuer's statements for the compliance readiness checks.
    pub compliance: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

/// A stored, immutable compliance report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceReport {
    pub report_id: String,
    pub draft_id: String,
    pub draft_version: u64,
    pub ruleset_version: String,
    pub standard: String,
    pub network: String,
    pub results: Vec<RuleResult>,
    pub summary: Summary,
    /// SHA-256 of the canonical report (sorted keys, without its id and time).
    pub checksum: String,
    /// RFC 3339.
    pub created_at: String,
    pub disclaimer: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceGate {
    /// Open only when the latest report is for the current version without blocking failure.
    pub open: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatestCompliance {
    pub report: ComplianceReport,
    /// The draft changed since the report.
    pub stale: bool,
    pub gate: ComplianceGate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ruleset {
    pub ruleset_version: String,
    pub disclaimer: String,
    pub rules: Vec<ComplianceRule>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateDeploymentRequest {
    pub draft_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentAccepted {
    pub deployment: DeploymentView,
    /// Where to follow it (also in `Location`).
    pub status_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateWebhookRequest {
    /// https and a public host in AWS; any http(s) URL on the local server.
    pub url: String,
    /// Event types of `GET /v1/webhooks` (`deployment.queued` ... `deployment.cancelled`).
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Subscription>,
    /// Every event type a subscription can name.
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub events: Vec<AuditEvent>,
    /// Present while more events may follow: pass it as `cursor`.
    pub next_cursor: Option<String>,
}

/// A time: RFC 3339, or whole milliseconds since the Unix epoch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = TimeFilter)]
pub enum TimeValue {
    Rfc3339(String),
    UnixMs(i64),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditExportFilterRequest {
    pub event_type: Option<String>,
    /// With `subject_id`.
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    /// Inclusive.
    pub from: Option<TimeValue>,
    /// Inclusive.
    pub to: Option<TimeValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateAuditExportRequest {
    pub format: ExportFormat,
    pub filters: Option<AuditExportFilterRequest>,
}
