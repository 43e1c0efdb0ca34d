//! The route table: every endpoint once. Each Lambda binary serves one entry (its binary name
//! is the route id), the local server mounts all of them, and a test checks that the SAM
//! template declares exactly these routes.

use futures::future::BoxFuture;
use http::Method;

use super::handlers;
use super::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::App;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone; rate-limited by source address.
    Public,
    /// A signed-in user with a valid access token.
    User,
}

/// Whether a route takes an `Idempotency-Key`. Keys are scoped per user, so only
/// [`Auth::User`] routes take them; on a `None` route the header is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// The header is ignored: reads, and writes that are idempotent by themselves (`PUT` and
    /// `DELETE` with `If-Match`).
    None,
    /// With a key, a retry replays the first answer; without one, every call runs.
    Optional,
    /// A call without a key is refused (`IDEMPOTENCY_KEY_REQUIRED`).
    Required,
}

pub type Handler = fn(App, ApiRequest) -> BoxFuture<'static, Result<ApiResponse, ApiError>>;

#[derive(Clone)]
pub struct Route {
    /// Stable identifier: the Lambda binary and SAM function are named after it.
    pub id: &'static str,
    pub method: Method,
    /// API Gateway path syntax (`/v1/drafts/{id}`), which axum shares.
    pub path: &'static str,
    pub auth: Auth,
    /// Whether the router honours an `Idempotency-Key` (see [`super::idempotency`]).
    pub idempotency: Idempotency,
    /// The codes this route's own work can answer with. The ones every route of its kind
    /// can answer (authentication, rate limits, malformed input, idempotency keys, the
    /// records store, internal errors) are added by [`super::openapi`], which documents both.
    pub errors: &'static [ErrorCode],
    pub summary: &'static str,
    pub handler: Handler,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} ({:?})",
            self.id, self.method, self.path, self.auth
        )
    }
}

