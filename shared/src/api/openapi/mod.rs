//! The API's OpenAPI 3.1 document, built from the route table so that it cannot miss a route:
//! every entry of [`ROUTES`] becomes one operation (named by its id) with its path and query
//! parameters, headers, request body, success answers with examples, and every error code it
//! can answer with: the route's own ([`Route::errors`]) and those of its kind
//! ([`common_errors`]: authentication, rate limits, malformed input, idempotency keys, ...).
//! The local-only routes ([`super::LOCAL_ROUTES`]) are not part of the served API.
//!
//! What the route table does not say (each route's query parameters, body, answers and
//! examples) is in `operations`. Schemas are derived (`utoipa::ToSchema`) from the types the
//! handlers serialise; the bodies that handlers build as JSON values are described in
//! [`schemas`]. `GET /v1/openapi.json` serves the document, `GET /v1/docs` renders it as one
//! HTML page ([`html`]), and `tests/http/openapi.rs` runs schemathesis against a live server
//! to check real answers against it.

pub mod html;
mod operations;
pub mod schemas;

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
};

pub use schemas::DeploymentFailure;

use operations::{Spec, query_names, spec, spec_of, takes_body};

use super::errors::ErrorCode;
use super::routes::{Auth, Idempotency, ROUTES, Route};

/// The security scheme of [`Auth::User`] routes.
pub const BEARER_SCHEME: &str = "bearer";

/// Extension on each error answer: the codes it stands for.
pub const ERROR_CODES_EXTENSION: &str = "x-error-codes";

/// Top-level extension: the whole error catalogue (code, status, retryable, message, area).
pub const ERROR_CATALOGUE_EXTENSION: &str = "x-error-catalogue";

/// The areas of the API, as tags, in the order the reference shows them.
pub const TAGS: &[(&str, &str)] = &[
    (
        "System",
        "Health, the configured networks, and this reference.",
    ),
    (
        "Accounts",
        "Registration, sign-in, sessions, the profile and the key export (ARC-76 accounts).",
    ),
    (
        "Drafts",
        "The standards catalogue, token drafts with their validation, and ARC-3 metadata.",
    ),
    (
        "Compliance",
        "Readiness checks of a draft against the issuer's own statements (not legal advice).",
    ),
    (
        "Deployments",
        "Deploying a draft: queued, carried on by queue steps, followed through its timeline.",
    ),
    (
        "Webhooks",
        "Signed deliveries of your deployments' events to your URLs.",
    ),
    (
        "Audit",
        "Your hash-chained audit trail and its exports to the archive.",
    ),
];

/// The document served at `GET /v1/openapi.json` (and rendered by `GET /v1/docs`).
pub fn document() -> Result<Value, serde_json::Error> {
    let mut document = serde_json::to_value(build().0)?;
    fix_link_field_names(&mut document);
    Ok(document)
}

/// utoipa 5 serialises a Link's `operationId` and `requestBody` in snake_case, which no
/// OpenAPI reader understands; rename them where links are.
fn fix_link_field_names(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (wrong, right) in [
            ("operation_id", "operationId"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(wrong) {
                link.insert(right.to_string(), value);
            }
        }
    }
}

/// The codes any route of `route`'s kind can answer with, besides [`Route::errors`].
pub fn common_errors(route: &Route) -> Vec<ErrorCode> {
    let mut codes = Vec::new();
    let takes_body = takes_body(route);
    let has_params = route.path.contains('{') || !query_names(route.id).is_empty();
    if takes_body || has_params || route.idempotency != Idempotency::None {
        codes.push(ErrorCode::MalformedRequest);
    }
    if takes_body {
        codes.push(ErrorCode::PayloadTooLarge);
    }
    if route.auth == Auth::User {
        // The access token's signing key is read from the records store and unwrapped by
        // the key vault (once per process).
        codes.extend([
            ErrorCode::Unauthorized,
            ErrorCode::RecordsUnavailable,
            ErrorCode::KeyVaultUnavailable,
        ]);
    }
    match route.idempotency {
        Idempotency::None => {}
        Idempotency::Optional => codes.extend(idempotency_errors()),
        Idempotency::Required => {
            codes.push(ErrorCode::IdempotencyKeyRequired);
            codes.extend(idempotency_errors());
        }
    }
    codes.extend([ErrorCode::RateLimitExceeded, ErrorCode::Internal]);
    codes
}

