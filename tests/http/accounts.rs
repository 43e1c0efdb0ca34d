//! Accounts through the HTTP routes, on both adapter families: every case runs once against
//! the embedded local server and once against the local server on the moto emulator.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use walletless::accounts::arc76::{Arc76Accounts, evm_private_key_hex};
use walletless::accounts::mnemonic::mnemonic_to_seed;
use walletless::app::App;
use walletless::crypto::envelope::{self, Envelope};
use walletless::ports::records::RecordKey;
use walletless::ports::{EncryptionContext, VaultError};
use walletless_tests::family::{Family, PASSWORD, TestEnv, unique_email};
use walletless_tests::on_both_families;
use walletless_tests::server::TestServer;
const NEW_PASSWORD: &str = "orbit saffron glacier 7 tuba";

async fn login(env: &TestEnv, email: &str, password: &str) -> (StatusCode, Value) {
    env.post(
        "/v1/auth/login",
        None,
        json!({ "email": email, "password": password }),
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn token(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap().to_string()
}

async fn register_login_and_profile(env: &TestEnv) {
    let email = unique_email("Ada");
    let registered = env.register(&format!("  {}  ", email.to_uppercase())).await;
    assert_eq!(registered["token_type"], "Bearer");
    assert_eq!(registered["expires_in"], 900);
    let algorand = registered["algorand_address"].as_str().unwrap();
    let evm = registered["evm_address"].as_str().unwrap();
    assert_eq!(algorand.len(), 58);
    assert!(evm.starts_with("0x") && evm.len() == 42);

    let (status, _, me) = env
        .call(
            "GET",
            "/v1/me",
            Some(&token(&registered, "access_token")),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], email.to_lowercase());
    assert_eq!(me["display_name"], "Test User");
    assert_eq!(me["algorand_address"], algorand);
    assert_eq!(me["evm_address"], evm);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, signed_in) = login(env, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(signed_in["user_id"], registered["user_id"]);
    assert_eq!(signed_in["algorand_address"], algorand);
}

async fn bad_input_gets_named_errors(env: &TestEnv) {
    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": unique_email("weak"), "password": "password1234567890" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "WEAK_PASSWORD");
    assert_eq!(
        body["error"]["details"]["reasons"],
        json!(["too_guessable"])
    );
    assert!(
        !body["error"]["details"]["feedback"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (_, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": unique_email("short"), "password": "Xy7!" }),
        )
        .await;
    assert_eq!(body["error"]["details"]["reasons"], json!(["too_short"]));

    let (status, body) = env
        .post("/v1/auth/register", None, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "MALFORMED_REQUEST");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "{body}"
    );

    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": "not an email", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"]["field"], "email");

    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": "jos\u{e9}@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"]["field"], "email");

    let (status, body) = env
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": "a@example.com", "password": PASSWORD, "extra": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "MALFORMED_REQUEST");

    let response = env
        .client
        .post(env.server.url("/v1/auth/login"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn duplicate_email_is_refused_whatever_its_case(env: &TestEnv) {
    let email = unique_email("dup");
    env.register(&email).await;
    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": email.to_uppercase(), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "USER_ALREADY_EXISTS");
}

async fn unknown_email_and_wrong_password_answer_alike(env: &TestEnv) {
    let email = unique_email("alike");
    env.register(&email).await;
    let (wrong_status, wrong) = login(env, &email, "not the password at all 123").await;
    let (unknown_status, unknown) = login(env, &unique_email("nobody"), PASSWORD).await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["error"]["code"], unknown["error"]["code"]);
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
}

async fn five_failures_lock_the_account_and_success_resets_the_count(env: &TestEnv) {
    let email = unique_email("lock");
    env.register(&email).await;
    // Four failures, then a success: the count starts again.
    for _ in 0..4 {
        assert_eq!(
            login(env, &email, "wrong password number one").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login(env, &email, PASSWORD).await.0, StatusCode::OK);
    for _ in 0..4 {
        assert_eq!(
            login(env, &email, "wrong password number one").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, body) = login(env, &email, "wrong password number one").await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert_eq!(code(&body), "ACCOUNT_LOCKED");
    let until = body["error"]["details"]["locked_until"].as_str().unwrap();
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    let minutes = (until - time::OffsetDateTime::now_utc()).whole_minutes();
    assert!((29..=30).contains(&minutes), "{minutes}");
    // Even the right password is refused while locked.
    let (status, body) = login(env, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::LOCKED);
    assert_eq!(code(&body), "ACCOUNT_LOCKED");
}

async fn refresh_rotates_and_reuse_revokes_the_family(env: &TestEnv) {
    let registered = env.register(&unique_email("refresh")).await;
    let first = token(&registered, "refresh_token");
    let (status, rotated) = env
        .post("/v1/auth/refresh", None, json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = token(&rotated, "refresh_token");
    assert_ne!(first, second);
    let (status, _, _) = env
        .call(
            "GET",
            "/v1/me",
            Some(&token(&rotated, "access_token")),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The first token again: reuse. The whole family is revoked, the second token with it.
    let (status, body) = env
        .post("/v1/auth/refresh", None, json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "REFRESH_TOKEN_REUSED");
    let (status, body) = env
        .post("/v1/auth/refresh", None, json!({ "refresh_token": second }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "INVALID_REFRESH_TOKEN");

    let (status, body) = env
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": "wlr_made-up" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "INVALID_REFRESH_TOKEN");
}

async fn logout_revokes_every_refresh_token(env: &TestEnv) {
    let email = unique_email("logout");
    let registered = env.register(&email).await;
    let (_, other_session) = login(env, &email, PASSWORD).await;
    let (status, _) = env
        .post(
            "/v1/auth/logout",
            Some(&token(&registered, "access_token")),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for session in [&registered, &other_session] {
        let (status, body) = env
            .post(
                "/v1/auth/refresh",
                None,
                json!({ "refresh_token": token(session, "refresh_token") }),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&body), "INVALID_REFRESH_TOKEN");
    }
}

async fn change_password_keeps_the_accounts(env: &TestEnv) {
    let email = unique_email("change");
    let registered = env.register(&email).await;
    let access = token(&registered, "access_token");
    let (status, body) = env
        .post(
            "/v1/auth/change-password",
            Some(&access),
            json!({ "current_password": "not my password 1234", "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "INVALID_CREDENTIALS");
    let (status, body) = env
        .post(
            "/v1/auth/change-password",
            Some(&access),
            json!({ "current_password": PASSWORD, "new_password": "abcdefghijklmnop" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "WEAK_PASSWORD");

    let (status, changed) = env
        .post(
            "/v1/auth/change-password",
            Some(&access),
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(
        changed["note"]
            .as_str()
            .unwrap()
            .contains("other addresses")
    );
    assert_eq!(
        login(env, &email, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, signed_in) = login(env, &email, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        signed_in["algorand_address"],
        registered["algorand_address"]
    );
    assert_eq!(signed_in["evm_address"], registered["evm_address"]);
    let (status, _) = env
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": token(&registered, "refresh_token") }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn key_export_gives_the_keys_of_the_addresses(env: &TestEnv) {
    let registered = env.register(&unique_email("export")).await;
    let access = token(&registered, "access_token");
    let (status, body) = env
        .post(
            "/v1/me/key-export",
            Some(&access),
            json!({ "password": "wrong password 12345" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "INVALID_CREDENTIALS");

    let (status, keys) = env
        .post(
            "/v1/me/key-export",
            Some(&access),
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let mnemonic = keys["algorand_mnemonic"].as_str().unwrap();
    assert_eq!(mnemonic.split(' ').count(), 25);
    let seed = mnemonic_to_seed(mnemonic).unwrap();
    let accounts = Arc76Accounts::from_seed(&seed).unwrap();
    assert_eq!(
        accounts.algorand_address,
        registered["algorand_address"].as_str().unwrap()
    );
    assert_eq!(
        accounts.evm_address,
        registered["evm_address"].as_str().unwrap()
    );
    assert_eq!(keys["evm_private_key"], evm_private_key_hex(&seed).as_str());

    // Three exports per hour: two more pass, the fourth is refused with a retry time.
    for _ in 0..2 {
        let (status, _) = env
            .post(
                "/v1/me/key-export",
                Some(&access),
                json!({ "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = env
        .call(
            "POST",
            "/v1/me/key-export",
            Some(&access),
            Some(&json!({ "password": PASSWORD })),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "RATE_LIMIT_EXCEEDED");
    assert_eq!(body["error"]["retryable"], true);
    assert!(headers.contains_key("retry-after"));

    // Each export is an event in the user's audit chain, by the user, with its request.
    let user_id = registered["user_id"].as_str().unwrap();
    let filter = walletless::audit::AuditFilter {
        event_type: Some(walletless::audit::types::KEY_EXPORTED.into()),
        ..Default::default()
    };
    let events =
        walletless::audit::list(env.backstage().await.records(), user_id, &filter, None, 100)
            .await
            .unwrap()
            .events;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|event| event.actor == format!("user:{user_id}")
                && event.request_id.is_some()
                && event.payload.get("evm_private_key").is_none())
    );
}

async fn routes_that_need_a_user_refuse_without_a_valid_token(env: &TestEnv) {
    let (status, headers, body) = env.call("GET", "/v1/me", None, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "UNAUTHORIZED");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let registered = env.register(&unique_email("tamper")).await;
    // One character of the signature changed: not the last, whose low bits are padding that
    // a lenient decoder ignores, and never to the character it already was.
    let token_text = token(&registered, "access_token");
    let at = token_text.len() - 3;
    let changed = if &token_text[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = format!("{}{changed}{}", &token_text[..at], &token_text[at + 1..]);
    let (status, _, _) = env.call("GET", "/v1/me", Some(&forged), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = env
        .call(
            "POST",
            "/v1/me/key-export",
            Some("not-a-jwt"),
            Some(&json!({ "password": PASSWORD })),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn the_seed_opens_only_under_its_own_users_context(env: &TestEnv) {
    let first = env.register(&unique_email("ctx")).await;
    let second = env.register(&unique_email("ctx")).await;
    let app = env.backstage().await;
    let user_id = first["user_id"].as_str().unwrap();
    let record = app
        .records()
        .get(&RecordKey::new(format!("user#{user_id}"), "profile"))
        .await
        .unwrap()
        .unwrap();
    assert!(record.body.get("password").is_none());
    let sealed: Envelope = serde_json::from_value(record.body["seed"].clone()).unwrap();
    let own = EncryptionContext::for_user(user_id, "arc76-seed");
    let opened = envelope::open(app.key_vault(), &sealed, &own)
        .await
        .unwrap();
    assert_eq!(opened.expose_secret().len(), 32);
    for wrong in [
        EncryptionContext::for_user(second["user_id"].as_str().unwrap(), "arc76-seed"),
        EncryptionContext::for_user(user_id, "another-purpose"),
    ] {
        let refused = envelope::open(app.key_vault(), &sealed, &wrong).await;
        assert!(
            matches!(refused, Err(VaultError::DecryptionFailed)),
            "{refused:?}"
        );
    }
}

on_both_families!(
    register_login_and_profile,
    bad_input_gets_named_errors,
    duplicate_email_is_refused_whatever_its_case,
    unknown_email_and_wrong_password_answer_alike,
    five_failures_lock_the_account_and_success_resets_the_count,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_every_refresh_token,
    change_password_keeps_the_accounts,
    key_export_gives_the_keys_of_the_addresses,
    routes_that_need_a_user_refuse_without_a_valid_token,
    the_seed_opens_only_under_its_own_users_context,
);

/// A KMS outage while registering: 503 KEY_VAULT_UNAVAILABLE (retryable) and no trace of
/// the user; once KMS is back the same registration succeeds. KMS traffic goes through a
/// proxy that the test switches off; every other service stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_kms_outage_during_registration_writes_nothing() {
    use std::sync::Arc;
    use walletless::adapters::aws::kms::KmsKeyVault;
    use walletless_tests::fault_proxy::FaultProxy;

    let (resources, sdk, mut services) = walletless_tests::aws::fresh_services().await;
    let moto: std::net::SocketAddr = std::env::var("AWS_ENDPOINT_URL")
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let kms_proxy = FaultProxy::start(moto).await.unwrap();
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .endpoint_url(kms_proxy.url())
            .build(),
    );
    services.key_vault = Arc::new(KmsKeyVault::new(kms, resources.kms_key_id.clone()));
    let records = services.records.clone();
    let app = App::new(services);
    let env = TestEnv::around(
        TestServer::serve_app(app).await.unwrap(),
        Family::Aws(resources),
    );
    // A first registration while KMS works: the signing key is created and cached, so the
    // outage below hits the sealing of the new user's seed.
    env.register(&unique_email("before")).await;
    kms_proxy.go_down().await;

    let email = unique_email("outage");
    let (status, body) = env
        .post(
            "/v1/auth/register",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "KEY_VAULT_UNAVAILABLE");
    assert_eq!(body["error"]["retryable"], true);
    let index = records
        .get(&RecordKey::new(format!("email#{email}"), "user"))
        .await
        .unwrap();
    assert!(index.is_none(), "a user row was written: {index:?}");
    assert_eq!(
        login(&env, &email, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );

    kms_proxy.come_back();
    tokio::time::sleep(Duration::from_millis(100)).await;
    env.register(&email).await;
}
