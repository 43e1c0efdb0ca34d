//! Every Lambda function's sample events (events/<function>.json) fed through that function's
//! handler, exactly as lambda_http and lambda_runtime would hand them over, so the samples
//! can never rot.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;
use walletless::api::{ROUTES, router, routes};
use walletless::app::{App, EmbeddedApp};
use walletless::config::{Config, RateLimits};
use walletless::lambda::{SCHEDULED_FUNCTIONS, ScheduledEvent, find_scheduled, run_scheduled};
use walletless::steps::{CONSUMER_FUNCTIONS, StepError, StepHandler, StepRunner};
use walletless::webhooks::TargetPolicy;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn read_event(function: &str) -> String {
    let path = events_dir().join(format!("{function}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("function {function} has no sample event at {path:?}: {e}"))
}

async fn embedded_app(dir: &Path) -> EmbeddedApp {
    let config = Config::from_vars(&Default::default()).unwrap();
    App::open_embedded(dir, "http://127.0.0.1:1".parse().unwrap(), &config)
        .await
        .unwrap()
}

/// Run an API Gateway (HTTP API, payload 2.0) sample through the route's own Lambda service.
async fn invoke_route(app: &App, route_id: &str) -> (u16, Value, String) {
    invoke_edited(app, route_id, |_| {}).await
}

/// The same, after `edit` changed the sample (to put in a live token, say).
async fn invoke_edited(
    app: &App,
    route_id: &str,
    edit: impl FnOnce(&mut Value),
) -> (u16, Value, String) {
    let route = routes::find(route_id).unwrap();
    let mut event: Value = serde_json::from_str(&read_event(route_id)).unwrap();
    edit(&mut event);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let service = router(app.clone(), [route], RateLimits::default());
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let response = walletless::api::service::call(&service, request).await;
    let status = response.status().as_u16();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap(), request_id)
}

#[test]
fn every_function_has_a_sample_event() {
    for function in ROUTES
        .iter()
        .map(|route| route.id)
        .chain(CONSUMER_FUNCTIONS.iter().copied())
        .chain(SCHEDULED_FUNCTIONS.iter().map(|function| function.name))
    {
        let event: Value = serde_json::from_str(&read_event(function))
            .unwrap_or_else(|e| panic!("events/{function}.json is not JSON: {e}"));
        assert!(event.is_object(), "{function}");
    }
}

#[tokio::test]
async fn health_sample_is_answered_with_api_gateways_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let (status, body, request_id) = invoke_route(&app, "health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let sample: Value = serde_json::from_str(&read_event("health")).unwrap();
    assert_eq!(request_id, sample["requestContext"]["requestId"]);
}

#[tokio::test]
async fn list_networks_sample_lists_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let (status, body, _) = invoke_route(&app, "list-networks").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["networks"].as_array().unwrap().len(),
        app.networks().all().len()
    );
}

/// Records the payloads it ran.
#[derive(Default)]
struct Recorder(Mutex<Vec<Value>>);

#[async_trait]
impl StepHandler for Recorder {
    async fn run(&self, _app: &App, payload: &Value) -> Result<(), StepError> {
        self.0.lock().unwrap().push(payload.clone());
        Ok(())
    }
}

#[tokio::test]
async fn step_worker_sample_reports_only_the_unreadable_message_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let mut event: SqsEvent = serde_json::from_str(&read_event("step-worker")).unwrap();

    // A deployment step for a deployment that does not exist is done (dropped); the
    // unreadable message is reported.
    let response = StepRunner::standard()
        .handle_sqs_batch(&app, event.clone())
        .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["0b1f3c57-7f3c-4a55-9a7e-3f8f0f6a1c02"]);

    // Another kind goes to its own handler.
    let body: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    event.records[0].body =
        Some(serde_json::json!({ "kind": "sample.step", "payload": body["payload"] }).to_string());
    let recorder = Arc::new(Recorder::default());
    let runner = StepRunner::standard().with("sample.step", recorder.clone());
    let response = runner.handle_sqs_batch(&app, event.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(*recorder.0.lock().unwrap(), [body["payload"].clone()]);

    // A kind no handler knows is never acknowledged: it is retried until dead-lettered.
    let response = StepRunner::standard().handle_sqs_batch(&app, event).await;
    assert_eq!(response.batch_item_failures.len(), 2);
}