fn idempotency_errors() -> [ErrorCode; 3] {
    [
        ErrorCode::IdempotencyKeyMismatch,
        ErrorCode::IdempotencyKeyInProgress,
        ErrorCode::RecordsUnavailable,
    ]
}

/// Every code `route` can answer with, without repeats, in catalogue order.
pub fn route_errors(route: &Route) -> Vec<ErrorCode> {
    let common = common_errors(route);
    ErrorCode::ALL
        .iter()
        .copied()
        .filter(|code| route.errors.contains(code) || common.contains(code))
        .collect()
}

/// Schemas referenced by the document, gathered as operations name them.
#[derive(Default)]
struct Schemas {
    schemas: BTreeMap<String, RefOr<Schema>>,
    /// Names that two different schemas claimed (two types of one name): a test refuses them.
    clashes: Vec<String>,
}

impl Schemas {
    /// A reference to `T`'s schema, registering it and every schema it refers to.
    fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        let mut found = vec![(name.clone(), T::schema())];
        T::schemas(&mut found);
        for (name, schema) in found {
            match self.schemas.get(&name) {
                Some(existing) if *existing != schema => self.clashes.push(name),
                Some(_) => {}
                None => {
                    self.schemas.insert(name, schema);
                }
            }
        }
        Ref::from_schema_name(name).into()
    }
}

