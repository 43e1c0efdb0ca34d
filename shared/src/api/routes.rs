//! The route table: every endpoint once. Each Lambda binary serves one entry (its binary name
//! is the route id), the local server mounts all of them, and a test checks that the SAM
//! template declares exactly these routes.

use futures::future::BoxFuture;
use http::Method;

use super::handlers;
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone; rate-limited by source address.
    Public,
    /// A signed-in user with a valid access token.
    User,
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
        summary: "Check every dependency; 503 naming the failing ones",
        handler: |app, req| Box::pin(handlers::health::get(app, req)),
    },
    Route {
        id: "list-networks",
        method: Method::GET,
        path: "/v1/networks",
        auth: Auth::Public,
        summary: "The configured networks",
        handler: |app, req| Box::pin(handlers::networks::list(app, req)),
    },
    Route {
        id: "register",
        method: Method::POST,
        path: "/v1/auth/register",
        auth: Auth::Public,
        summary: "Create a user and their ARC-76 accounts; answers with tokens",
        handler: |app, req| Box::pin(handlers::auth::register(app, req)),
    },
    Route {
        id: "login",
        method: Method::POST,
        path: "/v1/auth/login",
        auth: Auth::Public,
        summary: "Sign in with email and password",
        handler: |app, req| Box::pin(handlers::auth::login(app, req)),
    },
    Route {
        id: "refresh",
        method: Method::POST,
        path: "/v1/auth/refresh",
        auth: Auth::Public,
        summary: "Exchange a refresh token for new tokens (rotation, reuse detection)",
        handler: |app, req| Box::pin(handlers::auth::refresh(app, req)),
    },
    Route {
        id: "logout",
        method: Method::POST,
        path: "/v1/auth/logout",
        auth: Auth::User,
        summary: "Revoke every refresh token of the user",
        handler: |app, req| Box::pin(handlers::auth::logout(app, req)),
    },
    Route {
        id: "change-password",
        method: Method::POST,
        path: "/v1/auth/change-password",
        auth: Auth::User,
        summary: "Change the password; accounts stay the same, refresh tokens are revoked",
        handler: |app, req| Box::pin(handlers::auth::change_password(app, req)),
    },
    Route {
        id: "me",
        method: Method::GET,
        path: "/v1/me",
        auth: Auth::User,
        summary: "The signed-in user's profile and addresses",
        handler: |app, req| Box::pin(handlers::auth::me(app, req)),
    },
    Route {
        id: "key-export",
        method: Method::POST,
        path: "/v1/me/key-export",
        auth: Auth::User,
        summary: "Take custody: the Algorand mnemonic and EVM private key, after the password",
        handler: |app, req| Box::pin(handlers::auth::key_export(app, req)),
    },
    Route {
        id: "list-standards",
        method: Method::GET,
        path: "/v1/standards",
        auth: Auth::Public,
        summary: "Every token standard with its fields, limits, defaults and networks",
        handler: |app, req| Box::pin(handlers::drafts::list_standards(app, req)),
    },
    Route {
        id: "validate-draft",
        method: Method::POST,
        path: "/v1/drafts/validate",
        auth: Auth::User,
        summary: "Validate a draft without storing it: every problem at once",
        handler: |app, req| Box::pin(handlers::drafts::validate(app, req)),
    },
    Route {
        id: "create-draft",
        method: Method::POST,
        path: "/v1/drafts",
        auth: Auth::User,
        summary: "Save a new draft (valid or not) with its validation result",
        handler: |app, req| Box::pin(handlers::drafts::create(app, req)),
    },
    Route {
        id: "list-drafts",
        method: Method::GET,
        path: "/v1/drafts",
        auth: Auth::User,
        summary: "The user's drafts, newest first, paginated",
        handler: |app, req| Box::pin(handlers::drafts::list(app, req)),
    },
    Route {
        id: "get-draft",
        method: Method::GET,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        summary: "One draft with its validation result; ETag is its version",
        handler: |app, req| Box::pin(handlers::drafts::get(app, req)),
    },
    Route {
        id: "update-draft",
        method: Method::PUT,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        summary: "Replace a draft; If-Match must name its current version",
        handler: |app, req| Box::pin(handlers::drafts::update(app, req)),
    },
    Route {
        id: "delete-draft",
        method: Method::DELETE,
        path: "/v1/drafts/{id}",
        auth: Auth::User,
        summary: "Delete a draft",
        handler: |app, req| Box::pin(handlers::drafts::delete(app, req)),
    },
    Route {
        id: "get-metadata",
        method: Method::GET,
        path: "/v1/metadata/{id}",
        auth: Auth::Public,
        summary: "An ARC-3 metadata file, byte for byte as its hash is on chain",
        handler: |app, req| Box::pin(handlers::drafts::get_metadata(app, req)),
    },
    Route {
        id: "run-compliance",
        method: Method::POST,
        path: "/v1/drafts/{id}/compliance",
        auth: Auth::User,
        summary: "Run the compliance readiness checks on the draft's current version",
        handler: |app, req| Box::pin(handlers::compliance::run(app, req)),
    },
    Route {
        id: "get-compliance",
        method: Method::GET,
        path: "/v1/drafts/{id}/compliance",
        auth: Auth::User,
        summary: "The latest compliance report, whether it is stale, and the deployment gate",
        handler: |app, req| Box::pin(handlers::compliance::latest(app, req)),
    },
    Route {
        id: "list-compliance-rules",
        method: Method::GET,
        path: "/v1/compliance/rules",
        auth: Auth::Public,
        summary: "The compliance ruleset (readiness checks, not legal advice)",
        handler: |app, req| Box::pin(handlers::compliance::rules(app, req)),
    },
];

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
}
