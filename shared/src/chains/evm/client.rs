//! A client of an EVM node's JSON-RPC API: the calls this project makes to deploy a token,
//! confirm it and read it back.
//!
//! - [`EvmClient::connect`] checks on first contact that the node serves the configured chain
//!   id: signing for the wrong chain would spend on it.
//! - Preparing a transaction checks the network's fee ceiling and the sender's funds before
//!   anything is signed or sent, so a failure there costs nothing.
//! - Submitting is idempotent: the same signed bytes are the same transaction, and a node that
//!   already has it (pending or mined) counts as success, so a caller that lost an answer sends
//!   again. The client asks for the transaction by hash before sending, which also keeps
//!   nodes that would execute a resent transaction twice (ganache with eager instamine does)
//!   from doing so.
//! - Timeouts and retries are those of the algod client ([`ClientOptions`]): both go through
//!   the chain clients' HTTP layer (`chains/http.rs`); see `rpc.rs`.
//! - Answers are read into small types of the fields used; unknown fields are ignored, so
//!   other node implementations and newer versions keep working.

use std::sync::OnceLock;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U64, U128, U256};
use alloy_sol_types::SolCall;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::contracts::bindings::WalletlessMintable as Token;
use super::contracts::{self, DEFAULT_ADMIN_ROLE};
use super::rpc::{CallError, NodeError, RpcTransport};
use super::transaction::{PreparedTransaction, SignedTransaction, fee_caps, gas_limit_for};
use crate::chains::error::ChainError;
use crate::chains::http::{ClientOptions, ConnectedClients, connect_once};
use crate::networks::{ChainParams, Network};

const FAMILY: &str = "EVM";
/// How often [`EvmClient::wait_for_receipt`] asks for the receipt (Base makes a block every
/// 2 s, Ethereum every 12 s).
const RECEIPT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a devnet payment may take to be mined (ganache mines at once).
const DEV_FUND_TIMEOUT: Duration = Duration::from_secs(30);
/// Blocks of fee history read when the node has no `eth_maxPriorityFeePerGas`.
const FEE_HISTORY_BLOCKS: u64 = 10;
/// The reward percentile read from the fee history: what half of recent transactions tipped.
const FEE_HISTORY_PERCENTILE: f64 = 50.0;
/// JSON-RPC's "method not found".
const METHOD_NOT_FOUND: i64 = -32601;
/// geth's and anvil's code for a revert that carries data.
const EXECUTION_REVERTED: i64 = 3;
/// What nodes say when they already have a transaction in their pool: geth and erigon
/// ("already known"), older geth, hardhat and besu ("known transaction"), anvil ("transaction
/// already imported"), openethereum ("...was already imported"), nethermind ("AlreadyKnown").
const ALREADY_KNOWN: [&str; 4] = [
    "already known",
    "known transaction",
    "already imported",
    "alreadyknown",
];
const NO_PARAMS: [(); 0] = [];

/// A client of one EVM network's node, its chain id checked. Cheap to clone (clones share the
/// connection pool); holds no key, and its `Debug` shows no endpoint path (API keys live there).
#[derive(Debug, Clone)]
pub struct EvmClient {
    rpc: RpcTransport,
    network: String,
    chain_id: u64,
    fee_ceiling: u128,
}

/// A mined transaction, as deep as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmReceipt {
    pub transaction_hash: B256,
    pub block_number: u64,
    pub block_hash: B256,
    /// The contract a deployment created.
    pub contract_address: Option<Address>,
    pub gas_used: u64,
    /// Wei paid per gas (base fee plus tip); a decimal string in JSON, as the fee caps.
    #[serde(with = "super::transaction::decimal_u128")]
    pub effective_gas_price: u128,
}

/// A token's state read back at one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erc20State {
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    pub total_supply: U256,
    /// `None` when the token has no cap: no `cap()` (Preminted, whose supply is fixed anyway),
    /// or `cap() == type(uint256).max`, WalletlessMintable's "uncapped". So for a Mintable it
    /// equals [`super::Erc20Spec::cap`].
    pub cap: Option<U256>,
    pub holder_balance: U256,
    /// `None` when the token cannot be paused (no `paused()`).
    pub paused: Option<bool>,
    /// The block all the values were read at.
    pub block_number: u64,
}

/// The roles an account holds on a token with access control (WalletlessMintable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRoles {
    /// `DEFAULT_ADMIN_ROLE`: grants and revokes every role.
    pub admin: bool,
    pub minter: bool,
    pub pauser: bool,
}

impl EvmClient {
    /// The client of `network`, with the production timeouts and retries.
    /// The node is checked on first contact only: later calls reuse the client.
    pub async fn connect(network: &Network) -> Result<Self, ChainError> {
        static CLIENTS: OnceLock<ConnectedClients<EvmClient>> = OnceLock::new();
        connect_once(&CLIENTS, network, || {
            Self::connect_with(network, ClientOptions::default())
        })
        .await
    }

