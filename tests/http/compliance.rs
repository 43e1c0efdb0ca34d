//! Compliance readiness through the HTTP routes, on both adapter families: one profile per
//! rule with the exact status it must produce, unregulated tokens, report checksums, and the
//! gate closing when the draft changes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::compliance::report;
use walletless_tests::family::TestEnv;
use walletless_tests::on_both_families;

const ALGO: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// A new user's access token and id.
async fn user(env: &TestEnv) -> (String, String) {
    let body = env.new_user().await;
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["user_id"].as_str().unwrap().to_string(),
    )
}

async fn call(
    env: &TestEnv,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
    if_match: Option<&str>,
) -> (StatusCode, Value) {
    let (status, _, body) = env.call(method, path, Some(token), body, if_match).await;
    (status, body)
}

/// Save a draft that must be valid; its id.
async fn save_draft(env: &TestEnv, token: &str, draft: &Value) -> String {
    let (status, saved) = call(env, "POST", "/v1/drafts", token, Some(draft), None).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["validation"]["valid"], true, "{saved}");
    saved["id"].as_str().unwrap().to_string()
}

/// Run the compliance checks; the report.
async fn run_checks(env: &TestEnv, token: &str, draft_id: &str) -> Value {
    let path = format!("/v1/drafts/{draft_id}/compliance");
    let (status, report) = call(env, "POST", &path, token, None, None).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    report
}

fn status_of<'a>(report: &'a Value, rule_id: &str) -> &'a str {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|result| result["rule_id"] == rule_id)
        .and_then(|result| result["status"].as_str())
        .unwrap_or_else(|| panic!("no result for {rule_id}: {report}"))
}

fn security_token(network: &str, compliance: Value) -> Value {
    json!({ "standard": "security-token", "network": network, "compliance": compliance, "params": {
        "name": "Harbour Bond", "symbol": "HB30", "initial_supply": "1000", "cap": "10000",
        "controller": ALGO, "whitelist_only": true }})
}

fn token(standard: &str, network: &str, compliance: Value) -> Value {
    let params = match standard {
        "erc20-mintable" => json!({ "name": "T", "symbol": "T", "initial_supply": "1" }),
        "erc20-preminted" => json!({ "name": "T", "symbol": "T", "total_supply": "1" }),
        "arc200-mintable" => {
            json!({ "name": "T", "symbol": "T", "initial_supply": "1", "cap": "2" })
        }
        "asa-ft" => json!({ "asset_name": "T", "unit_name": "T", "total": "100" }),
        "asa-ft-controlled" => json!({ "asset_name": "T", "unit_name": "T", "total": "100",
            "default_frozen": true, "freeze": ALGO, "clawback": ALGO }),
        other => panic!("no params for {other}"),
    };
    let standard = standard.trim_end_matches("-controlled");
    json!({ "standard": standard, "network": network, "compliance": compliance, "params": params })
}

/// A complete profile of a security that passes every rule.
fn complete_security() -> Value {
    json!({
        "issuer": { "legal_name": "Harbour Capital AG", "country": "CH", "lei": "506700GE1G29325QX363" },
        "jurisdictions": ["CH", "DE"],
        "classification": "security",
        "investor_rules": { "kyc_required": true, "accredited_only": true, "max_holders": 499,
            "allowed_countries": ["CH", "DE"], "blocked_countries": ["KP"] },
        "transfer_rules": { "whitelist_only": true, "lockup_until": "2027-06-30" },
        "disclosures": [{ "kind": "prospectus", "url": "https://example.com/prospectus.pdf", "sha256": HASH }],
        "regulatory_framework": "Prospectus Regulation (EU) 2017/1129",
    })
}

fn without(mut profile: Value, path: &[&str]) -> Value {
    let (last, parents) = path.split_last().unwrap();
    let mut node = &mut profile;
    for key in parents {
        node = &mut node[*key];
    }
    node.as_object_mut().unwrap().remove(*last);
    profile
}

fn with(mut profile: Value, path: &[&str], value: Value) -> Value {
    let mut node = &mut profile;
    for key in path {
        node = &mut node[*key];
    }
    *node = value;
    profile
}

