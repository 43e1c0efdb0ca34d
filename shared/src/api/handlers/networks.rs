//! `GET /v1/networks`: the configured networks, each with a live health probe of its node
//! (cached briefly; see `chains::health`).

use serde::Serialize;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::chains::health::{self, NetworkHealth};
use crate::networks::Network;

#[derive(Serialize)]
struct NetworkWithHealth<'a> {
    #[serde(flatten)]
    network: &'a Network,
    health: NetworkHealth,
}

#[derive(Serialize)]
struct NetworkList<'a> {
    networks: Vec<NetworkWithHealth<'a>>,
}

pub async fn list(app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let networks = app.networks().all();
    let health = health::probe_all(networks).await;
    ApiResponse::ok(&NetworkList {
        networks: networks
            .iter()
            .zip(health)
            .map(|(network, health)| NetworkWithHealth { network, health })
            .collect(),
    })
}
