//! The deployment pipeline through HTTP on the local devnets: a draft goes from
//! `POST /v1/deployments` to Completed through the queue steps with its whole timeline, the
//! chain shows what the draft describes, and duplicated or interrupted steps never make a
//! second token.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::accounts::service as accounts;
use walletless::app::App;
use walletless::chains::algorand::algod::AlgodClient;
use walletless::chains::faucet;
use walletless::chains::issue::DeployedToken;
use walletless::chains::readback;
use walletless::compliance::report as compliance;
use walletless::deployments::pipeline::Step;
use walletless::deployments::service as deployments;
use walletless::deployments::state::Status;
use walletless::deployments::store;
use walletless::deployments::sweep;
use walletless::drafts::service as drafts;
use walletless::steps::{Outcome, StepRunner};
use walletless_tests::chains::{
    Family, User, app_without_worker, environment_of, every_standard, faucet, new_user,
    pass_compliance, request_deployment, save_draft, wait_until_final,
};
use walletless_tests::family::TestEnv;

/// The audit origin of calls this test makes straight to the services.
fn test_origin() -> walletless::audit::Origin {
    walletless::audit::Origin::system("test")
}

fn statuses(deployment: &Value) -> Vec<String> {
    deployment["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["to"].as_str().unwrap().to_string())
        .collect()
}

const FULL_TIMELINE: [&str; 6] = [
    "queued",
    "submitted",
    "pending",
    "confirmed",
    "indexed",
    "completed",
];

async fn deploy_to_completion(env: &TestEnv, user: &User, draft: Value) -> Value {
    let standard = draft["standard"].as_str().unwrap().to_string();
    let draft_id = save_draft(env, user, draft).await;
    pass_compliance(env, user, &draft_id).await;
    let (status, accepted) =
        request_deployment(env, user, &draft_id, &format!("key-{draft_id}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["deployment"]["id"].as_str().unwrap().to_string();
    assert_eq!(accepted["deployment"]["status"], "queued");
    assert_eq!(accepted["status_url"], format!("/v1/deployments/{id}"));
    let deployment = wait_until_final(env, user, &id).await;
    assert_eq!(
        deployment["status"], "completed",
        "{standard}: {deployment}"
    );
    assert_eq!(
        statuses(&deployment),
        FULL_TIMELINE,
        "{standard}: {deployment}"
    );
    for entry in deployment["timeline"].as_array().unwrap() {
        assert_eq!(entry["attempt"], 1);
        assert!(entry["at_ms"].as_i64().unwrap() > 0);
    }
    deployment
}

async fn funded_user(env: &TestEnv) -> User {
    let user = new_user(env).await;
    for network in ["algorand-devnet", "evm-devnet"] {
        let (status, body) = faucet(env, &user, network, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    user
}

/// The deployed token, read back from the chain, matches its draft.
async fn check_on_chain(app: &App, user: &User, deployment: &Value) {
    let result: DeployedToken = serde_json::from_value(deployment["result"].clone()).unwrap();
    let prepared = walletless::chains::issue::prepare_draft(
        app,
        &user.id,
        deployment["draft_id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let on_chain = readback::read_back(&prepared.network, &result, &prepared.spec)
        .await
        .unwrap();
    readback::verify(&prepared.spec, &on_chain).unwrap();
}

/// Every standard, from the request to Completed.
async fn standards_go_from_the_request_to_completed(family: Family) {
    let (env, _dir) = environment_of(family).await;
    let app = env.backstage().await;
    let user = funded_user(&env).await;
    let chosen = every_standard(&user);
    let count = chosen.len();
    for draft in chosen {
        let deployment = deploy_to_completion(&env, &user, draft).await;
        check_on_chain(&app, &user, &deployment).await;
        let result = &deployment["result"];
        assert!(
            result["asset_id"].is_u64()
                || result["application_id"].is_u64()
                || result["contract_address"].is_string(),
            "{deployment}"
        );
    }
    // The listing shows them, newest first, and filters.
    let (status, _, page) = env
        .get("/v1/deployments?status=completed", Some(&user.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["deployments"].as_array().unwrap().len(), count);
    let (_, _, page) = env
        .get("/v1/deployments?standard=erc20-mintable", Some(&user.token))
        .await;
    assert_eq!(page["deployments"].as_array().unwrap().len(), 1);
    // Another user sees none of them.
    let stranger = new_user(&env).await;
    let id = page["deployments"][0]["id"].as_str().unwrap();
    let (status, _, body) = env
        .get(&format!("/v1/deployments/{id}"), Some(&stranger.token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "DEPLOYMENT_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_standards_go_from_the_request_to_completed() {
    standards_go_from_the_request_to_completed(Family::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_standards_go_from_the_request_to_completed() {
    standards_go_from_the_request_to_completed(Family::Aws).await;
}

/// A deployment just requested on an app with no step worker (the test delivers the steps),
/// by a new user, funded on the Algorand devnet when `funded`.
struct Queued {
    app: App,
    profile: accounts::Profile,
    deployment: walletless::deployments::store::Deployment,
    _dir: tempfile::TempDir,
}

async fn queued_without_worker(draft: Value, funded: bool) -> Queued {
    let dir = tempfile::tempdir().unwrap();
    let app = app_without_worker(dir.path()).await;
    let profile = walletless_tests::chains::registered_user(&app).await;
    if funded {
        let network = app.networks().get("algorand-devnet").unwrap();
        faucet::fund(network, &profile.algorand_address, None)
            .await
            .unwrap();
    }
    let draft = drafts::create(&app, &profile.user_id, draft, &test_origin())
        .await
        .unwrap();
    compliance::run(&app, &profile.user_id, &draft.id, &test_origin())
        .await
        .unwrap();
    let deployment = deployments::create(&app, &profile.user_id, &draft.id, &test_origin())
        .await
        .unwrap();
    Queued {
        app,
        profile,
        deployment,
        _dir: dir,
    }
}

/// Every step of a deployment delivered twice, and a worker that dies between the sign
/// step's write and its enqueue, still end in one token on chain and Completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_interrupted_steps_make_exactly_one_token() {
    let Queued {
        app,
        profile,
        deployment,
        _dir,
    } = queued_without_worker(
        json!({ "standard": "asa-ft", "network": "algorand-devnet", "params": {
            "asset_name": "Once", "unit_name": "ONCE", "total": "1" }}),
        true,
    )
    .await;
    let network = app.networks().get("algorand-devnet").unwrap().clone();

    let runner = StepRunner::standard();
    let queue = app.step_queue();
    let mut signs_seen = 0;
    let started = Instant::now();
    loop {
        let deliveries = queue
            .receive(10, Duration::from_secs(30), Duration::from_millis(200))
            .await
            .unwrap();
        for delivery in deliveries {
            // Every delivery twice: at least once means "maybe twice".
            let first = runner.process(&app, &delivery).await;
            let second = runner.process(&app, &delivery).await;
            if delivery.message.kind == Step::Sign.kind() && signs_seen == 0 {
                signs_seen += 1;
                // The worker dies after the sign step's write: the submit it enqueued is
                // lost, and the sign message comes back.
                let lost = queue
                    .receive(10, Duration::from_secs(30), Duration::ZERO)
                    .await
                    .unwrap();
                for message in &lost {
                    assert_eq!(message.message.kind, Step::Submit.kind());
                    queue.ack(&message.receipt).await.unwrap();
                }
                assert!(!lost.is_empty());
                queue
                    .release(&delivery.receipt, Duration::ZERO)
                    .await
                    .unwrap();
                continue;
            }
            match (first, second) {
                (Outcome::Done, Outcome::Done) => queue.ack(&delivery.receipt).await.unwrap(),
                (_, Outcome::RetryAfter(delay)) | (Outcome::RetryAfter(delay), _) => {
                    queue.release(&delivery.receipt, delay).await.unwrap()
                }
            }
        }
        let current = store::load(&app, &profile.user_id, &deployment.id)
            .await
            .unwrap()
            .unwrap();
        if current.deployment.status.is_final() {
            assert_eq!(
                current.deployment.status,
                Status::Completed,
                "{:?}",
                current.deployment.failure
            );
            assert_eq!(current.deployment.stages.len(), 1);
            assert_eq!(current.deployment.stages[0].transactions.len(), 1);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            current.deployment
        );
    }
    assert_eq!(signs_seen, 1);
    // Exactly one asset on chain from the user's account.
    let client = AlgodClient::connect(&network).await.unwrap();
    let account = client
        .account(&profile.algorand_address.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(account.total_created_assets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_deployment_can_be_cancelled_and_a_failed_one_retried() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let user = new_user(&env).await;
    // Unfunded: the prepare step fails with INSUFFICIENT_FUNDS before anything is sent.
    let draft_id = save_draft(
        &env,
        &user,
        json!({ "standard": "asa-ft", "network": "algorand-devnet", "params": {
            "asset_name": "Later", "unit_name": "LTR", "total": "1", "freeze": user.algorand }}),
    )
    .await;
    pass_compliance(&env, &user, &draft_id).await;
    let (status, accepted) = request_deployment(&env, &user, &draft_id, "first").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["deployment"]["id"].as_str().unwrap().to_string();
    let failed = wait_until_final(&env, &user, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "INSUFFICIENT_FUNDS");
    let last = failed["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["error_code"], "INSUFFICIENT_FUNDS");
    assert_eq!(last["retryable"], false);
    // Cancel is refused now; fund, then retry: a second attempt on the same deployment.
    let (status, body) = env
        .post(
            &format!("/v1/deployments/{id}/cancel"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "DEPLOYMENT_STATE_CONFLICT");
    assert_eq!(
        faucet(&env, &user, "algorand-devnet", None).await.0,
        StatusCode::OK
    );
    let (status, body) = env
        .post(
            &format!("/v1/deployments/{id}/retry"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let done = wait_until_final(&env, &user, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempt"], 2);
    let timeline = statuses(&done);
    assert_eq!(
        timeline,
        [
            "queued",
            "failed",
            "queued",
            "submitted",
            "pending",
            "confirmed",
            "indexed",
            "completed"
        ]
    );

    // A queued deployment that has sent nothing can be cancelled; then nothing is sent. Its
    // node is down, so its prepare step keeps retrying and it stays queued.
    let app = env.backstage().await;
    let draft_id = save_draft(
        &env,
        &user,
        json!({ "standard": "asa-nft", "network": "algorand-down", "params": {
            "asset_name": "Never", "unit_name": "NVR", "total": "1" }}),
    )
    .await;
    pass_compliance(&env, &user, &draft_id).await;
    let queued = deployments::create(&app, &user.id, &draft_id, &test_origin())
        .await
        .unwrap();
    let (status, body) = env
        .post(
            &format!("/v1/deployments/{}/cancel", queued.id),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    let cancelled = wait_until_final(&env, &user, &queued.id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["transaction_ids"].as_array().unwrap().is_empty());
}

/// A deployment whose step chain stopped (here: its first message lost) is pushed on by the
/// sweep once stalled, and failed with DEPLOYMENT_TIMEOUT when it sent nothing by its
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_resumes_stalled_deployments_and_times_out_unsent_ones() {
    let Queued {
        app,
        profile,
        deployment,
        _dir,
    } = queued_without_worker(
        json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
            "asset_name": "Stalled", "unit_name": "STL", "total": "1" }}),
        false,
    )
    .await;
    // The prepare message is lost.
    let queue = app.step_queue();
    for message in queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap()
    {
        queue.ack(&message.receipt).await.unwrap();
    }
    let now = walletless::ports::records::now_ms();
    let ms = |duration: Duration| i64::try_from(duration.as_millis()).unwrap();

    // Not stalled yet: left alone.
    let report = sweep::sweep(&app, now).await.unwrap();
    assert!(
        report.resumed.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );
    // Stalled: its next step is enqueued again.
    let report = sweep::sweep(&app, now + ms(sweep::STALL_AFTER) + 1_000)
        .await
        .unwrap();
    assert_eq!(report.resumed, std::slice::from_ref(&deployment.id));
    let resumed = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].message.kind, Step::Prepare.kind());
    queue.ack(&resumed[0].receipt).await.unwrap();
    // Past its deadline with nothing sent: failed, retryable, and no longer active.
    let report = sweep::sweep(&app, now + ms(sweep::DEADLINE) + 1_000)
        .await
        .unwrap();
    assert_eq!(report.failed, std::slice::from_ref(&deployment.id));
    let failed = store::load(&app, &profile.user_id, &deployment.id)
        .await
        .unwrap()
        .unwrap()
        .deployment;
    assert_eq!(failed.status, Status::Failed);
    let failure = failed.failure.unwrap();
    assert_eq!(failure.code, "DEPLOYMENT_TIMEOUT");
    assert!(failure.retryable);
    let report = sweep::sweep(&app, now + ms(sweep::DEADLINE) + 2_000)
        .await
        .unwrap();
    assert_eq!(
        report.examined, 0,
        "a final deployment leaves the active index"
    );
}

/// One idempotency key, 20 concurrent requests: one deployment; the rest replay it or are
/// told the first is in progress. The key with another draft is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_make_one_deployment() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let user = funded_user(&env).await;
    let draft = |name: &str| {
        json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
            "asset_name": name, "unit_name": "ONE", "total": "1" }})
    };
    let draft_id = save_draft(&env, &user, draft("Only one")).await;
    pass_compliance(&env, &user, &draft_id).await;
    let answers = futures::future::join_all(
        (0..20).map(|_| request_deployment(&env, &user, &draft_id, "one-key")),
    )
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for (status, body) in &answers {
        match *status {
            StatusCode::ACCEPTED => {
                ids.insert(body["deployment"]["id"].as_str().unwrap().to_string());
            }
            StatusCode::CONFLICT => {
                assert_eq!(
                    body["error"]["code"], "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "{body}"
                )
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    let (_, _, page) = env.get("/v1/deployments", Some(&user.token)).await;
    assert_eq!(page["deployments"].as_array().unwrap().len(), 1, "{page}");
    let id = ids.into_iter().next().unwrap();
    assert_eq!(
        wait_until_final(&env, &user, &id).await["status"],
        "completed"
    );
    // A replay after completion answers the first response, marked as a replay.
    let response = env
        .client
        .post(env.server.url("/v1/deployments"))
        .bearer_auth(&user.token)
        .header("idempotency-key", "one-key")
        .json(&json!({ "draft_id": draft_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    // The same key for another draft: refused.
    let other = save_draft(&env, &user, draft("Another")).await;
    let (status, body) = request_deployment(&env, &user, &other, "one-key").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "IDEMPOTENCY_KEY_MISMATCH");
    // No key at all: refused, the deployment route requires one.
    let (status, body) = env
        .post(
            "/v1/deployments",
            Some(&user.token),
            json!({ "draft_id": other }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "IDEMPOTENCY_KEY_REQUIRED");
}

/// Two deployments of identical tokens from one account in the same validity window are two
/// tokens: each deployment's transactions carry its own note, so they never share an id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_drafts_deploy_as_two_tokens() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let user = funded_user(&env).await;
    let draft = json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
        "asset_name": "Twin", "unit_name": "TWN", "total": "1" }});
    let first = deploy_to_completion(&env, &user, draft.clone()).await;
    let second = deploy_to_completion(&env, &user, draft).await;
    assert_ne!(first["result"]["asset_id"], second["result"]["asset_id"]);
    assert_ne!(first["transaction_ids"], second["transaction_ids"]);
}

/// Funds spent elsewhere between signing and sending: the node refuses the stored
/// transaction, and the deployment fails with TRANSACTION_REJECTED (recorded on the record as
/// the submit step left it), with nothing created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_the_node_refuses_fails_the_deployment_with_its_code() {
    use walletless::chains::algorand::transaction::{
        Address, Payment, TransactionBuilder, TransactionKind,
    };
    let Queued {
        app,
        profile,
        deployment,
        _dir,
    } = queued_without_worker(
        json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
            "asset_name": "Spent", "unit_name": "SPNT", "total": "1" }}),
        true,
    )
    .await;
    let runner = StepRunner::standard();
    let queue = app.step_queue();
    // Prepare and sign, then stop before submit.
    for expected in [Step::Prepare, Step::Sign] {
        let deliveries = queue
            .receive(10, Duration::from_secs(30), Duration::from_millis(500))
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].message.kind, expected.kind());
        assert_eq!(runner.process(&app, &deliveries[0]).await, Outcome::Done);
        queue.ack(&deliveries[0].receipt).await.unwrap();
    }
    // The user spends everything but the minimum balance elsewhere.
    let network = app.networks().get("algorand-devnet").unwrap().clone();
    let client = AlgodClient::connect(&network).await.unwrap();
    let me: Address = profile.algorand_address.parse().unwrap();
    let account = client.account(&me).await.unwrap();
    let params = client.suggested_params().await.unwrap();
    let drain = TransactionBuilder::new(
        &params,
        me,
        TransactionKind::Payment(Payment {
            receiver: walletless_tests::chains::STRANGER.parse().unwrap(),
            amount: account.amount - account.min_balance - 1_000,
            close_remainder_to: None,
        }),
    )
    .build();
    let seed = accounts::open_signing_seed(
        &app,
        &profile.user_id,
        walletless::audit::Subject::new("test", "drain"),
        "test: spend elsewhere",
        &walletless::audit::Origin::system("test"),
    )
    .await
    .unwrap();
    let signed = drain.sign(&seed.algorand_key());
    drop(seed);
    client.submit(&signed.to_msgpack()).await.unwrap();
    client
        .wait_for_confirmation(&signed.id(), 1_000, Duration::from_secs(30))
        .await
        .unwrap();
    // Submit: refused by the node.
    let deliveries = queue
        .receive(10, Duration::from_secs(30), Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(deliveries[0].message.kind, Step::Submit.kind());
    assert_eq!(runner.process(&app, &deliveries[0]).await, Outcome::Done);
    let failed = store::load(&app, &profile.user_id, &deployment.id)
        .await
        .unwrap()
        .unwrap()
        .deployment;
    assert_eq!(failed.status, Status::Failed, "{failed:?}");
    let failure = failed.failure.unwrap();
    assert_eq!(failure.code, "TRANSACTION_REJECTED", "{}", failure.message);
    assert!(failed.stages[0].sending, "it was being sent when refused");
    assert_eq!(client.account(&me).await.unwrap().total_created_assets, 0);
    // Its attempt sent something: a retry is refused (it could not know nothing landed).
    let refused = deployments::retry(&app, &profile.user_id, &deployment.id, &test_origin())
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "DEPLOYMENT_STATE_CONFLICT");
}
