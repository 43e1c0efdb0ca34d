//! The API's own reference: `GET /v1/openapi.json` (the OpenAPI 3.1 document generated from
//! the route table, see [`crate::api::openapi`]) and `GET /v1/docs` (the same document as one
//! HTML page).
//!
//! Both are built once per process, on first use: they change only with the code.

use std::sync::LazyLock;

use http::StatusCode;

use crate::api::openapi;
use crate::api::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::App;

/// The document as served, and the page rendered from it.
struct Served {
    json: Vec<u8>,
    html: Vec<u8>,
}

/// Built on first use; the error says why they could not be.
static SERVED: LazyLock<Result<Served, String>> = LazyLock::new(|| {
    let document = openapi::document().map_err(|error| error.to_string())?;
    let json = serde_json::to_vec(&document).map_err(|error| error.to_string())?;
    let html = openapi::html::render(&document).into_bytes();
    Ok(Served { json, html })
});

pub async fn openapi(_app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::bytes(
        StatusCode::OK,
        "application/json",
        served()?.json.clone(),
    ))
}

pub async fn page(_app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::bytes(
        StatusCode::OK,
        "text/html; charset=utf-8",
        served()?.html.clone(),
    ))
}

fn served() -> Result<&'static Served, ApiError> {
    SERVED.as_ref().map_err(|error| {
        tracing::error!(%error, "the OpenAPI document is not serialisable");
        ApiError::new(ErrorCode::Internal)
    })
}
