//! `GET /v1/networks`: the configured networks.

use serde::Serialize;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::networks::Network;

#[derive(Serialize)]
struct NetworkList<'a> {
    networks: &'a [Network],
}

pub async fn list(app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&NetworkList {
        networks: app.networks().all(),
    })
}