#[tokio::test]
async fn webhook_worker_sample_reports_only_the_unreadable_message_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let event: SqsEvent = serde_json::from_str(&read_event("webhook-worker")).unwrap();
    let runner = StepRunner::webhook_deliveries();
    assert_eq!(
        runner.kinds().collect::<Vec<_>>(),
        [walletless::webhooks::DELIVER_STEP]
    );

    // A delivery for a subscription that does not exist (unsubscribed) is done (dropped);
    // the unreadable message is reported.
    let response = runner.handle_sqs_batch(&app, event.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["5c2e8a41-9d7b-4c1e-8f3a-2b6d4e9f7a02"]);

    // Each queue's runner knows only its own kinds: a deployment step on the webhook queue,
    // or a delivery on the steps queue, is never acknowledged and ends dead-lettered.
    let steps: SqsEvent = serde_json::from_str(&read_event("step-worker")).unwrap();
    let response = runner.handle_sqs_batch(&app, steps).await;
    assert_eq!(response.batch_item_failures.len(), 2);
    let response = StepRunner::standard().handle_sqs_batch(&app, event).await;
    assert_eq!(response.batch_item_failures.len(), 2);
}

#[tokio::test]
async fn audit_export_worker_sample_drops_a_job_whose_export_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let event: SqsEvent = serde_json::from_str(&read_event("audit-export-worker")).unwrap();
    let runner = StepRunner::audit_exports();
    assert_eq!(
        runner.kinds().collect::<Vec<_>>(),
        [walletless::audit::exports::EXPORT_STEP]
    );

    // A job for an export that does not exist is done (dropped).
    let response = runner.handle_sqs_batch(&app, event.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 0);

    // Each queue's runner knows only its own kinds: a deployment step on the audit exports
    // queue, or an export job on the steps queue, is never acknowledged.
    let steps: SqsEvent = serde_json::from_str(&read_event("step-worker")).unwrap();
    let response = runner.handle_sqs_batch(&app, steps).await;
    assert_eq!(response.batch_item_failures.len(), 2);
    let response = StepRunner::standard().handle_sqs_batch(&app, event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
}

/// A received delivery as Lambda's SQS event source hands it to a consumer.
fn sqs_event(delivery: &walletless::ports::Delivery) -> SqsEvent {
    serde_json::from_value(serde_json::json!({ "Records": [{
        "messageId": delivery.message_id,
        "receiptHandle": delivery.receipt,
        "body": serde_json::to_string(&delivery.message).unwrap(),
        "attributes": { "ApproximateReceiveCount": delivery.attempt.to_string() },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }]}))
    .unwrap()
}

/// A consumer that fails a delivery gives it its retry delay on the queue it came from (the
/// receipt means nothing to any other), so it comes back after the backoff rather than after
/// the visibility timeout.
#[tokio::test]
async fn a_failed_delivery_is_released_on_its_own_queue() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let queue = app.audit_export_queue();
    let message = walletless::ports::StepMessage::new("unknown.kind", serde_json::json!({}));
    queue
        .enqueue(&message, std::time::Duration::ZERO)
        .await
        .unwrap();
    let visibility = std::time::Duration::from_secs(600);
    let mut received = queue
        .receive(1, visibility, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    let delivery = received.remove(0);

    let response = StepRunner::audit_exports()
        .handle_sqs_batch(&app, sqs_event(&delivery))
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    // The first retry waits backoff(1) = 2 s, jittered up to half again.
    let again = queue
        .receive(1, visibility, std::time::Duration::from_secs(6))
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [2],
        "{again:?}"
    );
}

/// The sample's JSON body with `field` set to `value`.
fn set_body_field(event: &mut Value, field: &str, value: &str) {
    let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    body[field] = Value::String(value.to_string());
    event["body"] = Value::String(body.to_string());
}

