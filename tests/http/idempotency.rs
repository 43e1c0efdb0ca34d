//! Idempotency keys through the HTTP routes, on both adapter families: one key creates one
//! draft and replays its answer, another request under the key is refused, keys are per user,
//! a key still in progress answers 409 until its lease lapses and is then taken over, and
//! concurrent duplicates run once.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::api::idempotency::{
    self, Claim, IN_PROGRESS_LEASE_S, IdempotencyKey, REPLAYED_HEADER,
};
use walletless::ports::records::now_unix;
use walletless_tests::family::{Answer, TestEnv};
use walletless_tests::on_both_families;

const ALGO: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";

fn draft(name: &str) -> Value {
    json!({ "standard": "asa-ft", "network": "algorand-testnet", "params": {
        "asset_name": name, "unit_name": "HBC", "total": "1000000",
        "decimals": 2, "freeze": ALGO, "clawback": ALGO,
    }})
}

/// A new user's (access token, user id).
async fn user(env: &TestEnv) -> (String, String) {
    let body = env.new_user().await;
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["user_id"].as_str().unwrap().to_string(),
    )
}

/// `POST /v1/drafts` with these body bytes and, when given, this `Idempotency-Key`.
async fn post_raw(env: &TestEnv, token: &str, key: Option<&str>, body: Vec<u8>) -> Answer {
    let mut request = env
        .client
        .post(env.server.url("/v1/drafts"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

async fn post_draft(env: &TestEnv, token: &str, key: Option<&str>, draft: &Value) -> Answer {
    post_raw(env, token, key, serde_json::to_vec(draft).unwrap()).await
}

fn replayed(answer: &Answer) -> bool {
    match answer.1.get(REPLAYED_HEADER.as_str()) {
        None => false,
        Some(value) => {
            assert_eq!(value, "true");
            true
        }
    }
}

fn code(answer: &Answer) -> &str {
    answer.2["error"]["code"].as_str().unwrap_or_default()
}

async fn draft_ids(env: &TestEnv, token: &str) -> Vec<String> {
    let (status, _, page) = env
        .call("GET", "/v1/drafts?limit=100", Some(token), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|draft| draft["id"].as_str().unwrap().to_string())
        .collect()
}

async fn one_key_creates_one_draft_and_replays_its_answer(env: &TestEnv) {
    let (token, _) = user(env).await;
    let first = post_draft(env, &token, Some("key-1"), &draft("Harbour")).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert!(!replayed(&first));

    let again = post_draft(env, &token, Some("key-1"), &draft("Harbour")).await;
    assert_eq!(again.0, StatusCode::CREATED, "{}", again.2);
    assert!(replayed(&again));
    assert_eq!(again.2, first.2);
    assert_eq!(again.1["etag"], first.1["etag"]);
    assert_ne!(again.1["x-request-id"], first.1["x-request-id"]);

    // The same JSON with its keys in another order and other spacing is the same request.
    let reordered =
        br#"{ "params": { "clawback": "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM",
        "freeze": "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM", "decimals": 2,
        "total": "1000000", "unit_name": "HBC", "asset_name": "Harbour" },
        "network": "algorand-testnet", "standard": "asa-ft" }"#;
    let third = post_raw(env, &token, Some("key-1"), reordered.to_vec()).await;
    assert!(replayed(&third), "{}", third.2);
    assert_eq!(third.2, first.2);

    assert_eq!(
        draft_ids(env, &token).await,
        [first.2["id"].as_str().unwrap()]
    );
}

async fn the_same_key_for_another_request_is_refused(env: &TestEnv) {
    let (token, _) = user(env).await;
    let first = post_draft(env, &token, Some("key-1"), &draft("Harbour")).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    let other = post_draft(env, &token, Some("key-1"), &draft("Other")).await;
    assert_eq!(other.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.2);
    assert_eq!(code(&other), "IDEMPOTENCY_KEY_MISMATCH");
    assert_eq!(other.2["error"]["retryable"], false);
    assert!(!replayed(&other));
    assert_eq!(draft_ids(env, &token).await.len(), 1);
}

async fn keys_are_per_user(env: &TestEnv) {
    let (alice, _) = user(env).await;
    let (bob, _) = user(env).await;
    let hers = post_draft(env, &alice, Some("shared-key"), &draft("Harbour")).await;
    let his = post_draft(env, &bob, Some("shared-key"), &draft("Harbour")).await;
    for answer in [&hers, &his] {
        assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
        assert!(!replayed(answer));
    }
    assert_ne!(hers.2["id"], his.2["id"]);
    assert_eq!(
        draft_ids(env, &alice).await,
        [hers.2["id"].as_str().unwrap()]
    );
    assert_eq!(draft_ids(env, &bob).await, [his.2["id"].as_str().unwrap()]);
}

async fn keys_are_optional_checked_when_sent_and_ignored_where_unused(env: &TestEnv) {
    let (token, _) = user(env).await;
    for _ in 0..2 {
        let answer = post_draft(env, &token, None, &draft("Harbour")).await;
        assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
        assert!(!replayed(&answer));
    }
    assert_eq!(draft_ids(env, &token).await.len(), 2);

    for bad in [String::new(), "k".repeat(256)] {
        let answer = post_draft(env, &token, Some(&bad), &draft("Harbour")).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.2);
        assert_eq!(code(&answer), "MALFORMED_REQUEST");
        assert_eq!(answer.2["error"]["details"]["field"], "Idempotency-Key");
    }
    assert_eq!(draft_ids(env, &token).await.len(), 2);

    // A route that takes no key runs every time, whatever header it gets.
    for _ in 0..2 {
        let response = env
            .client
            .post(env.server.url("/v1/drafts/validate"))
            .bearer_auth(&token)
            .header("idempotency-key", "key-1")
            .json(&draft("Harbour"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(REPLAYED_HEADER.as_str()).is_none());
    }
}

async fn a_final_error_is_stored_and_replayed_too(env: &TestEnv) {
    let (token, _) = user(env).await;
    let first = post_raw(env, &token, Some("key-1"), b"[1, 2]".to_vec()).await;
    assert_eq!(first.0, StatusCode::BAD_REQUEST, "{}", first.2);
    assert!(!replayed(&first));
    let again = post_raw(env, &token, Some("key-1"), b"[1,2]".to_vec()).await;
    assert_eq!(again.0, StatusCode::BAD_REQUEST, "{}", again.2);
    assert!(replayed(&again));
    // The first answer as it was, request id included; the header names the replay.
    assert_eq!(again.2, first.2);
    assert_eq!(
        again.2["error"]["request_id"],
        first.1["x-request-id"].to_str().unwrap()
    );
}

/// A request that claimed its key and never answered (a crashed function) holds it for its
/// lease: duplicates get 409 with `Retry-After`, and once the lease lapses the next one runs.
async fn a_key_in_progress_answers_409_until_its_lease_lapses(env: &TestEnv) {
    let (token, user_id) = user(env).await;
    let draft = draft("Harbour");
    let body = serde_json::to_vec(&draft).unwrap();
    let backstage = env.backstage().await;
    let route = walletless::api::routes::find("create-draft").unwrap();
    let key = idempotency::record_key(&user_id, route.id, &IdempotencyKey::parse("key-1").unwrap());
    let hash = idempotency::request_hash(
        &route.method,
        route.id,
        &HashMap::new(),
        &HashMap::new(),
        &body,
    );
    // Claimed as if long ago, so that its lease ends two seconds from now.
    let lease_end = now_unix() + 2;
    let claimed_at = lease_end - IN_PROGRESS_LEASE_S;
    let claim = idempotency::claim(backstage.records(), key, &hash, claimed_at)
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Run(_)), "{claim:?}");

    let busy = post_raw(env, &token, Some("key-1"), body.clone()).await;
    assert_eq!(busy.0, StatusCode::CONFLICT, "{}", busy.2);
    assert_eq!(code(&busy), "IDEMPOTENCY_KEY_IN_PROGRESS");
    assert_eq!(busy.2["error"]["retryable"], true);
    let retry_after: i64 = busy.1["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(busy.2["error"]["details"]["retry_after_s"], retry_after);
    // Another request under the key is refused as such, in progress or not.
    let other = post_draft(env, &token, Some("key-1"), &json!({ "other": true })).await;
    assert_eq!(code(&other), "IDEMPOTENCY_KEY_MISMATCH");
    assert!(draft_ids(env, &token).await.is_empty());

    while now_unix() <= lease_end {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let taken_over = post_raw(env, &token, Some("key-1"), body.clone()).await;
    assert_eq!(taken_over.0, StatusCode::CREATED, "{}", taken_over.2);
    assert!(!replayed(&taken_over));
    let replay = post_raw(env, &token, Some("key-1"), body).await;
    assert!(replayed(&replay));
    assert_eq!(replay.2, taken_over.2);
    assert_eq!(draft_ids(env, &token).await.len(), 1);
}

/// 20 concurrent POSTs with one key: exactly one runs; every other answer is its replay or
/// 409 while it runs; one draft exists.
async fn concurrent_duplicates_run_once(env: &TestEnv) {
    let (token, _) = user(env).await;
    let draft = draft("Harbour");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let client = env.client.clone();
        let url = env.server.url("/v1/drafts");
        let token = token.clone();
        let draft = draft.clone();
        tasks.spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "race")
                .json(&draft)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let replayed = response.headers().contains_key(REPLAYED_HEADER.as_str());
            let body: Value = response.json().await.unwrap();
            (status, replayed, body)
        });
    }
    let mut ran = Vec::new();
    let mut replays = Vec::new();
    let mut in_progress = 0;
    while let Some(joined) = tasks.join_next().await {
        let (status, replayed, body) = joined.unwrap();
        match (status, replayed) {
            (StatusCode::CREATED, false) => ran.push(body),
            (StatusCode::CREATED, true) => replays.push(body),
            (StatusCode::CONFLICT, false) => {
                assert_eq!(
                    body["error"]["code"], "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "{body}"
                );
                in_progress += 1;
            }
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran.len() + replays.len() + in_progress, 20);
    assert!(replays.iter().all(|replay| replay == &ran[0]));
    assert_eq!(
        draft_ids(env, &token).await,
        [ran[0]["id"].as_str().unwrap()]
    );
}

