//! Webhook routes: subscribe (the secret is shown once), list, unsubscribe, and the delivery
//! log of a subscription.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::webhooks;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeRequest {
    url: String,
    event_types: Vec<String>,
}

pub async fn subscribe(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let body: SubscribeRequest = request.json()?;
    let subscription = webhooks::subscribe(
        &app,
        user_id,
        &body.url,
        &body.event_types,
        &request.origin()?,
    )
    .await?;
    ApiResponse::json(StatusCode::CREATED, &subscription)
}

pub async fn list(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let subscriptions = webhooks::list(&app, request.user()?).await?;
    ApiResponse::ok(&json!({
        "webhooks": subscriptions,
        "event_types": webhooks::event_types(),
    }))
}

pub async fn unsubscribe(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    webhooks::unsubscribe(
        &app,
        request.user()?,
        request.path_param("id")?,
        &request.origin()?,
    )
    .await?;
    ApiResponse::json(StatusCode::OK, &json!({ "deleted": true }))
}

pub async fn deliveries(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let deliveries = webhooks::deliveries(&app, request.user()?, request.path_param("id")?).await?;
    ApiResponse::ok(&json!({ "deliveries": deliveries }))
}