    /// The client of `network`, once its node has answered `eth_chainId` with the configured
    /// chain id. A network of another family is not configured for EVM.
    pub async fn connect_with(
        network: &Network,
        options: ClientOptions,
    ) -> Result<Self, ChainError> {
        let ChainParams::Evm {
            chain_id,
            rpc_url,
            max_fee_per_gas_wei,
        } = &network.chain
        else {
            return Err(not_configured(&network.id));
        };
        let client = Self {
            rpc: RpcTransport::new(&network.id, rpc_url.clone(), options)?,
            network: network.id.clone(),
            chain_id: *chain_id,
            fee_ceiling: u128::from(*max_fee_per_gas_wei),
        };
        let found: U64 = client.read("eth_chainId", NO_PARAMS).await?;
        if found != U64::from(client.chain_id) {
            return Err(ChainError::NetworkMismatch {
                network: client.network.clone(),
                expected: format!("chain id {}", client.chain_id),
                found: format!("chain id {found}"),
            });
        }
        Ok(client)
    }

    /// The registry id of the network this client talks to.
    pub fn network_id(&self) -> &str {
        &self.network
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The most this client lets a transaction pay per gas, in wei.
    pub fn fee_ceiling(&self) -> u128 {
        self.fee_ceiling
    }

    /// Whether the node answers `eth_blockNumber` now: one attempt, for live probes.
    pub async fn health(&self) -> Result<(), ChainError> {
        match self
            .rpc
            .call_once::<_, U64>("eth_blockNumber", NO_PARAMS)
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Chain(error)) => Err(error),
            Err(CallError::Node(error)) => Err(ChainError::NetworkUnreachable {
                network: self.network.clone(),
                reason: format!("eth_blockNumber: {error}"),
            }),
        }
    }

    /// The number of the latest block.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        let number: U64 = self.read("eth_blockNumber", NO_PARAMS).await?;
        Ok(number.to())
    }

    /// Wei held by `address` at the latest block.
    pub async fn balance(&self, address: Address) -> Result<U256, ChainError> {
        self.read("eth_getBalance", (address, "latest")).await
    }

    /// The nonce the next transaction of `address` takes: its transactions mined and pending.
    pub async fn nonce(&self, address: Address) -> Result<u64, ChainError> {
        let count: U64 = self
            .read("eth_getTransactionCount", (address, "pending"))
            .await?;
        Ok(count.to())
    }

    /// Local devnets only (a registry entry with `dev_faucet`): pays `wei` to `receiver` from
    /// the node's first unlocked, prefunded account (`eth_accounts`, `eth_sendTransaction`:
    /// ganache, anvil and hardhat have them) and returns the payment's hash once mined. Sent
    /// once, never retried: each request is a new payment, so a retry could pay twice. The
    /// payments of a process go one at a time: ganache gives concurrent sends from one account
    /// the same nonce, and then refuses one of them.
    pub async fn dev_fund(&self, receiver: Address, wei: U256) -> Result<B256, ChainError> {
        const METHOD: &str = "eth_sendTransaction";
        #[derive(Serialize)]
        struct Payment {
            from: Address,
            to: Address,
            value: U256,
        }
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = ONE_AT_A_TIME.lock().await;
        let accounts: Vec<Address> = self.read("eth_accounts", NO_PARAMS).await?;
        let from = *accounts.first().ok_or_else(|| {
            self.rpc
                .malformed("eth_accounts: the node has no unlocked account to pay from".into())
        })?;
        let payment = Payment {
            from,
            to: receiver,
            value: wei,
        };
        let hash: B256 = match self.rpc.call_once(METHOD, [payment]).await {
            Ok(hash) => hash,
            Err(CallError::Node(error)) => {
                return Err(ChainError::TransactionRejected {
                    message: rejection_message(&error),
                });
            }
            Err(CallError::Chain(error)) => return Err(error),
        };
        self.wait_for_receipt(hash, 1, DEV_FUND_TIMEOUT).await?;
        Ok(hash)
    }

    /// Everything needed to sign the creation of a contract from `creation_code` (see
    /// [`super::Erc20Spec::creation_code`]), checked as [`Self::prepare_call`] says.
    pub async fn prepare_deployment(
        &self,
        from: Address,
        creation_code: Vec<u8>,
    ) -> Result<PreparedTransaction, ChainError> {
        self.prepare(from, None, Bytes::from(creation_code), U256::ZERO)
            .await
    }

    /// Everything needed to sign a call of `to` with `calldata` (e.g.
    /// [`super::mint_calldata`]):
    ///
    /// - nonce: `eth_getTransactionCount(from, "pending")`;
    /// - gas: `eth_estimateGas` plus [`super::GAS_MARGIN_PERCENT`] (at most a block's limit); a
    ///   call that reverts is [`ChainError::TransactionRejected`] with the node's words and the
    ///   decoded revert reason;
    /// - EIP-1559 fees: the tip from `eth_maxPriorityFeePerGas` (or the median of recent
    ///   blocks' median tips when the node lacks it), `max_fee = min(2 * base fee + tip,
    ///   ceiling)`; [`ChainError::FeeAboveCeiling`] when the base fee plus the tip is above the
    ///   network's `max_fee_per_gas_wei`;
    /// - funds: [`ChainError::InsufficientFunds`] when the sender holds less than
    ///   [`PreparedTransaction::max_cost`].
    pub async fn prepare_call(
        &self,
        from: Address,
        to: Address,
        calldata: Vec<u8>,
    ) -> Result<PreparedTransaction, ChainError> {
        self.prepare(from, Some(to), Bytes::from(calldata), U256::ZERO)
            .await
    }

    async fn prepare(
        &self,
        from: Address,
        to: Option<Address>,
        input: Bytes,
        value: U256,
    ) -> Result<PreparedTransaction, ChainError> {
        let request = CallRequest {
            from: Some(from),
            to,
            value,
            input: &input,
            data: &input,
        };
        let (nonce, estimate, block, tip, balance) = tokio::join!(
            self.nonce(from),
            self.estimate_gas(&request),
            self.latest_block(),
            self.priority_fee(),
            self.balance(from),
        );
        // In a fixed order, so that the same situation always gives the same error: the node's
        // trouble first, then the transaction's own.
        let (nonce, block, tip, balance) = (nonce?, block?, tip?, balance?);
        let estimate = estimate?;
        let base_fee = block.base_fee_per_gas.ok_or_else(|| {
            self.rpc.malformed(
                "the latest block has no base fee: the network does not run EIP-1559".into(),
            )
        })?;
        let fees = fee_caps(base_fee.to(), tip, self.fee_ceiling).map_err(|fee_per_gas| {
            ChainError::FeeAboveCeiling {
                network: self.network.clone(),
                fee_per_gas,
                ceiling: self.fee_ceiling,
            }
        })?;
        let prepared = PreparedTransaction {
            network: self.network.clone(),
            chain_id: self.chain_id,
            from,
            nonce,
            to,
            value,
            input,
            gas_limit: gas_limit_for(estimate, block.gas_limit.to()),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        };
        let needed = prepared.max_cost();
        if balance < needed {
            return Err(ChainError::InsufficientFunds {
                address: from.to_checksum(None),
                needed: needed.saturating_to(),
                held: balance.saturating_to(),
            });
        }
        Ok(prepared)
    }

    async fn estimate_gas(&self, request: &CallRequest<'_>) -> Result<u64, ChainError> {
        match self.rpc.call::<_, U64>("eth_estimateGas", [request]).await {
            Ok(gas) => Ok(gas.to()),
            Err(CallError::Node(error)) => Err(ChainError::TransactionRejected {
                message: rejection_message(&error),
            }),
            Err(CallError::Chain(error)) => Err(error),
        }
    }

    async fn latest_block(&self) -> Result<BlockWire, ChainError> {
        let block: Option<BlockWire> = self.read("eth_getBlockByNumber", ("latest", false)).await?;
        block.ok_or_else(|| {
            self.rpc
                .malformed("eth_getBlockByNumber: no latest block".into())
        })
    }

    /// The tip per gas the node suggests.
    async fn priority_fee(&self) -> Result<u128, ChainError> {
        const METHOD: &str = "eth_maxPriorityFeePerGas";
        match self.rpc.call::<_, U128>(METHOD, NO_PARAMS).await {
            Ok(tip) => Ok(tip.to()),
            Err(CallError::Node(error)) if is_method_missing(&error) => {
                self.priority_fee_from_history().await
            }
            Err(error) => Err(self.answer_error(METHOD, error)),
        }
    }

    async fn priority_fee_from_history(&self) -> Result<u128, ChainError> {
        #[derive(Deserialize)]
        struct FeeHistory {
            #[serde(default)]
            reward: Vec<Vec<U128>>,
        }
        let history: FeeHistory = self
            .read(
                "eth_feeHistory",
                (
                    U64::from(FEE_HISTORY_BLOCKS),
                    "latest",
                    [FEE_HISTORY_PERCENTILE],
                ),
            )
            .await?;
        Ok(median_tip(&history.reward))
    }

    /// Sends a signed transaction and returns its hash. A transaction the node already has,
    /// pending or mined, counts as sent; any other refusal is
    /// [`ChainError::TransactionRejected`] with the node's words. Unreachable nodes and timeouts
    /// are retryable: sending the same bytes again is safe.
    ///
    /// The bytes are never sent to a node that has the transaction: the client asks for it by
    /// hash first, and again before each retry (a send that timed out may have arrived). Nodes
    /// answer a resent transaction with "already known" anyway, but ganache with eager
    /// instamine executes it a second time.
    pub async fn submit(&self, signed: &SignedTransaction) -> Result<B256, ChainError> {
        const METHOD: &str = "eth_sendRawTransaction";
        let raw = Bytes::copy_from_slice(&signed.raw);
        let retry = self.rpc.retry_policy();
        let mut attempt = 1;
        loop {
            if self.knows_transaction(signed.hash).await? {
                return Ok(signed.hash);
            }
            let error = match self.rpc.call_once::<_, B256>(METHOD, [&raw]).await {
                Ok(hash) if hash == signed.hash => return Ok(hash),
                Ok(hash) => {
                    return Err(self.rpc.malformed(format!(
                        "{METHOD}: the node took the transaction as {hash}, not {}",
                        signed.hash
                    )));
                }
                Err(CallError::Node(error)) => {
                    // "nonce too low" is also what a node says to a transaction of its own
                    // that is already mined: ask for it before calling it a rejection.
                    if is_already_known(&error.message)
                        || self.knows_transaction(signed.hash).await?
                    {
                        return Ok(signed.hash);
                    }
                    return Err(ChainError::TransactionRejected {
                        message: rejection_message(&error),
                    });
                }
                Err(CallError::Chain(error)) => error,
            };
            let transient = matches!(
                error,
                ChainError::NetworkUnreachable { .. } | ChainError::Timeout { .. }
            );
            if !transient || attempt >= retry.attempts {
                return Err(error);
            }
            let delay = retry.delay(attempt, None);
            tracing::warn!(
                network = %self.network,
                transaction = %signed.hash,
                attempt,
                %error,
                delay_ms = delay.as_millis() as u64,
                "sending the transaction failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Whether the node has the transaction, pending or mined.
    async fn knows_transaction(&self, hash: B256) -> Result<bool, ChainError> {
        let transaction: Option<Value> = self.read("eth_getTransactionByHash", [hash]).await?;
        Ok(transaction.is_some())
    }

    /// Waits until the transaction is mined and `confirmations` blocks deep (its own block
    /// counts; 0 is taken as 1), at most `timeout`. A transaction that reverted is
    /// [`ChainError::TransactionRejected`] ("reverted ..."), once as deep as asked.
    pub async fn wait_for_receipt(
        &self,
        hash: B256,
        confirmations: u32,
        timeout: Duration,
    ) -> Result<EvmReceipt, ChainError> {
        let depth = u64::from(confirmations.max(1));
        let waited = tokio::time::timeout(timeout, async {
            loop {
                if let Some(receipt) = self.receipt(hash).await? {
                    let head = self.block_number().await?;
                    if head.saturating_add(1).saturating_sub(receipt.block_number) >= depth {
                        return receipt.into_result(hash);
                    }
                }
                tokio::time::sleep(RECEIPT_POLL_INTERVAL).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(ChainError::Timeout {
                network: self.network.clone(),
                operation: format!("receipt of {hash} ({depth} confirmations within {timeout:?})"),
            })
        })
    }

    /// The receipt of a mined transaction; `None` while it is not in a block.
    async fn receipt(&self, hash: B256) -> Result<Option<MinedReceipt>, ChainError> {
        const METHOD: &str = "eth_getTransactionReceipt";
        let receipt: Option<ReceiptWire> = self.read(METHOD, [hash]).await?;
        let Some(receipt) = receipt else {
            return Ok(None);
        };
        let (Some(block_number), Some(block_hash)) = (receipt.block_number, receipt.block_hash)
        else {
            return Ok(None);
        };
        let status = receipt.status.ok_or_else(|| {
            self.rpc
                .malformed(format!("{METHOD}: the receipt of {hash} has no status"))
        })?;
        Ok(Some(MinedReceipt {
            succeeded: status != U64::ZERO,
            block_number: block_number.to(),
            receipt: EvmReceipt {
                transaction_hash: receipt.transaction_hash,
                block_number: block_number.to(),
                block_hash,
                contract_address: receipt.contract_address,
                gas_used: receipt.gas_used.to(),
                effective_gas_price: receipt.effective_gas_price.to(),
            },
        }))
    }

    /// Reads a token's name, symbol, decimals, total supply, cap, pause state and `holder`'s
    /// balance, all at the latest block. An address without an ERC-20 there is
    /// [`ChainError::Malformed`].
    pub async fn read_erc20(
        &self,
        token: Address,
        holder: Address,
    ) -> Result<Erc20State, ChainError> {
        let block_number = self.block_number().await?;
        let block = U64::from(block_number);
        let (name, symbol, decimals, total_supply, holder_balance, cap, paused) = tokio::try_join!(
            self.required_view(token, Token::nameCall {}, block),
            self.required_view(token, Token::symbolCall {}, block),
            self.required_view(token, Token::decimalsCall {}, block),
            self.required_view(token, Token::totalSupplyCall {}, block),
            self.required_view(token, Token::balanceOfCall { account: holder }, block),
            self.view(token, Token::capCall {}, block),
            self.view(token, Token::pausedCall {}, block),
        )?;
        Ok(Erc20State {
            name,
            symbol,
            decimals,
            total_supply,
            cap: cap.filter(|cap| *cap != U256::MAX),
            holder_balance,
            paused,
            block_number,
        })
    }

    /// The roles `account` holds on `token`; `None` when the token has no access control
    /// (Preminted).
    pub async fn token_roles(
        &self,
        token: Address,
        account: Address,
    ) -> Result<Option<TokenRoles>, ChainError> {
        let block = U64::from(self.block_number().await?);
        let has = |role| self.view(token, Token::hasRoleCall { role, account }, block);
        let roles = tokio::try_join!(
            has(DEFAULT_ADMIN_ROLE),
            has(contracts::minter_role()),
            has(contracts::pauser_role()),
        )?;
        Ok(match roles {
            (Some(admin), Some(minter), Some(pauser)) => Some(TokenRoles {
                admin,
                minter,
                pauser,
            }),
            _ => None,
        })
    }

    /// `eth_call` of `token` at `block`, decoded; `None` when the call reverts (a function the
    /// contract does not have). Nothing at all back means there is no contract.
    async fn view<C: SolCall>(
        &self,
        token: Address,
        call: C,
        block: U64,
    ) -> Result<Option<C::Return>, ChainError> {
        const METHOD: &str = "eth_call";
        let input = Bytes::from(call.abi_encode());
        let request = CallRequest {
            from: None,
            to: Some(token),
            value: U256::ZERO,
            input: &input,
            data: &input,
        };
        let output = match self.rpc.call::<_, Bytes>(METHOD, (&request, block)).await {
            Ok(output) => output,
            Err(CallError::Node(error)) if is_revert(&error) => return Ok(None),
            Err(error) => return Err(self.answer_error(METHOD, error)),
        };
        if output.is_empty() {
            return Err(self.rpc.malformed(format!(
                "{token}: {} returned nothing: no contract there",
                C::SIGNATURE
            )));
        }
        C::abi_decode_returns(&output).map(Some).map_err(|_| {
            self.rpc
                .malformed(format!("{token}: {} returned {output}", C::SIGNATURE))
        })
    }

    /// A view every ERC-20 has.
    async fn required_view<C: SolCall>(
        &self,
        token: Address,
        call: C,
        block: U64,
    ) -> Result<C::Return, ChainError> {
        self.view(token, call, block).await?.ok_or_else(|| {
            self.rpc
                .malformed(format!("{token}: {} reverted: not an ERC-20", C::SIGNATURE))
        })
    }

    /// A call whose JSON-RPC error answer can only mean that the node did not understand it.
    async fn read<P: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, ChainError> {
        self.rpc
            .call(method, params)
            .await
            .map_err(|error| self.answer_error(method, error))
    }

    fn answer_error(&self, method: &str, error: CallError) -> ChainError {
        match error {
            CallError::Chain(error) => error,
            CallError::Node(error) => self.rpc.malformed(format!("{method}: {error}")),
        }
    }
}

fn not_configured(network: &str) -> ChainError {
    ChainError::NetworkNotConfigured {
        network: network.to_string(),
        family: FAMILY,
    }
}

/// The transaction fields of `eth_estimateGas` and `eth_call`. The input goes as both `input`
/// (its current name) and `data` (its old one, which ganache and older nodes read); nodes that
/// read both require them equal, which they are.
#[derive(Serialize)]
struct CallRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Address>,
    #[serde(skip_serializing_if = "U256::is_zero")]
    value: U256,
    input: &'a Bytes,
    data: &'a Bytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockWire {
    gas_limit: U64,
    base_fee_per_gas: Option<U128>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptWire {
    transaction_hash: B256,
    /// Absent or null while pending, on nodes that answer for pending transactions.
    block_number: Option<U64>,
    block_hash: Option<B256>,
    /// 1 success, 0 reverted.
    status: Option<U64>,
    contract_address: Option<Address>,
    gas_used: U64,
    effective_gas_price: U128,
}

struct MinedReceipt {
    succeeded: bool,
    block_number: u64,
    receipt: EvmReceipt,
}

impl MinedReceipt {
    fn into_result(self, hash: B256) -> Result<EvmReceipt, ChainError> {
        if self.succeeded {
            return Ok(self.receipt);
        }
        Err(ChainError::TransactionRejected {
            message: format!(
                "reverted: transaction {hash} in block {} used {} gas and changed nothing",
                self.block_number, self.receipt.gas_used
            ),
        })
    }
}

/// The median of the blocks' reward at the percentile asked (each block's first value); 0
/// when there is none.
fn median_tip(rewards: &[Vec<U128>]) -> u128 {
    let mut tips: Vec<u128> = rewards
        .iter()
        .filter_map(|block| block.first())
        .map(|tip| tip.to())
        .collect();
    tips.sort_unstable();
    tips.get(tips.len() / 2).copied().unwrap_or(0)
}

fn is_method_missing(error: &NodeError) -> bool {
    let message = error.message.to_ascii_lowercase();
    error.code == METHOD_NOT_FOUND
        || [
            "not found",
            "not supported",
            "does not exist",
            "not available",
            "unsupported",
        ]
        .iter()
        .any(|words| message.contains(words))
}

/// Whether the node already has the transaction: the wording of every node this project may
/// meet (geth and its forks, erigon, besu, nethermind, anvil, hardhat, openethereum).
fn is_already_known(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ALREADY_KNOWN.iter().any(|words| message.contains(words))
}

/// Whether a call's error is the EVM reverting: geth and anvil answer code 3 with the revert
/// data (or -32000 "execution reverted" without), ganache "VM Exception while processing
/// transaction: revert", hardhat "Transaction reverted ...".
fn is_revert(error: &NodeError) -> bool {
    error.code == EXECUTION_REVERTED || error.message.to_ascii_lowercase().contains("revert")
}

/// The node's message, with the revert reason decoded from the error's data when there is one
/// the message does not already give.
fn rejection_message(error: &NodeError) -> String {
    let reason = error
        .data
        .as_ref()
        .and_then(revert_data)
        .and_then(|data| contracts::describe_revert(&data));
    match reason {
        Some(reason) if !error.message.contains(&reason) => format!("{}: {reason}", error.message),
        _ => error.message.clone(),
    }
}

/// Revert data in a JSON-RPC error's `data`: a hex string (geth, anvil), or an object holding
/// one under `data` (hardhat) or `result` (ganache).
fn revert_data(data: &Value) -> Option<Vec<u8>> {
    match data {
        Value::String(text) => {
            let digits = text.strip_prefix("0x")?;
            alloy_primitives::hex::decode(digits).ok()
        }
        Value::Object(fields) => ["data", "result"]
            .iter()
            .filter_map(|key| fields.get(*key))
            .find_map(|value| match value {
                Value::String(_) => revert_data(value),
                _ => None,
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::evm::contracts::bindings::WalletlessMintable;
    use crate::chains::evm::rpc::mock;
    use crate::networks::NetworkRegistry;
    use alloy_sol_types::SolError;
    use serde_json::json;

    fn node_error(code: i64, message: &str, data: Option<Value>) -> NodeError {
        NodeError {
            code,
            message: message.into(),
            data,
        }
    }

    #[test]
    fn already_known_is_recognised_in_every_nodes_words() {
        for message in [
            "already known",
            "known transaction: 0x1234",
            "Known transaction: 0xabcd",
            "transaction already imported",
            "Transaction with the same hash was already imported.",
            "AlreadyKnown",
            "Transaction 0x12 already imported",
        ] {
            assert!(is_already_known(message), "{message}");
        }
        for message in [
            "nonce too low",
            "replacement transaction underpriced",
            "insufficient funds for gas * price + value",
            "intrinsic gas too low",
            "the tx doesn't have the correct nonce. account has nonce of: 1 tx has nonce of: 0",
            "unknown account",
        ] {
            assert!(!is_already_known(message), "{message}");
        }
    }

    #[test]
    fn reverts_are_recognised_in_every_nodes_words() {
        for error in [
            node_error(3, "execution reverted", Some(json!("0x"))),
            node_error(-32000, "execution reverted", None),
            node_error(
                -32000,
                "VM Exception while processing transaction: revert",
                None,
            ),
            node_error(
                -32603,
                "Error: Transaction reverted: function selector was not recognized and there's no fallback function",
                None,
            ),
            node_error(3, "execution reverted: custom error 0xe450d38c", None),
        ] {
            assert!(is_revert(&error), "{error}");
        }
        for error in [
            node_error(-32000, "header not found", None),
            node_error(-32005, "rate limited", None),
            node_error(-32602, "invalid argument 0", None),
        ] {
            assert!(!is_revert(&error), "{error}");
        }
    }

    #[test]
    fn missing_methods_are_recognised() {
        assert!(is_method_missing(&node_error(
            -32601,
            "the method eth_maxPriorityFeePerGas does not exist/is not available",
            None
        )));
        assert!(is_method_missing(&node_error(
            -32000,
            "Method not found",
            None
        )));
        assert!(!is_method_missing(&node_error(
            -32000,
            "internal error",
            None
        )));
    }

    #[test]
    fn rejections_carry_the_decoded_revert_reason_from_each_nodes_data() {
        let exceeded = WalletlessMintable::ERC20ExceededCap {
            increasedSupply: U256::from(1100u64),
            cap: U256::from(1000u64),
        }
        .abi_encode();
        let hex = format!("0x{}", alloy_primitives::hex::encode(&exceeded));
        let expected = "ERC20ExceededCap { increasedSupply: 1100, cap: 1000 }";
        for (message, data) in [
            ("execution reverted", json!(hex)),
            (
                "VM Exception while processing transaction: revert",
                json!({"hash": "0x00", "programCounter": 12, "result": hex, "reason": null}),
            ),
            (
                "Error: reverted with custom error",
                json!({"message": "x", "data": hex}),
            ),
        ] {
            let error = node_error(-32000, message, Some(data));
            assert_eq!(rejection_message(&error), format!("{message}: {expected}"));
        }
        let with_reason = node_error(
            3,
            "execution reverted: revert: no",
            Some(json!(format!(
                "0x{}",
                alloy_primitives::hex::encode(alloy_sol_types::Revert::from("no").abi_encode())
            ))),
        );
        assert_eq!(
            rejection_message(&with_reason),
            "execution reverted: revert: no"
        );
        let plain = node_error(-32000, "nonce too low", Some(json!({"stack": "..."})));
        assert_eq!(rejection_message(&plain), "nonce too low");
        assert_eq!(
            rejection_message(&node_error(-32000, "x", Some(json!("not hex")))),
            "x"
        );
    }

    #[test]
    fn the_fee_history_tip_is_the_median_of_the_blocks() {
        let tips = |values: &[u64]| -> Vec<Vec<U128>> {
            values.iter().map(|v| vec![U128::from(*v)]).collect()
        };
        assert_eq!(median_tip(&tips(&[5, 1, 3])), 3);
        assert_eq!(median_tip(&tips(&[4, 1])), 4);
        assert_eq!(median_tip(&[]), 0);
        assert_eq!(median_tip(&[vec![], vec![U128::from(2u64)]]), 2);
    }

    #[test]
    fn answers_tolerate_unknown_and_missing_fields() {
        let receipt: ReceiptWire = serde_json::from_value(json!({
            "transactionHash": B256::repeat_byte(1),
            "blockNumber": "0x5", "blockHash": B256::repeat_byte(2), "status": "0x0",
            "contractAddress": null, "gasUsed": "0x5208", "effectiveGasPrice": "0x3b9aca00",
            "logs": [], "type": "0x2", "newField": {"a": 1}
        }))
        .unwrap();
        assert_eq!(receipt.status, Some(U64::ZERO));
        assert_eq!(receipt.contract_address, None);
        let pending: ReceiptWire = serde_json::from_value(json!({
            "transactionHash": B256::repeat_byte(1), "blockNumber": null,
            "gasUsed": "0x0", "effectiveGasPrice": "0x0"
        }))
        .unwrap();
        assert_eq!(pending.block_number, None);
        let block: BlockWire = serde_json::from_value(json!({
            "number": "0x1", "gasLimit": "0x1c9c380", "transactions": []
        }))
        .unwrap();
        assert_eq!(block.base_fee_per_gas, None);
        assert_eq!(block.gas_limit, U64::from(30_000_000u64));
    }

    #[test]
    fn call_requests_send_the_input_under_both_names() {
        let input = Bytes::from(vec![0xab]);
        let request = CallRequest {
            from: None,
            to: Some(Address::repeat_byte(0x11)),
            value: U256::ZERO,
            input: &input,
            data: &input,
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"to": "0x1111111111111111111111111111111111111111", "input": "0xab", "data": "0xab"})
        );
    }

    #[test]
    fn a_reverted_receipt_is_a_rejection() {
        let mined = MinedReceipt {
            succeeded: false,
            block_number: 9,
            receipt: EvmReceipt {
                transaction_hash: B256::repeat_byte(3),
                block_number: 9,
                block_hash: B256::repeat_byte(4),
                contract_address: None,
                gas_used: 30_000,
                effective_gas_price: 1,
            },
        };
        let error = mined.into_result(B256::repeat_byte(3)).unwrap_err();
        assert!(
            matches!(&error, ChainError::TransactionRejected { message } if message.starts_with("reverted")),
            "{error}"
        );
    }

    async fn mock_client(node: &mock::MockNode, ceiling: u64) -> EvmClient {
        let text = format!(
            "[[network]]\nid = \"evm-mock\"\nname = \"Mock\"\nkind = \"evm\"\ntestnet = true\n\
             chain_id = 31337\nrpc_url = \"{}\"\nmax_fee_per_gas_wei = {ceiling}\nconfirmations = 1\n",
            node.url
        );
        let registry = NetworkRegistry::parse(&text, "mock").unwrap();
        EvmClient::connect_with(&registry.all()[0], mock::quick_options())
            .await
            .unwrap()
    }

    fn signed() -> SignedTransaction {
        SignedTransaction {
            raw: vec![0x02, 0xc0],
            hash: B256::repeat_byte(0x77),
        }
    }

    /// A node on chain 31337 that answers `eth_sendRawTransaction` with `send` and knows the
    /// transaction from the `known_from`th `eth_getTransactionByHash` on.
    async fn sending_node(
        send: impl Fn(&Value) -> mock::Scripted + Send + Sync + 'static,
        known_from: usize,
    ) -> mock::MockNode {
        mock::serve(move |request, earlier| match request["method"].as_str() {
            Some("eth_chainId") => mock::result(request, json!("0x7a69")),
            Some("eth_getTransactionByHash") if earlier >= known_from => {
                mock::result(request, json!({"hash": B256::repeat_byte(0x77)}))
            }
            Some("eth_getTransactionByHash") => mock::result(request, Value::Null),
            Some("eth_sendRawTransaction") => send(request),
            _ => Some((404, String::new())),
        })
        .await
    }

    #[tokio::test]
    async fn a_send_whose_answer_was_lost_is_not_sent_again_once_the_node_has_it() {
        // The send never answers, but the node has the transaction when asked again.
        let node = sending_node(|_| None, 1).await;
        let client = mock_client(&node, 1).await;
        assert_eq!(client.submit(&signed()).await, Ok(signed().hash));
        assert_eq!(node.calls("eth_sendRawTransaction"), 1);
        assert_eq!(node.calls("eth_getTransactionByHash"), 2);

        // A node that never has it: each attempt asks, sends, times out; then Timeout.
        let node = sending_node(|_| None, usize::MAX).await;
        let client = mock_client(&node, 1).await;
        let error = client.submit(&signed()).await.unwrap_err();
        assert!(matches!(error, ChainError::Timeout { .. }), "{error:?}");
        assert_eq!(node.calls("eth_sendRawTransaction"), 3);
        assert_eq!(node.calls("eth_getTransactionByHash"), 3);

        // Already known before sending: nothing is sent.
        let node = sending_node(|_| None, 0).await;
        let client = mock_client(&node, 1).await;
        assert_eq!(client.submit(&signed()).await, Ok(signed().hash));
        assert_eq!(node.calls("eth_sendRawTransaction"), 0);
    }

    #[tokio::test]
    async fn refusals_of_a_transaction_the_node_has_are_success_and_others_rejections() {
        let node = sending_node(|r| mock::error(r, -32000, "already known"), usize::MAX).await;
        let client = mock_client(&node, 1).await;
        assert_eq!(client.submit(&signed()).await, Ok(signed().hash));

        // Mined already: the node says "nonce too low", and has it when asked.
        let node = sending_node(|r| mock::error(r, -32000, "nonce too low"), 1).await;
        let client = mock_client(&node, 1).await;
        assert_eq!(client.submit(&signed()).await, Ok(signed().hash));

        let node = sending_node(
            |r| mock::error(r, -32000, "insufficient funds for gas * price + value"),
            usize::MAX,
        )
        .await;
        let client = mock_client(&node, 1).await;
        assert_eq!(
            client.submit(&signed()).await,
            Err(ChainError::TransactionRejected {
                message: "insufficient funds for gas * price + value".into()
            })
        );
        assert_eq!(node.calls("eth_sendRawTransaction"), 1);

        let node = sending_node(|r| mock::result(r, json!(B256::repeat_byte(1))), usize::MAX).await;
        let client = mock_client(&node, 1).await;
        assert!(matches!(
            client.submit(&signed()).await,
            Err(ChainError::Malformed { .. })
        ));
    }

    /// A node with base fee 1 gwei, no `eth_maxPriorityFeePerGas` (tips 2, 6 and 4 wei in its
    /// fee history), a gas estimate of 100,000 and `balance` wei for every account.
    async fn fee_node(balance: u128) -> mock::MockNode {
        mock::serve(move |request, _| match request["method"].as_str() {
            Some("eth_chainId") => mock::result(request, json!("0x7a69")),
            Some("eth_getTransactionCount") => mock::result(request, json!("0x5")),
            Some("eth_estimateGas") => mock::result(request, json!("0x186a0")),
            Some("eth_getBlockByNumber") => mock::result(
                request,
                json!({"number": "0x9", "gasLimit": "0x1c9c380", "baseFeePerGas": "0x3b9aca00"}),
            ),
            Some("eth_maxPriorityFeePerGas") => {
                mock::error(request, METHOD_NOT_FOUND, "the method does not exist")
            }
            Some("eth_feeHistory") => mock::result(
                request,
                json!({"oldestBlock": "0x7", "reward": [["0x2"], ["0x6"], ["0x4"]]}),
            ),
            Some("eth_getBalance") => mock::result(request, json!(format!("{balance:#x}"))),
            _ => Some((404, String::new())),
        })
        .await
    }

    #[tokio::test]
    async fn preparing_reads_the_tip_from_fee_history_when_the_node_has_no_suggestion() {
        let gwei = 1_000_000_000u128;
        let from = Address::repeat_byte(0xaa);
        let node = fee_node(10u128.pow(18)).await;
        let client = mock_client(&node, 100 * 1_000_000_000).await;
        let prepared = client
            .prepare_call(from, Address::repeat_byte(0xbb), vec![1, 2])
            .await
            .unwrap();
        assert_eq!(prepared.nonce, 5);
        assert_eq!(prepared.gas_limit, 120_000);
        assert_eq!(prepared.max_priority_fee_per_gas, 4);
        assert_eq!(prepared.max_fee_per_gas, 2 * gwei + 4);
        assert_eq!(prepared.chain_id, 31337);
        assert_eq!(prepared.network, "evm-mock");
        assert_eq!(node.calls("eth_feeHistory"), 1);

        let ceiling = mock_client(&node, 1_500_000_000).await;
        let capped = ceiling
            .prepare_call(from, Address::repeat_byte(0xbb), vec![])
            .await
            .unwrap();
        assert_eq!(capped.max_fee_per_gas, 1_500_000_000);

        let poor = fee_node(1).await;
        let client = mock_client(&poor, 100 * 1_000_000_000).await;
        let error = client
            .prepare_deployment(from, vec![0x60])
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ChainError::InsufficientFunds {
                address: from.to_checksum(None),
                needed: 120_000 * (2 * gwei + 4),
                held: 1,
            }
        );
    }

    #[tokio::test]
    async fn receipts_are_returned_once_as_deep_as_asked() {
        let node = mock::serve(|request, earlier| match request["method"].as_str() {
            Some("eth_chainId") => mock::result(request, json!("0x7a69")),
            Some("eth_blockNumber") => mock::result(request, json!(format!("{:#x}", 10 + earlier))),
            Some("eth_getTransactionReceipt") => {
                let status = if request["params"][0] == json!(B256::repeat_byte(1)) {
                    "0x1"
                } else {
                    "0x0"
                };
                mock::result(
                    request,
                    json!({"transactionHash": request["params"][0], "blockNumber": "0xa",
                           "blockHash": B256::repeat_byte(9), "status": status,
                           "contractAddress": Address::repeat_byte(5), "gasUsed": "0x5208",
                           "effectiveGasPrice": "0x7"}),
                )
            }
            _ => Some((404, String::new())),
        })
        .await;
        let client = mock_client(&node, 1).await;
        let receipt = client
            .wait_for_receipt(B256::repeat_byte(1), 2, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            receipt,
            EvmReceipt {
                transaction_hash: B256::repeat_byte(1),
                block_number: 10,
                block_hash: B256::repeat_byte(9),
                contract_address: Some(Address::repeat_byte(5)),
                gas_used: 21_000,
                effective_gas_price: 7,
            }
        );
        assert_eq!(
            node.calls("eth_getTransactionReceipt"),
            2,
            "block 10, then 11"
        );

        let reverted = client
            .wait_for_receipt(B256::repeat_byte(2), 1, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(
            matches!(&reverted, ChainError::TransactionRejected { message } if message.starts_with("reverted")),
            "{reverted:?}"
        );
    }

    #[tokio::test]
    async fn a_network_of_another_family_is_not_configured_for_evm() {
        let registry = NetworkRegistry::built_in().unwrap();
        let algorand = registry.get("algorand-testnet").unwrap();
        let error = EvmClient::connect(algorand).await.unwrap_err();
        assert_eq!(
            error,
            ChainError::NetworkNotConfigured {
                network: "algorand-testnet".into(),
                family: "EVM"
            }
        );
    }
}
