//! The audit trail through HTTP on both adapter families: a user's whole issuance (account,
//! drafts, compliance, a deployment on the devnet, key export) leaves its events in order in
//! one valid chain; `GET /v1/audit/events` filters and pages it, tenant by tenant; exports in
//! both formats download through their links and verify against their manifests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::audit::export::ExportManifest;
use walletless::audit::verify_export::verify_export;
use walletless::audit::{self, AuditEvent, types};
use walletless_tests::chains::{
    Family, User, environment_of, faucet, new_user, pass_compliance, save_draft, wait_until_final,
};
use walletless_tests::family::{PASSWORD, TestEnv};

const CORRELATION_ID: &str = "issuance-run-42";

mod embedded {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_issuance_is_audited_and_exports_verify() {
        super::an_issuance_is_audited_and_exports_verify(super::Family::Embedded).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_audit_requests_get_clear_errors() {
        super::bad_audit_requests_get_clear_errors(super::Family::Embedded).await;
    }
}

mod aws {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_issuance_is_audited_and_exports_verify() {
        super::an_issuance_is_audited_and_exports_verify(super::Family::Aws).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_audit_requests_get_clear_errors() {
        super::bad_audit_requests_get_clear_errors(super::Family::Aws).await;
    }
}

/// Every event of the user's chain through `GET /v1/audit/events`, `page` at a time.
async fn all_events(env: &TestEnv, user: &User, query: &str, page: u32) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/audit/events?limit={page}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, _, body) = env.get(&path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let batch: Vec<AuditEvent> = serde_json::from_value(body["events"].clone()).unwrap();
        assert!(batch.len() <= page as usize);
        events.extend(batch);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return events,
        }
    }
}

