//! `GET /v1/health`: every dependency checked at once; 503 naming the failing ones.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::api::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::{App, DependencyStatus};

#[derive(Serialize)]
struct Healthy<'a> {
    status: &'static str,
    version: &'static str,
    dependencies: &'a BTreeMap<&'static str, DependencyStatus>,
}

pub async fn get(app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let dependencies = app.check_dependencies().await;
    let failing: Vec<&str> = dependencies
        .iter()
        .filter(|(_, status)| !status.ok)
        .map(|(name, _)| *name)
        .collect();
    if failing.is_empty() {
        return ApiResponse::ok(&Healthy {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            dependencies: &dependencies,
        });
    }
    Err(ApiError::new(ErrorCode::DependencyUnavailable)
        .with_message(format!("unavailable: {}", failing.join(", ")))
        .with_details(serde_json::json!({
            "failing": failing,
            "dependencies": dependencies,
        })))
}
