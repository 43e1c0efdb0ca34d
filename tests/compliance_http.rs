//! Compliance readiness through the HTTP routes, on both adapter families: one profile per
//! rule with the exact status it must produce, unregulated tokens, report checksums, and the
//! gate closing when the draft changes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::app::App;
use walletless::compliance::report;
use walletless_tests::aws::{aws_env, provision_all};
use walletless_tests::server::TestServer;

const PASSWORD: &str = "lunar cactus violin 42 drizzle";
const ALGO: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

struct Env {
    server: TestServer,
    dir: Option<tempfile::TempDir>,
    resources: Option<walletless::config::AwsResources>,
    client: reqwest::Client,
}

impl Env {
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::embedded(dir.path()).await.unwrap();
        Self {
            server,
            dir: Some(dir),
            resources: None,
            client: reqwest::Client::new(),
        }
    }

    async fn aws() -> Self {
        let resources = provision_all().await;
        let env = aws_env(&resources);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = TestServer::start(&pairs).await.unwrap();
        Self {
            server,
            dir: None,
            resources: Some(resources),
            client: reqwest::Client::new(),
        }
    }

    /// A second app over the same stores, to call the gate as the pipeline will.
    async fn backstage(&self) -> App {
        let vars: Vec<(String, String)> = match (&self.dir, &self.resources) {
            (Some(dir), _) => vec![(
                "WALLETLESS_DATA_DIR".into(),
                dir.path().display().to_string(),
            )],
            (None, Some(resources)) => aws_env(resources)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            (None, None) => unreachable!(),
        };
        let config = walletless::config::Config::from_vars(&vars.into_iter().collect()).unwrap();
        match &config.backend {
            walletless::config::Backend::Embedded { data_dir, .. } => {
                App::open_embedded(data_dir, "http://127.0.0.1:1".parse().unwrap(), &config)
                    .await
                    .unwrap()
                    .app
            }
            walletless::config::Backend::Aws(resources) => {
                App::connect_aws(resources, &config).await.unwrap()
            }
        }
    }

    async fn user(&self) -> (String, String) {
        let email = format!(
            "issuer.{}@example.com",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let response = self
            .client
            .post(self.server.url("/v1/auth/register"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        (
            body["access_token"].as_str().unwrap().to_string(),
            body["user_id"].as_str().unwrap().to_string(),
        )
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), self.server.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(version) = if_match {
            request = request.header("if-match", version);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn draft(&self, token: &str, draft: &Value) -> String {
        let (status, saved) = self
            .call("POST", "/v1/drafts", token, Some(draft), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{saved}");
        assert_eq!(saved["validation"]["valid"], true, "{saved}");
        saved["id"].as_str().unwrap().to_string()
    }

    async fn run(&self, token: &str, draft_id: &str) -> Value {
        let (status, report) = self
            .call(
                "POST",
                &format!("/v1/drafts/{draft_id}/compliance"),
                token,
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{report}");
        report
    }
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

async fn each_rule_gives_its_expected_status(env: &Env) {
    let (token, _) = env.user().await;
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
        let draft_id = env.draft(&token, &draft).await;
        let report = env.run(&token, &draft_id).await;
        assert_eq!(
            status_of(&report, rule),
            expected,
            "{rule} on {}: {report}",
            draft["compliance"]
        );
    }
}

async fn an_unregulated_token_passes_with_not_applicable_results(env: &Env) {
    let (token, _) = env.user().await;
    for compliance in [Value::Null, json!({ "classification": "unregulated" })] {
        let mut draft = token_draft();
        draft["compliance"] = compliance;
        let draft_id = env.draft(&token, &draft).await;
        let report = env.run(&token, &draft_id).await;
        for result in report["results"].as_array().unwrap() {
            assert_eq!(result["status"], "not_applicable", "{result}");
        }
        assert_eq!(report["summary"]["blocking_failures"], 0);
        let (_, latest) = env
            .call(
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

async fn reports_are_checksummed_and_go_stale_when_the_draft_changes(env: &Env) {
    let (token, user_id) = env.user().await;
    let draft = security_token("algorand-mainnet", complete_security());
    let draft_id = env.draft(&token, &draft).await;
    let path = format!("/v1/drafts/{draft_id}/compliance");
    let (status, body) = env.call("GET", &path, &token, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "COMPLIANCE_REPORT_NOT_FOUND");
    let app = env.backstage().await;
    assert!(
        report::gate(&app, &user_id, &draft_id).await.is_err(),
        "no report: closed"
    );

    let first = env.run(&token, &draft_id).await;
    let second = env.run(&token, &draft_id).await;
    assert_ne!(first["report_id"], second["report_id"]);
    assert_eq!(
        first["checksum"], second["checksum"],
        "same checks, same checksum"
    );
    assert_eq!(first["draft_version"], 1);
    assert_eq!(first["ruleset_version"], second["ruleset_version"]);
    let (_, latest) = env.call("GET", &path, &token, None, None).await;
    assert_eq!(latest["report"]["report_id"], second["report_id"]);
    assert_eq!(latest["stale"], false);
    assert_eq!(latest["gate"]["open"], true, "{latest}");
    report::gate(&app, &user_id, &draft_id).await.unwrap();

    // Editing the draft makes the report stale: the gate closes until the checks run again.
    let mut edited = draft.clone();
    edited["compliance"]["investor_rules"]["kyc_required"] = json!(false);
    let (status, _) = env
        .call(
            "PUT",
            &format!("/v1/drafts/{draft_id}"),
            &token,
            Some(&edited),
            Some("\"1\""),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, latest) = env.call("GET", &path, &token, None, None).await;
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
    let third = env.run(&token, &draft_id).await;
    assert_ne!(third["checksum"], first["checksum"]);
    assert_eq!(status_of(&third, "accredited-needs-kyc"), "fail");
    let refusal = report::gate(&app, &user_id, &draft_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(refusal.contains("accredited-needs-kyc"), "{refusal}");
}

async fn invalid_drafts_and_profiles_are_refused(env: &Env) {
    let (token, _) = env.user().await;
    let mut draft = security_token("algorand-mainnet", complete_security());
    draft["compliance"]["issuer"]["lei"] = json!("506700GE1H29325QX363");
    draft["compliance"]["jurisdictions"] = json!(["XX"]);
    let (_, report) = env
        .call("POST", "/v1/drafts/validate", &token, Some(&draft), None)
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
    let (_, saved) = env
        .call("POST", "/v1/drafts", &token, Some(&draft), None)
        .await;
    let (status, body) = env
        .call(
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

macro_rules! on_both_families {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::Env::embedded().await).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::Env::aws().await).await;
                }
            )*
        }
    };
}

on_both_families!(
    each_rule_gives_its_expected_status,
    an_unregulated_token_passes_with_not_applicable_results,
    reports_are_checksummed_and_go_stale_when_the_draft_changes,
    invalid_drafts_and_profiles_are_refused,
);