async fn send(
    env: &TestEnv,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = env.client.request(method, env.server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn wait_for_export(env: &TestEnv, user: &User, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, _, export) = env
            .get(&format!("/v1/audit/exports/{id}"), Some(&user.token))
            .await;
        assert_eq!(status, StatusCode::OK, "{export}");
        if export["status"] != "queued" {
            return export;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{export}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bytes behind a download link (the local server's signed link, or S3's presigned URL).
async fn download(env: &TestEnv, url: &str) -> Vec<u8> {
    let response = env.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.unwrap().to_vec()
}

async fn export_and_verify(env: &TestEnv, user: &User, format: &str, filters: Value) -> Value {
    let (status, _, accepted) = send(
        env,
        reqwest::Method::POST,
        "/v1/audit/exports",
        Some(&user.token),
        Some(json!({ "format": format, "filters": filters })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["status"], "queued");
    let id = accepted["id"].as_str().unwrap();
    let export = wait_for_export(env, user, id).await;
    assert_eq!(export["status"], "completed", "{export}");
    let file = download(env, export["download_url"].as_str().unwrap()).await;
    let manifest_bytes = download(env, export["manifest_url"].as_str().unwrap()).await;
    let manifest: ExportManifest = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(
        serde_json::to_value(&manifest).unwrap(),
        export["manifest"],
        "the stored manifest is the one the API shows"
    );
    assert_eq!(manifest.tenant, user.id);
    let verified = verify_export(file.as_slice(), &manifest).unwrap_or_else(|problem| {
        panic!("{format} export does not verify: {problem}");
    });
    assert_eq!(verified.summary, manifest.summary);
    export
}

async fn an_issuance_is_audited_and_exports_verify(family: Family) {
    let (env, _dir) = environment_of(family).await;
    let started_ms = walletless::ports::records::now_ms();
    let user = new_user(&env).await;

    // Account: a failed and a successful sign-in on the known email.
    let email: String = {
        let (_, _, me) = env.get("/v1/me", Some(&user.token)).await;
        me["email"].as_str().unwrap().to_string()
    };
    let (status, _) = env
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": email, "password": "not the password" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env
        .post(
            "/v1/auth/login",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Drafts: validated, saved, changed; compliance; a deployment to completion.
    let (status, body) = faucet(&env, &user, "algorand-devnet", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let draft = json!({ "standard": "asa-ft", "network": "algorand-devnet", "params": {
        "asset_name": "Audit Coin", "unit_name": "AUD", "total": "1000", "decimals": 0 }});
    let (status, validated) = env
        .post("/v1/drafts/validate", Some(&user.token), draft.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{validated}");
    let draft_id = save_draft(&env, &user, draft.clone()).await;
    let mut changed = draft.clone();
    changed["params"]["asset_name"] = json!("Audit Coin II");
    let (status, _, body) = send(
        &env,
        reqwest::Method::PUT,
        &format!("/v1/drafts/{draft_id}"),
        Some(&user.token),
        Some(changed),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pass_compliance(&env, &user, &draft_id).await;
    let (status, headers, accepted) = send(
        &env,
        reqwest::Method::POST,
        "/v1/deployments",
        Some(&user.token),
        Some(json!({ "draft_id": draft_id })),
        &[
            ("idempotency-key", &format!("audit-{draft_id}")),
            ("x-correlation-id", CORRELATION_ID),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(headers["x-correlation-id"], CORRELATION_ID);
    let deployment_id = accepted["deployment"]["id"].as_str().unwrap().to_string();
    let deployment = wait_until_final(&env, &user, &deployment_id).await;
    assert_eq!(deployment["status"], "completed", "{deployment}");
    let (status, body) = env
        .post(
            "/v1/me/key-export",
            Some(&user.token),
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The whole chain, read a few events at a time: valid, the user's own, in this order.
    let events = all_events(&env, &user, "", 4).await;
    assert_eq!(audit::verify(&events), Ok(()));
    assert_eq!(events[0].sequence, 1);
    assert!(events.iter().all(|event| event.tenant == user.id));
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let signings = kinds
        .iter()
        .filter(|kind| **kind == types::KEY_DECRYPTED_FOR_SIGNING)
        .count();
    assert_eq!(signings, 1, "one signed stage for an ASA: {kinds:?}");
    let milestones: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|kind| *kind != types::KEY_DECRYPTED_FOR_SIGNING)
        .collect();
    let mut expected = vec![
        types::USER_REGISTERED,
        types::LOGIN_FAILED,
        types::LOGIN_SUCCEEDED,
        types::DRAFT_VALIDATED,
        types::DRAFT_CREATED,
        types::DRAFT_CHANGED,
        types::COMPLIANCE_REPORT,
    ];
    expected.extend([types::DEPLOYMENT_TRANSITION; 6]);
    expected.push(types::KEY_EXPORTED);
    assert_eq!(milestones, expected, "{kinds:?}");

    let transitions: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.event_type == types::DEPLOYMENT_TRANSITION)
        .collect();
    let moves: Vec<&str> = transitions
        .iter()
        .map(|e| e.payload["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        [
            "queued",
            "submitted",
            "pending",
            "confirmed",
            "indexed",
            "completed"
        ]
    );
    for transition in &transitions {
        assert_eq!(transition.subject.id, deployment_id);
        assert_eq!(
            transition.correlation_id.as_deref(),
            Some(CORRELATION_ID),
            "every step carries the request's correlation id"
        );
    }
    assert_eq!(transitions[0].actor, format!("user:{}", user.id));
    assert!(transitions[0].request_id.is_some());
    assert_eq!(transitions[1].actor, "system:pipeline");
    let signing = events
        .iter()
        .find(|e| e.event_type == types::KEY_DECRYPTED_FOR_SIGNING)
        .unwrap();
    assert_eq!(signing.subject.id, deployment_id);
    assert_eq!(signing.correlation_id.as_deref(), Some(CORRELATION_ID));
    let failed_login = events
        .iter()
        .find(|e| e.event_type == types::LOGIN_FAILED)
        .unwrap();
    assert_eq!(failed_login.actor, format!("user:{}", user.id));
    assert!(failed_login.request_id.is_some());
    // No secret in any event: not the password, not a key.
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains("private_key") && !text.contains("mnemonic"));

    // Filters: by type, by subject, by time.
    let by_type = all_events(
        &env,
        &user,
        &format!("&event_type={}", types::DEPLOYMENT_TRANSITION),
        100,
    )
    .await;
    assert_eq!(by_type.len(), 6);
    let by_subject = all_events(
        &env,
        &user,
        &format!("&subject_kind=draft&subject_id={draft_id}"),
        100,
    )
    .await;
    let subject_kinds: Vec<&str> = by_subject.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        subject_kinds,
        [
            types::DRAFT_CREATED,
            types::DRAFT_CHANGED,
            types::COMPLIANCE_REPORT
        ]
    );
    let last_ms = events.last().unwrap().at_ms;
    let late = all_events(&env, &user, &format!("&from={}", last_ms + 1), 100).await;
    assert!(late.is_empty(), "{late:?}");
    let window = all_events(
        &env,
        &user,
        &format!("&from={started_ms}&to={last_ms}"),
        100,
    )
    .await;
    assert_eq!(window.len(), events.len());

    // Another tenant sees none of it.
    let stranger = new_user(&env).await;
    let theirs = all_events(&env, &stranger, "", 100).await;
    assert!(theirs.iter().all(|e| e.tenant == stranger.id));
    let their_kinds: Vec<&str> = theirs.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        their_kinds,
        [types::USER_REGISTERED],
        "only their own registration"
    );

    // Exports in both formats, whole and filtered, each verified against its manifest.
    let whole_json = export_and_verify(&env, &user, "json", json!({})).await;
    assert_eq!(
        whole_json["manifest"]["count"].as_u64().unwrap(),
        events.len() as u64,
        "everything up to the request"
    );
    assert_eq!(whole_json["manifest"]["first_sequence"], 1);
    let whole_csv = export_and_verify(&env, &user, "csv", json!({})).await;
    assert!(
        whole_csv["manifest"]["count"].as_u64().unwrap() > events.len() as u64,
        "the JSON export's request and completion are in the chain by now"
    );
    let filtered = export_and_verify(
        &env,
        &user,
        "csv",
        json!({ "event_type": types::DEPLOYMENT_TRANSITION }),
    )
    .await;
    assert_eq!(filtered["manifest"]["count"], 6);
    // Its rows are not neighbours in the chain, yet a row removed from the middle is named
    // where it is missing (line 1 is the header).
    let file = download(&env, filtered["download_url"].as_str().unwrap()).await;
    let manifest: ExportManifest = serde_json::from_value(filtered["manifest"].clone()).unwrap();
    let mut rows: Vec<&[u8]> = file.split_inclusive(|byte| *byte == b'\n').collect();
    assert_eq!(rows.len(), 7, "a header and six single-line rows");
    rows.remove(3);
    let problem = verify_export(rows.concat().as_slice(), &manifest).unwrap_err();
    assert_eq!(problem.line, Some(4), "{problem}");
    let (status, _, other) = env
        .get(
            &format!("/v1/audit/exports/{}", whole_json["id"].as_str().unwrap()),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
    assert_eq!(other["error"]["code"], "AUDIT_EXPORT_NOT_FOUND");

    // The exports themselves are in the chain: requested, then completed.
    let after = all_events(&env, &user, "", 100).await;
    assert_eq!(audit::verify(&after), Ok(()));
    let export_events: Vec<&str> = after
        .iter()
        .filter(|e| e.subject.kind == "audit-export")
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        export_events,
        [
            types::EXPORT_REQUESTED,
            types::EXPORT_COMPLETED,
            types::EXPORT_REQUESTED,
            types::EXPORT_COMPLETED,
            types::EXPORT_REQUESTED,
            types::EXPORT_COMPLETED,
        ]
    );
}

async fn bad_audit_requests_get_clear_errors(family: Family) {
    let (env, _dir) = environment_of(family).await;
    let user = new_user(&env).await;
    let cases: [(&str, Value, &str); 5] = [
        ("unknown format", json!({ "format": "xml" }), "format"),
        ("no format", json!({}), "body"),
        (
            "subject kind without id",
            json!({ "format": "csv", "filters": { "subject_kind": "draft" } }),
            "filters.subject_kind",
        ),
        (
            "a time that is not one",
            json!({ "format": "json", "filters": { "from": "yesterday" } }),
            "filters.from",
        ),
        (
            "unknown filter",
            json!({ "format": "json", "filters": { "colour": "red" } }),
            "filters",
        ),
    ];
    for (case, body, field) in cases {
        let (status, answer) = env.post("/v1/audit/exports", Some(&user.token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {answer}");
        assert_eq!(answer["error"]["code"], "MALFORMED_REQUEST", "{case}");
        assert!(
            answer["error"]["details"]["field"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{case}: {answer}"
        );
    }
    for query in [
        "?limit=0",
        "?limit=1001",
        "?subject_kind=draft",
        "?from=soon",
        "?cursor=not-a-cursor",
    ] {
        let (status, _, answer) = env
            .get(&format!("/v1/audit/events{query}"), Some(&user.token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        assert_eq!(answer["error"]["code"], "MALFORMED_REQUEST", "{query}");
    }
    let (status, _, answer) = env.get("/v1/audit/events", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    for id in ["01J00000000000000000000000", "nope"] {
        let (status, _, answer) = env
            .get(&format!("/v1/audit/exports/{id}"), Some(&user.token))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["code"], "AUDIT_EXPORT_NOT_FOUND");
    }
    // Nothing was exported or half-written by the refused requests.
    let events = all_events(&env, &user, "", 100).await;
    assert!(
        events
            .iter()
            .all(|e| e.event_type != types::EXPORT_REQUESTED),
        "{events:?}"
    );
}