/// (draft, rule, expected status): one row per rule, plus passes and relaxations.
fn rule_table() -> Vec<(Value, &'static str, &'static str)> {
    let mica = |classification: &str| {
        json!({
            "issuer": { "legal_name": "Harbour Pay SA", "country": "FR" },
            "jurisdictions": ["EU"], "classification": classification,
            "investor_rules": { "kyc_required": true },
            "disclosures": [{ "kind": "white_paper", "url": "https://example.com/wp.pdf", "sha256": HASH }],
            "regulatory_framework": "MiCA",
        })
    };
    vec![
        (
            security_token("algorand-mainnet", complete_security()),
            "issuer-identified",
            "pass",
        ),
        (
            security_token(
                "algorand-mainnet",
                without(complete_security(), &["issuer"]),
            ),
            "issuer-identified",
            "fail",
        ),
        (
            security_token(
                "algorand-testnet",
                without(complete_security(), &["issuer"]),
            ),
            "issuer-identified",
            "warn",
        ),
        (
            token("arc200-mintable", "voi-mainnet", mica("other_crypto_asset")),
            "mica-white-paper",
            "pass",
        ),
        (
            token(
                "arc200-mintable",
                "voi-mainnet",
                without(mica("other_crypto_asset"), &["disclosures"]),
            ),
            "mica-white-paper",
            "fail",
        ),
        (
            token(
                "arc200-mintable",
                "algorand-testnet",
                without(mica("asset_referenced_token"), &["disclosures"]),
            ),
            "mica-white-paper",
            "warn",
        ),
        (
            security_token(
                "algorand-mainnet",
                with(complete_security(), &["jurisdictions"], json!([])),
            ),
            "security-jurisdiction",
            "fail",
        ),
        (
            security_token(
                "algorand-mainnet",
                with(complete_security(), &["disclosures"], json!([])),
            ),
            "security-prospectus",
            "warn",
        ),
        (
            token(
                "arc200-mintable",
                "voi-mainnet",
                with(
                    mica("emoney_token"),
                    &["investor_rules", "kyc_required"],
                    json!(false),
                ),
            ),
            "kyc-for-regulated",
            "fail",
        ),
        (
            token("arc200-mintable", "voi-mainnet", mica("emoney_token")),
            "kyc-for-regulated",
            "pass",
        ),
        (
            security_token(
                "algorand-mainnet",
                without(complete_security(), &["regulatory_framework"]),
            ),
            "framework-named",
            "warn",
        ),
        (
            token(
                "erc20-preminted",
                "base-mainnet",
                json!({ "classification": "utility_token", "transfer_rules": { "whitelist_only": true } }),
            ),
            "whitelist-enforceable",
            "fail",
        ),
        (
            token(
                "asa-ft-controlled",
                "algorand-mainnet",
                json!({ "classification": "utility_token", "transfer_rules": { "whitelist_only": true } }),
            ),
            "whitelist-enforceable",
            "pass",
        ),
        (
            token(
                "arc200-mintable",
                "algorand-mainnet",
                json!({ "classification": "utility_token", "transfer_rules": { "lockup_until": "2027-01-01" } }),
            ),
            "lockup-enforceable",
            "fail",
        ),
        (
            security_token("algorand-mainnet", complete_security()),
            "lockup-enforceable",
            "pass",
        ),
        (
            token(
                "erc20-mintable",
                "base-mainnet",
                json!({ "classification": "security" }),
            ),
            "supply-cap-enforceable",
            "fail",
        ),
        (
            token(
                "erc20-preminted",
                "base-mainnet",
                json!({ "classification": "security" }),
            ),
            "security-clawback",
            "fail",
        ),
        (
            security_token("algorand-mainnet", complete_security()),
            "security-clawback",
            "pass",
        ),
        (
            security_token(
                "algorand-mainnet",
                without(complete_security(), &["issuer"]),
            ),
            "mainnet-all-blocking-passed",
            "fail",
        ),
        (
            security_token("algorand-mainnet", complete_security()),
            "mainnet-all-blocking-passed",
            "pass",
        ),
        (
            security_token("algorand-testnet", complete_security()),
            "mainnet-all-blocking-passed",
            "not_applicable",
        ),
        (
            security_token(
                "algorand-mainnet",
                with(
                    complete_security(),
                    &["transfer_rules", "whitelist_only"],
                    json!(false),
                ),
            ),
            "max-holders-needs-whitelist",
            "fail",
        ),
        (
            security_token(
                "algorand-mainnet",
                with(
                    complete_security(),
                    &["investor_rules", "blocked_countries"],
                    json!(["DE"]),
                ),
            ),
            "countries-disjoint",
            "fail",
        ),
        (
            token(
                "asa-ft",
                "algorand-mainnet",
                json!({ "classification": "utility_token", "investor_rules": { "blocked_countries": ["KP"] } }),
            ),
            "country-rules-need-whitelist",
            "warn",
        ),
        (
            security_token(
                "algorand-mainnet",
                with(
                    complete_security(),
                    &["investor_rules", "kyc_required"],
                    json!(false),
                ),
            ),
            "accredited-needs-kyc",
            "fail",
        ),
    ]
}

async fn each_rule_gives_its_expected_status(env: &TestEnv) {
    let (token, _) = user(env).await;
    let table = rule_table();
    // Every rule of the ruleset has a row.
    let response = env
        .client
        .get(env.server.url("/v1/compliance/rules"))
        .send()
        .await
        .unwrap();
    let ruleset: Value = response.json().await.unwrap();
    for rule in ruleset["rules"].as_array().unwrap() {
        let id = rule["id"].as_str().unwrap();
        assert!(
            table.iter().any(|(_, rule, _)| *rule == id),
            "no row for {id}"
        );
    }
    assert!(
        ruleset["disclaimer"]
            .as_str()
            .unwrap()
            .contains("not legal advice")
    );
    for (draft, rule, expected) in table {
        let draft_id = save_draft(env, &token, &draft).await;
        let report = run_checks(env, &token, &draft_id).await;
        assert_eq!(
            status_of(&report, rule),
            expected,
            "{rule} on {}: {report}",
            draft["compliance"]
        );
    }
}