fn bearer(token: &str) -> impl FnOnce(&mut Value) + '_ {
    move |event| event["headers"]["authorization"] = Value::String(format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_samples_run_through_their_functions() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;

    let (status, registered, _) = invoke_route(&app, "register").await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["user"]["email"], "ada.lovelace@example.com");
    let (status, login, _) = invoke_route(&app, "login").await;
    assert_eq!(status, 200, "{login}");

    // The samples carry example tokens, which are refused as they should be...
    let (status, body, _) = invoke_route(&app, "refresh").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("INVALID_REFRESH_TOKEN"))
    );
    let (status, body, _) = invoke_route(&app, "me").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );

    // ...and with live ones each function does its work.
    let refresh_token = login["refresh_token"].as_str().unwrap();
    let (status, body, _) = invoke_edited(&app, "refresh", |event| {
        set_body_field(event, "refresh_token", refresh_token)
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let access = login["access_token"].as_str().unwrap();
    let (status, me, _) = invoke_edited(&app, "me", bearer(access)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["algorand_address"], registered["algorand_address"]);
    let (status, keys, _) = invoke_edited(&app, "key-export", bearer(access)).await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(
        keys["algorand_mnemonic"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        25
    );
    let (status, body, _) = invoke_edited(&app, "change-password", bearer(access)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = invoke_edited(&app, "logout", bearer(access)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_samples_run_through_their_functions() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let (status, standards, _) = invoke_route(&app, "list-standards").await;
    assert_eq!(status, 200);
    assert_eq!(standards["standards"].as_array().unwrap().len(), 11);

    let (_, registered, _) = invoke_route(&app, "register").await;
    let access = registered["access_token"].as_str().unwrap().to_string();
    let (status, report, _) = invoke_edited(&app, "validate-draft", bearer(&access)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], true, "{report}");
    let (status, created, _) = invoke_edited(&app, "create-draft", bearer(&access)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, page, _) = invoke_edited(&app, "list-drafts", bearer(&access)).await;
    assert_eq!(status, 200);
    assert_eq!(page["drafts"][0]["id"], id.as_str());

    // The samples name an example draft, which this user does not have...
    let (status, _, _) = invoke_edited(&app, "get-draft", bearer(&access)).await;
    assert_eq!(status, 404);
    // ...and with the real id each function does its work (update at version 1, delete at 2).
    let both = |event: &mut Value| {
        with_path_id(&id)(event);
        bearer(&access)(event);
    };
    let (status, fetched, _) = invoke_edited(&app, "get-draft", both).await;
    assert_eq!((status, fetched["version"].as_u64()), (200, Some(1)));
    let (status, updated, _) = invoke_edited(&app, "update-draft", both).await;
    assert_eq!(
        (status, updated["version"].as_u64()),
        (200, Some(2)),
        "{updated}"
    );
    let (status, _, _) = invoke_edited(&app, "delete-draft", both).await;
    assert_eq!(status, 200);

    // The metadata sample names a file nobody stored; an ARC-3 draft stores a real one.
    let (status, body, _) = invoke_route(&app, "get-metadata").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let arc3 = serde_json::json!({"standard": "arc3-nft", "network": "algorand-testnet", "params": {
        "asset_name": "Pass", "unit_name": "PASS", "total": "1",
        "metadata": {"name": "Pass", "image": "https://example.com/pass.png"}}});
    let (status, created, _) = invoke_edited(&app, "create-draft", |event| {
        event["body"] = Value::String(arc3.to_string());
        bearer(&access)(event);
    })
    .await;
    assert_eq!(status, 201, "{created}");
    let content_id = created["validation"]["resolved"]["metadata"]["content_id"]
        .as_str()
        .unwrap()
        .to_string();
    let route = routes::find("get-metadata").unwrap();
    let mut event: Value = serde_json::from_str(&read_event("get-metadata")).unwrap();
    event["rawPath"] = Value::String(format!("/v1/metadata/{content_id}"));
    event["pathParameters"]["id"] = Value::String(content_id.clone());
    let request = lambda_http::request::from_str(&event.to_string())
        .unwrap()
        .map(|body| axum::body::Body::from(body.to_vec()));
    let response = walletless::api::service::call(
        &router(app.clone(), [route], RateLimits::default()),
        request,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
}

/// Run the sample EventBridge scheduled event through the scheduled function's job.
async fn invoke_scheduled(app: &App, name: &str) -> Result<Value, walletless::lambda::Error> {
    let function = find_scheduled(name).unwrap();
    let event: ScheduledEvent = serde_json::from_str(&read_event(name)).unwrap();
    run_scheduled(app, function, "sample-invocation", &event).await
}

#[tokio::test]
async fn deployment_sweep_sample_sweeps_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let sample: Value = serde_json::from_str(&read_event("deployment-sweep")).unwrap();
    assert_eq!(sample["detail-type"], "Scheduled Event");
    assert_eq!(sample["source"], "aws.events");

    let report = invoke_scheduled(&app, "deployment-sweep").await.unwrap();
    assert_eq!(
        report,
        serde_json::json!({ "examined": 0, "resumed": [], "failed": [], "webhook_deliveries_resumed": 0 })
    );
}

/// Point a path-parameter sample at another id (of a draft or a deployment), keeping the
/// rest of its path.
fn with_path_id(id: &str) -> impl Fn(&mut Value) + '_ {
    move |event| {
        let sample_id = event["pathParameters"]["id"].as_str().unwrap().to_string();
        let path = event["rawPath"].as_str().unwrap().replace(&sample_id, id);
        event["rawPath"] = Value::String(path);
        event["requestContext"]["http"]["path"] = event["rawPath"].clone();
        event["pathParameters"]["id"] = Value::String(id.to_string());
    }
}

fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_samples_run_through_their_functions() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;

    // The samples carry an example token, which is refused...
    let (status, body, _) = invoke_route(&app, "create-deployment").await;
    assert_eq!((status, error_code(&body)), (401, Some("UNAUTHORIZED")));

    // ...and name an example draft and deployment, which this user does not have.
    let (_, registered, _) = invoke_route(&app, "register").await;
    let access = registered["access_token"].as_str().unwrap().to_string();
    let (status, body, _) = invoke_edited(&app, "create-deployment", bearer(&access)).await;
    assert_eq!((status, error_code(&body)), (404, Some("DRAFT_NOT_FOUND")));
    for route_id in ["get-deployment", "cancel-deployment", "retry-deployment"] {
        let (status, body, _) = invoke_edited(&app, route_id, bearer(&access)).await;
        assert_eq!(
            (status, error_code(&body)),
            (404, Some("DEPLOYMENT_NOT_FOUND")),
            "{route_id}: {body}"
        );
    }
    let (status, page, _) = invoke_edited(&app, "list-deployments", bearer(&access)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["deployments"], serde_json::json!([]));

    // With a real draft whose compliance gate is open, each function does its work: the
    // deployment is queued (its steps would need a funded account; nothing runs them here).
    let (status, draft, _) = invoke_edited(&app, "create-draft", bearer(&access)).await;
    assert_eq!(status, 201, "{draft}");
    let draft_id = draft["id"].as_str().unwrap().to_string();
    let on_draft = |event: &mut Value| {
        with_path_id(&draft_id)(event);
        bearer(&access)(event);
    };
    let (status, report, _) = invoke_edited(&app, "run-compliance", on_draft).await;
    assert_eq!(status, 201, "{report}");
    let (_, compliance, _) = invoke_edited(&app, "get-compliance", on_draft).await;
    assert_eq!(compliance["gate"]["open"], true, "{compliance}");

    // The sample's Idempotency-Key already answered the request for the example draft (a 4xx
    // answer is kept for its key), so this other request needs a key of its own.
    let (status, body, _) = invoke_edited(&app, "create-deployment", |event| {
        set_body_field(event, "draft_id", &draft_id);
        bearer(&access)(event);
    })
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (422, Some("IDEMPOTENCY_KEY_MISMATCH"))
    );
    let deploy_draft = |event: &mut Value| {
        set_body_field(event, "draft_id", &draft_id);
        event["headers"]["idempotency-key"] = Value::String(format!("deploy-{draft_id}"));
        bearer(&access)(event);
    };
    let (status, accepted, _) = invoke_edited(&app, "create-deployment", deploy_draft).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["deployment"]["status"], "queued");
    let id = accepted["deployment"]["id"].as_str().unwrap().to_string();
    assert_eq!(accepted["status_url"], format!("/v1/deployments/{id}"));
    // A retried request answers the same deployment.
    let (status, replayed, _) = invoke_edited(&app, "create-deployment", deploy_draft).await;
    assert_eq!((status, &replayed), (202, &accepted));

    let on_deployment = |event: &mut Value| {
        with_path_id(&id)(event);
        bearer(&access)(event);
    };
    let (status, fetched, _) = invoke_edited(&app, "get-deployment", on_deployment).await;
    assert_eq!((status, fetched["status"].as_str()), (200, Some("queued")));
    // The list sample filters on completed ones, which this is not yet.
    let (status, page, _) = invoke_edited(&app, "list-deployments", bearer(&access)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["deployments"], serde_json::json!([]));
    let (status, page, _) = invoke_edited(&app, "list-deployments", |event| {
        event["rawQueryString"] = Value::String("status=queued".into());
        event["queryStringParameters"] = serde_json::json!({ "status": "queued" });
        bearer(&access)(event);
    })
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["deployments"][0]["id"], id.as_str());

    // The sweep sees it, just queued, and leaves it alone.
    let report = invoke_scheduled(&app, "deployment-sweep").await.unwrap();
    assert_eq!(
        report,
        serde_json::json!({ "examined": 1, "resumed": [], "failed": [], "webhook_deliveries_resumed": 0 })
    );

    let (status, cancelled, _) = invoke_edited(&app, "cancel-deployment", on_deployment).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let (status, body, _) = invoke_edited(&app, "retry-deployment", on_deployment).await;
    assert_eq!(
        (status, error_code(&body)),
        (409, Some("DEPLOYMENT_STATE_CONFLICT")),
        "{body}"
    );
}

