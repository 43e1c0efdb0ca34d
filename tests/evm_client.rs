//! The EVM client against the local devnet (ganache as chain 31337, its URL in
//! `WALLETLESS_EVM_DEVNET_URL`): deploying both token contracts and reading them back,
//! idempotent resubmission, and every refusal a deployment can meet before or after sending.
//!
//! Each test deploys from its own fresh key, funded by the devnet's unlocked account #0, so the
//! tests run concurrently without sharing nonces.

use std::net::TcpListener;
use std::time::Duration;

use k256::ecdsa::SigningKey;
use walletless::chains::error::ChainError;
use walletless::chains::evm::{
    Address, B256, Erc20Kind, Erc20Spec, EvmClient, EvmReceipt, PreparedTransaction, TokenRoles,
    U256, mint_calldata,
};
use walletless::networks::{Network, NetworkRegistry};

const DEVNET_CHAIN_ID: u64 = 31337;
/// The built-in registry's ceiling for evm-devnet: 100 gwei.
const DEVNET_CEILING: u64 = 100_000_000_000;
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

fn devnet_url() -> String {
    std::env::var("WALLETLESS_EVM_DEVNET_URL").unwrap_or_else(|_| {
        panic!(
            "WALLETLESS_EVM_DEVNET_URL is not set: run scripts/test, which starts the local \
             devnets, or `node devnets/evm/start.js --port 18545` and set it"
        )
    })
}

/// An EVM network as the registry would have it, at `rpc_url`.
fn network(rpc_url: &str, chain_id: u64, ceiling: u64) -> Network {
    let text = format!(
        r#"
[[network]]
id = "evm-test"
name = "EVM test"
kind = "evm"
testnet = true
chain_id = {chain_id}
rpc_url = "{rpc_url}"
max_fee_per_gas_wei = {ceiling}
confirmations = 1
"#
    );
    NetworkRegistry::parse(&text, "evm_client.rs")
        .unwrap()
        .all()[0]
        .clone()
}

async fn devnet_client() -> EvmClient {
    EvmClient::connect(&network(&devnet_url(), DEVNET_CHAIN_ID, DEVNET_CEILING))
        .await
        .unwrap()
}

fn fresh_key() -> SigningKey {
    loop {
        if let Ok(key) = SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
            return key;
        }
    }
}

fn address_of(key: &SigningKey) -> Address {
    Address::from_private_key(key)
}

fn random_address() -> Address {
    Address::from(rand::random::<[u8; 20]>())
}

/// Pays `wei` from the devnet's unlocked account #0 (mined at once: instamine).
async fn fund(to: Address, wei: u128) {
    devnet_client()
        .await
        .dev_fund(to, U256::from(wei))
        .await
        .unwrap();
}

/// A fresh key holding one ETH.
async fn funded_key() -> SigningKey {
    let key = fresh_key();
    fund(address_of(&key), ONE_ETH).await;
    key
}

fn mintable(receiver: Address, owner: Address, cap: Option<u64>, initial: u64) -> Erc20Spec {
    Erc20Spec {
        kind: Erc20Kind::Mintable,
        name: "Walletless Test Euro".into(),
        symbol: "WTEUR".into(),
        decimals: 6,
        initial_supply: U256::from(initial),
        cap: cap.map(U256::from),
        receiver,
        owner,
    }
}

/// Prepares, signs, submits and confirms; returns the receipt.
async fn send(client: &EvmClient, key: &SigningKey, prepared: &PreparedTransaction) -> EvmReceipt {
    let signed = prepared.sign(key).unwrap();
    let hash = client.submit(&signed).await.unwrap();
    assert_eq!(hash, signed.hash);
    client
        .wait_for_receipt(hash, 1, RECEIPT_TIMEOUT)
        .await
        .unwrap()
}

async fn deploy(client: &EvmClient, key: &SigningKey, spec: &Erc20Spec) -> (Address, EvmReceipt) {
    let prepared = client
        .prepare_deployment(address_of(key), spec.creation_code())
        .await
        .unwrap();
    let receipt = send(client, key, &prepared).await;
    (receipt.contract_address.unwrap(), receipt)
}

