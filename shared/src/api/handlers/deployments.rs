//! Deployment routes: request one (202, carried on by the queue steps), read one with its
//! timeline, list them with filters, cancel a queued one, retry a failed one.

use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::time_filter;
use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::deployments::service::{self, DeploymentView, Filters};
use crate::deployments::state::Status;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    draft_id: String,
}

fn status_url(id: &str) -> String {
    format!("/v1/deployments/{id}")
}

pub async fn create(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let body: CreateRequest = request.json()?;
    let deployment = service::create(&app, user_id, &body.draft_id, &request.origin()?).await?;
    let url = status_url(&deployment.id);
    let mut response = ApiResponse::json(
        StatusCode::ACCEPTED,
        &json!({ "deployment": DeploymentView::from(&deployment), "status_url": url }),
    )?;
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers.insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let deployment = service::get(&app, request.user()?, request.path_param("id")?).await?;
    ApiResponse::ok(&DeploymentView::from(&deployment))
}

pub async fn list(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let query = &request.query;
    let status = query
        .get("status")
        .map(|text| {
            Status::parse(text).ok_or_else(|| {
                ApiError::malformed(
                    "status",
                    "one of queued, submitted, pending, confirmed, indexed, completed, failed, cancelled",
                )
            })
        })
        .transpose()?;
    let filters = Filters {
        status,
        standard: query.get("standard").cloned(),
        network: query.get("network").cloned(),
        since_ms: query
            .get("since")
            .map(|text| time_filter("since", text))
            .transpose()?,
        until_ms: query
            .get("until")
            .map(|text| time_filter("until", text))
            .transpose()?,
    };
    let limit = match query.get("limit") {
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::malformed("limit", "a number from 1 to 100"))?,
        None => 20,
    };
    let page = service::list(&app, user_id, &filters, limit, query.get("cursor").cloned()).await?;
    ApiResponse::ok(&page)
}

pub async fn cancel(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let deployment = service::cancel(
        &app,
        request.user()?,
        request.path_param("id")?,
        &request.origin()?,
    )
    .await?;
    ApiResponse::ok(&DeploymentView::from(&deployment))
}

pub async fn retry(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let deployment = service::retry(
        &app,
        request.user()?,
        request.path_param("id")?,
        &request.origin()?,
    )
    .await?;
    ApiResponse::json(StatusCode::ACCEPTED, &DeploymentView::from(&deployment))
}
