//! What the route table does not say about each route: its area, the meaning of its `{id}`,
//! its query parameters, request body and success answers with examples, and the links from
//! an answer to the operations that take what it returns.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use utoipa::openapi::header::Header;
use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, RefOr, Required, Schema, Type};

use super::{Schemas, header, schemas, string};
use crate::api::routes::Route;

/// What the route table does not say about a route: its area, parameters, body and answers.
pub(super) struct Spec {
    pub(super) tag: &'static str,
    /// What the `{id}` of the path names, for routes that have one.
    pub(super) id: Option<&'static str>,
    pub(super) query: Vec<Parameter>,
    pub(super) body: Option<(RefOr<Schema>, Value)>,
    pub(super) answers: Vec<Answer>,
}

/// One success answer.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) description: &'static str,
    pub(super) media_type: &'static str,
    pub(super) schema: RefOr<Schema>,
    pub(super) example: Option<Value>,
    pub(super) headers: Vec<(&'static str, Header)>,
    /// Operations that take what this answer returns (its id, its version): clients and
    /// schemathesis's stateful phase follow them.
    pub(super) links: Vec<(&'static str, Link)>,
}

impl Answer {
    fn json(
        status: StatusCode,
        description: &'static str,
        schema: RefOr<Schema>,
        example: Value,
    ) -> Self {
        Self {
            status,
            description,
            media_type: "application/json",
            schema,
            example: Some(example),
            headers: Vec::new(),
            links: Vec::new(),
        }
    }

    fn ok(description: &'static str, schema: RefOr<Schema>, example: Value) -> Self {
        Self::json(StatusCode::OK, description, schema, example)
    }

    fn with_header(mut self, name: &'static str, header: Header) -> Self {
        self.headers.push((name, header));
        self
    }

    /// Links to the operations that take the `{id}` this answer has at `id_pointer` (and,
    /// with a version, its `ETag` as `If-Match`).
    fn with_links(
        mut self,
        id_pointer: &str,
        targets: &[(&'static str, &'static str, bool)],
    ) -> Self {
        for (name, operation_id, versioned) in targets {
            let mut link = LinkBuilder::new()
                .operation_id(*operation_id)
                .parameter("path.id", format!("$response.body#{id_pointer}"));
            if *versioned {
                link = link.parameter("header.If-Match", "$response.header.ETag");
            }
            self.links.push((name, link.build()));
        }
        self
    }

    /// A link to `create-deployment` with this answer's draft id in its body.
    fn with_deploy_link(mut self) -> Self {
        let link = LinkBuilder::new()
            .operation_id("create-deployment")
            .request_body(Some(json!({"draft_id": "$response.body#/id"})))
            .build();
        self.links.push(("DeployDraft", link));
        self
    }
}

/// The operations that take a draft's id (and version).
const DRAFT_LINKS: &[(&str, &str, bool)] = &[
    ("GetDraft", "get-draft", false),
    ("UpdateDraft", "update-draft", true),
    ("DeleteDraft", "delete-draft", true),
    ("RunCompliance", "run-compliance", false),
    ("GetCompliance", "get-compliance", false),
];

pub(super) fn spec_of(tag: &'static str, answers: Vec<Answer>) -> Spec {
    Spec {
        tag,
        id: None,
        query: Vec::new(),
        body: None,
        answers,
    }
}

impl Spec {
    fn id(mut self, description: &'static str) -> Self {
        self.id = Some(description);
        self
    }

    fn body(mut self, schema: RefOr<Schema>, example: Value) -> Self {
        self.body = Some((schema, example));
        self
    }

    fn query(mut self, parameters: Vec<Parameter>) -> Self {
        self.query = parameters;
        self
    }
}

fn etag() -> Header {
    header(
        Type::String,
        "The draft's version, quoted (`\"3\"`): send it in `If-Match` to change the draft.",
    )
}

fn limit(max: u64, default: u64) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .default(Some(json!(default)))
        .into()
}