/// The document, and the schema names that clashed while building it.
fn build() -> (OpenApi, Vec<String>) {
    let mut schemas = Schemas::default();
    let error_schema = schemas.of::<schemas::ErrorBody>();
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let spec = spec(route.id, &mut schemas);
        let operation = operation(route, spec, &error_schema);
        paths = paths.path(
            route.path,
            PathItem::new(http_method(&route.method), operation),
        );
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(std::mem::take(&mut schemas.schemas))
        .security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` of register, login or refresh (valid 15 minutes).",
                    ))
                    .build(),
            ),
        )
        .build();
    let mut extensions = Extensions::default();
    extensions.insert(ERROR_CATALOGUE_EXTENSION.to_string(), error_catalogue());
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("walletless")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(API_DESCRIPTION))
                .build(),
        )
        .servers(Some([ServerBuilder::new().url("/").build()]))
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build()
        })))
        .build();
    document.extensions = Some(extensions);
    (document, schemas.clashes)
}

const API_DESCRIPTION: &str = "Issue tokens without wallets: register with email and password \
(the backend derives your ARC-76 Algorand and EVM accounts), validate token drafts, check \
compliance readiness, deploy through an idempotent pipeline, receive signed webhooks, and \
export a hash-chained audit trail.\n\n\
JSON fields are snake_case. Every error answer has one body, `{\"error\": {\"code\", \"message\", \
\"retryable\", \"details\", \"request_id\"}}`, with a code of the catalogue (docs/errors.md, and \
`x-error-catalogue` here); each operation lists the codes it can answer with under its error \
statuses (`x-error-codes`). Every route is rate-limited (429 `RATE_LIMIT_EXCEEDED` with \
`Retry-After`; counted answers carry `X-RateLimit-Limit`, `-Remaining` and `-Reset`). Routes \
marked with the bearer scheme need `Authorization: Bearer <access_token>`. `POST /v1/deployments` \
requires an `Idempotency-Key`; `POST /v1/drafts`, `/v1/webhooks` and `/v1/audit/exports` take \
one. `GET /v1/docs` renders this document as a page.";

/// The catalogue as the `x-error-catalogue` extension.
fn error_catalogue() -> Value {
    Value::Array(
        ErrorCode::ALL
            .iter()
            .map(|code| {
                json!({
                    "code": code.as_str(),
                    "status": code.status().as_u16(),
                    "retryable": code.retryable(),
                    "message": code.message(),
                    "area": code.area(),
                })
            })
            .collect(),
    )
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        _ => HttpMethod::Get,
    }
}

fn header(schema_type: Type, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(schema_type))
        .description(Some(description))
        .build()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// Headers every answer carries (the rate-limit ones on every counted answer).
fn common_headers() -> Vec<(&'static str, Header)> {
    vec![
        (
            "X-Request-Id",
            header(
                Type::String,
                "The request's id (in every log line and error body).",
            ),
        ),
        (
            "X-Correlation-Id",
            header(
                Type::String,
                "The caller's `X-Correlation-Id` when usable, else the request id.",
            ),
        ),
        (
            "X-RateLimit-Limit",
            header(Type::Integer, "Requests allowed per window on this route."),
        ),
        (
            "X-RateLimit-Remaining",
            header(Type::Integer, "Requests still allowed now."),
        ),
        (
            "X-RateLimit-Reset",
            header(
                Type::Integer,
                "Seconds until one more request is allowed (0 when the whole budget is free).",
            ),
        ),
    ]
}

fn operation(
    route: &Route,
    spec: Option<Spec>,
    error_schema: &RefOr<Schema>,
) -> utoipa::openapi::path::Operation {
    let spec = spec.unwrap_or_else(|| spec_of("System", Vec::new()));
    let mut builder = OperationBuilder::new()
        .operation_id(Some(route.id))
        .summary(Some(route.summary))
        .tag(spec.tag);
    if route.auth == Auth::User {
        builder = builder.security(SecurityRequirement::new(
            BEARER_SCHEME,
            Vec::<String>::new(),
        ));
    }
    for parameter in parameters(route, &spec) {
        builder = builder.parameter(parameter);
    }
    if let Some((schema, example)) = &spec.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(schema.clone()))
                        .example(Some(example.clone()))
                        .build(),
                )
                .build(),
        ));
    }
    for answer in spec.answers {
        let mut response = ResponseBuilder::new()
            .description(answer.description)
            .content(
                answer.media_type,
                ContentBuilder::new()
                    .schema(Some(answer.schema))
                    .example(answer.example)
                    .build(),
            );
        for (name, header) in answer.headers.into_iter().chain(common_headers()) {
            response = response.header(name, header);
        }
        for (name, link) in answer.links {
            response = response.link(name, link);
        }
        if route.idempotency != Idempotency::None {
            response = response.header(
                "Idempotent-Replayed",
                header(
                    Type::String,
                    "`true` when this is the stored answer of an earlier request with the same `Idempotency-Key`.",
                ),
            );
        }
        builder = builder.response(answer.status.as_u16().to_string(), response.build());
    }
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in route_errors(route) {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    for (status, codes) in by_status {
        builder = builder.response(status.to_string(), error_response(&codes, error_schema));
    }
    builder.build()
}

fn parameters(route: &Route, spec: &Spec) -> Vec<Parameter> {
    let mut parameters: Vec<Parameter> = path_params(route.path)
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(spec.id)
                .schema(Some(string()))
                .build()
        })
        .collect();
    parameters.extend(spec.query.iter().cloned());
    let header_param = |name: &str, required: bool, description: &str, schema: ObjectBuilder| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    match route.idempotency {
        Idempotency::None => {}
        idempotency => parameters.push(header_param(
            "Idempotency-Key",
            idempotency == Idempotency::Required,
            "A new unique value (a UUID) per operation, sent unchanged when retrying it: a retry \
             gets the first answer again and nothing runs twice (24 h).",
            string()
                .min_length(Some(1))
                .max_length(Some(super::idempotency::MAX_KEY_LEN))
                .pattern(Some("^[\\x20-\\x7E]+$")),
        )),
    }
    // A draft's PUT requires its version, its DELETE takes one.
    let versioned = route.method == Method::PUT || route.method == Method::DELETE;
    if versioned && route.path.starts_with("/v1/drafts/") {
        parameters.push(header_param(
            "If-Match",
            route.method == Method::PUT,
            "The draft's version as its `ETag` gives it (`\"3\"`): the change applies only \
             to that version.",
            string().pattern(Some("^\\s*(W/)?\"?[0-9]+\"?\\s*$")),
        ));
    }
    parameters.push(header_param(
        "X-Correlation-Id",
        false,
        "Ties this request to others of one operation (logs, audit events, later pipeline \
         steps): 1 to 128 visible ASCII characters; anything else is ignored.",
        string()
            .min_length(Some(1))
            .max_length(Some(super::service::MAX_CORRELATION_ID_LEN))
            .pattern(Some("^[\\x21-\\x7E]+$")),
    ));
    parameters
}

