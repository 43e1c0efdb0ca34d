//! The local server through real HTTP: health with every dependency, the network registry,
//! the JSON error shape, signed archive links, and startup refusals. Embedded first; the AWS
//! family on the moto server at the end.

use reqwest::StatusCode;
use serde_json::Value;
use walletless::adapters::embedded::dir_archive::DirArchive;
use walletless::config::vars;
use walletless::ports::Archive;
use walletless_tests::server::TestServer;

async fn get_json(url: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap();
    (status, headers, body)
}

/// Every dependency the health route checks answered.
fn assert_every_dependency_ok(body: &Value) {
    for dependency in [
        "records",
        "key_vault",
        "step_queue",
        "webhook_queue",
        "audit_export_queue",
        "archive",
    ] {
        assert_eq!(body["dependencies"][dependency]["ok"], true, "{body}");
    }
}

#[tokio::test]
async fn health_is_ok_with_every_embedded_dependency_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    let (status, headers, body) = get_json(&server.url("/v1/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_every_dependency_ok(&body);
    assert!(headers.contains_key("x-request-id"));
    // First run created the master key, owner-only.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn health_is_503_naming_the_dependency_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    // The master key disappears under a running server: the key vault is no longer usable.
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let (status, headers, body) = get_json(&server.url("/v1/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], "DEPENDENCY_UNAVAILABLE");
    assert_eq!(error["retryable"], true);
    assert_eq!(
        error["details"]["failing"],
        serde_json::json!(["key_vault"])
    );
    assert_eq!(error["details"]["dependencies"]["records"]["ok"], true);
    assert_eq!(
        error["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn networks_lists_the_configured_registry() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    let (status, _, body) = get_json(&server.url("/v1/networks")).await;
    assert_eq!(status, StatusCode::OK);
    let networks = body["networks"].as_array().unwrap();
    let ids: Vec<&str> = networks.iter().map(|n| n["id"].as_str().unwrap()).collect();
    for id in [
        "algorand-mainnet",
        "algorand-testnet",
        "algorand-betanet",
        "voi-mainnet",
        "aramid-mainnet",
        "base-mainnet",
        "base-sepolia",
        "algorand-devnet",
        "evm-devnet",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // Each with a live probe of its node (public nodes are out of reach here: any status).
    for network in networks {
        let status = network["health"]["status"].as_str().unwrap();
        assert!(
            ["ok", "unreachable", "mismatch", "error"].contains(&status),
            "{network}"
        );
    }
    let mainnet = &networks[ids.iter().position(|id| *id == "algorand-mainnet").unwrap()];
    assert_eq!(mainnet["kind"], "algorand");
    assert_eq!(
        mainnet["genesis_hash"],
        "wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8="
    );
    let base = &networks[ids.iter().position(|id| *id == "base-mainnet").unwrap()];
    assert_eq!(base["kind"], "evm");
    assert_eq!(base["chain_id"], 8453);
}

#[tokio::test]
async fn a_networks_file_replaces_the_built_in_registry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("networks.toml");
    std::fs::write(
        &file,
        "[[network]]\nid = \"only-one\"\nname = \"Only\"\nkind = \"evm\"\ntestnet = true\n\
         chain_id = 31337\nrpc_url = \"http://127.0.0.1:8545\"\nmax_fee_per_gas_wei = 1\nconfirmations = 2\n",
    )
    .unwrap();
    let data = dir.path().join("data").display().to_string();
    let server = TestServer::start(&[
        (vars::DATA_DIR, &data),
        (vars::NETWORKS_FILE, &file.display().to_string()),
    ])
    .await
    .unwrap();
    let (_, _, body) = get_json(&server.url("/v1/networks")).await;
    assert_eq!(body["networks"].as_array().unwrap().len(), 1);
    assert_eq!(body["networks"][0]["confirmations"], 2);
}

#[tokio::test]
async fn an_invalid_networks_file_stops_startup_naming_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("networks.toml");
    std::fs::write(
        &file,
        "[[network]]\nid = \"x\"\nname = \"X\"\nkind = \"algorand\"\ntestnet = true\n\
         genesis_id = \"g\"\ngenesis_hash = \"short\"\nalgod_url = \"http://127.0.0.1:1\"\n\
         confirmations = 1\n",
    )
    .unwrap();
    let data = dir.path().join("data").display().to_string();
    let error = TestServer::start(&[
        (vars::DATA_DIR, &data),
        (vars::NETWORKS_FILE, &file.display().to_string()),
    ])
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("line 7"), "{error}");
    assert!(error.contains("genesis_hash"), "{error}");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_json_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    let (status, _, body) = get_json(&server.url("/v1/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "ROUTE_NOT_FOUND");
    assert!(body["error"]["request_id"].as_str().unwrap().len() >= 20);

    let response = reqwest::Client::new()
        .delete(server.url("/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn archive_links_download_until_they_expire_and_refuse_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::embedded(dir.path()).await.unwrap();
    // The server's own archive: same directory and link key.
    let archive = DirArchive::open(
        &dir.path().join("archive"),
        &dir.path().join("archive-link.key"),
        server.base_url.parse().unwrap(),
    )
    .unwrap();
    archive
        .put(
            "tenant/u1/exports/e1.csv",
            b"a,b\n1,2\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let link = archive
        .download_url(
            "tenant/u1/exports/e1.csv",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(link.starts_with(&server.base_url), "{link}");

    let response = reqwest::get(&link).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"a,b\n1,2\n");

    // Another object under the same signature, or a changed expiry: refused.
    for tampered in [
        link.replace("e1.csv", "e2.csv"),
        link.replace("expires=", "expires=9"),
        link.split("&signature=").next().unwrap().to_string(),
    ] {
        let response = reqwest::get(&tampered).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{tampered}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "ARCHIVE_LINK_INVALID");
    }
}

mod aws {
    use super::*;
    use walletless_tests::aws::{aws_env, provision_all};

    async fn start(env: &[(&'static str, String)]) -> anyhow::Result<TestServer> {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        TestServer::start(&pairs).await
    }

    #[tokio::test]
    async fn health_is_ok_on_the_emulator() {
        let resources = provision_all().await;
        let server = start(&aws_env(&resources)).await.unwrap();
        let (status, _, body) = get_json(&server.url("/v1/health")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_every_dependency_ok(&body);
        let (status, _, _) = get_json(&server.url("/v1/networks")).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_missing_table_stops_startup_naming_it() {
        let resources = provision_all().await;
        let mut env = aws_env(&resources);
        for (var, value) in &mut env {
            if *var == vars::RECORDS_TABLE {
                *value = "no-such-table".into();
            }
        }
        let error = start(&env).await.unwrap_err().to_string();
        assert!(error.contains("DynamoDB table no-such-table"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_variable_stops_startup_naming_it() {
        let resources = provision_all().await;
        let env: Vec<_> = aws_env(&resources)
            .into_iter()
            .filter(|(var, _)| *var != vars::STEP_QUEUE_URL)
            .collect();
        let error = start(&env).await.unwrap_err().to_string();
        assert!(
            error.contains("WALLETLESS_STEP_QUEUE_URL is not set"),
            "{error}"
        );
    }
}
