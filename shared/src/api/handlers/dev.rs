//! `POST /v1/dev/faucet` (local server only): funds the signed-in user's own account on a
//! devnet with a faucet, so a new user can deploy at once.

use serde::Deserialize;

use crate::accounts::service as accounts;
use crate::api::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::App;
use crate::chains::error::ChainError;
use crate::chains::faucet::{self, FaucetError};
use crate::networks::ChainFamily;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaucetRequest {
    network: String,
    /// Base units (µAlgo, wei) as a decimal string; the faucet's default when absent.
    amount: Option<String>,
}

pub async fn faucet(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let body: FaucetRequest = request.json()?;
    let amount = body
        .amount
        .as_deref()
        .map(|text| {
            text.parse::<u128>()
                .map_err(|_| ApiError::malformed("amount", "a decimal string of base units"))
        })
        .transpose()?;
    let network = app.networks().get(&body.network).ok_or_else(|| {
        ApiError::from(ChainError::NetworkNotConfigured {
            network: body.network.clone(),
            family: "any",
        })
    })?;
    let profile = accounts::profile(&app, user_id).await?;
    let address = match network.family() {
        ChainFamily::Algorand => &profile.algorand_address,
        ChainFamily::Evm => &profile.evm_address,
    };
    match faucet::fund(network, address, amount).await {
        Ok(funding) => ApiResponse::ok(&funding),
        Err(FaucetError::Unavailable(network)) => Err(ApiError::new(ErrorCode::FaucetUnavailable)
            .with_details(serde_json::json!({ "network": network }))),
        Err(FaucetError::Amount { max }) => Err(ApiError::malformed(
            "amount",
            format!("from 1 to {max} base units"),
        )),
        Err(FaucetError::Chain(error)) => Err(error.into()),
    }
}
