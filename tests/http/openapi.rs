#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The OpenAPI document (`GET /v1/openapi.json`) against the API it describes: it is valid
//! OpenAPI 3.1 (openapi-spec-validator) and every example in it fits its schema, the page at
//! `/v1/docs` shows every route, and schemathesis fuzzes a local server on the devnets with a
//! signed-in user, checking that no answer is a server error and every answer matches the
//! schema of its status. The Python tools come from `.venv` (scripts/requirements.txt, which
//! scripts/test installs); without them these tests fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::api::ROUTES;
use walletless_tests::chains::{
    self, User, closed_port, environment, every_standard, faucet, new_user, pass_compliance,
    request_deployment, save_draft,
};
use walletless_tests::family::TestEnv;

/// Fuzzed cases per operation and phase: enough to reach each operation's validation and
/// error paths, few enough that the run takes well under two minutes on two cores. Set
/// `WALLETLESS_SCHEMATHESIS_MAX_EXAMPLES` to fuzz longer.
const MAX_EXAMPLES: &str = "25";
/// Fixed, so that a failure reproduces (schemathesis prints how); set
/// `WALLETLESS_SCHEMATHESIS_SEED` to explore other inputs.
const SEED: &str = "20261129";

fn setting(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_string())
}

/// A tool installed into `.venv` from scripts/requirements.txt.
fn venv_tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: these tests need the Python tools of scripts/requirements.txt in .venv \
         (scripts/test installs them; or run `python3 -m venv .venv && .venv/bin/pip install -r \
         scripts/requirements.txt`)",
        path.display()
    );
    path
}

/// Runs a blocking command off the async runtime (the server under test runs on it).
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the tool runs"))
        .await
        .unwrap()
}