/// The webhook samples through their functions on `app`, of either family: the AWS one
/// refuses targets that are not https to public addresses, the embedded one takes any.
async fn webhook_samples_run_through_their_functions(app: &App) {
    // The samples carry an example token, which is refused...
    let (status, body, _) = invoke_route(app, "create-webhook").await;
    assert_eq!((status, error_code(&body)), (401, Some("UNAUTHORIZED")));

    // ...and name an example subscription (a well-formed id), which this user does not have.
    let sample: Value = serde_json::from_str(&read_event("delete-webhook")).unwrap();
    let sample_id = sample["pathParameters"]["id"].as_str().unwrap();
    assert!(ulid::Ulid::from_string(sample_id).is_ok(), "{sample_id}");
    let (_, registered, _) = invoke_route(app, "register").await;
    let access = registered["access_token"].as_str().unwrap().to_string();
    for route_id in ["delete-webhook", "list-webhook-deliveries"] {
        let (status, body, _) = invoke_edited(app, route_id, bearer(&access)).await;
        assert_eq!(
            (status, error_code(&body)),
            (404, Some("WEBHOOK_NOT_FOUND")),
            "{route_id}: {body}"
        );
    }
    let (status, listed, _) = invoke_edited(app, "list-webhooks", bearer(&access)).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["webhooks"], serde_json::json!([]));
    let known = serde_json::to_value(walletless::webhooks::event_types()).unwrap();
    assert_eq!(listed["event_types"], known);

    // A plain-http loopback target: where a developer receives locally, refused on AWS.
    let (status, body, _) = invoke_edited(app, "create-webhook", |event| {
        set_body_field(event, "url", "http://127.0.0.1:8080/hooks");
        bearer(&access)(event);
    })
    .await;
    let mut expected_count = 1;
    match app.webhook_targets() {
        TargetPolicy::PublicHttpsOnly => assert_eq!(
            (status, error_code(&body)),
            (400, Some("WEBHOOK_URL_NOT_ALLOWED")),
            "{body}"
        ),
        TargetPolicy::AnyForLocalDevelopment => {
            assert_eq!(status, 201, "{body}");
            expected_count += 1;
        }
    }

    // A public https target is taken by both. An address literal, so that the AWS rule's
    // check needs no DNS; nothing is ever sent there (no step runs in this test).
    let target = "https://1.1.1.1/walletless";
    let (status, created, _) = invoke_edited(app, "create-webhook", |event| {
        set_body_field(event, "url", target);
        bearer(&access)(event);
    })
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["url"], target);
    let sample: Value = serde_json::from_str(&read_event("create-webhook")).unwrap();
    let sample_body: Value = serde_json::from_str(sample["body"].as_str().unwrap()).unwrap();
    assert_eq!(created["event_types"], sample_body["event_types"]);
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_string();

    // The secret was shown once: the list has the subscriptions, never a secret.
    let (status, listed, _) = invoke_edited(app, "list-webhooks", bearer(&access)).await;
    assert_eq!(status, 200, "{listed}");
    let webhooks = listed["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), expected_count, "{listed}");
    assert!(webhooks.iter().any(|webhook| webhook["id"] == id.as_str()));
    assert!(
        webhooks
            .iter()
            .all(|webhook| webhook.get("secret").is_none())
    );

    let on_webhook = |event: &mut Value| {
        with_path_id(&id)(event);
        bearer(&access)(event);
    };
    let (status, page, _) = invoke_edited(app, "list-webhook-deliveries", on_webhook).await;
    assert_eq!((status, &page["deliveries"]), (200, &serde_json::json!([])));

    // A cancelled deployment is an event the subscription asked for (being queued is not):
    // one delivery, pending, as no step runs here.
    let (status, draft, _) = invoke_edited(app, "create-draft", bearer(&access)).await;
    assert_eq!(status, 201, "{draft}");
    let draft_id = draft["id"].as_str().unwrap().to_string();
    let on_draft = |event: &mut Value| {
        with_path_id(&draft_id)(event);
        bearer(&access)(event);
    };
    let (status, report, _) = invoke_edited(app, "run-compliance", on_draft).await;
    assert_eq!(status, 201, "{report}");
    let (status, accepted, _) = invoke_edited(app, "create-deployment", |event| {
        set_body_field(event, "draft_id", &draft_id);
        bearer(&access)(event);
    })
    .await;
    assert_eq!(status, 202, "{accepted}");
    let deployment_id = accepted["deployment"]["id"].as_str().unwrap().to_string();
    let (status, cancelled, _) = invoke_edited(app, "cancel-deployment", |event| {
        with_path_id(&deployment_id)(event);
        bearer(&access)(event);
    })
    .await;
    assert_eq!(status, 200, "{cancelled}");
    let (status, page, _) = invoke_edited(app, "list-webhook-deliveries", on_webhook).await;
    assert_eq!(status, 200, "{page}");
    let deliveries = page["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{page}");
    assert_eq!(deliveries[0]["event_type"], "deployment.cancelled");
    assert_eq!(deliveries[0]["deployment_id"], deployment_id.as_str());
    assert_eq!(deliveries[0]["status"], "pending");

    let (status, deleted, _) = invoke_edited(app, "delete-webhook", on_webhook).await;
    assert_eq!(
        (status, &deleted),
        (200, &serde_json::json!({ "deleted": true }))
    );
    for route_id in ["delete-webhook", "list-webhook-deliveries"] {
        let (status, body, _) = invoke_edited(app, route_id, on_webhook).await;
        assert_eq!(
            (status, error_code(&body)),
            (404, Some("WEBHOOK_NOT_FOUND")),
            "{route_id} after deletion: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_samples_run_on_the_embedded_app() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    webhook_samples_run_through_their_functions(&app).await;
}

/// The app a deployed function builds (`App::from_config`), on fresh emulator resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_samples_run_on_the_aws_app() {
    let resources = walletless_tests::aws::provision_all().await;
    let vars = walletless_tests::aws::aws_env(&resources)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    let config = Config::from_vars(&vars).unwrap();
    let app = App::from_config(&config).await.unwrap();
    webhook_samples_run_through_their_functions(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_samples_run_through_their_functions() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;

    // The samples carry an example token, which is refused...
    for route_id in [
        "list-audit-events",
        "create-audit-export",
        "get-audit-export",
    ] {
        let (status, body, _) = invoke_route(&app, route_id).await;
        assert_eq!(
            (status, error_code(&body)),
            (401, Some("UNAUTHORIZED")),
            "{route_id}: {body}"
        );
    }

    // ...and name an example export (a well-formed id), which this user does not have.
    let sample: Value = serde_json::from_str(&read_event("get-audit-export")).unwrap();
    let sample_id = sample["pathParameters"]["id"].as_str().unwrap();
    assert!(ulid::Ulid::from_string(sample_id).is_ok(), "{sample_id}");
    let (_, registered, _) = invoke_route(&app, "register").await;
    let access = registered["access_token"].as_str().unwrap().to_string();
    let (status, body, _) = invoke_edited(&app, "get-audit-export", bearer(&access)).await;
    assert_eq!(
        (status, error_code(&body)),
        (404, Some("AUDIT_EXPORT_NOT_FOUND")),
        "{body}"
    );
    // The list sample asks for export requests, of which there is none yet.
    let (status, page, _) = invoke_edited(&app, "list-audit-events", bearer(&access)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"], serde_json::json!([]));

    // With a live token the export is queued, once per Idempotency-Key...
    let (status, accepted, _) = invoke_edited(&app, "create-audit-export", bearer(&access)).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(
        (accepted["status"].as_str(), accepted["format"].as_str()),
        (Some("queued"), Some("csv")),
        "{accepted}"
    );
    let id = accepted["id"].as_str().unwrap().to_string();
    let (status, replayed, _) = invoke_edited(&app, "create-audit-export", bearer(&access)).await;
    assert_eq!((status, &replayed), (202, &accepted));
    // ...and its request is in the trail.
    let (status, page, _) = invoke_edited(&app, "list-audit-events", bearer(&access)).await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["subject"]["id"], id.as_str());

    let on_export = |event: &mut Value| {
        with_path_id(&id)(event);
        bearer(&access)(event);
    };
    let (status, fetched, _) = invoke_edited(&app, "get-audit-export", on_export).await;
    assert_eq!((status, fetched["status"].as_str()), (200, Some("queued")));
    assert!(fetched.get("download_url").is_none(), "{fetched}");

    // Its job went to the audit exports queue (and nowhere else); handed to the worker as
    // Lambda would, it completes the export, which then has its links.
    let wait = std::time::Duration::ZERO;
    let visibility = std::time::Duration::from_secs(60);
    let steps = app
        .step_queue()
        .receive(10, visibility, wait)
        .await
        .unwrap();
    assert!(steps.is_empty(), "{steps:?}");
    let mut jobs = app
        .audit_export_queue()
        .receive(10, visibility, wait)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = jobs.remove(0);
    assert_eq!(job.message.kind, walletless::audit::exports::EXPORT_STEP);
    assert_eq!(job.message.payload["export_id"], id.as_str());
    let response = StepRunner::audit_exports()
        .handle_sqs_batch(&app, sqs_event(&job))
        .await;
    assert_eq!(response.batch_item_failures.len(), 0);
    let (status, fetched, _) = invoke_edited(&app, "get-audit-export", on_export).await;
    assert_eq!(
        (status, fetched["status"].as_str()),
        (200, Some("completed")),
        "{fetched}"
    );
    for link in ["download_url", "manifest_url"] {
        assert!(
            fetched[link]
                .as_str()
                .is_some_and(|url| url.starts_with("http://127.0.0.1:1/")),
            "{link}: {fetched}"
        );
    }
}

#[tokio::test]
async fn reference_samples_serve_the_document_and_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = embedded_app(dir.path()).await.app;
    let (status, document, request_id) = invoke_route(&app, "get-openapi").await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["openapi"], "3.1.0");
    for route in ROUTES {
        let method = route.method.as_str().to_lowercase();
        assert_eq!(
            document["paths"][route.path][&method]["operationId"],
            route.id
        );
    }
    let sample: Value = serde_json::from_str(&read_event("get-openapi")).unwrap();
    assert_eq!(request_id, sample["requestContext"]["requestId"]);

    // The page is HTML, not JSON: fed through the function directly.
    let event = read_event("get-api-docs");
    let request = lambda_http::request::from_str(&event).unwrap();
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let service = router(
        app.clone(),
        [routes::find("get-api-docs").unwrap()],
        RateLimits::default(),
    );
    let response = walletless::api::service::call(&service, request).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let page = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for route in ROUTES {
        assert!(
            page.contains(&format!("id=\"{}\"", route.id)),
            "{}",
            route.id
        );
    }
}