fn query_param(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn cursor() -> Parameter {
    query_param(
        "cursor",
        "The `next_cursor` of the previous page.",
        string().min_length(Some(1)),
    )
}

fn time_param(name: &str, description: &str) -> Parameter {
    query_param(
        name,
        description,
        string()
            .min_length(Some(1))
            .description(Some("RFC 3339, or milliseconds since the Unix epoch")),
    )
}

/// The `POST` routes that read no body (their path names what they act on).
const BODY_FREE: &[&str] = &[
    "logout",
    "run-compliance",
    "cancel-deployment",
    "retry-deployment",
];

/// Whether the route reads a JSON body.
pub(super) fn takes_body(route: &Route) -> bool {
    (route.method == Method::POST || route.method == Method::PUT) && !BODY_FREE.contains(&route.id)
}

/// The query parameters each route reads (the handlers read no others).
pub(super) fn query_names(route_id: &str) -> &'static [&'static str] {
    match route_id {
        "list-drafts" => &["limit", "cursor"],
        "list-deployments" => &[
            "status", "standard", "network", "since", "until", "limit", "cursor",
        ],
        "list-audit-events" => &[
            "event_type",
            "subject_kind",
            "subject_id",
            "from",
            "to",
            "limit",
            "cursor",
        ],
        _ => &[],
    }
}

const EXAMPLE_USER: &str = "01JDQ4ZK8Z6Q3W5V7X9Y2B4C6D";
const EXAMPLE_ALGORAND: &str = "AIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBMXPWWNQ";
const EXAMPLE_EVM: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const EXAMPLE_DRAFT: &str = "01JDQ5A3M4N5P6Q7R8S9T0V1W2";
const EXAMPLE_DEPLOYMENT: &str = "01JDQ5K7C8D9E0F1G2H3J4K5M6";
const EXAMPLE_HASH: &str = "9f2c4e0b3a5d7f8e1c6b4a2d0e9f8c7b6a5d4e3f2c1b0a9f8e7d6c5b4a3f2e1d";

fn example_profile() -> Value {
    json!({
        "user_id": EXAMPLE_USER,
        "email": "ada@example.com",
        "display_name": "Ada",
        "algorand_address": EXAMPLE_ALGORAND,
        "evm_address": EXAMPLE_EVM,
        "created_at": "2026-11-29T10:00:00Z",
    })
}

fn example_tokens() -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMUpEUTRaSzhaNlEzVzVWN1g5WTJCNEM2RCJ9.c2lnbmF0dXJl",
        "expires_in": 900,
        "refresh_token": "rt_4q9V2mYp7Xz0Kc3LbN8sWd1Hf6Jg5Te",
    })
}

fn example_signed_in() -> Value {
    let mut body = example_tokens();
    body["user_id"] = json!(EXAMPLE_USER);
    body["algorand_address"] = json!(EXAMPLE_ALGORAND);
    body["evm_address"] = json!(EXAMPLE_EVM);
    body["user"] = example_profile();
    body
}

fn example_draft_request() -> Value {
    json!({
        "standard": "asa-ft",
        "network": "algorand-testnet",
        "params": {
            "asset_name": "Harbour Coin",
            "unit_name": "HBR",
            "total": "1000000",
            "decimals": 2,
        },
    })
}

fn example_validation() -> Value {
    json!({
        "valid": true,
        "errors": [],
        "warnings": [{
            "path": "$.params",
            "code": "asa_uncontrollable",
            "message": "a fungible ASA with neither a clawback nor a freeze address cannot be controlled later",
            "severity": "warning",
        }],
        "resolved": {
            "asset_name": "Harbour Coin",
            "unit_name": "HBR",
            "total": "1000000",
            "total_base_units": "100000000",
            "decimals": 2,
            "manager": EXAMPLE_ALGORAND,
        },
    })
}

fn example_draft() -> Value {
    json!({
        "id": EXAMPLE_DRAFT,
        "version": 1,
        "draft": example_draft_request(),
        "validation": example_validation(),
        "created_at": "2026-11-29T10:05:00Z",
        "updated_at": "2026-11-29T10:05:00Z",
    })
}