fn report(output: &Output) -> String {
    format!(
        "exit status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Validates the document (OpenAPI 3.1 rules and JSON Schema 2020-12 schemas), then checks
/// every example, request and response, against the schema beside it.
const VALIDATE_DOCUMENT: &str = r##"
import json, sys
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

document = json.load(open(sys.argv[1]))
validate(document)
registry = Registry().with_resource(
    "urn:document", Resource.from_contents(document, default_specification=DRAFT202012))

def schema_of(content):
    # Local references resolve against the document.
    text = json.dumps(content.get("schema", {}))
    return json.loads(text.replace('"#/components/', '"urn:document#/components/'))

problems, checked = [], 0
for path, item in document["paths"].items():
    for method, operation in item.items():
        contents = [("request", c) for c in operation.get("requestBody", {}).get("content", {}).values()]
        for status, response in operation["responses"].items():
            contents += [(status, c) for c in response.get("content", {}).values()]
        for label, content in contents:
            examples = [("example", content["example"])] if "example" in content else []
            examples += [(name, e["value"]) for name, e in content.get("examples", {}).items()]
            validator = Draft202012Validator(schema_of(content), registry=registry)
            for name, example in examples:
                checked += 1
                for error in validator.iter_errors(example):
                    problems.append(f"{method.upper()} {path} {label} {name}: {error.message} at {list(error.absolute_path)}")
print("\n".join(problems))
print(f"valid OpenAPI {document['openapi']}; {checked} examples checked, {len(problems)} off their schema")
sys.exit(1 if problems or checked == 0 else 0)
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_3_1_and_the_page_shows_every_route() {
    let python = venv_tool("python");
    let env = TestEnv::embedded().await;
    let (status, headers, document) = env.get("/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(document["openapi"], "3.1.0");
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, ROUTES.len());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let mut command = Command::new(&python);
    command.arg("-c").arg(VALIDATE_DOCUMENT).arg(&file);
    let output = run(command).await;
    assert!(output.status.success(), "{}", report(&output));

    let (status, headers, page) = env.get("/v1/docs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let page = page.as_str().unwrap();
    for route in ROUTES {
        assert!(
            page.contains(&format!("id=\"{}\"", route.id)),
            "{}",
            route.id
        );
    }
}

/// Objects of every kind the `{id}` routes name, so that the fuzzing reaches their success
/// answers too (half of the generated ids are these, half anything).
struct Fixtures {
    draft: String,
    deployment: String,
    webhook: String,
    export: String,
    metadata: String,
}

async fn poll_until(env: &TestEnv, user: &User, path: &str, done: impl Fn(&Value) -> bool) {
    let started = Instant::now();
    loop {
        let (status, _, body) = env.get(path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{path}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fixtures(env: &TestEnv, user: &User) -> Fixtures {
    let (status, body) = env
        .post(
            "/v1/webhooks",
            Some(&user.token),
            json!({ "url": format!("http://127.0.0.1:{}/hook", closed_port()),
                    "event_types": walletless::webhooks::event_types() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let webhook = body["id"].as_str().unwrap().to_string();

    let (status, body) = faucet(env, user, "algorand-devnet", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let drafts = every_standard(user);
    let asa = drafts.iter().find(|d| d["standard"] == "asa-ft").unwrap();
    let draft = save_draft(env, user, asa.clone()).await;
    pass_compliance(env, user, &draft).await;
    let (status, body) = request_deployment(env, user, &draft, "openapi-fixture").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let deployment = body["deployment"]["id"].as_str().unwrap().to_string();
    poll_until(env, user, &format!("/v1/deployments/{deployment}"), |d| {
        assert_ne!(d["status"], "failed", "{d}");
        d["status"] == "completed"
    })
    .await;

    let arc3 = drafts.iter().find(|d| d["standard"] == "arc3-ft").unwrap();
    let (status, saved) = env
        .post("/v1/drafts", Some(&user.token), arc3.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let url = saved["validation"]["resolved"]["url"].as_str().unwrap();
    let metadata = url
        .strip_prefix(chains::METADATA_BASE_URL)
        .and_then(|rest| rest.strip_suffix("#arc3"))
        .unwrap_or_else(|| panic!("{url}"))
        .to_string();

    let (status, body) = env
        .post(
            "/v1/audit/exports",
            Some(&user.token),
            json!({ "format": "csv" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let export = body["id"].as_str().unwrap().to_string();
    poll_until(env, user, &format!("/v1/audit/exports/{export}"), |e| {
        e["status"] == "completed"
    })
    .await;
    Fixtures {
        draft,
        deployment,
        webhook,
        export,
        metadata,
    }
}

/// Schemathesis's configuration: which operations get which fixture as `{id}`.
fn schemathesis_config(fixtures: &Fixtures) -> String {
    let bindings = [
        (
            "drafts",
            &fixtures.draft,
            &[
                "get-draft",
                "update-draft",
                "run-compliance",
                "get-compliance",
            ][..],
        ),
        (
            "deployments",
            &fixtures.deployment,
            &["get-deployment", "cancel-deployment", "retry-deployment"],
        ),
        ("webhooks", &fixtures.webhook, &["list-webhook-deliveries"]),
        ("exports", &fixtures.export, &["get-audit-export"]),
        ("metadata", &fixtures.metadata, &["get-metadata"]),
    ];
    let mut config = String::new();
    for (name, id, _) in &bindings {
        config.push_str(&format!("[dictionaries.{name}]\nvalues = [\"{id}\"]\n\n"));
    }
    for (name, _, operations) in &bindings {
        let operations: Vec<String> = operations.iter().map(|id| format!("\"{id}\"")).collect();
        config.push_str(&format!(
            "[[operations]]\ninclude-operation-id = [{}]\n\
             parameters = {{ \"path.id\" = {{ dictionary = \"{name}\", probability = 0.5 }} }}\n\n",
            operations.join(", ")
        ));
    }
    config
}

/// Every operation is fuzzed, `delete-webhook` and `delete-draft` included: their fixtures
/// are not bound to them, so the objects the other operations need stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_its_schema() {
    let schemathesis = venv_tool("schemathesis");
    let (env, _networks) = environment().await;
    let user = new_user(&env).await;
    let fixtures = fixtures(&env, &user).await;

    // Its working directory is a temporary one: nothing it writes lands in the checkout.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config(&fixtures)).unwrap();
    let mut command = Command::new(&schemathesis);
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(env.server.url("/v1/openapi.json"))
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .arg("--max-examples")
        .arg(setting(
            "WALLETLESS_SCHEMATHESIS_MAX_EXAMPLES",
            MAX_EXAMPLES,
        ))
        .arg("--seed")
        .arg(setting("WALLETLESS_SCHEMATHESIS_SEED", SEED))
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", user.token));
    let started = Instant::now();
    let output = run(command).await;
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "schemathesis failed:\n{}",
        report(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Every operation of the document was run (the document's own route is not fuzzed).
    let tested = format!("Tested: {}", ROUTES.len() - 1);
    assert!(stdout.contains(&tested), "expected `{tested}`:\n{stdout}");
    println!("schemathesis took {took:?}:\n{stdout}");
}
