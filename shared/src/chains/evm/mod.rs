//! EVM networks (Base, the local devnet): deploying the walletless ERC-20 contracts through a
//! node's JSON-RPC API, confirming them and reading them back.
//!
//! The flow a deployment follows, each step resumable from what the previous one stored:
//! [`Erc20Spec::creation_code`] → [`EvmClient::prepare_deployment`] (nonce, gas, EIP-1559
//! fees within the network's ceiling, funds) → [`PreparedTransaction::sign`] with the
//! caller's key → [`EvmClient::submit`] (idempotent) → [`EvmClient::wait_for_receipt`] →
//! [`EvmClient::read_erc20`] and [`EvmClient::token_roles`].

pub mod client;
pub mod contracts;
mod rpc;
pub mod transaction;

pub use alloy_primitives::{Address, B256, U256};
pub use client::{Erc20State, EvmClient, EvmReceipt, TokenRoles};
pub use contracts::{Erc20Kind, Erc20Spec, mint_calldata};
pub use transaction::{GAS_MARGIN_PERCENT, PreparedTransaction, SignedTransaction};

/// Timeouts and retries: the same as the algod client's.
pub use crate::chains::algorand::algod::{ClientOptions, RetryPolicy};
