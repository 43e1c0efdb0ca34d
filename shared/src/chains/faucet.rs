//! The dev faucet: funds an account on a local devnet whose registry entry says it has one
//! (`dev_faucet = true`, only allowed on testnets). The Algorand devnet pays from its
//! dispenser (`POST /dev/fund`); an EVM devnet from its first unlocked, prefunded account.
//! No key of ours is involved: the devnets hold their own.

use alloy_primitives::{Address as EvmAddress, U256};
use serde::Serialize;

use super::algorand::algod::AlgodClient;
use super::algorand::transaction::Address as AlgorandAddress;
use super::error::ChainError;
use super::evm::client::EvmClient;
use crate::networks::{ChainFamily, Network};

/// What one request gives when it names no amount: 10 Algo, 1 ether.
pub const DEFAULT_MICROALGOS: u64 = 10_000_000;
pub const DEFAULT_WEI: u128 = 1_000_000_000_000_000_000;
/// The most one request gives: 1,000 Algo, 100 ether.
pub const MAX_MICROALGOS: u64 = 1_000_000_000;
pub const MAX_WEI: u128 = 100 * DEFAULT_WEI;

/// Why the faucet did not pay.
#[derive(Debug, thiserror::Error)]
pub enum FaucetError {
    #[error("network {0} has no dev faucet")]
    Unavailable(String),
    #[error("amount must be from 1 to {max} base units")]
    Amount { max: u128 },
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// A payment the faucet made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Funding {
    pub network: String,
    pub address: String,
    /// In the chain's base unit (µAlgo, wei), as a decimal string.
    pub amount: String,
    pub transaction_id: String,
}

/// Pays `amount` base units (or the default) to `address` on `network`.
pub async fn fund(
    network: &Network,
    address: &str,
    amount: Option<u128>,
) -> Result<Funding, FaucetError> {
    if !network.dev_faucet {
        return Err(FaucetError::Unavailable(network.id.clone()));
    }
    let (transaction_id, amount) = match network.family() {
        ChainFamily::Algorand => {
            let amount = amount.unwrap_or(u128::from(DEFAULT_MICROALGOS));
            let microalgos = u64::try_from(amount)
                .ok()
                .filter(|&n| (1..=MAX_MICROALGOS).contains(&n))
                .ok_or(FaucetError::Amount {
                    max: u128::from(MAX_MICROALGOS),
                })?;
            let receiver: AlgorandAddress = address.parse().map_err(|_| ChainError::Malformed {
                network: network.id.clone(),
                reason: format!("{address} is not an Algorand address"),
            })?;
            let client = AlgodClient::connect(network).await?;
            (client.dev_fund(&receiver, microalgos).await?, amount)
        }
        ChainFamily::Evm => {
            let amount = amount.unwrap_or(DEFAULT_WEI);
            if !(1..=MAX_WEI).contains(&amount) {
                return Err(FaucetError::Amount { max: MAX_WEI });
            }
            let receiver: EvmAddress = address.parse().map_err(|_| ChainError::Malformed {
                network: network.id.clone(),
                reason: format!("{address} is not an EVM address"),
            })?;
            let client = EvmClient::connect(network).await?;
            let hash = client.dev_fund(receiver, U256::from(amount)).await?;
            (hash.to_string(), amount)
        }
    };
    tracing::info!(network = %network.id, address, amount = %amount, "dev faucet paid");
    Ok(Funding {
        network: network.id.clone(),
        address: address.to_string(),
        amount: amount.to_string(),
        transaction_id,
    })
}
