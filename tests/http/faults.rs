//! Faults of the dependencies, through the HTTP routes and the real adapters: the key vault
//! (KMS) down, the records store (DynamoDB) throttling, the chain node down. Each answer is
//! the catalogued one, nothing is left half-written, and work resumes once the dependency is
//! back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::adapters::aws::dynamodb::DynamoRecords;
use walletless::adapters::aws::kms::KmsKeyVault;
use walletless::app::App;
use walletless::audit::{AuditEvent, types};
use walletless::config::vars;
use walletless::ports::records::RecordKey;
use walletless_tests::aws::fresh_services;
use walletless_tests::chains::{
    METADATA_BASE_URL, User, every_standard, faucet, networks_toml_with_algorand_devnet, new_user,
    pass_compliance, request_deployment, save_draft,
};
use walletless_tests::family::{Family, PASSWORD, TestEnv, unique_email};
use walletless_tests::fault_proxy::FaultProxy;
use walletless_tests::server::TestServer;
use walletless_tests::throttling_proxy::ThrottlingProxy;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn assert_unavailable(status: StatusCode, body: &Value, expected: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(body), expected, "{body}");
    assert_eq!(body["error"]["retryable"], true, "{body}");
}

/// The emulator's address, from `AWS_ENDPOINT_URL`.
fn moto_address() -> SocketAddr {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL: run through scripts/test, which starts moto")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A server in AWS mode on fresh emulator resources whose KMS and/or DynamoDB client goes
/// through a proxy at that URL; every other service talks to the emulator directly. The
/// endpoints are set per client, not through `AWS_ENDPOINT_URL_*` in the process
/// environment, which the other tests of this binary share.
async fn aws_server(kms_url: Option<String>, dynamodb_url: Option<String>) -> TestEnv {
    let (resources, sdk, mut services) = fresh_services().await;
    if let Some(url) = kms_url {
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&sdk)
                .endpoint_url(url)
                .build(),
        );
        services.key_vault = Arc::new(KmsKeyVault::new(kms, resources.kms_key_id.clone()));
    }
    if let Some(url) = dynamodb_url {
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(url)
                .build(),
        );
        services.records = Arc::new(DynamoRecords::new(
            dynamodb,
            resources.records_table.clone(),
        ));
    }
    let server = TestServer::serve_app(App::new(services)).await.unwrap();
    TestEnv::around(server, Family::Aws(resources))
}

/// Every audit event of the user's chain, checked to be one unbroken chain.
async fn audit_trail(env: &TestEnv, token: &str) -> Vec<AuditEvent> {
    let (status, _, body) = env.get("/v1/audit/events?limit=1000", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["next_cursor"].is_null(), "more than one page: {body}");
    let events: Vec<AuditEvent> = serde_json::from_value(body["events"].clone()).unwrap();
    walletless::audit::verify(&events).unwrap();
    events
}