pub static ROUTES: &[Route] = &[
    Route {
        id: "health",
        method: Method::GET,
        path: "/v1/health",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::DependencyUnavailable],
        summary: "Check every dependency; 503 naming the failing ones",
        handler: |app, req| Box::pin(handlers::health::get(app, req)),
    },
    Route {
        id: "list-networks",
        method: Method::GET,
        path: "/v1/networks",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "The configured networks",
        handler: |app, req| Box::pin(handlers::networks::list(app, req)),
    },
    Route {
        id: "register",
        method: Method::POST,
        path: "/v1/auth/register",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::WeakPassword,
            ErrorCode::UserAlreadyExists,
            ErrorCode::RecordsUnavailable,
            ErrorCode::KeyVaultUnavailable,
        ],
        summary: "Create a user and their ARC-76 accounts; answers with tokens",
        handler: |app, req| Box::pin(handlers::auth::register(app, req)),
    },
    Route {
        id: "login",
        method: Method::POST,
        path: "/v1/auth/login",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::InvalidCredentials,
            ErrorCode::AccountLocked,
            ErrorCode::RecordsUnavailable,
            ErrorCode::KeyVaultUnavailable,
        ],
        summary: "Sign in with email and password",
        handler: |app, req| Box::pin(handlers::auth::login(app, req)),
    },
    Route {
        id: "refresh",
        method: Method::POST,
        path: "/v1/auth/refresh",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::InvalidRefreshToken,
            ErrorCode::RefreshTokenReused,
            ErrorCode::RecordsUnavailable,
            ErrorCode::KeyVaultUnavailable,
        ],
        summary: "Exchange a refresh token for new tokens (rotation, reuse detection)",
        handler: |app, req| Box::pin(handlers::auth::refresh(app, req)),
    },
    Route {
        id: "logout",
        method: Method::POST,
        path: "/v1/auth/logout",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Revoke every refresh token of the user",
        handler: |app, req| Box::pin(handlers::auth::logout(app, req)),
    },
    Route {
        id: "change-password",
        method: Method::POST,
        path: "/v1/auth/change-password",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::InvalidCredentials, ErrorCode::WeakPassword],
        summary: "Change the password; accounts stay the same, refresh tokens are revoked",
        handler: |app, req| Box::pin(handlers::auth::change_password(app, req)),
    },
    Route {
        id: "me",
        method: Method::GET,
        path: "/v1/me",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "The signed-in user's profile and addresses",
        handler: |app, req| Box::pin(handlers::auth::me(app, req)),
    },
    Route {
        id: "key-export",
        method: Method::POST,
        path: "/v1/me/key-export",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::InvalidCredentials],
        summary: "Take custody: the Algorand mnemonic and EVM private key, after the password",
        handler: |app, req| Box::pin(handlers::auth::key_export(app, req)),
    },
    Route {
        id: "list-standards",
        method: Method::GET,
        path: "/v1/standards",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Every token standard with its fields, limits, defaults and networks",
        handler: |app, req| Box::pin(handlers::drafts::list_standards(app, req)),
    },
    Route {
        id: "validate-draft",
        method: Method::POST,
        path: "/v1/drafts/validate",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Validate a draft without storing it: every problem at once",
        handler: |app, req| Box::pin(handlers::drafts::validate(app, req)),
    },
    Route {
        id: "create-draft",
        method: Method::POST,
        path: "/v1/drafts",
        auth: Auth::User,
        idempotency: Idempotency::Optional,
        errors: &[ErrorCode::ArchiveUnavailable],
        summary: "Save a new draft (valid or not) with its validation result",
        handler: |app, req| Box::pin(handlers::drafts::create(app, req)),
    },
    Route {
        id: "list-drafts",
        method: Method::GET,
        path: "/v1/drafts",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "The user's drafts, newest first, paginated",
        handler: |app, req| Box::pin(handlers::drafts::list(app, req)),
    },
    Route {
        id: "get-draft",
        method: Method::GET,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::DraftNotFound],
        summary: "One draft with its validation result; ETag is its version",
        handler: |app, req| Box::pin(handlers::drafts::get(app, req)),
    },
    Route {
        id: "update-draft",
        method: Method::PUT,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::DraftNotFound,
            ErrorCode::VersionRequired,
            ErrorCode::DraftVersionConflict,
            ErrorCode::ArchiveUnavailable,
        ],
        summary: "Replace a draft; If-Match must name its current version",
        handler: |app, req| Box::pin(handlers::drafts::update(app, req)),
    },
    Route {
        id: "delete-draft",
        method: Method::DELETE,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::DraftNotFound, ErrorCode::DraftVersionConflict],
        summary: "Delete a draft",
        handler: |app, req| Box::pin(handlers::drafts::delete(app, req)),
    },
    Route {
        id: "get-metadata",
        method: Method::GET,
        path: "/v1/metadata/{id}",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::NotFound, ErrorCode::ArchiveUnavailable],
        summary: "An ARC-3 metadata file, byte for byte as its hash is on chain",
        handler: |app, req| Box::pin(handlers::drafts::get_metadata(app, req)),
    },
    Route {
        id: "run-compliance",
        method: Method::POST,
        path: "/v1/drafts/{id}/compliance",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::DraftNotFound, ErrorCode::DraftInvalid],
        summary: "Run the compliance readiness checks on the draft's current version",
        handler: |app, req| Box::pin(handlers::compliance::run(app, req)),
    },
    Route {
        id: "get-compliance",
        method: Method::GET,
        path: "/v1/drafts/{id}/compliance",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::DraftNotFound,
            ErrorCode::ComplianceReportNotFound,
        ],
        summary: "The latest compliance report, whether it is stale, and the deployment gate",
        handler: |app, req| Box::pin(handlers::compliance::latest(app, req)),
    },
    Route {
        id: "list-compliance-rules",
        method: Method::GET,
        path: "/v1/compliance/rules",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "The compliance ruleset (readiness checks, not legal advice)",
        handler: |app, req| Box::pin(handlers::compliance::rules(app, req)),
    },
    Route {
        id: "create-deployment",
        method: Method::POST,
        path: "/v1/deployments",
        auth: Auth::User,
        idempotency: Idempotency::Required,
        errors: &[
            ErrorCode::DraftNotFound,
            ErrorCode::DraftInvalid,
            ErrorCode::NetworkNotConfigured,
            ErrorCode::ComplianceGateClosed,
            ErrorCode::QueueUnavailable,
        ],
        summary: "Deploy a valid draft whose compliance gate is open: 202, carried on by queue steps",
        handler: |app, req| Box::pin(handlers::deployments::create(app, req)),
    },
    Route {
        id: "list-deployments",
        method: Method::GET,
        path: "/v1/deployments",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Your deployments, newest first; filters status, standard, network, since, until",
        handler: |app, req| Box::pin(handlers::deployments::list(app, req)),
    },
    Route {
        id: "get-deployment",
        method: Method::GET,
        path: "/v1/deployments/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::DeploymentNotFound],
        summary: "A deployment with its status, timeline and result",
        handler: |app, req| Box::pin(handlers::deployments::get(app, req)),
    },
    Route {
        id: "cancel-deployment",
        method: Method::POST,
        path: "/v1/deployments/{id}/cancel",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::DeploymentNotFound,
            ErrorCode::DeploymentStateConflict,
        ],
        summary: "Cancel a queued deployment that has sent nothing",
        handler: |app, req| Box::pin(handlers::deployments::cancel(app, req)),
    },
    Route {
        id: "retry-deployment",
        method: Method::POST,
        path: "/v1/deployments/{id}/retry",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::DeploymentNotFound,
            ErrorCode::DeploymentStateConflict,
            ErrorCode::QueueUnavailable,
        ],
        summary: "Retry a failed deployment whose attempt sent nothing, as a new attempt",
        handler: |app, req| Box::pin(handlers::deployments::retry(app, req)),
    },
    Route {
        id: "create-webhook",
        method: Method::POST,
        path: "/v1/webhooks",
        auth: Auth::User,
        idempotency: Idempotency::Optional,
        errors: &[ErrorCode::WebhookUrlNotAllowed],
        summary: "Subscribe a URL to your deployment events; the signing secret is shown once",
        handler: |app, req| Box::pin(handlers::webhooks::subscribe(app, req)),
    },
    Route {
        id: "list-webhooks",
        method: Method::GET,
        path: "/v1/webhooks",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Your webhook subscriptions and the event types there are",
        handler: |app, req| Box::pin(handlers::webhooks::list(app, req)),
    },
    Route {
        id: "delete-webhook",
        method: Method::DELETE,
        path: "/v1/webhooks/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::WebhookNotFound],
        summary: "Unsubscribe",
        handler: |app, req| Box::pin(handlers::webhooks::unsubscribe(app, req)),
    },
    Route {
        id: "list-webhook-deliveries",
        method: Method::GET,
        path: "/v1/webhooks/{id}/deliveries",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[ErrorCode::WebhookNotFound],
        summary: "A subscription's deliveries, newest first, with every attempt",
        handler: |app, req| Box::pin(handlers::webhooks::deliveries(app, req)),
    },
    Route {
        id: "list-audit-events",
        method: Method::GET,
        path: "/v1/audit/events",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "Your audit trail in chain order, filtered by type, subject and time",
        handler: |app, req| Box::pin(handlers::audit::list_events(app, req)),
    },
    Route {
        id: "create-audit-export",
        method: Method::POST,
        path: "/v1/audit/exports",
        auth: Auth::User,
        idempotency: Idempotency::Optional,
        errors: &[ErrorCode::QueueUnavailable],
        summary: "Export your audit trail as JSON Lines or CSV to the archive, with a manifest",
        handler: |app, req| Box::pin(handlers::audit::create_export(app, req)),
    },
    Route {
        id: "get-audit-export",
        method: Method::GET,
        path: "/v1/audit/exports/{id}",
        auth: Auth::User,
        idempotency: Idempotency::None,
        errors: &[
            ErrorCode::AuditExportNotFound,
            ErrorCode::ArchiveUnavailable,
        ],
        summary: "An export's status and manifest, with short-lived download links when done",
        handler: |app, req| Box::pin(handlers::audit::get_export(app, req)),
    },
    Route {
        id: "get-openapi",
        method: Method::GET,
        path: "/v1/openapi.json",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "This API as an OpenAPI 3.1 document, generated from the route table",
        handler: |app, req| Box::pin(handlers::docs::openapi(app, req)),
    },
    Route {
        id: "get-api-docs",
        method: Method::GET,
        path: "/v1/docs",
        auth: Auth::Public,
        idempotency: Idempotency::None,
        errors: &[],
        summary: "This API's reference as one HTML page, rendered from the OpenAPI document",
        handler: |app, req| Box::pin(handlers::docs::page(app, req)),
    },
];