fn example_deployment() -> Value {
    json!({
        "id": EXAMPLE_DEPLOYMENT,
        "draft_id": EXAMPLE_DRAFT,
        "draft_version": 1,
        "standard": "asa-ft",
        "network": "algorand-testnet",
        "status": "completed",
        "attempt": 1,
        "transaction_ids": ["TXA2K6QZ4M3L7N5P2R8S9T1V3W5X7Y9Z2B4C6D8F0H2J4K6M8N0Q"],
        "result": {
            "network": "algorand-testnet",
            "standard": "asa-ft",
            "asset_id": 730_541_876,
            "transactions": [{
                "stage": "create_asset",
                "id": "TXA2K6QZ4M3L7N5P2R8S9T1V3W5X7Y9Z2B4C6D8F0H2J4K6M8N0Q",
                "confirmed_in": 52_314_877,
                "explorer_url": "https://testnet.explorer.perawallet.app/tx/TXA2K6QZ4M3L7N5P2R8S9T1V3W5X7Y9Z2B4C6D8F0H2J4K6M8N0Q",
            }],
        },
        "timeline": [
            {"at_ms": 1_764_410_700_000_i64, "from": null, "to": "queued", "reason": "accepted", "attempt": 1, "since_previous_ms": 0},
            {"at_ms": 1_764_410_701_200_i64, "from": "queued", "to": "submitted", "reason": "transactions_sent", "attempt": 1,
             "transaction_ids": ["TXA2K6QZ4M3L7N5P2R8S9T1V3W5X7Y9Z2B4C6D8F0H2J4K6M8N0Q"], "since_previous_ms": 1200},
            {"at_ms": 1_764_410_704_900_i64, "from": "submitted", "to": "completed", "reason": "token_verified", "attempt": 1, "since_previous_ms": 3700},
        ],
        "created_at_ms": 1_764_410_700_000_i64,
        "updated_at_ms": 1_764_410_704_900_i64,
    })
}

fn example_subscription(with_secret: bool) -> Value {
    let mut body = json!({
        "id": "01JDQ6B1C2D3E4F5G6H7J8K9M0",
        "url": "https://hooks.example.com/walletless",
        "event_types": ["deployment.completed", "deployment.failed"],
        "created_at_ms": 1_764_410_000_000_i64,
    });
    if with_secret {
        body["secret"] = json!("whsec_6u1LZ0t9c3lq8Xb2Vn5Ky7Rd4Hs0Wp1M");
    }
    body
}

fn example_audit_event() -> Value {
    json!({
        "tenant": EXAMPLE_USER,
        "sequence": 7,
        "at_ms": 1_764_410_700_000_i64,
        "actor": format!("user:{EXAMPLE_USER}"),
        "event_type": "deployment.transition",
        "subject": {"kind": "deployment", "id": EXAMPLE_DEPLOYMENT},
        "request_id": "01JDQ5K7BZ0000000000000000",
        "correlation_id": "checkout-4711",
        "payload": {"from": null, "to": "queued", "reason": "accepted"},
        "previous_hash": "3b8f0c1d2e4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c",
        "hash": EXAMPLE_HASH,
    })
}

fn example_export(completed: bool) -> Value {
    let id = "01JDQ7C2D3E4F5G6H7J8K9M0N1";
    let file = format!("tenants/{EXAMPLE_USER}/audit-exports/{id}.csv");
    let filters = json!({
        "event_type": "deployment.transition",
        "subject_kind": null,
        "subject_id": null,
        "from_ms": 1_764_374_400_000_i64,
        "to_ms": null,
    });
    let mut body = json!({
        "id": id,
        "format": "csv",
        "filters": filters,
        "status": if completed { "completed" } else { "queued" },
        "up_to_sequence": 42,
        "file": file,
        "created_at_ms": 1_764_411_000_000_i64,
        "correlation_id": "checkout-4711",
    });
    if completed {
        body["completed_at_ms"] = json!(1_764_411_002_500_i64);
        body["manifest"] = json!({
            "manifest_version": 1,
            "export_id": id,
            "tenant": EXAMPLE_USER,
            "format": "csv",
            "filters": filters,
            "created_at_ms": 1_764_411_000_000_i64,
            "file": file,
            "count": 12,
            "first_sequence": 3,
            "first_hash": EXAMPLE_HASH,
            "last_sequence": 41,
            "last_hash": EXAMPLE_HASH,
            "sha256": EXAMPLE_HASH,
            "bytes": 5321,
        });
        body["download_url"] = json!(format!("https://archive.example.com/{file}?signature=…"));
        body["manifest_url"] = json!(format!(
            "https://archive.example.com/{file}.manifest.json?signature=…"
        ));
        body["links_expire_in_s"] = json!(900);
    }
    body
}

