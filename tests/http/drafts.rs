//! Drafts through the HTTP routes, on both adapter families: every standard drafted valid,
//! tables of invalid inputs with their exact codes and paths, storage with optimistic
//! concurrency, pagination and tenancy.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless_tests::family::TestEnv;
use walletless_tests::on_both_families;

const ALGO: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
const OTHER_ALGO: &str = "GIMN3RFDRRWFD7KIFSVRMXC4JXYD5ZXKT7KSN57OG4RAZPPC3L3YDM46NQ";
const EVM: &str = "0x0b6CEF2E7844F27019Fce92205F5FedF684c6926";

async fn user(env: &TestEnv) -> (String, Value) {
    let body = env.new_user().await;
    (body["access_token"].as_str().unwrap().to_string(), body)
}

async fn validate(env: &TestEnv, token: &str, draft: &Value) -> Value {
    let (status, _, body) = env
        .call(
            "POST",
            "/v1/drafts/validate",
            Some(token),
            Some(draft),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn arc3_metadata() -> Value {
    json!({
        "name": "Harbour Pass",
        "description": "Entry to the harbour festival",
        "image": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/pass.png",
        "image_mimetype": "image/png",
        "properties": { "edition": 1 }
    })
}

/// A valid draft for every standard.
fn valid_drafts() -> Vec<Value> {
    let asa = |standard: &str, total: &str, decimals: u8| {
        json!({ "standard": standard, "network": "algorand-testnet", "params": {
            "asset_name": "Harbour Credits", "unit_name": "HBC", "total": total,
            "decimals": decimals, "freeze": ALGO, "clawback": ALGO,
        }})
    };
    let arc3 = |standard: &str, total: &str, decimals: u8| {
        let mut draft = asa(standard, total, decimals);
        draft["params"]["metadata"] = arc3_metadata();
        if decimals > 0 {
            draft["params"]["metadata"]["decimals"] = json!(decimals);
        }
        draft
    };
    vec![
        json!({ "standard": "erc20-mintable", "network": "base-sepolia", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "decimals": 18,
            "initial_supply": "1000000", "cap": "5000000", "receiver": EVM }}),
        json!({ "standard": "erc20-preminted", "network": "base-mainnet", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "total_supply": "21000000.5" }}),
        asa("asa-ft", "1000000", 2),
        asa("asa-nft", "1", 0),
        asa("asa-fnft", "1", 3),
        arc3("arc3-ft", "500000", 2),
        arc3("arc3-nft", "1", 0),
        arc3("arc3-fnft", "1", 2),
        json!({ "standard": "arc200-mintable", "network": "voi-mainnet", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "decimals": 6,
            "initial_supply": "1000", "cap": "1000000" }}),
        json!({ "standard": "arc200-preminted", "network": "algorand-testnet", "params": {
            "name": "Harbour Credits", "symbol": "HBC", "total_supply": "1000000", "receiver": OTHER_ALGO }}),
        json!({ "standard": "security-token", "network": "algorand-testnet", "params": {
            "name": "Harbour Bond 2030", "symbol": "HB30", "decimals": 0,
            "initial_supply": "1000", "cap": "10000", "controller": ALGO, "whitelist_only": true,
            "partitions": ["senior", "junior"],
            "documents": [{ "name": "Prospectus", "uri": "https://example.com/prospectus.pdf",
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }] }}),
    ]
}