async fn an_unregulated_token_passes_with_not_applicable_results(env: &TestEnv) {
    let (token, _) = user(env).await;
    for compliance in [Value::Null, json!({ "classification": "unregulated" })] {
        let mut draft = token_draft();
        draft["compliance"] = compliance;
        let draft_id = save_draft(env, &token, &draft).await;
        let report = run_checks(env, &token, &draft_id).await;
        for result in report["results"].as_array().unwrap() {
            assert_eq!(result["status"], "not_applicable", "{result}");
        }
        assert_eq!(report["summary"]["blocking_failures"], 0);
        let (_, latest) = call(
            env,
            "GET",
            &format!("/v1/drafts/{draft_id}/compliance"),
            &token,
            None,
            None,
        )
        .await;
        assert_eq!(latest["gate"]["open"], true, "{latest}");
    }
}

fn token_draft() -> Value {
    json!({ "standard": "erc20-preminted", "network": "base-mainnet",
        "params": { "name": "Plain", "symbol": "PLN", "total_supply": "1000" } })
}

async fn reports_are_checksummed_and_go_stale_when_the_draft_changes(env: &TestEnv) {
    let (token, user_id) = user(env).await;
    let draft = security_token("algorand-mainnet", complete_security());
    let draft_id = save_draft(env, &token, &draft).await;
    let path = format!("/v1/drafts/{draft_id}/compliance");
    let (status, body) = call(env, "GET", &path, &token, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "COMPLIANCE_REPORT_NOT_FOUND");
    let app = env.backstage().await;
    assert!(
        report::gate(&app, &user_id, &draft_id).await.is_err(),
        "no report: closed"
    );

    let first = run_checks(env, &token, &draft_id).await;
    let second = run_checks(env, &token, &draft_id).await;
    assert_ne!(first["report_id"], second["report_id"]);
    assert_eq!(
        first["checksum"], second["checksum"],
        "same checks, same checksum"
    );
    assert_eq!(first["draft_version"], 1);
    assert_eq!(first["ruleset_version"], second["ruleset_version"]);
    let (_, latest) = call(env, "GET", &path, &token, None, None).await;
    assert_eq!(latest["report"]["report_id"], second["report_id"]);
    assert_eq!(latest["stale"], false);
    assert_eq!(latest["gate"]["open"], true, "{latest}");
    report::gate(&app, &user_id, &draft_id).await.unwrap();

    // Editing the draft makes the report stale: the gate closes until the checks run again.
    let mut edited = draft.clone();
    edited["compliance"]["investor_rules"]["kyc_required"] = json!(false);
    let (status, _) = call(
        env,
        "PUT",
        &format!("/v1/drafts/{draft_id}"),
        &token,
        Some(&edited),
        Some("\"1\""),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, latest) = call(env, "GET", &path, &token, None, None).await;
    assert_eq!(latest["stale"], true);
    assert_eq!(latest["gate"]["open"], false);
    let refusal = report::gate(&app, &user_id, &draft_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refusal.contains("version 1") && refusal.contains("version 2"),
        "{refusal}"
    );

    // The new report reflects the change: a different checksum and a blocking failure.
    let third = run_checks(env, &token, &draft_id).await;
    assert_ne!(third["checksum"], first["checksum"]);
    assert_eq!(status_of(&third, "accredited-needs-kyc"), "fail");
    let refusal = report::gate(&app, &user_id, &draft_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(refusal.contains("accredited-needs-kyc"), "{refusal}");
}

async fn invalid_drafts_and_profiles_are_refused(env: &TestEnv) {
    let (token, _) = user(env).await;
    let mut draft = security_token("algorand-mainnet", complete_security());
    draft["compliance"]["issuer"]["lei"] = json!("506700GE1H29325QX363");
    draft["compliance"]["jurisdictions"] = json!(["XX"]);
    let (_, report) = call(
        env,
        "POST",
        "/v1/drafts/validate",
        &token,
        Some(&draft),
        None,
    )
    .await;
    let paths: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"$.compliance.issuer.lei"), "{report}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("$.compliance.jurisdictions")),
        "{report}"
    );
    // An invalid draft is saved, but its compliance cannot be checked.
    let (_, saved) = call(env, "POST", "/v1/drafts", &token, Some(&draft), None).await;
    let (status, body) = call(
        env,
        "POST",
        &format!("/v1/drafts/{}/compliance", saved["id"].as_str().unwrap()),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "DRAFT_INVALID");
}

on_both_families!(
    each_rule_gives_its_expected_status,
    an_unregulated_token_passes_with_not_applicable_results,
    reports_are_checksummed_and_go_stale_when_the_draft_changes,
    invalid_drafts_and_profiles_are_refused,
);