#[tokio::test]
async fn deploys_a_capped_mintable_token_to_another_receiver_and_reads_it_back() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let deployer = address_of(&key);
    let receiver = random_address();
    let spec = mintable(receiver, deployer, Some(1_000_000_000_000), 250_000_000_000);

    let prepared = client
        .prepare_deployment(deployer, spec.creation_code())
        .await
        .unwrap();
    assert_eq!(prepared.network, "evm-test");
    assert_eq!(prepared.chain_id, DEVNET_CHAIN_ID);
    assert_eq!(prepared.nonce, 0);
    assert_eq!(prepared.to, None);
    assert!(prepared.max_priority_fee_per_gas <= prepared.max_fee_per_gas);
    assert!(prepared.max_fee_per_gas <= u128::from(DEVNET_CEILING));
    let before = client.balance(deployer).await.unwrap();
    assert!(before >= prepared.max_cost());

    let receipt = send(&client, &key, &prepared).await;
    let token = receipt.contract_address.unwrap();
    assert!(receipt.gas_used > 0 && receipt.gas_used <= prepared.gas_limit);
    assert!(receipt.effective_gas_price <= prepared.max_fee_per_gas);
    let paid = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(client.balance(deployer).await.unwrap(), before - paid);
    assert_eq!(client.nonce(deployer).await.unwrap(), 1);

    let state = client.read_erc20(token, receiver).await.unwrap();
    assert_eq!(state.name, "Walletless Test Euro");
    assert_eq!(state.symbol, "WTEUR");
    assert_eq!(state.decimals, 6);
    assert_eq!(state.total_supply, U256::from(250_000_000_000u64));
    assert_eq!(state.cap, spec.cap);
    assert_eq!(state.holder_balance, U256::from(250_000_000_000u64));
    assert_eq!(state.paused, Some(false));
    assert!(state.block_number >= receipt.block_number);
    let deployer_state = client.read_erc20(token, deployer).await.unwrap();
    assert_eq!(deployer_state.holder_balance, U256::ZERO);

    let all = TokenRoles {
        admin: true,
        minter: true,
        pauser: true,
    };
    let none = TokenRoles {
        admin: false,
        minter: false,
        pauser: false,
    };
    assert_eq!(
        client.token_roles(token, deployer).await.unwrap(),
        Some(all)
    );
    assert_eq!(
        client.token_roles(token, receiver).await.unwrap(),
        Some(none)
    );
}

#[tokio::test]
async fn deploys_a_preminted_token_and_reads_it_back() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let receiver = random_address();
    let spec = Erc20Spec {
        kind: Erc20Kind::Preminted,
        name: "Fixed".into(),
        symbol: "FIX".into(),
        decimals: 18,
        initial_supply: U256::from(ONE_ETH) * U256::from(21_000_000u64),
        cap: None,
        receiver,
        owner: Address::ZERO,
    };
    let (token, _) = deploy(&client, &key, &spec).await;

    let state = client.read_erc20(token, receiver).await.unwrap();
    assert_eq!(state.name, "Fixed");
    assert_eq!(state.symbol, "FIX");
    assert_eq!(state.decimals, 18);
    assert_eq!(state.total_supply, spec.initial_supply);
    assert_eq!(state.holder_balance, spec.initial_supply);
    assert_eq!(state.cap, None, "a preminted token has no cap()");
    assert_eq!(state.paused, None, "a preminted token has no paused()");
    assert_eq!(
        client.token_roles(token, address_of(&key)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_uncapped_mintable_reads_back_without_a_cap() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let deployer = address_of(&key);
    let (token, _) = deploy(&client, &key, &mintable(deployer, deployer, None, 0)).await;
    let state = client.read_erc20(token, deployer).await.unwrap();
    assert_eq!(state.cap, None);
    assert_eq!(state.total_supply, U256::ZERO);
    assert_eq!(state.paused, Some(false));
}

#[tokio::test]
async fn resubmitting_the_same_signed_bytes_returns_the_same_hash_and_deploys_once() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let deployer = address_of(&key);
    let spec = mintable(deployer, deployer, Some(1000), 10);
    let prepared = client
        .prepare_deployment(deployer, spec.creation_code())
        .await
        .unwrap();
    let signed = prepared.sign(&key).unwrap();

    let first = client.submit(&signed).await.unwrap();
    let receipt = client
        .wait_for_receipt(first, 1, RECEIPT_TIMEOUT)
        .await
        .unwrap();
    // As after a crash: the same bytes again, once mined.
    let again = client.submit(&signed).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(first, signed.hash);
    let receipt_again = client
        .wait_for_receipt(again, 1, RECEIPT_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(receipt_again, receipt);
    assert_eq!(client.nonce(deployer).await.unwrap(), 1, "one transaction");
}

#[tokio::test]
async fn a_mint_over_the_cap_is_rejected_when_prepared_and_reverts_when_sent_anyway() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let owner = address_of(&key);
    let (token, _) = deploy(&client, &key, &mintable(owner, owner, Some(1000), 900)).await;

    let over = client
        .prepare_call(owner, token, mint_calldata(owner, U256::from(200u64)))
        .await
        .unwrap_err();
    let ChainError::TransactionRejected { message } = &over else {
        panic!("{over:?}");
    };
    assert!(message.contains("ERC20ExceededCap"), "{message}");

    // Prepared for a mint within the cap, then changed to one over it: the node takes it, the
    // EVM reverts it, and the receipt says so.
    let mut prepared = client
        .prepare_call(owner, token, mint_calldata(owner, U256::from(50u64)))
        .await
        .unwrap();
    prepared.input = mint_calldata(owner, U256::from(200u64)).into();
    let signed = prepared.sign(&key).unwrap();
    let hash = client.submit(&signed).await.unwrap();
    let reverted = client
        .wait_for_receipt(hash, 1, RECEIPT_TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&reverted, ChainError::TransactionRejected { message } if message.starts_with("reverted")),
        "{reverted:?}"
    );
    let state = client.read_erc20(token, owner).await.unwrap();
    assert_eq!(state.total_supply, U256::from(900u64));

    // Within the cap it goes through.
    let within = client
        .prepare_call(owner, token, mint_calldata(owner, U256::from(100u64)))
        .await
        .unwrap();
    send(&client, &key, &within).await;
    let state = client.read_erc20(token, owner).await.unwrap();
    assert_eq!(state.total_supply, U256::from(1000u64));
}

