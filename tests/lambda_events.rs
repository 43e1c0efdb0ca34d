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
use walletless::config::Config;
use walletless::steps::{CONSUMER_FUNCTIONS, StepError, StepHandler, StepRunner};

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
    let service = router(app.clone(), [route]);
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
    let event: SqsEvent = serde_json::from_str(&read_event("step-worker")).unwrap();
    let recorder = Arc::new(Recorder::default());
    let runner = StepRunner::standard().with("sample.step", recorder.clone());

    let response = runner.handle_sqs_batch(&app, event.clone()).await;

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["0b1f3c57-7f3c-4a55-9a7e-3f8f0f6a1c02"]);
    assert_eq!(*recorder.0.lock().unwrap(), [serde_json::json!({"n": 1})]);

    // A kind no handler knows is never acknowledged: it is retried until dead-lettered.
    let response = StepRunner::standard().handle_sqs_batch(&app, event).await;
    assert_eq!(response.batch_item_failures.len(), 2);
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

/// Point a path-parameter sample at another draft id.
fn with_draft_id(id: &str) -> impl Fn(&mut Value) + '_ {
    move |event| {
        event["rawPath"] = Value::String(format!("/v1/drafts/{id}"));
        event["requestContext"]["http"]["path"] = event["rawPath"].clone();
        event["pathParameters"]["id"] = Value::String(id.to_string());
    }
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
        with_draft_id(&id)(event);
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
    let response = walletless::api::service::call(&router(app.clone(), [route]), request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
}