on_both_families!(
    one_key_creates_one_draft_and_replays_its_answer,
    the_same_key_for_another_request_is_refused,
    keys_are_per_user,
    keys_are_optional_checked_when_sent_and_ignored_where_unused,
    a_final_error_is_stored_and_replayed_too,
    a_key_in_progress_answers_409_until_its_lease_lapses,
);

/// The race on each family. SQLite's create is atomic under concurrency. moto's is not: it
/// checks a condition and applies the write in separate steps without a lock, so truly
/// simultaneous conditional creates can both succeed there, where DynamoDB guarantees each
/// request is atomic. The AWS case therefore serves the app over a records store that lets
/// moto see one request at a time (as the records contract suite does): the 20 HTTP requests still
/// race through the router and the idempotency logic, interleaving between store calls, and
/// must lose on the conditions the code sends.
mod concurrent {
    use super::*;
    use walletless::app::App;
    use walletless_tests::aws::{OneRequestAtATime, fresh_services};
    use walletless_tests::family::Family;
    use walletless_tests::server::TestServer;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        concurrent_duplicates_run_once(&TestEnv::embedded().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_one_store_request_at_a_time() {
        let (resources, _, mut services) = fresh_services().await;
        services.records = Arc::new(OneRequestAtATime::new(services.records.clone()));
        let env = TestEnv::around(
            TestServer::serve_app(App::new(services)).await.unwrap(),
            Family::Aws(resources),
        );
        concurrent_duplicates_run_once(&env).await;
    }
}