#[tokio::test]
async fn a_transaction_the_node_refuses_is_rejected_in_its_words() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let deployer = address_of(&key);
    let mut prepared = client
        .prepare_deployment(
            deployer,
            mintable(deployer, deployer, None, 1).creation_code(),
        )
        .await
        .unwrap();
    prepared.gas_limit = 21_000;
    let error = client
        .submit(&prepared.sign(&key).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ChainError::TransactionRejected {
            message: "intrinsic gas too low".into()
        }
    );
    assert_eq!(client.nonce(deployer).await.unwrap(), 0);
}

#[tokio::test]
async fn a_constructor_that_would_revert_is_rejected_when_prepared() {
    let client = devnet_client().await;
    let key = funded_key().await;
    let deployer = address_of(&key);
    let above_cap = mintable(deployer, deployer, Some(10), 11);
    let error = client
        .prepare_deployment(deployer, above_cap.creation_code())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ChainError::TransactionRejected { message }
            if message.contains("InitialSupplyExceedsCap { initialSupply: 11, cap: 10 }")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unfunded_account_gets_insufficient_funds_before_anything_is_sent() {
    let client = devnet_client().await;
    let key = fresh_key();
    let address = address_of(&key);
    let spec = mintable(address, address, None, 1);
    let error = client
        .prepare_deployment(address, spec.creation_code())
        .await
        .unwrap_err();
    let ChainError::InsufficientFunds {
        address: reported,
        needed,
        held,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(reported, &address.to_checksum(None));
    assert_eq!(*held, 0);
    assert!(*needed > 0);
    assert_eq!(client.nonce(address).await.unwrap(), 0, "nothing was sent");

    // Funded with half of what the deployment may cost, it still is not enough. (Not just
    // below: each block lowers the devnet's base fee, so what is needed shrinks a little.)
    let half = *needed / 2;
    fund(address, half).await;
    let error = client
        .prepare_deployment(address, spec.creation_code())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChainError::InsufficientFunds { held, .. } if held == half),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_ceiling_below_the_base_fee_is_fee_above_ceiling() {
    let client = EvmClient::connect(&network(&devnet_url(), DEVNET_CHAIN_ID, 1))
        .await
        .unwrap();
    let key = funded_key().await;
    let deployer = address_of(&key);
    let error = client
        .prepare_deployment(
            deployer,
            mintable(deployer, deployer, None, 1).creation_code(),
        )
        .await
        .unwrap_err();
    let ChainError::FeeAboveCeiling {
        network,
        fee_per_gas,
        ceiling,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(network, "evm-test");
    assert_eq!(*ceiling, 1);
    assert!(*fee_per_gas > 1);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_wrong_chain_id_is_a_network_mismatch() {
    let error = EvmClient::connect(&network(&devnet_url(), 8453, DEVNET_CEILING))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ChainError::NetworkMismatch {
            network: "evm-test".into(),
            expected: "chain id 8453".into(),
            found: format!("chain id {DEVNET_CHAIN_ID}"),
        }
    );
}

#[tokio::test]
async fn an_unreachable_node_is_network_unreachable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/v1/SECRET-KEY");
    let error = EvmClient::connect(&network(&url, DEVNET_CHAIN_ID, DEVNET_CEILING))
        .await
        .unwrap_err();
    let ChainError::NetworkUnreachable { network, reason } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(network, "evm-test");
    assert!(reason.starts_with("eth_chainId"), "{reason}");
    assert!(!reason.contains("SECRET-KEY"), "{reason}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_live_node_is_healthy_pays_from_its_faucet_and_unknown_transactions_time_out() {
    let client = devnet_client().await;
    client.health().await.unwrap();

    let receiver = random_address();
    let hash = client
        .dev_fund(receiver, U256::from(12_345u64))
        .await
        .unwrap();
    assert_eq!(
        client.balance(receiver).await.unwrap(),
        U256::from(12_345u64)
    );
    let receipt = client
        .wait_for_receipt(hash, 1, RECEIPT_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(receipt.contract_address, None);

    assert_eq!(client.network_id(), "evm-test");
    assert_eq!(client.chain_id(), DEVNET_CHAIN_ID);
    assert!(!format!("{client:?}").contains("SECRET"));
    let error = client
        .wait_for_receipt(B256::repeat_byte(0xee), 1, Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ChainError::Timeout { network, .. } if network == "evm-test"),
        "{error:?}"
    );
}
