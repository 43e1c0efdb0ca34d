//! Live health of the configured networks, for `GET /v1/networks`: each node is asked, once
//! and briefly, whether it answers and serves the configured chain (genesis, chain id).
//!
//! The route is public, so answers are cached per process for [`PROBE_TTL`]: a burst of
//! listings makes at most one probe per network and interval, never one per request.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::algorand::algod::{AlgodClient, ClientOptions, RetryPolicy};
use super::error::ChainError;
use super::evm::client::EvmClient;
use crate::networks::{ChainFamily, Network};

/// How long a probe's answer is reused.
pub const PROBE_TTL: Duration = Duration::from_secs(15);
/// A probe is one attempt with short timeouts: a listing must not wait on a dead node.
const PROBE_OPTIONS: ClientOptions = ClientOptions {
    connect_timeout: Duration::from_secs(2),
    request_timeout: Duration::from_secs(3),
    retry: RetryPolicy {
        attempts: 1,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NetworkStatus {
    /// The node answers and serves the configured chain.
    Ok,
    /// No usable answer in time.
    Unreachable,
    /// The node serves another chain: nothing will be sent there.
    Mismatch,
    /// The node answered something unexpected.
    Error,
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NetworkHealth {
    pub status: NetworkStatus,
    /// Unix seconds of the probe.
    pub checked_at: u64,
    pub latency_ms: u64,
    /// Why it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Probes `network` now (no cache).
pub async fn probe(network: &Network) -> NetworkHealth {
    let started = Instant::now();
    let outcome = match network.family() {
        ChainFamily::Algorand => match AlgodClient::connect_with(network, PROBE_OPTIONS).await {
            Ok(client) => client.health().await,
            Err(error) => Err(error),
        },
        ChainFamily::Evm => match EvmClient::connect_with(network, PROBE_OPTIONS).await {
            Ok(client) => client.health().await,
            Err(error) => Err(error),
        },
    };
    let (status, detail) = match outcome {
        Ok(()) => (NetworkStatus::Ok, None),
        Err(error) => {
            let status = match &error {
                ChainError::NetworkUnreachable { .. } | ChainError::Timeout { .. } => {
                    NetworkStatus::Unreachable
                }
                ChainError::NetworkMismatch { .. } => NetworkStatus::Mismatch,
                _ => NetworkStatus::Error,
            };
            (status, Some(error.to_string()))
        }
    };
    NetworkHealth {
        status,
        checked_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail,
    }
}

type Cache = Mutex<HashMap<String, (Instant, NetworkHealth)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The health of each network, in order: cached answers younger than [`PROBE_TTL`], fresh
/// probes (all at once) for the rest. Keyed by id and endpoint, so a changed registry is
/// probed anew.
pub async fn probe_all(networks: &[Network]) -> Vec<NetworkHealth> {
    let key = |network: &Network| format!("{}|{:?}", network.id, network.chain);
    let mut cached: Vec<Option<NetworkHealth>> = {
        let entries = cache()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        networks
            .iter()
            .map(|network| {
                entries
                    .get(&key(network))
                    .filter(|(at, _)| at.elapsed() < PROBE_TTL)
                    .map(|(_, health)| health.clone())
            })
            .collect()
    };
    let stale: Vec<(usize, &Network)> = networks
        .iter()
        .enumerate()
        .filter(|(index, _)| cached[*index].is_none())
        .collect();
    let fresh = futures::future::join_all(stale.iter().map(|(_, network)| probe(network))).await;
    let mut entries = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for ((index, network), health) in stale.into_iter().zip(fresh) {
        entries.insert(key(network), (Instant::now(), health.clone()));
        cached[index] = Some(health);
    }
    cached
        .into_iter()
        .map(|health| {
            health.unwrap_or(NetworkHealth {
                status: NetworkStatus::Error,
                checked_at: 0,
                latency_ms: 0,
                detail: Some("not probed".into()),
            })
        })
        .collect()
}
