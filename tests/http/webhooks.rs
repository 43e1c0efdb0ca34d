//! Webhooks through HTTP: a user's subscription receives each transition of their own
//! deployment, signed, with stable event ids, retried after a failure with every attempt
//! logged; another user's subscription receives nothing of it; the AWS family refuses
//! targets that are not public https.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use walletless_tests::chains::{
    Family, User, environment_of, faucet, new_user, pass_compliance, request_deployment, save_draft,
};
use walletless_tests::family::TestEnv;

/// What a receiver got: its headers and body, per request.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

/// A webhook receiver on loopback that fails its first `failures` requests with a 500.
async fn receiver(failures: usize) -> (String, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: Bytes| {
                let received = received.clone();
                async move {
                    let mut all = received.0.lock().unwrap();
                    all.push((headers, body));
                    if all.len() <= failures {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::NO_CONTENT
                    }
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), received)
}

async fn subscribe(env: &TestEnv, user: &User, url: &str) -> (StatusCode, Value) {
    let types: Vec<String> = [
        "queued",
        "submitted",
        "pending",
        "confirmed",
        "indexed",
        "completed",
        "failed",
        "cancelled",
    ]
    .iter()
    .map(|status| format!("deployment.{status}"))
    .collect();
    env.post(
        "/v1/webhooks",
        Some(&user.token),
        json!({ "url": url, "event_types": types }),
    )
    .await
}

fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) {
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_s_transitions_reach_its_owner_s_webhook_signed_and_retried() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let owner = new_user(&env).await;
    let stranger = new_user(&env).await;
    assert_eq!(
        faucet(&env, &owner, "algorand-devnet", None).await.0,
        StatusCode::OK
    );
    let (owner_url, owner_received) = receiver(1).await;
    let (stranger_url, stranger_received) = receiver(0).await;
    let (status, subscription) = subscribe(&env, &owner, &owner_url).await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    let secret = subscription["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let webhook_id = subscription["id"].as_str().unwrap().to_string();
    assert_eq!(
        subscribe(&env, &stranger, &stranger_url).await.0,
        StatusCode::CREATED
    );
    // The secret is shown once.
    let (_, _, listed) = env.get("/v1/webhooks", Some(&owner.token)).await;
    assert_eq!(listed["webhooks"][0]["id"], webhook_id.as_str());
    assert!(listed["webhooks"][0].get("secret").is_none(), "{listed}");

    let draft_id = save_draft(
        &env,
        &owner,
        json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
            "asset_name": "Hooked", "unit_name": "HOOK", "total": "1" }}),
    )
    .await;
    pass_compliance(&env, &owner, &draft_id).await;
    let (status, deployment) = request_deployment(&env, &owner, &draft_id, "hooked").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{deployment}");
    let deployment_id = deployment["deployment"]["id"].as_str().unwrap().to_string();

    // Six transitions; the first delivery fails once and is retried after its backoff.
    let started = Instant::now();
    let events: Vec<(HeaderMap, Value)> = loop {
        let delivered: Vec<(HeaderMap, Value)> = owner_received
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| (headers.clone(), serde_json::from_slice(body).unwrap()))
            .collect();
        if delivered.len() >= 7 {
            break delivered;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} deliveries so far",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let raw = owner_received.0.lock().unwrap().clone();
    for (headers, body) in &raw {
        verify(&secret, headers, body);
    }
    let mut by_id: Vec<(String, String)> = events
        .iter()
        .map(|(headers, event)| {
            let id = event["id"].as_str().unwrap().to_string();
            assert_eq!(headers["webhook-id"].to_str().unwrap(), id);
            assert_eq!(event["data"]["deployment"]["id"], deployment_id.as_str());
            (id, event["type"].as_str().unwrap().to_string())
        })
        .collect();
    by_id.sort();
    by_id.dedup();
    let types: Vec<&str> = by_id.iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(
        types,
        [
            "deployment.queued",
            "deployment.submitted",
            "deployment.pending",
            "deployment.confirmed",
            "deployment.indexed",
            "deployment.completed"
        ],
        "event ids sort in timeline order"
    );
    assert_eq!(events.len(), 7, "six events, one of them sent twice");
    assert!(
        stranger_received.0.lock().unwrap().is_empty(),
        "another user's subscription gets none of these"
    );

    // The delivery log shows both attempts of the first event.
    let (status, _, log) = env
        .get(
            &format!("/v1/webhooks/{webhook_id}/deliveries"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 6);
    let retried: Vec<&Value> = deliveries
        .iter()
        .filter(|delivery| delivery["attempts"].as_array().unwrap().len() == 2)
        .collect();
    assert_eq!(retried.len(), 1, "{log}");
    assert_eq!(retried[0]["attempts"][0]["status_code"], 500);
    assert_eq!(retried[0]["attempts"][1]["status_code"], 204);
    assert!(
        deliveries.iter().all(|d| d["status"] == "delivered"),
        "{log}"
    );
    // Only the owner sees the log; unsubscribing ends it.
    let (status, _, _) = env
        .get(
            &format!("/v1/webhooks/{webhook_id}/deliveries"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = env
        .call(
            "DELETE",
            &format!("/v1/webhooks/{webhook_id}"),
            Some(&owner.token),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, listed) = env.get("/v1/webhooks", Some(&owner.token)).await;
    assert_eq!(listed["webhooks"], json!([]));

    // The audit trail has the subscription, each final delivery (retries included) and the
    // unsubscription, in one valid chain.
    let (status, _, trail) = env
        .get(
            &format!("/v1/audit/events?subject_kind=webhook&subject_id={webhook_id}"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let trail: Vec<walletless::audit::AuditEvent> =
        serde_json::from_value(trail["events"].clone()).unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e.event_type.as_str()).collect();
    let mut expected = vec!["webhook.subscribed"];
    expected.extend(["webhook.delivered"; 6]);
    expected.push("webhook.unsubscribed");
    assert_eq!(kinds, expected);
    let attempts: Vec<u64> = trail[1..7]
        .iter()
        .map(|e| e.payload["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(
        attempts.iter().sum::<u64>(),
        7,
        "one delivery took two attempts"
    );
    assert!(trail.iter().all(|e| e.payload.get("secret").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_aws_mode_only_public_https_targets_are_accepted() {
    let (env, _dir) = environment_of(Family::Aws).await;
    let user = new_user(&env).await;
    for url in [
        "http://1.1.1.1/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/hook",
    ] {
        let (status, body) = subscribe(&env, &user, url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["code"], "WEBHOOK_URL_NOT_ALLOWED", "{url}");
    }
    let (status, body) = subscribe(&env, &user, "https://1.1.1.1/hook").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = env
        .post(
            "/v1/webhooks",
            Some(&user.token),
            json!({ "url": "https://1.1.1.1/hook", "event_types": ["deployment.done"] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
}

/// An event whose delivery message is lost is still delivered: its delivery record was
/// written with the transition, and the sweep enqueues it again once it has stalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_delivery_message_is_resumed_by_the_sweep() {
    use walletless::webhooks;
    let dir = tempfile::tempdir().unwrap();
    let app = walletless_tests::chains::app_without_worker(dir.path()).await;
    let profile = walletless_tests::chains::registered_user(&app).await;
    let origin = walletless::audit::Origin::user(&profile.user_id);
    let subscription = webhooks::subscribe(
        &app,
        &profile.user_id,
        "http://127.0.0.1:9/hook",
        &["deployment.queued".to_string()],
        &origin,
    )
    .await
    .unwrap();
    let draft = walletless::drafts::service::create(
        &app,
        &profile.user_id,
        json!({ "standard": "asa-nft", "network": "algorand-devnet", "params": {
            "asset_name": "Lost", "unit_name": "LOST", "total": "1" }}),
        &origin,
    )
    .await
    .unwrap();
    walletless::compliance::report::run(&app, &profile.user_id, &draft.id, &origin)
        .await
        .unwrap();
    walletless::deployments::service::create(&app, &profile.user_id, &draft.id, &origin)
        .await
        .unwrap();
    // The delivery was written with the transition; its message is lost.
    let queue = app.webhook_queue();
    let lost = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    queue.ack(&lost[0].receipt).await.unwrap();
    let deliveries = webhooks::deliveries(&app, &profile.user_id, &subscription.id)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "pending");
    // Not stalled yet: nothing to do. Stalled: enqueued again.
    let now = walletless::ports::records::now_ms();
    assert_eq!(webhooks::resume_pending(&app, now).await.unwrap(), 0);
    let later = now + i64::try_from(webhooks::DELIVERY_STALL.as_millis()).unwrap() + 1_000;
    assert_eq!(webhooks::resume_pending(&app, later).await.unwrap(), 1);
    let resumed = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].message.kind, webhooks::DELIVER_STEP);
}