fn example_report() -> Value {
    json!({
        "report_id": "01JDQ5F0A1B2C3D4E5F6G7H8J9",
        "draft_id": EXAMPLE_DRAFT,
        "draft_version": 1,
        "ruleset_version": crate::compliance::rules::RULESET_VERSION,
        "standard": "asa-ft",
        "network": "algorand-testnet",
        "results": [{
            "rule_id": "issuer-identified",
            "status": "warn",
            "blocking": true,
            "message": "the issuer's legal name and country are missing",
            "remediation": "Add compliance.issuer with legal_name and country.",
            "reference": "MiCA Art. 6",
        }],
        "summary": {"pass": 9, "warn": 1, "fail": 0, "not_applicable": 4, "blocking_failures": 0},
        "checksum": EXAMPLE_HASH,
        "created_at": "2026-11-29T10:06:00Z",
        "disclaimer": crate::compliance::rules::DISCLAIMER,
    })
}

/// The route's area, parameters, body and success answers. Every route of the table has one
/// (a test checks it); `None` would document a route without its answers.
pub(super) fn spec(route_id: &str, s: &mut Schemas) -> Option<Spec> {
    let deleted = |s: &mut Schemas| {
        Answer::ok(
            "Deleted.",
            s.of::<schemas::Deleted>(),
            json!({"deleted": true}),
        )
    };
    let spec = match route_id {
        "health" => spec_of(
            "System",
            vec![Answer::ok(
                "Every dependency answers.",
                s.of::<schemas::Health>(),
                json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "dependencies": {
                    "records": {"ok": true, "latency_ms": 3},
                    "key_vault": {"ok": true, "latency_ms": 5},
                }}),
            )],
        ),
        "list-networks" => spec_of(
            "System",
            vec![Answer::ok(
                "The configured networks, each with a live probe of its node (cached 15 s).",
                s.of::<schemas::NetworkList>(),
                json!({"networks": [{
                    "id": "algorand-testnet", "name": "Algorand TestNet", "testnet": true,
                    "confirmations": 1, "dev_faucet": false,
                    "explorer_tx_url": "https://testnet.explorer.perawallet.app/tx/{txid}",
                    "kind": "algorand", "genesis_id": "testnet-v1.0",
                    "genesis_hash": "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=",
                    "algod_url": "https://testnet-api.algonode.cloud/",
                    "health": {"status": "ok", "checked_at": 1_764_410_000, "latency_ms": 42},
                }]}),
            )],
        ),
        "get-openapi" => spec_of(
            "System",
            vec![Answer::ok(
                "This document.",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("An OpenAPI 3.1 document"))
                    .into(),
                json!({"openapi": "3.1.0", "info": {"title": "walletless", "version": env!("CARGO_PKG_VERSION")}, "paths": {}}),
            )],
        ),
        "get-api-docs" => spec_of(
            "System",
            vec![Answer {
                status: StatusCode::OK,
                description: "The API reference as one self-contained HTML page.",
                media_type: "text/html; charset=utf-8",
                schema: string().into(),
                example: None,
                headers: Vec::new(),
                links: Vec::new(),
            }],
        ),
        "register" => spec_of(
            "Accounts",
            vec![Answer::json(
                StatusCode::CREATED,
                "Registered and signed in.",
                s.of::<schemas::SignedIn>(),
                example_signed_in(),
            )],
        )
        .body(
            s.of::<schemas::RegisterRequest>(),
            json!({"email": "ada@example.com", "password": "lunar cactus violin 42 drizzle", "display_name": "Ada"}),
        ),
        "login" => spec_of(
            "Accounts",
            vec![Answer::ok("Signed in.", s.of::<schemas::SignedIn>(), example_signed_in())],
        )
        .body(
            s.of::<schemas::LoginRequest>(),
            json!({"email": "ada@example.com", "password": "lunar cactus violin 42 drizzle"}),
        ),
        "refresh" => spec_of(
            "Accounts",
            vec![Answer::ok(
                "New tokens; the refresh token sent is spent.",
                s.of::<schemas::Tokens>(),
                example_tokens(),
            )],
        )
        .body(
            s.of::<schemas::RefreshRequest>(),
            json!({"refresh_token": "rt_4q9V2mYp7Xz0Kc3LbN8sWd1Hf6Jg5Te"}),
        ),
        "logout" => spec_of(
            "Accounts",
            vec![Answer::ok(
                "Every refresh token of the user is revoked.",
                s.of::<schemas::SignedOut>(),
                json!({"signed_out": true}),
            )],
        ),
        "change-password" => {
            let mut example = example_tokens();
            example["note"] = json!("Your accounts are unchanged. ARC-76 derivation with the new password now gives other addresses: recover these accounts with the key export, not by re-deriving.");
            spec_of(
                "Accounts",
                vec![Answer::ok(
                    "Changed; a new session (every other refresh token is revoked).",
                    s.of::<schemas::PasswordChanged>(),
                    example,
                )],
            )
            .body(
                s.of::<schemas::ChangePasswordRequest>(),
                json!({"current_password": "lunar cactus violin 42 drizzle", "new_password": "quiet harbour lantern 77 meadow"}),
            )
        }
        "me" => spec_of(
            "Accounts",
            vec![Answer::ok(
                "The signed-in user.",
                s.of::<crate::accounts::service::Profile>(),
                example_profile(),
            )],
        ),
        "key-export" => spec_of(
            "Accounts",
            vec![Answer::ok(
                "The keys (at most 3 exports an hour; each is in the audit trail).",
                s.of::<schemas::ExportedKeys>(),
                json!({
                    "algorand_address": EXAMPLE_ALGORAND,
                    "algorand_mnemonic": "abandon ability able about above absent absorb abstract absurd abuse access accident account accuse achieve acid acoustic acquire across act action actor actress actual abandon",
                    "evm_address": EXAMPLE_EVM,
                    "evm_private_key": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
                    "warning": "Anyone with these can move your assets. Store them offline; they are not shown in logs and cannot be revoked.",
                }),
            )],
        )
        .body(
            s.of::<schemas::KeyExportRequest>(),
            json!({"password": "lunar cactus violin 42 drizzle"}),
        ),
        "list-standards" => spec_of(
            "Drafts",
            vec![Answer::ok(
                "Every standard with its fields (types, limits, defaults), rules and networks.",
                s.of::<schemas::StandardCatalogue>(),
                json!({"standards": [{
                    "id": "asa-ft", "title": "Algorand Standard Asset, fungible", "family": "algorand",
                    "fields": [
                        {"name": "asset_name", "type": "text", "min_bytes": 1, "max_bytes": 32,
                         "presence": {"when_absent": "required"}, "description": "Asset name (an), at most 32 bytes"},
                        {"name": "decimals", "type": "decimals", "min": 0, "max": 19,
                         "presence": {"when_absent": "default", "value": 0}, "description": "Decimals"},
                    ],
                    "rules": [{"id": "controllable_asa", "description": "warning: a fungible ASA with neither a clawback nor a freeze address cannot be controlled later"}],
                    "networks": ["algorand-testnet", "algorand-mainnet"],
                }]}),
            )],
        ),
        "validate-draft" => spec_of(
            "Drafts",
            vec![Answer::ok(
                "The validation result: every problem at once (a 200 even when invalid).",
                s.of::<crate::drafts::validate::ValidationReport>(),
                example_validation(),
            )],
        )
        .body(s.of::<schemas::Draft>(), example_draft_request()),
        "create-draft" => spec_of(
            "Drafts",
            vec![
                Answer::json(
                    StatusCode::CREATED,
                    "Saved (even when invalid), with its validation result.",
                    s.of::<crate::drafts::service::DraftView>(),
                    example_draft(),
                )
                .with_header("ETag", etag())
                .with_links("/id", DRAFT_LINKS)
                .with_deploy_link(),
            ],
        )
        .body(s.of::<schemas::Draft>(), example_draft_request()),
        "list-drafts" => spec_of(
            "Drafts",
            vec![Answer::ok(
                "A page of your drafts, newest first.",
                s.of::<crate::drafts::service::DraftPage>(),
                json!({"drafts": [example_draft()], "next_cursor": null}),
            )],
        )
        .query(vec![
            query_param("limit", "Drafts per page.", limit(100, 20)),
            cursor(),
        ]),
        "get-draft" => spec_of(
            "Drafts",
            vec![
                Answer::ok(
                    "The draft.",
                    s.of::<crate::drafts::service::DraftView>(),
                    example_draft(),
                )
                .with_header("ETag", etag()),
            ],
        )
        .id("The draft's id."),
        "update-draft" => spec_of(
            "Drafts",
            vec![
                Answer::ok(
                    "Replaced, at the next version.",
                    s.of::<crate::drafts::service::DraftView>(),
                    example_draft(),
                )
                .with_header("ETag", etag())
                .with_links("/id", DRAFT_LINKS),
            ],
        )
        .id("The draft's id.")
        .body(s.of::<schemas::Draft>(), example_draft_request()),
        "delete-draft" => spec_of("Drafts", vec![deleted(s)]).id("The draft's id."),
        "get-metadata" => spec_of(
            "Drafts",
            vec![
                Answer {
                    status: StatusCode::OK,
                    description: "The ARC-3 metadata file, byte for byte as its hash is on chain.",
                    media_type: "application/json",
                    schema: ObjectBuilder::new().schema_type(Type::Object).into(),
                    example: Some(json!({"name": "Harbour Pass", "decimals": 0, "image": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/pass.png"})),
                    headers: Vec::new(),
                    links: Vec::new(),
                }
                .with_header(
                    "Cache-Control",
                    header(Type::String, "`public, max-age=31536000, immutable`: the bytes under an id never change."),
                ),
            ],
        )
        .id("The content id (base64url of the file's SHA-256, 43 characters)."),
        "run-compliance" => spec_of(
            "Compliance",
            vec![Answer::json(
                StatusCode::CREATED,
                "The stored report of the draft's current version.",
                s.of::<schemas::ComplianceReport>(),
                example_report(),
            )],
        )
        .id("The draft's id."),
        "get-compliance" => spec_of(
            "Compliance",
            vec![Answer::ok(
                "The latest report, whether it is stale, and the deployment gate.",
                s.of::<schemas::LatestCompliance>(),
                json!({"report": example_report(), "stale": false, "gate": {"open": true, "reasons": []}}),
            )],
        )
        .id("The draft's id."),
        "list-compliance-rules" => spec_of(
            "Compliance",
            vec![Answer::ok(
                "The versioned ruleset.",
                s.of::<schemas::Ruleset>(),
                json!({
                    "ruleset_version": crate::compliance::rules::RULESET_VERSION,
                    "disclaimer": crate::compliance::rules::DISCLAIMER,
                    "rules": [{
                        "id": "issuer-identified", "kind": "completeness", "title": "The issuer is identified",
                        "reference": "MiCA Art. 6", "standards": {"standards": "all"}, "networks": "all",
                        "blocking": true, "relaxed_on_testnets": true,
                        "remediation": "Add compliance.issuer with legal_name and country.",
                    }],
                }),
            )],
        ),
        "create-deployment" => spec_of(
            "Deployments",
            vec![
                Answer::json(
                    StatusCode::ACCEPTED,
                    "Queued; queue steps carry it on. Follow it at `status_url`.",
                    s.of::<schemas::DeploymentAccepted>(),
                    {
                        let mut deployment = example_deployment();
                        deployment["status"] = json!("queued");
                        deployment["transaction_ids"] = json!([]);
                        deployment["timeline"] = json!([deployment["timeline"][0].clone()]);
                        if let Some(object) = deployment.as_object_mut() {
                            object.remove("result");
                        }
                        json!({"deployment": deployment, "status_url": format!("/v1/deployments/{EXAMPLE_DEPLOYMENT}")})
                    },
                )
                .with_header(
                    "Location",
                    header(Type::String, "The deployment's URL (`status_url`)."),
                )
                .with_links(
                    "/deployment/id",
                    &[
                        ("GetDeployment", "get-deployment", false),
                        ("CancelDeployment", "cancel-deployment", false),
                        ("RetryDeployment", "retry-deployment", false),
                    ],
                ),
            ],
        )
        .body(
            s.of::<schemas::CreateDeploymentRequest>(),
            json!({"draft_id": EXAMPLE_DRAFT}),
        ),
        "list-deployments" => spec_of(
            "Deployments",
            vec![Answer::ok(
                "A page of your deployments, newest first.",
                s.of::<crate::deployments::service::DeploymentPage>(),
                json!({"deployments": [example_deployment()], "next_cursor": null}),
            )],
        )
        .query(vec![
            query_param(
                "status",
                "Only deployments in this status.",
                s.of::<crate::deployments::state::Status>(),
            ),
            query_param("standard", "Only this standard (an id of `GET /v1/standards`).", string()),
            query_param("network", "Only this network (an id of `GET /v1/networks`).", string()),
            time_param("since", "Only deployments created at or after this time."),
            time_param("until", "Only deployments created before this time."),
            query_param("limit", "Deployments per page.", limit(100, 20)),
            cursor(),
        ]),
        "get-deployment" => spec_of(
            "Deployments",
            vec![Answer::ok(
                "The deployment with its status, timeline and result.",
                s.of::<crate::deployments::service::DeploymentView>(),
                example_deployment(),
            )],
        )
        .id("The deployment's id."),
        "cancel-deployment" => spec_of(
            "Deployments",
            vec![Answer::ok(
                "Cancelled.",
                s.of::<crate::deployments::service::DeploymentView>(),
                example_deployment(),
            )],
        )
        .id("The deployment's id."),
        "retry-deployment" => spec_of(
            "Deployments",
            vec![Answer::json(
                StatusCode::ACCEPTED,
                "Queued again as a new attempt.",
                s.of::<crate::deployments::service::DeploymentView>(),
                example_deployment(),
            )],
        )
        .id("The deployment's id."),
        "create-webhook" => spec_of(
            "Webhooks",
            vec![Answer::json(
                StatusCode::CREATED,
                "Subscribed; `secret` signs the deliveries and is shown this once.",
                s.of::<crate::webhooks::Subscription>(),
                example_subscription(true),
            )
            .with_links(
                "/id",
                &[
                    ("ListDeliveries", "list-webhook-deliveries", false),
                    ("DeleteWebhook", "delete-webhook", false),
                ],
            )],
        )
        .body(
            s.of::<schemas::CreateWebhookRequest>(),
            json!({"url": "https://hooks.example.com/walletless", "event_types": ["deployment.completed", "deployment.failed"]}),
        ),
        "list-webhooks" => spec_of(
            "Webhooks",
            vec![Answer::ok(
                "Your subscriptions, and every event type there is.",
                s.of::<schemas::WebhookList>(),
                json!({"webhooks": [example_subscription(false)], "event_types": crate::webhooks::event_types()}),
            )],
        ),
        "delete-webhook" => spec_of("Webhooks", vec![deleted(s)]).id("The subscription's id."),
        "list-webhook-deliveries" => spec_of(
            "Webhooks",
            vec![Answer::ok(
                "The subscription's deliveries, newest first, with every attempt.",
                s.of::<schemas::DeliveryList>(),
                json!({"deliveries": [{
                    "event_id": format!("evt_{EXAMPLE_DEPLOYMENT}_002"),
                    "event_type": "deployment.completed",
                    "deployment_id": EXAMPLE_DEPLOYMENT,
                    "status": "delivered",
                    "attempts": [
                        {"at_ms": 1_764_410_705_000_i64, "error": "connection refused", "duration_ms": 3},
                        {"at_ms": 1_764_410_715_000_i64, "status_code": 204, "duration_ms": 87},
                    ],
                    "created_at_ms": 1_764_410_704_900_i64,
                    "event": {"id": format!("evt_{EXAMPLE_DEPLOYMENT}_002"), "type": "deployment.completed",
                              "created_at_ms": 1_764_410_704_900_i64, "data": {}},
                }]}),
            )],
        )
        .id("The subscription's id."),
        "list-audit-events" => spec_of(
            "Audit",
            vec![Answer::ok(
                "Your events in chain order.",
                s.of::<schemas::AuditEventPage>(),
                json!({"events": [example_audit_event()], "next_cursor": null}),
            )],
        )
        .query(vec![
            query_param("event_type", "Only events of this type.", string()),
            query_param("subject_kind", "Only events about this subject (with `subject_id`).", string()),
            query_param("subject_id", "Only events about this subject (with `subject_kind`).", string()),
            time_param("from", "Only events at or after this time."),
            time_param("to", "Only events at or before this time."),
            query_param(
                "limit",
                "Events per page.",
                limit(
                    u64::from(crate::audit::store::MAX_LIST_LIMIT),
                    100,
                ),
            ),
            cursor(),
        ]),
        "create-audit-export" => spec_of(
            "Audit",
            vec![Answer::json(
                StatusCode::ACCEPTED,
                "Queued: the export covers the chain up to its last event now.",
                s.of::<crate::audit::exports::ExportView>(),
                example_export(false),
            )
            .with_links("/id", &[("GetExport", "get-audit-export", false)])],
        )
        .body(
            s.of::<schemas::CreateAuditExportRequest>(),
            json!({"format": "csv", "filters": {"event_type": "deployment.transition", "from": "2026-11-29T00:00:00Z"}}),
        ),
        "get-audit-export" => spec_of(
            "Audit",
            vec![Answer::ok(
                "The export, its manifest once completed, and download links valid 15 minutes.",
                s.of::<crate::audit::exports::ExportView>(),
                example_export(true),
            )],
        )
        .id("The export's id."),
        _ => return None,
    };
    Some(spec)
}