/// The `{name}` parameters of an API Gateway path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// One error status of an operation: the codes it stands for, each with an example body.
fn error_response(codes: &[ErrorCode], schema: &RefOr<Schema>) -> utoipa::openapi::Response {
    let description = codes
        .iter()
        .map(|code| format!("`{}`: {}", code.as_str(), code.message()))
        .collect::<Vec<_>>()
        .join("\n\n");
    let examples = codes.iter().map(|code| {
        (
            code.as_str(),
            ExampleBuilder::new()
                .summary(code.message())
                .value(Some(error_example(*code)))
                .build(),
        )
    });
    let mut extensions = Extensions::default();
    extensions.insert(
        ERROR_CODES_EXTENSION.to_string(),
        Value::Array(codes.iter().map(|code| json!(code.as_str())).collect()),
    );
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(schema.clone()))
                .examples_from_iter(examples)
                .build(),
        )
        .extensions(Some(extensions));
    // Counted errors carry the rate-limit headers too; the API description says so once
    // rather than on every error status of every operation, except the refusal's own.
    let refused = codes.contains(&ErrorCode::RateLimitExceeded);
    for (name, header) in common_headers() {
        if refused || !name.starts_with("X-RateLimit") {
            response = response.header(name, header);
        }
    }
    if codes.iter().any(|code| code.retryable()) {
        response = response.header(
            "Retry-After",
            header(
                Type::Integer,
                "Seconds to wait before retrying (rate limits, an idempotency key in progress).",
            ),
        );
    }
    if codes.contains(&ErrorCode::Unauthorized) {
        response = response.header("WWW-Authenticate", header(Type::String, "`Bearer`."));
    }
    response.build()
}