/// Routes only the local server mounts (never a Lambda function, never in the SAM template):
/// development conveniences over the local devnets.
pub static LOCAL_ROUTES: &[Route] = &[Route {
    id: "dev-faucet",
    method: Method::POST,
    path: "/v1/dev/faucet",
    auth: Auth::User,
    idempotency: Idempotency::None,
    errors: &[
        ErrorCode::NetworkNotConfigured,
        ErrorCode::FaucetUnavailable,
        ErrorCode::NetworkUnreachable,
        ErrorCode::NetworkMismatch,
        ErrorCode::TransactionRejected,
        ErrorCode::InsufficientFunds,
        ErrorCode::FeeAboveCeiling,
        ErrorCode::ChainTimeout,
    ],
    summary: "Local mode only: fund your own account on a devnet that has a faucet",
    handler: |app, req| Box::pin(handlers::dev::faucet(app, req)),
}];

/// The route with this id.
pub fn find(id: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|route| route.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_method_paths_are_unique_and_well_formed() {
        let mut ids = HashSet::new();
        let mut endpoints = HashSet::new();
        for route in ROUTES {
            assert!(ids.insert(route.id), "duplicate id {}", route.id);
            assert!(
                endpoints.insert((route.method.clone(), route.path)),
                "duplicate endpoint {route:?}"
            );
            assert!(route.path.starts_with("/v1/"), "{route:?}");
            assert!(
                route
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{route:?}"
            );
        }
    }

    /// Keys are scoped per user: a route without one has no scope to store them in.
    #[test]
    fn only_user_routes_take_idempotency_keys() {
        for route in ROUTES.iter().chain(LOCAL_ROUTES) {
            if route.idempotency != Idempotency::None {
                assert_eq!(route.auth, Auth::User, "{route:?}");
                assert_eq!(route.method, Method::POST, "{route:?}");
            }
        }
        assert_eq!(
            find("create-draft").map(|route| route.idempotency),
            Some(Idempotency::Optional)
        );
    }
}
