//! Compliance routes: run the checks on a draft, read the latest report, list the ruleset.

use http::StatusCode;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::compliance::report;

pub async fn run(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let report = report::run(
        &app,
        request.user()?,
        request.path_param("id")?,
        &request.origin()?,
    )
    .await?;
    ApiResponse::json(StatusCode::CREATED, &report)
}

pub async fn latest(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&report::latest(&app, request.user()?, request.path_param("id")?).await?)
}

pub async fn rules(_app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&report::ruleset())
}