fn count_of(events: &[AuditEvent], event_type: &str) -> usize {
    events
        .iter()
        .filter(|event| event.event_type == event_type)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_vault_outage_answers_503_and_writes_nothing() {
    let kms = FaultProxy::start(moto_address()).await.unwrap();
    let env = aws_server(Some(kms.url()), None).await;
    // Registered while KMS works: the token signing key is made and cached, so the outage
    // below hits what each route seals or opens itself.
    let user = new_user(&env).await;
    let before = audit_trail(&env, &user.token).await;
    kms.go_down().await;

    // Registration: the new seed cannot be sealed.
    let email = unique_email("vault-down");
    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_unavailable(status, &body, "KEY_VAULT_UNAVAILABLE");
    let backstage = env.backstage().await;
    let index = backstage
        .records()
        .get(&RecordKey::new(format!("email#{email}"), "user"))
        .await
        .unwrap();
    assert!(index.is_none(), "an email index was written: {index:?}");
    let (status, body) = env
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A webhook subscription: its signing secret cannot be sealed. (An IP literal: the
    // public-https check resolves the host, and there may be no DNS here.)
    let (status, body) = env
        .post(
            "/v1/webhooks",
            Some(&user.token),
            json!({ "url": "https://1.1.1.1/hook", "event_types": ["deployment.completed"] }),
        )
        .await;
    assert_unavailable(status, &body, "KEY_VAULT_UNAVAILABLE");
    let (status, _, listed) = env.get("/v1/webhooks", Some(&user.token)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["webhooks"], json!([]));

    // A key export: the seed cannot be opened, so no export is recorded.
    let (status, body) = env
        .post(
            "/v1/me/key-export",
            Some(&user.token),
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_unavailable(status, &body, "KEY_VAULT_UNAVAILABLE");
    let during = audit_trail(&env, &user.token).await;
    assert_eq!(count_of(&during, types::KEY_EXPORTED), 0);
    assert_eq!(count_of(&during, types::WEBHOOK_SUBSCRIBED), 0);
    assert_eq!(during.len(), before.len(), "events were added: {during:?}");

    // Back: the same requests go through.
    kms.come_back();
    env.register(&email).await;
    let (status, body) = env
        .post(
            "/v1/webhooks",
            Some(&user.token),
            json!({ "url": "https://1.1.1.1/hook", "event_types": ["deployment.completed"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = env
        .post(
            "/v1/me/key-export",
            Some(&user.token),
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = audit_trail(&env, &user.token).await;
    assert_eq!(count_of(&after, types::KEY_EXPORTED), 1);
    assert_eq!(count_of(&after, types::WEBHOOK_SUBSCRIBED), 1);
}

fn draft_named(name: &str) -> Value {
    json!({ "standard": "asa-ft", "network": "algorand-testnet", "params": {
        "asset_name": name, "unit_name": "FLT", "total": "1000", "decimals": 0 }})
}

/// The names of the user's drafts.
async fn draft_names(env: &TestEnv, token: &str) -> Vec<String> {
    let (status, _, body) = env.get("/v1/drafts?limit=100", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<String> = body["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|draft| {
            draft["draft"]["params"]["asset_name"]
                .as_str()
                .unwrap_or_else(|| panic!("a draft without its name: {draft}"))
                .to_string()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_store_throttling_is_retried_then_answered_503_without_half_writes() {
    let dynamodb = ThrottlingProxy::start(moto_address()).await.unwrap();
    let env = aws_server(None, Some(dynamodb.url())).await;
    let user = new_user(&env).await;
    let token = user.token.as_str();

    // A few throttled requests: the SDK retries them and the caller never notices.
    dynamodb.throttle_next(2);
    let passed_before = dynamodb.passed();
    let (status, body) = env
        .post("/v1/drafts", Some(token), draft_named("Throttled twice"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(dynamodb.refused(), 2);
    // How many DynamoDB requests one draft creation makes (retries aside).
    let requests_per_creation = dynamodb.passed() - passed_before;
    assert!(requests_per_creation >= 2, "{requests_per_creation}");

    // Throttled for good: the retries give up and the answer says to come back later.
    dynamodb.throttle_all();
    let (status, body) = env
        .post("/v1/drafts", Some(token), draft_named("Never written"))
        .await;
    assert_unavailable(status, &body, "RECORDS_UNAVAILABLE");
    let refused_for_one = dynamodb.refused() - 2;
    assert!(refused_for_one >= 3, "no retry: {refused_for_one} refused");
    dynamodb.stop_throttling();
    assert_eq!(draft_names(&env, token).await, ["Throttled twice"]);

    // Throttling that starts in the middle of a creation, after each of its requests in
    // turn: either the whole creation happened (draft and its audit event) or none of it.
    let mut created = vec!["Throttled twice".to_string()];
    let mut answers = Vec::new();
    for pass in 0..=requests_per_creation {
        let name = format!("Cut after {pass}");
        dynamodb.throttle_after(pass, u64::MAX);
        let (status, body) = env
            .post("/v1/drafts", Some(token), draft_named(&name))
            .await;
        dynamodb.stop_throttling();
        answers.push(status.as_u16());
        match status {
            StatusCode::CREATED => created.push(name),
            _ => assert_unavailable(status, &body, "RECORDS_UNAVAILABLE"),
        }
        created.sort();
        assert_eq!(draft_names(&env, token).await, created, "cut after {pass}");
        let events = audit_trail(&env, token).await;
        assert_eq!(
            count_of(&events, types::DRAFT_CREATED),
            created.len(),
            "cut after {pass}: {events:?}"
        );
    }
    // Cut after every request it makes, the last creation went through.
    assert!(created.contains(&format!("Cut after {requests_per_creation}")));
    eprintln!(
        "draft creation: {requests_per_creation} DynamoDB requests; 2 throttles retried away; \
         persistent throttling refused {refused_for_one} attempts; cut after 0..: {answers:?}"
    );
}

/// The account, its email index, its first sign-in (refresh token) and its registration
/// event are one transaction: throttling that starts at any request of a registration answers
/// either 201 with everything or 503 with nothing, and a retry after the 503 succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_cut_by_records_throttling_is_all_or_nothing() {
    let dynamodb = ThrottlingProxy::start(moto_address()).await.unwrap();
    let env = aws_server(None, Some(dynamodb.url())).await;
    new_user(&env).await;
    let passed_before = dynamodb.passed();
    new_user(&env).await;
    let requests_per_registration = dynamodb.passed() - passed_before;
    let backstage = env.backstage().await;
    for pass in 0..=requests_per_registration {
        let email = unique_email("cut");
        let register = json!({ "email": email, "password": PASSWORD });
        dynamodb.throttle_after(pass, u64::MAX);
        let (status, body) = env.post("/v1/auth/register", None, register.clone()).await;
        dynamodb.stop_throttling();
        let index = backstage
            .records()
            .get(&RecordKey::new(format!("email#{email}"), "user"))
            .await
            .unwrap();
        if status == StatusCode::CREATED {
            assert!(index.is_some(), "cut after {pass}: 201 without an account");
            continue;
        }
        assert_unavailable(status, &body, "RECORDS_UNAVAILABLE");
        assert!(
            index.is_none(),
            "cut after {pass}: 503 but the account exists"
        );
        let (status, body) = env.post("/v1/auth/register", None, register).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "cut after {pass}: retry {body}"
        );
    }
}

/// A TCP relay that counts the connections made through it (in front of a [`FaultProxy`],
/// which drops them while down): how often the node was tried.
async fn counting_relay(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicU64::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (address, connections)
}

async fn get_deployment(env: &TestEnv, user: &User, id: &str) -> Value {
    let (status, _, body) = env
        .get(&format!("/v1/deployments/{id}"), Some(&user.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_node_outage_delays_a_deployment_until_the_node_is_back() {
    let algod = walletless_tests::chains::devnet_url("WALLETLESS_ALGOD_DEVNET_URL");
    let algod: SocketAddr = algod.trim_start_matches("http://").parse().unwrap();
    let node = FaultProxy::start(algod).await.unwrap();
    let (relay, tries) = counting_relay(node.address).await;
    let dir = tempfile::tempdir().unwrap();
    let networks = dir.path().join("networks.toml");
    std::fs::write(
        &networks,
        networks_toml_with_algorand_devnet(&format!("http://{relay}")),
    )
    .unwrap();
    let networks = networks.display().to_string();
    let env = TestEnv::embedded_with(&[
        (vars::NETWORKS_FILE, &networks),
        (vars::METADATA_BASE_URL, METADATA_BASE_URL),
    ])
    .await;

    let user = new_user(&env).await;
    let (status, body) = faucet(&env, &user, "algorand-devnet", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let asa = every_standard(&user)
        .into_iter()
        .find(|draft| draft["standard"] == "asa-ft")
        .unwrap();
    let draft_id = save_draft(&env, &user, asa).await;
    pass_compliance(&env, &user, &draft_id).await;

    node.go_down().await;
    let tries_before = tries.load(Ordering::SeqCst);
    let (status, accepted) =
        request_deployment(&env, &user, &draft_id, &format!("outage-{draft_id}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["deployment"]["id"].as_str().unwrap().to_string();

    // While the node is down the deployment waits: still queued, nothing failed.
    let outage = Duration::from_secs(8);
    let down_since = Instant::now();
    while down_since.elapsed() < outage {
        let deployment = get_deployment(&env, &user, &id).await;
        assert_eq!(deployment["status"], "queued", "{deployment}");
        assert_eq!(deployment["timeline"].as_array().unwrap().len(), 1);
        assert!(deployment["error"].is_null(), "{deployment}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let tried_while_down = tries.load(Ordering::SeqCst) - tries_before;
    assert!(
        tried_while_down >= 2,
        "the node was tried {tried_while_down} times while down"
    );

    node.come_back();
    let back_at = Instant::now();
    let deployment = loop {
        let deployment = get_deployment(&env, &user, &id).await;
        if ["completed", "failed", "cancelled"].contains(&deployment["status"].as_str().unwrap()) {
            break deployment;
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(45),
            "not final 45 s after the node came back: {deployment}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(deployment["status"], "completed", "{deployment}");
    let timeline = deployment["timeline"].as_array().unwrap();
    let statuses: Vec<&str> = timeline
        .iter()
        .map(|entry| entry["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "queued",
            "submitted",
            "pending",
            "confirmed",
            "indexed",
            "completed"
        ],
        "{deployment}"
    );
    // The first move came only after the outage.
    let waited_ms = timeline[1]["at_ms"].as_i64().unwrap() - timeline[0]["at_ms"].as_i64().unwrap();
    assert!(
        waited_ms >= outage.as_millis() as i64,
        "left queued after {waited_ms} ms"
    );
    assert!(timeline.iter().all(|entry| entry["attempt"] == 1));
    eprintln!(
        "node tried {tried_while_down} times during an {}s outage; completed {:.1}s after it ended",
        outage.as_secs(),
        back_at.elapsed().as_secs_f64()
    );
}
