//! No secret reaches the logs: every log line of a full register, login, refresh, key export
//! and password change is captured (the same JSON subscriber production uses) and searched
//! for the password, the seed, the mnemonic, the private key and every token.
//!
//! Its own test binary, because the log subscriber is global to the process.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::accounts::mnemonic::mnemonic_to_seed;
use walletless::telemetry::{CapturedLogs, init_with_writer};
use walletless_tests::server::TestServer;

const PASSWORD: &str = "lunar cactus violin 42 drizzle";
const NEW_PASSWORD: &str = "orbit saffron glacier 7 tuba";

async fn post(server: &TestServer, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new().post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success() || response.status() == StatusCode::UNAUTHORIZED);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    // This crate at its most verbose, so nothing hides below the filter. (Other crates stay
    // at info: the test's own HTTP client would otherwise trace the request bodies it sends.)
    let logs = CapturedLogs::default();
    init_with_writer(
        logs.clone(),
        Some("info,walletless=trace,walletless_local=trace"),
    );

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    let email = "grace.hopper@example.com";
    let registered = post(
        &server,
        "/v1/auth/register",
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let access = registered["access_token"].as_str().unwrap().to_string();
    let refresh = registered["refresh_token"].as_str().unwrap().to_string();
    let login = post(
        &server,
        "/v1/auth/login",
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    // A failed login with a near-miss password must not log the attempt either.
    post(
        &server,
        "/v1/auth/login",
        None,
        json!({ "email": email, "password": "lunar cactus violin 42 drizzlE" }),
    )
    .await;
    let rotated = post(
        &server,
        "/v1/auth/refresh",
        None,
        json!({ "refresh_token": refresh }),
    )
    .await;
    let keys = post(
        &server,
        "/v1/me/key-export",
        Some(&access),
        json!({ "password": PASSWORD }),
    )
    .await;
    let changed = post(
        &server,
        "/v1/auth/change-password",
        Some(&access),
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    server.stop().await.unwrap();

    let mnemonic = keys["algorand_mnemonic"].as_str().unwrap();
    let seed_hex = hex::encode(*mnemonic_to_seed(mnemonic).unwrap());
    let private_key = keys["evm_private_key"].as_str().unwrap();
    let mut secrets: Vec<(String, String)> = vec![
        ("password".into(), PASSWORD.into()),
        ("near-miss password".into(), "drizzlE".into()),
        ("new password".into(), NEW_PASSWORD.into()),
        ("seed".into(), seed_hex.clone()),
        (
            "private key".into(),
            private_key.trim_start_matches("0x").into(),
        ),
        ("mnemonic".into(), mnemonic.into()),
    ];
    // Any three consecutive mnemonic words would be a leak too.
    let words: Vec<&str> = mnemonic.split(' ').collect();
    for window in words.windows(3) {
        secrets.push(("mnemonic words".into(), window.join(" ")));
    }
    for (name, body) in [
        ("registration", &registered),
        ("login", &login),
        ("refresh", &rotated),
        ("password change", &changed),
    ] {
        for field in ["access_token", "refresh_token"] {
            let token = body[field].as_str().unwrap();
            secrets.push((format!("{name} {field}"), token.into()));
            // The signature part alone identifies a JWT.
            if let Some(signature) = token.rsplit('.').next() {
                secrets.push((format!("{name} {field} signature"), signature.into()));
            }
        }
    }

    let captured = logs.contents();
    // The capture works and carries request ids: otherwise this test would prove nothing.
    assert!(
        captured.contains("\"request_id\""),
        "no request ids in:\n{captured}"
    );
    assert!(captured.contains("user registered"), "{captured}");
    assert!(captured.contains("keys exported"), "{captured}");
    assert!(captured.lines().count() >= 6, "{captured}");
    for line in captured.lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(parsed.is_object());
    }
    for (name, secret) in &secrets {
        assert!(
            !captured.contains(secret.as_str()),
            "the {name} appears in the logs"
        );
    }
}