async fn every_standard_can_be_drafted_valid(env: &TestEnv) {
    let (token, user) = user(env).await;
    let drafts = valid_drafts();
    assert_eq!(drafts.len(), 11);
    for draft in drafts {
        let report = validate(env, &token, &draft).await;
        assert_eq!(report["valid"], true, "{}: {report}", draft["standard"]);
        assert_eq!(report["errors"], json!([]));
        // Stored, it keeps its validation result.
        let (status, headers, saved) = env
            .call("POST", "/v1/drafts", Some(&token), Some(&draft), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{saved}");
        assert_eq!(saved["validation"]["valid"], true);
        assert_eq!(headers["etag"], "\"1\"");
    }
    // Defaults fall back to the user's own accounts.
    let report = validate(
        env,
        &token,
        &json!({ "standard": "erc20-preminted", "network": "base-sepolia",
            "params": { "name": "X", "symbol": "X", "total_supply": "1" } }),
    )
    .await;
    assert_eq!(report["resolved"]["receiver"], user["evm_address"]);
    assert_eq!(
        report["resolved"]["total_supply_base_units"],
        "1000000000000000000"
    );
    assert_eq!(report["resolved"]["decimals"], 18);
}

/// The (path, code) pairs a case must produce, in order.
type Expected = Vec<(&'static str, &'static str)>;

/// (standard index in valid_drafts, change to its params, expected errors).
fn invalid_cases() -> Vec<(usize, Value, Expected)> {
    vec![
        // erc20-mintable
        (
            0,
            json!({ "cap": "10" }),
            vec![("$.params.cap", "cap_below_initial_supply")],
        ),
        (
            0,
            json!({ "decimals": 19 }),
            vec![("$.params.decimals", "out_of_range")],
        ),
        (
            0,
            json!({ "name": "x".repeat(51) }),
            vec![("$.params.name", "too_long")],
        ),
        (
            0,
            json!({ "receiver": "0x0B6cef2e7844f27019fce92205f5fedf684c6926" }),
            vec![("$.params.receiver", "address_checksum")],
        ),
        (
            0,
            json!({ "initial_supply": 1000 }),
            vec![("$.params.initial_supply", "wrong_type")],
        ),
        // erc20-preminted
        (
            1,
            json!({ "total_supply": "1.0000000000000000001" }),
            vec![("$.params.total_supply", "amount_too_precise")],
        ),
        (
            1,
            json!({ "symbol": "" }),
            vec![("$.params.symbol", "too_short")],
        ),
        (
            1,
            json!({ "total_supply": "1e6" }),
            vec![("$.params.total_supply", "amount_malformed")],
        ),
        // asa-ft
        (
            2,
            json!({ "total": "184467440737095516.16" }),
            vec![("$.params.total", "amount_overflow")],
        ),
        (
            2,
            json!({ "unit_name": "ÉÉÉÉÉ" }),
            vec![("$.params.unit_name", "too_long")],
        ),
        (
            2,
            json!({ "decimals": 20 }),
            vec![("$.params.decimals", "out_of_range")],
        ),
        (
            2,
            json!({ "clawback": "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBA" }),
            vec![("$.params.clawback", "address_checksum")],
        ),
        (
            2,
            json!({ "url": format!("https://example.com/{}", "a".repeat(80)) }),
            vec![("$.params.url", "too_long")],
        ),
        (
            2,
            json!({ "metadata_hash": "c2hvcnQ=" }),
            vec![("$.params.metadata_hash", "invalid_hash")],
        ),
        // asa-nft
        (
            3,
            json!({ "total": "2" }),
            vec![("$.params.total", "nft_total")],
        ),
        (
            3,
            json!({ "decimals": 1 }),
            vec![
                ("$.params.decimals", "nft_decimals"),
                ("$.params.total", "nft_total"),
            ],
        ),
        // asa-fnft
        (
            4,
            json!({ "total": "2" }),
            vec![("$.params.total", "fnft_total")],
        ),
        (
            4,
            json!({ "decimals": 0 }),
            vec![("$.params.decimals", "fnft_decimals")],
        ),
        // arc3-ft
        (
            5,
            json!({ "url": "https://example.com/meta.json" }),
            vec![("$.params.url", "arc3_not_marked")],
        ),
        (
            5,
            json!({ "url": "http://example.com/meta.json#arc3" }),
            vec![("$.params.url", "url_scheme")],
        ),
        // arc3-nft
        (
            6,
            json!({ "metadata": { "name": "x", "image": "https://example.com/a.png", "image_integrity": "md5-abc" } }),
            vec![("$.params.metadata.image_integrity", "invalid_integrity")],
        ),
        (
            6,
            json!({ "metadata": null }),
            vec![("$.params.metadata", "required")],
        ),
        // arc3-fnft
        (
            7,
            json!({ "metadata": { "name": "x", "decimals": 5 } }),
            vec![("$.params.metadata.decimals", "decimals_mismatch")],
        ),
        // arc200-mintable
        (
            8,
            json!({ "symbol": "TOOLONGSYM" }),
            vec![("$.params.symbol", "too_long")],
        ),
        (
            8,
            json!({ "receiver": EVM }),
            vec![("$.params.receiver", "invalid_address")],
        ),
        // arc200-preminted
        (
            9,
            json!({ "name": "n".repeat(33) }),
            vec![("$.params.name", "too_long")],
        ),
        (
            9,
            json!({ "total_supply": null }),
            vec![("$.params.total_supply", "required")],
        ),
        // security-token
        (
            10,
            json!({ "partitions": ["a", "a"] }),
            vec![("$.params.partitions[1]", "duplicate")],
        ),
        (
            10,
            json!({ "documents": [{ "name": "P", "uri": "ftp://x/y", "sha256": "zz" }] }),
            vec![
                ("$.params.documents[0].uri", "url_scheme"),
                ("$.params.documents[0].sha256", "invalid_hash"),
            ],
        ),
        (
            10,
            json!({ "whitelist_only": "yes" }),
            vec![("$.params.whitelist_only", "wrong_type")],
        ),
    ]
}

async fn invalid_inputs_get_exactly_their_codes_and_paths(env: &TestEnv) {
    let (token, _) = user(env).await;
    let drafts = valid_drafts();
    for (index, change, expected) in invalid_cases() {
        let mut draft = drafts[index].clone();
        for (key, value) in change.as_object().unwrap() {
            draft["params"][key] = value.clone();
        }
        let report = validate(env, &token, &draft).await;
        let found: Vec<(String, String)> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|issue| {
                assert_eq!(issue["severity"], "error");
                assert!(!issue["message"].as_str().unwrap().is_empty());
                (
                    issue["path"].as_str().unwrap().to_string(),
                    issue["code"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        assert_eq!(found, expected, "{}: {change}", draft["standard"]);
        assert_eq!(report["valid"], false);
    }
    // Draft-level problems.
    let mut wrong_network = drafts[2].clone();
    wrong_network["network"] = json!("base-mainnet");
    let report = validate(env, &token, &wrong_network).await;
    assert_eq!(report["errors"][0]["path"], "$.network");
    assert_eq!(report["errors"][0]["code"], "network_family_mismatch");
    let report = validate(
        env,
        &token,
        &json!({ "standard": "erc-1155", "network": "nowhere", "params": {} }),
    )
    .await;
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["unknown_standard", "unknown_network"]);
}

async fn risky_choices_get_warnings(env: &TestEnv) {
    let (token, _) = user(env).await;
    let mut mintable = valid_drafts()[0].clone();
    mintable["params"].as_object_mut().unwrap().remove("cap");
    let report = validate(env, &token, &mintable).await;
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"][0]["code"], "no_cap");
    assert_eq!(report["warnings"][0]["severity"], "warning");
    let mut asa = valid_drafts()[2].clone();
    asa["params"].as_object_mut().unwrap().remove("freeze");
    asa["params"].as_object_mut().unwrap().remove("clawback");
    let report = validate(env, &token, &asa).await;
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"][0]["code"], "uncontrollable_asa");
}

async fn drafts_are_stored_with_optimistic_concurrency(env: &TestEnv) {
    let (token, _) = user(env).await;
    let mut draft = valid_drafts()[2].clone();
    draft["params"]["total"] = json!("1.001");
    // Saved while invalid, with its validation result.
    let (status, _, saved) = env
        .call("POST", "/v1/drafts", Some(&token), Some(&draft), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(saved["validation"]["valid"], false);
    let id = saved["id"].as_str().unwrap().to_string();
    let path = format!("/v1/drafts/{id}");

    draft["params"]["total"] = json!("1.5");
    let (status, _, body) = env
        .call("PUT", &path, Some(&token), Some(&draft), None)
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(body["error"]["code"], "VERSION_REQUIRED");
    let (status, headers, updated) = env
        .call("PUT", &path, Some(&token), Some(&draft), Some("\"1\""))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(headers["etag"], "\"2\"");
    assert_eq!(updated["validation"]["valid"], true);
    // A writer still holding version 1 is refused and told the current version.
    let (status, _, body) = env
        .call("PUT", &path, Some(&token), Some(&draft), Some("\"1\""))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "DRAFT_VERSION_CONFLICT");
    assert_eq!(body["error"]["details"]["current_version"], 2);

    let (status, _, fetched) = env.call("GET", &path, Some(&token), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["draft"]["params"]["total"], "1.5");
    let (status, _, _) = env
        .call("DELETE", &path, Some(&token), None, Some("\"1\""))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = env
        .call("DELETE", &path, Some(&token), None, Some("\"2\""))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = env.call("GET", &path, Some(&token), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "DRAFT_NOT_FOUND");
}

async fn drafts_page_newest_first_and_stay_private(env: &TestEnv) {
    let (token, _) = user(env).await;
    let (other, _) = user(env).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut draft = valid_drafts()[2].clone();
        draft["params"]["asset_name"] = json!(format!("Draft {n}"));
        let (_, _, saved) = env
            .call("POST", "/v1/drafts", Some(&token), Some(&draft), None)
            .await;
        ids.push(saved["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/drafts?limit=2&cursor={c}"),
            None => "/v1/drafts?limit=2".to_string(),
        };
        let (status, _, page) = env.call("GET", &path, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for draft in page["drafts"].as_array().unwrap() {
            seen.push(draft["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    // Another user sees none of them, and each id is a 404 for them.
    let (_, _, page) = env
        .call("GET", "/v1/drafts", Some(&other), None, None)
        .await;
    assert_eq!(page["drafts"], json!([]));
    let path = format!("/v1/drafts/{}", ids[0]);
    for method in ["GET", "DELETE"] {
        let (status, _, _) = env
            .call(method, &path, Some(&other), None, Some("\"1\""))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
    }
    let (status, _, _) = env
        .call(
            "PUT",
            &path,
            Some(&other),
            Some(&valid_drafts()[2]),
            Some("\"1\""),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = env
        .call("GET", "/v1/drafts/not-a-draft-id", Some(&token), None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = env
        .call("GET", "/v1/drafts?limit=0", Some(&token), None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn the_catalogue_lists_every_standard_with_its_networks(env: &TestEnv) {
    let response = env
        .client
        .get(env.server.url("/v1/standards"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let catalogue: Value = response.json().await.unwrap();
    let standards = catalogue["standards"].as_array().unwrap();
    assert_eq!(standards.len(), 11);
    let asa = standards.iter().find(|s| s["id"] == "asa-ft").unwrap();
    let unit = asa["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "unit_name")
        .unwrap();
    assert_eq!(unit["type"], "text");
    assert_eq!(unit["max_bytes"], 8);
    assert!(
        asa["networks"]
            .as_array()
            .unwrap()
            .contains(&json!("algorand-mainnet"))
    );
    assert!(
        !asa["networks"]
            .as_array()
            .unwrap()
            .contains(&json!("base-mainnet"))
    );
    let erc20 = standards
        .iter()
        .find(|s| s["id"] == "erc20-mintable")
        .unwrap();
    let decimals = erc20["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "decimals")
        .unwrap();
    assert_eq!(decimals["max"], 18);
    assert_eq!(decimals["presence"]["when_absent"], "default");
    assert_eq!(decimals["presence"]["value"], 18);
    assert_eq!(erc20["rules"][0]["id"], "cap_at_least_initial_supply");
}

async fn arc3_metadata_is_stored_and_served_byte_for_byte(env: &TestEnv) {
    use base64::Engine;
    use sha2::Digest;
    let (token, _) = user(env).await;
    let draft = valid_drafts()[6].clone(); // arc3-nft, no URL given
    let (status, _, saved) = env
        .call("POST", "/v1/drafts", Some(&token), Some(&draft), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let resolved = &saved["validation"]["resolved"];
    let url = resolved["url"].as_str().unwrap();
    assert!(url.starts_with(&env.server.base_url), "{url}");
    assert!(url.ends_with("#arc3") && url.len() <= 96, "{url}");
    let hash = resolved["metadata_hash"].as_str().unwrap();
    assert_eq!(resolved["metadata"]["metadata_hash"], hash);

    // Anyone can follow the URL; the bytes served are exactly what the hash covers.
    let response = env
        .client
        .get(url.trim_end_matches("#arc3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = response.bytes().await.unwrap();
    let digest = sha2::Sha256::digest(&bytes);
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(digest),
        hash
    );
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served["name"], "Harbour Pass");
    assert_eq!(served["decimals"], 0);

    let response = env
        .client
        .get(env.server.url("/v1/metadata/not-a-content-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let unknown = "A".repeat(43);
    let response = env
        .client
        .get(env.server.url(&format!("/v1/metadata/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A metadata hash that does not match the metadata is refused.
    let mut wrong = draft.clone();
    wrong["params"]["metadata_hash"] =
        json!(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let report = validate(env, &token, &wrong).await;
    assert_eq!(report["errors"][0]["code"], "metadata_hash_mismatch");
}

on_both_families!(
    every_standard_can_be_drafted_valid,
    invalid_inputs_get_exactly_their_codes_and_paths,
    risky_choices_get_warnings,
    drafts_are_stored_with_optimistic_concurrency,
    drafts_page_newest_first_and_stay_private,
    the_catalogue_lists_every_standard_with_its_networks,
    arc3_metadata_is_stored_and_served_byte_for_byte,
);