fn error_example(code: ErrorCode) -> Value {
    let details = match code {
        ErrorCode::MalformedRequest => json!({"field": "email", "reason": "missing field `email`"}),
        ErrorCode::RateLimitExceeded => json!({"retry_after_s": 12, "limit": 100, "window_s": 60}),
        ErrorCode::IdempotencyKeyInProgress => json!({"retry_after_s": 8}),
        _ => Value::Null,
    };
    json!({"error": {
        "code": code.as_str(),
        "message": code.message(),
        "retryable": code.retryable(),
        "details": details,
        "request_id": "01JDQ5K7BZ0000000000000000",
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> Value {
        document().unwrap()
    }

    #[test]
    fn is_openapi_3_1_with_every_route_once() {
        let doc = json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "walletless");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["servers"][0]["url"], "/");
        let mut operations = 0;
        for route in ROUTES {
            let method = route.method.as_str().to_lowercase();
            let operation = &doc["paths"][route.path][&method];
            assert_eq!(operation["operationId"], route.id, "{route:?}");
            operations += 1;
        }
        let counted: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(counted, operations, "only the route table's operations");
        for route in super::super::LOCAL_ROUTES {
            assert!(
                doc["paths"].get(route.path).is_none(),
                "{route:?} is local-only"
            );
        }
    }

    #[test]
    fn every_route_has_a_spec_and_every_path_parameter_a_description() {
        let mut schemas = Schemas::default();
        for route in ROUTES {
            let spec = spec(route.id, &mut schemas)
                .unwrap_or_else(|| panic!("{} has no spec in api::openapi", route.id));
            assert!(!spec.answers.is_empty(), "{route:?}");
            assert!(TAGS.iter().any(|(tag, _)| *tag == spec.tag), "{route:?}");
            if route.path.contains('{') {
                assert!(spec.id.is_some(), "{route:?}: describe its path parameter");
            }
            assert_eq!(spec.body.is_some(), takes_body(route), "{route:?}");
            let names: Vec<&str> = spec.query.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, query_names(route.id), "{route:?}");
        }
    }

    #[test]
    fn no_two_schemas_share_a_name_and_every_reference_resolves() {
        let (document, clashes) = build();
        assert!(
            clashes.is_empty(),
            "schema names claimed twice: {clashes:?}"
        );
        let doc = serde_json::to_value(document).unwrap();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas.contains_key(name), "{target} does not resolve");
        }
    }

    #[test]
    fn error_code_enum_is_the_catalogue() {
        let doc = json();
        let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap())
            .collect();
        let catalogue: Vec<String> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(codes, catalogue);
        let listed = doc[ERROR_CATALOGUE_EXTENSION].as_array().unwrap();
        assert_eq!(listed.len(), ErrorCode::ALL.len());
        let error = &doc["components"]["schemas"]["ErrorDetail"];
        assert_eq!(
            error["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }

    #[test]
    fn every_route_documents_each_of_its_error_codes_under_its_status() {
        let doc = json();
        for route in ROUTES {
            let operation = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
            let codes = route_errors(route);
            assert!(codes.contains(&ErrorCode::RateLimitExceeded), "{route:?}");
            assert!(codes.contains(&ErrorCode::Internal), "{route:?}");
            for code in &codes {
                let response = &operation["responses"][code.status().as_u16().to_string()];
                let listed = response[ERROR_CODES_EXTENSION].as_array().unwrap();
                assert!(listed.contains(&json!(code.as_str())), "{route:?} {code:?}");
                let example = &response["content"]["application/json"]["examples"][code.as_str()];
                assert_eq!(example["value"]["error"]["code"], code.as_str());
            }
            if route.auth == Auth::User {
                assert_eq!(
                    operation["security"][0][BEARER_SCHEME],
                    json!([]),
                    "{route:?}"
                );
                assert!(codes.contains(&ErrorCode::Unauthorized));
            } else {
                assert!(operation.get("security").is_none(), "{route:?}");
            }
        }
    }

    #[test]
    fn links_name_operations_that_exist() {
        let doc = json();
        let mut links = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for response in operation["responses"].as_object().unwrap().values() {
                    for link in response["links"]
                        .as_object()
                        .into_iter()
                        .flat_map(|l| l.values())
                    {
                        let target = link["operationId"].as_str().unwrap();
                        assert!(super::super::routes::find(target).is_some(), "{target}");
                        assert!(link.get("operation_id").is_none());
                        links += 1;
                    }
                }
            }
        }
        assert!(links >= 10, "{links}");
    }

    /// The route table lists only what a route adds to the codes of its kind.
    #[test]
    fn route_tables_do_not_repeat_common_codes() {
        for route in ROUTES {
            let common = common_errors(route);
            for code in route.errors {
                assert!(!common.contains(code), "{route:?} repeats {code:?}");
            }
        }
    }

    #[test]
    fn idempotency_and_version_headers_where_they_apply() {
        let doc = json();
        let header = |route: &Route, name: &str| {
            doc["paths"][route.path][route.method.as_str().to_lowercase()]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["in"] == "header" && p["name"] == name)
                .cloned()
        };
        for route in ROUTES {
            let key = header(route, "Idempotency-Key");
            match route.idempotency {
                Idempotency::None => assert!(key.is_none(), "{route:?}"),
                Idempotency::Optional => assert_eq!(key.unwrap()["required"], false),
                Idempotency::Required => assert_eq!(key.unwrap()["required"], true),
            }
            assert!(header(route, "X-Correlation-Id").is_some());
        }
        let update = super::super::routes::find("update-draft").unwrap();
        assert_eq!(header(update, "If-Match").unwrap()["required"], true);
        let delete = super::super::routes::find("delete-draft").unwrap();
        assert_eq!(header(delete, "If-Match").unwrap()["required"], false);
    }
}
