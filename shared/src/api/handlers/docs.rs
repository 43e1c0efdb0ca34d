//! The API's own reference: `GET /v1/openapi.json` (the OpenAPI 3.1 document generated from
//! the route table, see [`crate::api::openapi`]) and `GET /v1/docs` (the same document as one
//! HTML page).

use http::StatusCode;

use crate::api::openapi;
use crate::api::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::App;

pub async fn openapi(_app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&document()?)
}

pub async fn page(_app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let document = document()?;
    Ok(ApiResponse::bytes(
        StatusCode::OK,
        "text/html; charset=utf-8",
        openapi::html::render(&document).into_bytes(),
    ))
}

fn document() -> Result<serde_json::Value, ApiError> {
    openapi::document().map_err(|error| {
        tracing::error!(%error, "the OpenAPI document is not serialisable");
        ApiError::new(ErrorCode::Internal)
    })
}
