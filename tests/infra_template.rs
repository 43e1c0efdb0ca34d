//! Keeps infra/template.yaml honest: its routes, functions, environment and resource settings
//! must match what the Rust code declares (the route table, the Lambda binaries, the consumer
//! and scheduled functions, the DynamoDB layout, the redrive count), so a change on one side
//! without the other fails here instead of in a deployment.
//!
//! The template is read as plain YAML; CloudFormation short tags (`!Ref X`, `!GetAtt A.B`,
//! `!Sub ...`) are rewritten to their long forms (`{"Ref": X}`, `{"Fn::GetAtt": [A, B]}`, ...)
//! so every check sees one shape.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use walletless::adapters::aws::dynamodb::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use walletless::api::routes::ROUTES;
use walletless::config::vars;
use walletless::lambda::SCHEDULED_FUNCTIONS;
use walletless::ports::step_queue::DEFAULT_MAX_RECEIVES;
use walletless::steps::{CONSUMER_FUNCTIONS, QueueName, StepRunner};
use walletless::webhooks::DELIVERY_TIMEOUT;

/// The functions whose code enqueues deployment steps, besides the steps queue's consumer
/// (which chains them): the routes that start a deployment attempt and the sweep that
/// resumes stalled ones.
const STEP_PRODUCERS: &[&str] = &["create-deployment", "retry-deployment", "deployment-sweep"];

/// The functions whose code enqueues webhook deliveries, besides the webhook queue's consumer
/// (which enqueues a failed delivery's next attempt): every function that saves a deployment
/// transition, since each transition is a webhook event.
const WEBHOOK_PRODUCERS: &[&str] = &[
    "create-deployment",
    "cancel-deployment",
    "retry-deployment",
    "deployment-sweep",
    "step-worker",
];

/// The functions whose code enqueues audit export jobs: the route that requests an export.
/// Its consumer never sends (a job is retried by releasing its message).
const AUDIT_EXPORT_PRODUCERS: &[&str] = &["create-audit-export"];

/// Each queue consumer of `steps::CONSUMER_FUNCTIONS` with the `walletless::lambda` entry
/// point its binary calls and the runner that entry point serves (whose queue it consumes).
fn consumer_runners() -> Vec<(&'static str, &'static str, StepRunner)> {
    vec![
        ("step-worker", "serve_steps", StepRunner::standard()),
        (
            "webhook-worker",
            "serve_webhook_deliveries",
            StepRunner::webhook_deliveries(),
        ),
        (
            "audit-export-worker",
            "serve_audit_exports",
            StepRunner::audit_exports(),
        ),
    ]
}

/// The variables naming a queue and its dead-letter queue.
fn queue_variables(queue: QueueName) -> (&'static str, &'static str) {
    match queue {
        QueueName::Steps => (vars::STEP_QUEUE_URL, vars::STEP_DEAD_LETTER_QUEUE_URL),
        QueueName::Webhooks => (vars::WEBHOOK_QUEUE_URL, vars::WEBHOOK_DEAD_LETTER_QUEUE_URL),
        QueueName::AuditExports => (
            vars::AUDIT_EXPORT_QUEUE_URL,
            vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
        ),
    }
}

/// Who may send to each queue: its producers, plus its own consumer where that one sends too.
fn queue_producers(queue: QueueName) -> &'static [&'static str] {
    match queue {
        QueueName::Steps => STEP_PRODUCERS,
        QueueName::Webhooks => WEBHOOK_PRODUCERS,
        QueueName::AuditExports => AUDIT_EXPORT_PRODUCERS,
    }
}

/// Whether a queue's consumer sends to its own queue: the step worker chains the next step,
/// the webhook worker enqueues a failed delivery's next attempt; the audit export worker
/// only receives.
fn consumer_sends(queue: QueueName) -> bool {
    match queue {
        QueueName::Steps | QueueName::Webhooks => true,
        QueueName::AuditExports => false,
    }
}

/// Upper bound on what one webhook delivery attempt spends besides waiting for the receiver
/// (resolving its host, reading the subscription and delivery, opening the secret, recording
/// the attempt, enqueuing the next one).
const DELIVERY_OVERHEAD_SECONDS: u64 = 5;

/// Every variable each function must get from `Globals.Function.Environment`: what
/// `walletless::config` reads in AWS mode, plus the log filter.
const FUNCTION_ENVIRONMENT: &[&str] = &[
    vars::BACKEND,
    vars::RECORDS_TABLE,
    vars::KMS_KEY_ID,
    vars::STEP_QUEUE_URL,
    vars::STEP_DEAD_LETTER_QUEUE_URL,
    vars::WEBHOOK_QUEUE_URL,
    vars::WEBHOOK_DEAD_LETTER_QUEUE_URL,
    vars::AUDIT_EXPORT_QUEUE_URL,
    vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
    vars::ARCHIVE_BUCKET,
    vars::NETWORKS_FILE,
    vars::METADATA_BASE_URL,
    vars::STEP_MAX_RECEIVES,
    walletless::metrics::NAMESPACE_VAR,
    "RUST_LOG",
];

const TEMPLATE: &str = "infra/template.yaml";
const FUNCTIONS_MANIFEST: &str = "functions/Cargo.toml";
const SAM_CONFIG: &str = "samconfig.toml";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("tests/ should live in the workspace root"))
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ------------------------------------------------------------------------------ YAML to JSON

/// The YAML document as JSON, CloudFormation short tags expanded.
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                json!(u)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64())
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_else(|e| panic!("{TEMPLATE}: unreadable key {other:?}: {e}"))
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string().trim_start_matches('!').to_string();
            let inner = yaml_to_json(tagged.value);
            match name.as_str() {
                "Ref" | "Condition" => json!({ name: inner }),
                // `!GetAtt Resource.Attribute` is the string form of `[Resource, Attribute]`.
                "GetAtt" => match inner {
                    Value::String(dotted) => {
                        let (resource, attribute) = dotted
                            .split_once('.')
                            .unwrap_or_else(|| panic!("!GetAtt {dotted} has no attribute"));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    list => json!({ "Fn::GetAtt": list }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

/// The logical id a `Ref` or `Fn::GetAtt` points at.
fn referenced_id(value: &Value) -> Option<&str> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(id);
    }
    value
        .get("Fn::GetAtt")
        .and_then(|target| target.get(0))
        .and_then(Value::as_str)
}

// ------------------------------------------------------------------------------ the template

struct Template {
    root: Value,
}

/// A serverless function of the template, with what the checks need of it.
struct Function<'t> {
    logical_id: &'t str,
    binary: &'t str,
    properties: &'t Value,
    metadata: &'t Value,
}

impl Template {
    fn load() -> Self {
        let yaml: serde_yaml::Value = serde_yaml::from_str(&read(TEMPLATE))
            .unwrap_or_else(|e| panic!("{TEMPLATE} is not valid YAML: {e}"));
        Self {
            root: yaml_to_json(yaml),
        }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.root["Resources"]
            .as_object()
            .unwrap_or_else(|| panic!("{TEMPLATE} has no Resources map"))
    }

    fn resource(&self, logical_id: &str) -> &Value {
        self.resources()
            .get(logical_id)
            .unwrap_or_else(|| panic!("{TEMPLATE} refers to a missing resource {logical_id}"))
    }

    fn resource_type(&self, logical_id: &str) -> &str {
        self.resource(logical_id)["Type"].as_str().unwrap_or("")
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources()
            .iter()
            .filter(move |(_, resource)| resource["Type"] == kind)
            .map(|(id, resource)| (id.as_str(), resource))
    }

    fn globals(&self) -> &Value {
        &self.root["Globals"]["Function"]
    }

    fn global_environment(&self) -> &Map<String, Value> {
        self.globals()["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| {
                panic!("{TEMPLATE}: Globals.Function.Environment.Variables is missing")
            })
    }

    /// The resource a Globals environment variable points at, checked to be of `kind`.
    fn environment_target(&self, variable: &str, kind: &str) -> &str {
        let value = self
            .global_environment()
            .get(variable)
            .unwrap_or_else(|| panic!("{TEMPLATE}: Globals sets no {variable}"));
        let id = referenced_id(value).unwrap_or_else(|| {
            panic!("{TEMPLATE}: {variable} should !Ref or !GetAtt a {kind}, is {value}")
        });
        assert_eq!(
            self.resource_type(id),
            kind,
            "{TEMPLATE}: {variable} points at {id}, which is not a {kind}"
        );
        id
    }

    fn functions(&self) -> Vec<Function<'_>> {
        self.of_type("AWS::Serverless::Function")
            .map(|(logical_id, resource)| Function {
                logical_id,
                binary: resource["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("{TEMPLATE}: {logical_id} has no Metadata.BuildProperties.Binary")
                    }),
                properties: &resource["Properties"],
                metadata: &resource["Metadata"],
            })
            .collect()
    }

    fn function_by_binary(&self, binary: &str) -> Function<'_> {
        self.functions()
            .into_iter()
            .find(|function| function.binary == binary)
            .unwrap_or_else(|| panic!("{TEMPLATE} has no function whose Binary is {binary:?}"))
    }

    /// A function property, falling back to Globals as SAM does.
    fn function_property<'a>(&'a self, function: &'a Function<'_>, name: &str) -> &'a Value {
        match &function.properties[name] {
            Value::Null => &self.globals()[name],
            own => own,
        }
    }
}

impl Function<'_> {
    fn events(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.properties["Events"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, event)| (name.as_str(), event))
    }

    fn events_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.events()
            .filter(move |(_, event)| event["Type"] == kind)
    }
}

// ------------------------------------------------------------------------------ permissions

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

impl Template {
    /// The statements of a policy document, or of the template's managed policy it refers to.
    fn policy_statements<'a>(&'a self, owner: &str, policy: &'a Value) -> Vec<&'a Value> {
        if let Some(id) = referenced_id(policy) {
            assert_eq!(
                self.resource_type(id),
                "AWS::IAM::ManagedPolicy",
                "{TEMPLATE}: {owner} refers to policy {id}, which is not a managed policy"
            );
            return as_list(&self.resource(id)["Properties"]["PolicyDocument"]["Statement"]);
        }
        let statements = &policy["Statement"];
        assert!(
            !statements.is_null(),
            "{TEMPLATE}: {owner} has a policy these checks cannot read ({policy}); use the \
             template's managed policies or inline statements"
        );
        as_list(statements)
    }

    /// Every IAM statement a function's role holds: from its SAM `Policies` or, with an
    /// explicit `Role`, from that role's managed and inline policies.
    fn statements<'a>(&'a self, function: &'a Function<'_>) -> Vec<&'a Value> {
        let owner = function.logical_id;
        if let Some(role) = referenced_id(&function.properties["Role"]) {
            let role = &self.resource(role)["Properties"];
            let managed = as_list(&role["ManagedPolicyArns"])
                .into_iter()
                .flat_map(|policy| self.policy_statements(owner, policy));
            let inline = as_list(&role["Policies"])
                .into_iter()
                .flat_map(|policy| self.policy_statements(owner, &policy["PolicyDocument"]));
            return managed.chain(inline).collect();
        }
        as_list(&function.properties["Policies"])
            .into_iter()
            .flat_map(|policy| self.policy_statements(owner, policy))
            .collect()
    }

    /// Whether a function may do `action` on the resource `resource_id` of the template.
    fn allows(&self, function: &Function<'_>, action: &str, resource_id: &str) -> bool {
        self.statements(function).into_iter().any(|statement| {
            let resource_matches = as_list(&statement["Resource"])
                .into_iter()
                .any(|resource| resource == "*" || referenced_id(resource) == Some(resource_id));
            statement["Effect"] == "Allow" && allows_action(statement, action) && resource_matches
        })
    }

    /// Whether a function may do `action` on the object `key` of the template's bucket
    /// `bucket_id`: a statement on `*` or on `!Sub ${<bucket_id>.Arn}/<pattern>` covering it.
    fn allows_object(
        &self,
        function: &Function<'_>,
        action: &str,
        bucket_id: &str,
        key: &str,
    ) -> bool {
        let prefix = format!("${{{bucket_id}.Arn}}/");
        self.statements(function).into_iter().any(|statement| {
            let resource_matches = as_list(&statement["Resource"]).into_iter().any(|resource| {
                resource == "*"
                    || resource["Fn::Sub"]
                        .as_str()
                        .and_then(|arn| arn.strip_prefix(&prefix))
                        .is_some_and(|pattern| wildcard_matches(pattern, key))
            });
            statement["Effect"] == "Allow" && allows_action(statement, action) && resource_matches
        })
    }

    /// Whether a function may have S3 use the key `key_id` for `action` on its behalf: a
    /// statement on the key without a condition, or limited to calls through S3.
    fn allows_key_through_s3(&self, function: &Function<'_>, action: &str, key_id: &str) -> bool {
        let through_s3 = json!({ "Fn::Sub": "s3.${AWS::Region}.amazonaws.com" });
        self.statements(function).into_iter().any(|statement| {
            let condition = &statement["Condition"];
            let condition_matches = condition.is_null()
                || *condition == json!({ "StringEquals": { "kms:ViaService": through_s3 } });
            let resource_matches = as_list(&statement["Resource"])
                .into_iter()
                .any(|resource| referenced_id(resource) == Some(key_id));
            statement["Effect"] == "Allow"
                && allows_action(statement, action)
                && resource_matches
                && condition_matches
        })
    }
}

/// Whether one of a statement's actions (exact, or a prefix ending in `*`) is `action`.
fn allows_action(statement: &Value, action: &str) -> bool {
    as_list(&statement["Action"]).into_iter().any(|pattern| {
        let pattern = pattern.as_str().unwrap_or("");
        match pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => pattern == action,
        }
    })
}

/// Whether an IAM resource pattern (`*` for any run of characters, `?` for one) matches
/// `text`.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    match pattern.chars().next() {
        None => text.is_empty(),
        Some('*') => {
            let rest = &pattern[1..];
            text.char_indices()
                .map(|(at, _)| at)
                .chain([text.len()])
                .any(|at| wildcard_matches(rest, &text[at..]))
        }
        Some(first) => text.chars().next().is_some_and(|next| {
            (first == '?' || first == next)
                && wildcard_matches(&pattern[first.len_utf8()..], &text[next.len_utf8()..])
        }),
    }
}

#[test]
fn wildcards_match_as_iam_does() {
    assert!(wildcard_matches(
        "tenants/*",
        "tenants/a/audit-exports/b.csv"
    ));
    assert!(wildcard_matches("*", ""));
    assert!(wildcard_matches("tenants/?/x", "tenants/a/x"));
    assert!(!wildcard_matches("tenants/*", "arc3/a"));
    assert!(!wildcard_matches("tenants/?/x", "tenants/ab/x"));
    assert!(!wildcard_matches("tenants/a", "tenants/ab"));
}

fn as_number(value: &Value, what: &str) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{what} should be a literal number, is {value}"))
}

/// "missing: [...]; unexpected: [...]" for two sets that should be equal.
fn set_drift<T: Ord + Debug>(expected: &BTreeSet<T>, actual: &BTreeSet<T>) -> String {
    let missing: Vec<_> = expected.difference(actual).collect();
    let unexpected: Vec<_> = actual.difference(expected).collect();
    format!("missing {missing:?}, unexpected {unexpected:?}")
}

fn assert_retained(template: &Template, logical_id: &str) {
    let resource = template.resource(logical_id);
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        assert_eq!(
            resource[policy], "Retain",
            "{TEMPLATE}: {logical_id} keeps data and needs {policy}: Retain"
        );
    }
}

// ------------------------------------------------------------------------------ routes

#[test]
fn http_api_events_are_exactly_the_route_table() {
    let template = Template::load();
    let apis: BTreeSet<&str> = template
        .of_type("AWS::Serverless::HttpApi")
        .map(|(id, _)| id)
        .collect();

    // (METHOD, path) -> (function logical id, binary), from every HttpApi event.
    let mut declared: BTreeMap<(String, String), (&str, &str)> = BTreeMap::new();
    for function in template.functions() {
        let events: Vec<_> = function.events_of_type("HttpApi").collect();
        assert!(
            events.len() <= 1,
            "{TEMPLATE}: {} serves {} routes; each route has its own function",
            function.logical_id,
            events.len()
        );
        for (name, event) in events {
            let properties = &event["Properties"];
            let api = referenced_id(&properties["ApiId"]);
            assert!(
                api.is_some_and(|api| apis.contains(api)),
                "{TEMPLATE}: {}.Events.{name} must set ApiId to the template's HttpApi \
                 (one of {apis:?}), not {}; without it SAM creates a second, implicit API",
                function.logical_id,
                properties["ApiId"]
            );
            let method = properties["Method"].as_str().unwrap_or("").to_uppercase();
            let path = properties["Path"].as_str().unwrap_or("").to_string();
            if let Some((other, _)) = declared.insert(
                (method.clone(), path.clone()),
                (function.logical_id, function.binary),
            ) {
                panic!(
                    "{TEMPLATE}: {method} {path} is served by both {other} and {}",
                    function.logical_id
                );
            }
        }
    }

    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.method.as_str().to_string(), route.path.to_string()))
        .collect();
    let actual: BTreeSet<(String, String)> = declared.keys().cloned().collect();
    assert_eq!(
        expected,
        actual,
        "HttpApi events of {TEMPLATE} differ from walletless::api::routes::ROUTES: {}",
        set_drift(&expected, &actual)
    );

    for route in ROUTES {
        let key = (route.method.as_str().to_string(), route.path.to_string());
        let (function, binary) = declared[&key];
        assert_eq!(
            binary, route.id,
            "{TEMPLATE}: {} {} is served by {function}, built from binary {binary:?}, \
             but the route id (and so its binary) is {:?}",
            route.method, route.path, route.id
        );
    }
}

// ------------------------------------------------------------------------------ functions

#[test]
fn functions_are_exactly_the_cargo_binaries() {
    let template = Template::load();
    let functions = template.functions();

    let mut template_binaries = BTreeSet::new();
    for function in &functions {
        assert!(
            template_binaries.insert(function.binary.to_string()),
            "{TEMPLATE}: two functions build binary {:?}",
            function.binary
        );
        assert_eq!(
            function.metadata["BuildMethod"], "rust-cargolambda",
            "{TEMPLATE}: {} must build with Metadata.BuildMethod rust-cargolambda",
            function.logical_id
        );
        // cargo-lambda builds in CodeUri and takes target/lambda/<bin>/bootstrap from there,
        // so CodeUri must be the workspace root, where target/ is.
        let code_uri = function.properties["CodeUri"].as_str().unwrap_or_else(|| {
            panic!("{TEMPLATE}: {} has no literal CodeUri", function.logical_id)
        });
        let code_dir = workspace_root().join("infra").join(code_uri);
        let manifest = std::fs::read_to_string(code_dir.join("Cargo.toml")).unwrap_or_default();
        assert!(
            manifest.contains("[workspace]"),
            "{TEMPLATE}: {} has CodeUri {code_uri:?} ({}), which is not the workspace root",
            function.logical_id,
            code_dir.display()
        );
    }

    let manifest: toml::Table = read(FUNCTIONS_MANIFEST)
        .parse()
        .unwrap_or_else(|e| panic!("{FUNCTIONS_MANIFEST} is not valid TOML: {e}"));
    let cargo_binaries: BTreeSet<String> = manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .map(|bin| {
            bin.get("name")
                .and_then(toml::Value::as_str)
                .unwrap_or_else(|| panic!("{FUNCTIONS_MANIFEST}: a [[bin]] has no name"))
                .to_string()
        })
        .collect();
    assert_eq!(
        cargo_binaries,
        template_binaries,
        "function binaries of {TEMPLATE} differ from the [[bin]] entries of \
         {FUNCTIONS_MANIFEST}: {}",
        set_drift(&cargo_binaries, &template_binaries)
    );

    let declared_in_rust: BTreeSet<String> = ROUTES
        .iter()
        .map(|route| route.id)
        .chain(CONSUMER_FUNCTIONS.iter().copied())
        .chain(SCHEDULED_FUNCTIONS.iter().map(|function| function.name))
        .map(str::to_string)
        .collect();
    assert_eq!(
        declared_in_rust,
        template_binaries,
        "function binaries of {TEMPLATE} differ from ROUTES ids + steps::CONSUMER_FUNCTIONS + \
         lambda::SCHEDULED_FUNCTIONS: {}",
        set_drift(&declared_in_rust, &template_binaries)
    );
}

#[test]
fn every_function_gets_the_whole_configuration() {
    let template = Template::load();
    let globals = template.globals();
    for (property, expected) in [
        ("Runtime", json!("provided.al2023")),
        ("Handler", json!("bootstrap")),
        ("Architectures", json!(["arm64"])),
    ] {
        assert_eq!(
            globals[property], expected,
            "{TEMPLATE}: Globals.Function.{property} (cargo-lambda builds an arm64 `bootstrap` \
             for the provided runtime)"
        );
    }

    let expected: BTreeSet<&str> = FUNCTION_ENVIRONMENT.iter().copied().collect();
    let actual: BTreeSet<&str> = template
        .global_environment()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        expected,
        actual,
        "Globals.Function.Environment.Variables of {TEMPLATE} differ from the variables the \
         functions read: {}",
        set_drift(&expected, &actual)
    );
    assert_eq!(
        template.global_environment()[vars::BACKEND],
        "aws",
        "{TEMPLATE}: {} must select the AWS adapters",
        vars::BACKEND
    );
    template.environment_target(vars::RECORDS_TABLE, "AWS::DynamoDB::Table");
    template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    template.environment_target(vars::STEP_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::STEP_DEAD_LETTER_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::WEBHOOK_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::WEBHOOK_DEAD_LETTER_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::AUDIT_EXPORT_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL, "AWS::SQS::Queue");
    template.environment_target(vars::ARCHIVE_BUCKET, "AWS::S3::Bucket");

    let mut log_groups = BTreeSet::new();
    for function in template.functions() {
        // SAM merges a function's own Variables over Globals: a value set there would drift
        // from the one checked here.
        let own = function.properties["Environment"]["Variables"]
            .as_object()
            .map(|vars| vars.keys().map(String::as_str).collect::<BTreeSet<_>>())
            .unwrap_or_default();
        let overridden: Vec<_> = own.intersection(&expected).collect();
        assert!(
            overridden.is_empty(),
            "{TEMPLATE}: {} overrides {overridden:?}; configuration comes from Globals only",
            function.logical_id
        );

        let log_group = template.function_property(&function, "LoggingConfig")["LogGroup"].clone();
        let log_group = referenced_id(&log_group).unwrap_or_else(|| {
            panic!(
                "{TEMPLATE}: {} needs LoggingConfig.LogGroup pointing at its own log group",
                function.logical_id
            )
        });
        assert_eq!(
            template.resource_type(log_group),
            "AWS::Logs::LogGroup",
            "{TEMPLATE}: {}'s LoggingConfig.LogGroup {log_group} is not a log group",
            function.logical_id
        );
        assert!(
            !template.resource(log_group)["Properties"]["RetentionInDays"].is_null(),
            "{TEMPLATE}: log group {log_group} of {} keeps logs forever; set RetentionInDays",
            function.logical_id
        );
        assert!(
            log_groups.insert(log_group.to_string()),
            "{TEMPLATE}: {} shares log group {log_group} with another function",
            function.logical_id
        );
    }
}

// ------------------------------------------------------------------------------ queues

#[test]
fn consumer_table_matches_the_functions() {
    let runners = consumer_runners();
    let listed: BTreeSet<&str> = runners.iter().map(|(name, _, _)| *name).collect();
    let declared: BTreeSet<&str> = CONSUMER_FUNCTIONS.iter().copied().collect();
    assert_eq!(
        declared,
        listed,
        "consumer_runners() of this test differs from steps::CONSUMER_FUNCTIONS: {}",
        set_drift(&declared, &listed)
    );
    let mut queues = BTreeSet::new();
    for (name, entry_point, runner) in &runners {
        let binary = format!("functions/src/bin/{name}.rs");
        let call = format!("walletless::lambda::{entry_point}()");
        assert!(
            read(&binary).contains(&call),
            "{binary} should call {call}, the entry point whose runner consumes the {:?} queue",
            runner.queue()
        );
        let (queue, _) = queue_variables(runner.queue());
        assert!(
            queues.insert(queue),
            "two consumers take the queue of {queue}; each queue has one"
        );
    }
}

#[test]
fn consumers_take_their_queue_with_partial_batch_failures() {
    let template = Template::load();
    let mut consumed = BTreeSet::new();

    for (consumer, _, runner) in consumer_runners() {
        let (queue_variable, _) = queue_variables(runner.queue());
        let queue = template.environment_target(queue_variable, "AWS::SQS::Queue");
        consumed.insert(queue);
        let visibility = as_number(
            &template.resource(queue)["Properties"]["VisibilityTimeout"],
            &format!("{queue}.VisibilityTimeout"),
        );

        let function = template.function_by_binary(consumer);
        let events: Vec<_> = function.events_of_type("SQS").collect();
        assert_eq!(
            events.len(),
            1,
            "{TEMPLATE}: consumer {} ({consumer}) needs exactly one SQS event",
            function.logical_id
        );
        assert_eq!(
            function.events_of_type("HttpApi").count(),
            0,
            "{TEMPLATE}: consumer {} must not also serve a route",
            function.logical_id
        );
        let (name, event) = events[0];
        let properties = &event["Properties"];
        let where_ = format!("{}.Events.{name}", function.logical_id);

        assert_eq!(
            referenced_id(&properties["Queue"]),
            Some(queue),
            "{TEMPLATE}: {where_} should consume {queue} (the queue of {queue_variable}), not {}",
            properties["Queue"]
        );
        let response_types = properties["FunctionResponseTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            response_types.contains(&json!("ReportBatchItemFailures")),
            "{TEMPLATE}: {where_} needs FunctionResponseTypes [ReportBatchItemFailures]: the \
             consumer returns SqsBatchResponse, and without it one failure retries the batch"
        );
        let batch_size = as_number(&properties["BatchSize"], &format!("{where_}.BatchSize"));
        assert!(
            (1..=10).contains(&batch_size),
            "{TEMPLATE}: {where_}.BatchSize is {batch_size}; SQS batches without a window \
             take 1 to 10"
        );

        let timeout = as_number(
            template.function_property(&function, "Timeout"),
            &format!("{}.Timeout", function.logical_id),
        );
        assert!(
            visibility >= 6 * timeout,
            "{TEMPLATE}: {queue}.VisibilityTimeout is {visibility}s, less than six times \
             the {timeout}s timeout of {} that AWS recommends",
            function.logical_id
        );

        // A batch's deliveries run one after another; a batch that outlives the function is
        // received again whole, repeating the attempts it had already made.
        if runner.queue() == QueueName::Webhooks {
            let worst = batch_size * (DELIVERY_TIMEOUT.as_secs() + DELIVERY_OVERHEAD_SECONDS);
            assert!(
                worst <= timeout,
                "{TEMPLATE}: {where_}.BatchSize {batch_size} lets a batch of hanging receivers \
                 take {worst}s (each up to webhooks::DELIVERY_TIMEOUT {}s + \
                 {DELIVERY_OVERHEAD_SECONDS}s), more than the {timeout}s timeout of {}",
                DELIVERY_TIMEOUT.as_secs(),
                function.logical_id
            );
        }
    }

    // Every queue that is no dead-letter queue has its consumer.
    let sources: BTreeSet<&str> = template
        .of_type("AWS::SQS::Queue")
        .filter(|(_, queue)| !queue["Properties"]["RedrivePolicy"].is_null())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        sources,
        consumed,
        "{TEMPLATE}: the queues with a redrive policy differ from the queues of the consumers: {}",
        set_drift(&sources, &consumed)
    );
}

#[test]
fn only_each_queues_producers_may_send_to_it_and_only_its_consumer_receives() {
    let template = Template::load();
    let functions = template.functions();
    let runners = consumer_runners();

    for (consumer, _, runner) in &runners {
        let (queue_variable, _) = queue_variables(runner.queue());
        let queue = template.environment_target(queue_variable, "AWS::SQS::Queue");
        let expected: BTreeSet<&str> = queue_producers(runner.queue())
            .iter()
            .copied()
            .chain(consumer_sends(runner.queue()).then_some(*consumer))
            .collect();
        let senders: BTreeSet<&str> = functions
            .iter()
            .filter(|function| template.allows(function, "sqs:SendMessage", queue))
            .map(|function| function.binary)
            .collect();
        assert_eq!(
            expected,
            senders,
            "{TEMPLATE}: the functions allowed sqs:SendMessage on {queue} differ from its \
             producers (and its consumer {consumer}, if that one sends): {}",
            set_drift(&expected, &senders)
        );

        // Receive, acknowledge, and release with a delay; the event source mapping reads the
        // queue's attributes.
        let consuming = [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ];
        for function in &functions {
            if function.binary == *consumer {
                for action in consuming {
                    assert!(
                        template.allows(function, action, queue),
                        "{TEMPLATE}: {} consumes {queue} but may not {action} on it",
                        function.logical_id
                    );
                }
                continue;
            }
            for action in &consuming[..3] {
                assert!(
                    !template.allows(function, action, queue),
                    "{TEMPLATE}: {} may {action} on {queue}, which only its consumer \
                     {consumer} does",
                    function.logical_id
                );
            }
        }
    }
}

/// Every function checks all its dependencies at start (`App::connect_aws`), each with one
/// read-only call.
#[test]
fn every_function_may_probe_every_dependency() {
    let template = Template::load();
    let mut probes = vec![
        (
            vars::RECORDS_TABLE,
            "AWS::DynamoDB::Table",
            "dynamodb:DescribeTable",
        ),
        (vars::KMS_KEY_ID, "AWS::KMS::Key", "kms:DescribeKey"),
        // HeadBucket is authorised by s3:ListBucket.
        (vars::ARCHIVE_BUCKET, "AWS::S3::Bucket", "s3:ListBucket"),
    ];
    for (_, _, runner) in consumer_runners() {
        let (queue, dead_letters) = queue_variables(runner.queue());
        for variable in [queue, dead_letters] {
            probes.push((variable, "AWS::SQS::Queue", "sqs:GetQueueAttributes"));
        }
    }
    for function in template.functions() {
        for &(variable, kind, action) in &probes {
            let resource = template.environment_target(variable, kind);
            assert!(
                template.allows(&function, action, resource),
                "{TEMPLATE}: {} may not {action} on {resource} ({variable}), so it cannot \
                 start: it probes every dependency first",
                function.logical_id
            );
        }
    }
}

#[test]
fn webhook_worker_may_open_secrets_and_record_attempts() {
    let template = Template::load();
    let table = template.environment_target(vars::RECORDS_TABLE, "AWS::DynamoDB::Table");
    let key = template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    for (consumer, _, runner) in consumer_runners() {
        if runner.queue() != QueueName::Webhooks {
            continue;
        }
        let function = template.function_by_binary(consumer);
        let id = function.logical_id;
        for action in ["dynamodb:GetItem", "dynamodb:UpdateItem"] {
            assert!(
                template.allows(&function, action, table),
                "{TEMPLATE}: {id} may not {action} on {table}: it reads subscriptions and \
                 records each attempt on its delivery"
            );
        }
        // Not through DynamoDB: the worker opens the subscription's secret envelope itself.
        let decrypts = template.statements(&function).into_iter().any(|statement| {
            statement["Effect"] == "Allow"
                && statement["Condition"].is_null()
                && as_list(&statement["Action"])
                    .into_iter()
                    .any(|action| action == "kms:Decrypt")
                && as_list(&statement["Resource"])
                    .into_iter()
                    .any(|resource| referenced_id(resource) == Some(key))
        });
        assert!(
            decrypts,
            "{TEMPLATE}: {id} needs kms:Decrypt on {key} without a condition: a subscription's \
             signing secret is a vault envelope"
        );
        let role = referenced_id(&function.properties["Role"]);
        if let Some(role) = role {
            let log_group = referenced_id(&function.properties["LoggingConfig"]["LogGroup"])
                .unwrap_or_else(|| panic!("{TEMPLATE}: {id} has no LoggingConfig.LogGroup"));
            assert!(
                template.allows(&function, "logs:PutLogEvents", log_group),
                "{TEMPLATE}: {id}'s role {role} may not write to its log group {log_group}"
            );
        }
    }
}

/// The audit export worker streams an export into the archive (a multipart upload, aborted
/// when the job fails), stores its manifest and completes the export record with its audit
/// event; get-audit-export presigns the download links, which carry its own permissions.
#[test]
fn audit_exports_may_be_written_and_downloaded() {
    let template = Template::load();
    let table = template.environment_target(vars::RECORDS_TABLE, "AWS::DynamoDB::Table");
    let bucket = template.environment_target(vars::ARCHIVE_BUCKET, "AWS::S3::Bucket");
    let key = template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    let file = walletless::audit::exports::file_key(
        "01JDEXAMPLEUSER000000000000",
        "01M8M00000000000000000EXP0",
        walletless::audit::export::ExportFormat::Csv,
    );
    let objects = [file.clone(), walletless::audit::export::manifest_key(&file)];

    let (consumer, _, _) = consumer_runners()
        .into_iter()
        .find(|(_, _, runner)| runner.queue() == QueueName::AuditExports)
        .unwrap_or_else(|| panic!("no consumer of the audit exports queue"));
    let worker = template.function_by_binary(consumer);
    let id = worker.logical_id;
    for action in [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    ] {
        assert!(
            template.allows(&worker, action, table),
            "{TEMPLATE}: {id} may not {action} on {table}: it reads the export and the events \
             and completes the export with its audit event"
        );
    }
    for object in &objects {
        for action in [
            "s3:PutObject",
            "s3:GetObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ] {
            assert!(
                template.allows_object(&worker, action, bucket, object),
                "{TEMPLATE}: {id} may not {action} on {object} in {bucket}"
            );
        }
    }
    for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
        assert!(
            template.allows_key_through_s3(&worker, action, key),
            "{TEMPLATE}: {id} may not have S3 {action} with {key}: the archive is SSE-KMS \
             (uploads need a data key, multipart completion and reads decrypt it)"
        );
    }
    if referenced_id(&worker.properties["Role"]).is_some() {
        let log_group = referenced_id(&worker.properties["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{TEMPLATE}: {id} has no LoggingConfig.LogGroup"));
        assert!(
            template.allows(&worker, "logs:PutLogEvents", log_group),
            "{TEMPLATE}: {id}'s role may not write to its log group {log_group}"
        );
    }

    let links = template.function_by_binary("get-audit-export");
    let id = links.logical_id;
    for object in &objects {
        assert!(
            template.allows_object(&links, "s3:GetObject", bucket, object),
            "{TEMPLATE}: {id} may not s3:GetObject {object}, so the links it presigns fail"
        );
    }
    assert!(
        template.allows_key_through_s3(&links, "kms:Decrypt", key),
        "{TEMPLATE}: {id} may not have S3 decrypt with {key}, so its links cannot download \
         the SSE-KMS files"
    );
}

#[test]
fn queue_redrives_match_the_port() {
    let template = Template::load();
    let mut dead_letter_queues = BTreeSet::new();
    for (_, _, runner) in consumer_runners() {
        let (queue_variable, dead_letter_variable) = queue_variables(runner.queue());
        let queue = template.environment_target(queue_variable, "AWS::SQS::Queue");
        let dead_letters = template.environment_target(dead_letter_variable, "AWS::SQS::Queue");
        assert!(
            dead_letter_queues.insert(dead_letters),
            "{TEMPLATE}: {dead_letters} is the dead-letter queue of two queues"
        );
        assert_redrive(&template, queue, dead_letter_variable, dead_letters);
    }
    assert_eq!(
        template.global_environment()[vars::STEP_MAX_RECEIVES],
        json!(DEFAULT_MAX_RECEIVES.to_string()),
        "{TEMPLATE}: Globals {} must be the string {:?}, the redrive maxReceiveCount",
        vars::STEP_MAX_RECEIVES,
        DEFAULT_MAX_RECEIVES.to_string()
    );

    for (id, queue) in template.of_type("AWS::SQS::Queue") {
        assert_eq!(
            queue["Properties"]["SqsManagedSseEnabled"], true,
            "{TEMPLATE}: {id} must be encrypted (SqsManagedSseEnabled: true)"
        );
        assert!(
            !queue["Properties"]["RedrivePolicy"].is_null() || dead_letter_queues.contains(id),
            "{TEMPLATE}: {id} is neither a consumed queue with a redrive policy nor one of \
             their dead-letter queues"
        );
    }
}

/// `queue` redrives to `dead_letters` after [`DEFAULT_MAX_RECEIVES`] receives, which keeps
/// messages longer and alarms when it holds any.
fn assert_redrive(
    template: &Template,
    queue: &str,
    dead_letter_variable: &str,
    dead_letters: &str,
) {
    let redrive = &template.resource(queue)["Properties"]["RedrivePolicy"];
    assert_eq!(
        redrive["maxReceiveCount"],
        json!(DEFAULT_MAX_RECEIVES),
        "{TEMPLATE}: {queue}.RedrivePolicy.maxReceiveCount must equal \
         walletless::ports::step_queue::DEFAULT_MAX_RECEIVES"
    );
    assert_eq!(
        referenced_id(&redrive["deadLetterTargetArn"]),
        Some(dead_letters),
        "{TEMPLATE}: {queue} must redrive to {dead_letters} (the queue of \
         {dead_letter_variable}), not {}",
        redrive["deadLetterTargetArn"]
    );

    // A message keeps its first enqueue time in the dead-letter queue, so that queue must
    // keep messages longer than the source queue does (SQS defaults to 4 days).
    let retention = |queue: &str| {
        let period = &template.resource(queue)["Properties"]["MessageRetentionPeriod"];
        match period {
            Value::Null => 345_600,
            value => as_number(value, &format!("{queue}.MessageRetentionPeriod")),
        }
    };
    assert_eq!(
        retention(dead_letters),
        14 * 24 * 3600,
        "{TEMPLATE}: {dead_letters} should keep failed messages the longest SQS allows, 14 days"
    );
    assert!(
        retention(dead_letters) > retention(queue),
        "{TEMPLATE}: {dead_letters} must keep messages longer than {queue}"
    );

    let alarmed = template
        .of_type("AWS::CloudWatch::Alarm")
        .any(|(_, alarm)| {
            let properties = &alarm["Properties"];
            properties["Namespace"] == "AWS/SQS"
                && properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && properties["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|dimension| referenced_id(&dimension["Value"]) == Some(dead_letters))
        });
    assert!(
        alarmed,
        "{TEMPLATE}: no alarm on ApproximateNumberOfMessagesVisible of {dead_letters}"
    );
}

// ------------------------------------------------------------------------------ schedules

/// The period of an EventBridge `rate(...)` expression, in seconds.
fn rate_seconds(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.split_once(' ')?;
    let count: u64 = count.parse().ok()?;
    let unit_seconds = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(count * unit_seconds)
}

#[test]
fn rate_expressions_are_read() {
    assert_eq!(rate_seconds("rate(5 minutes)"), Some(300));
    assert_eq!(rate_seconds("rate(1 hour)"), Some(3600));
    assert_eq!(rate_seconds("rate(2 days)"), Some(172_800));
    assert_eq!(rate_seconds("cron(0 12 * * ? *)"), None);
    assert_eq!(rate_seconds("rate(5 fortnights)"), None);
}

#[test]
fn scheduled_functions_run_on_their_schedule_and_alarm_on_errors() {
    let template = Template::load();
    for scheduled in SCHEDULED_FUNCTIONS {
        let function = template.function_by_binary(scheduled.name);
        let id = function.logical_id;
        let events: Vec<_> = function.events().collect();
        assert!(
            events.len() == 1 && events[0].1["Type"] == "Schedule",
            "{TEMPLATE}: {id} ({}) needs exactly one event, of type Schedule",
            scheduled.name
        );
        let (name, event) = events[0];
        assert_eq!(
            event["Properties"]["Schedule"], scheduled.schedule,
            "{TEMPLATE}: {id}.Events.{name}.Schedule must be {:?}, the schedule of \
             walletless::lambda::SCHEDULED_FUNCTIONS",
            scheduled.schedule
        );

        // A run must end before the next one starts, or two would work on the same items.
        let period = rate_seconds(scheduled.schedule).unwrap_or_else(|| {
            panic!(
                "{:?} is no rate(...) expression these checks can read",
                scheduled.schedule
            )
        });
        let timeout = as_number(
            template.function_property(&function, "Timeout"),
            &format!("{id}.Timeout"),
        );
        assert!(
            timeout < period,
            "{TEMPLATE}: {id}.Timeout ({timeout}s) must be shorter than its {period}s schedule"
        );
        // The next scheduled run is the retry: Lambda's own retries of an asynchronous
        // invocation would only overlap it.
        assert_eq!(
            function.properties["EventInvokeConfig"]["MaximumRetryAttempts"],
            json!(0),
            "{TEMPLATE}: {id} needs EventInvokeConfig.MaximumRetryAttempts 0"
        );

        let alarmed = template
            .of_type("AWS::CloudWatch::Alarm")
            .any(|(_, alarm)| {
                let properties = &alarm["Properties"];
                properties["Namespace"] == "AWS/Lambda"
                    && properties["MetricName"] == "Errors"
                    && as_list(&properties["Dimensions"])
                        .into_iter()
                        .any(|dimension| referenced_id(&dimension["Value"]) == Some(id))
            });
        assert!(
            alarmed,
            "{TEMPLATE}: no alarm on the Errors of {id}; a failing schedule goes unnoticed"
        );
    }
}

// ------------------------------------------------------------------------------ alarms

use walletless::metrics::{DEFAULT_NAMESPACE, names};

/// `!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]`: the topic when one is
/// given, no action otherwise.
fn topic_when_given() -> Value {
    json!({ "Fn::If": [
        "HasAlarmTopic",
        [{ "Ref": "AlarmTopicArn" }],
        { "Ref": "AWS::NoValue" },
    ] })
}

fn as_float(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} should be a literal number, is {value}"))
}

/// The namespace the functions write metrics to: the default one, suffixed by the stage so
/// that stages sharing an account never mix their metrics or alarms.
fn stage_namespace() -> Value {
    json!({ "Fn::Sub": format!("{DEFAULT_NAMESPACE}-${{Stage}}") })
}

#[test]
fn functions_write_metrics_to_their_stage_namespace() {
    let template = Template::load();
    let globals = &template.root["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        globals[walletless::metrics::NAMESPACE_VAR],
        stage_namespace(),
        "{TEMPLATE}: the functions' metrics namespace must name the stage"
    );
}

/// The service metric (of the stage's namespace, service-wide: no dimensions) a metric-math
/// query reads, with its statistic and period.
struct MetricQuery<'t> {
    metric: &'t str,
    stat: &'t str,
    period: u64,
}

/// A metric-math alarm on the service's metrics: its queries by id, and the expression it
/// alarms on.
struct MathAlarm<'t> {
    logical_id: &'t str,
    properties: &'t Value,
    queries: BTreeMap<&'t str, MetricQuery<'t>>,
    expression: String,
}

impl Template {
    fn math_alarms(&self) -> Vec<MathAlarm<'_>> {
        self.of_type("AWS::CloudWatch::Alarm")
            .filter(|(_, alarm)| alarm["Properties"]["Metrics"].is_array())
            .map(|(logical_id, alarm)| {
                let properties = &alarm["Properties"];
                let mut queries = BTreeMap::new();
                let mut expressions = Vec::new();
                for query in as_list(&properties["Metrics"]) {
                    let id = query["Id"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{TEMPLATE}: {logical_id} has a query without Id"));
                    if let Some(expression) = query["Expression"].as_str() {
                        assert_eq!(
                            query["ReturnData"], true,
                            "{TEMPLATE}: {logical_id}.{id} is the expression, it must return data"
                        );
                        expressions.push(expression.replace(' ', ""));
                        continue;
                    }
                    assert_eq!(
                        query["ReturnData"], false,
                        "{TEMPLATE}: {logical_id}.{id} feeds the expression, it must not return data"
                    );
                    let stat = &query["MetricStat"];
                    let metric = &stat["Metric"];
                    assert_eq!(
                        metric["Namespace"],
                        stage_namespace(),
                        "{TEMPLATE}: {logical_id}.{id} must read the namespace the service writes"
                    );
                    assert!(
                        metric["Dimensions"].is_null(),
                        "{TEMPLATE}: {logical_id}.{id} must read the service-wide series (no dimensions)"
                    );
                    queries.insert(
                        id,
                        MetricQuery {
                            metric: metric["MetricName"].as_str().unwrap_or(""),
                            stat: stat["Stat"].as_str().unwrap_or(""),
                            period: as_number(&stat["Period"], &format!("{logical_id}.{id}.Period")),
                        },
                    );
                }
                assert_eq!(
                    expressions.len(),
                    1,
                    "{TEMPLATE}: {logical_id} needs exactly one expression"
                );
                MathAlarm {
                    logical_id,
                    properties,
                    queries,
                    expression: expressions.remove(0),
                }
            })
            .collect()
    }
}

impl MathAlarm<'_> {
    /// The id of the query that sums `metric` over `period` seconds.
    fn sum_of(&self, metric: &str, period: u64) -> Option<&str> {
        self.queries
            .iter()
            .find(|(_, query)| {
                query.metric == metric && query.stat == "Sum" && query.period == period
            })
            .map(|(id, _)| *id)
    }

    /// The alarm fires when the expression, a ratio written as `numerator` over
    /// `denominator` (ids substituted in; as a fraction or times 100), is above `percent`;
    /// with `minimum`, only once the denominator reaches it (`IF(<denominator> >= <minimum>,
    /// <ratio>, 0)`), so that a single bad answer in a quiet period is no 100 % rate.
    fn assert_rate_above(
        &self,
        numerator: &str,
        denominator: &str,
        percent: f64,
        minimum: Option<u64>,
    ) {
        let id = self.logical_id;
        let threshold = as_float(&self.properties["Threshold"], &format!("{id}.Threshold"));
        let fraction = format!("{numerator}/{denominator}");
        let ratio = match minimum {
            None => self.expression.as_str(),
            Some(minimum) => self
                .expression
                .strip_prefix(&format!("IF({denominator}>={minimum},"))
                .and_then(|rest| rest.strip_suffix(",0)"))
                .unwrap_or_else(|| {
                    panic!(
                        "{TEMPLATE}: {id} should count only from {minimum} requests: \
                         IF({denominator} >= {minimum}, <rate>, 0), not {}",
                        self.expression
                    )
                }),
        };
        let expected_threshold = if ratio == fraction {
            percent / 100.0
        } else if ratio == format!("100*{fraction}") {
            percent
        } else {
            panic!(
                "{TEMPLATE}: {id} should alarm on {fraction} (or 100*{fraction}), not {}",
                self.expression
            )
        };
        assert!(
            (threshold - expected_threshold).abs() < 1e-9,
            "{TEMPLATE}: {id}.Threshold must be {expected_threshold} ({percent} %), is {threshold}"
        );
        assert_eq!(
            self.properties["ComparisonOperator"], "GreaterThanThreshold",
            "{TEMPLATE}: {id} must fire above the threshold"
        );
        assert_eq!(
            self.properties["TreatMissingData"], "notBreaching",
            "{TEMPLATE}: {id}: no traffic (no data) is no breach"
        );
        assert_eq!(
            as_number(
                &self.properties["EvaluationPeriods"],
                &format!("{id}.EvaluationPeriods")
            ),
            1,
            "{TEMPLATE}: {id} should judge one period"
        );
    }
}

#[test]
fn every_alarm_notifies_the_topic_when_given() {
    let template = Template::load();
    assert_eq!(
        template.root["Conditions"]["HasAlarmTopic"],
        json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "AlarmTopicArn" }, ""] }] }),
        "{TEMPLATE}: HasAlarmTopic must be true exactly when AlarmTopicArn is given"
    );
    let mut alarms = 0;
    for (id, alarm) in template.of_type("AWS::CloudWatch::Alarm") {
        alarms += 1;
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(
                alarm["Properties"][actions],
                topic_when_given(),
                "{TEMPLATE}: {id}.{actions} must be !If [HasAlarmTopic, [!Ref AlarmTopicArn], \
                 !Ref AWS::NoValue]"
            );
        }
    }
    assert!(alarms > 0, "{TEMPLATE} has no alarms");
}

#[test]
fn every_dead_letter_queue_alarms_on_its_first_message() {
    let template = Template::load();
    for (_, _, runner) in consumer_runners() {
        let (_, dead_letter_variable) = queue_variables(runner.queue());
        let dead_letters = template.environment_target(dead_letter_variable, "AWS::SQS::Queue");
        let alarm = template
            .of_type("AWS::CloudWatch::Alarm")
            .map(|(_, alarm)| &alarm["Properties"])
            .find(|properties| {
                properties["Namespace"] == "AWS/SQS"
                    && properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
                    && as_list(&properties["Dimensions"])
                        .into_iter()
                        .any(|dimension| {
                            dimension["Name"] == "QueueName"
                                && referenced_id(&dimension["Value"]) == Some(dead_letters)
                        })
            })
            .unwrap_or_else(|| panic!("{TEMPLATE}: no alarm on the messages of {dead_letters}"));
        assert!(
            alarm["Statistic"] == "Maximum"
                && as_float(&alarm["Threshold"], "Threshold") == 0.0
                && alarm["ComparisonOperator"] == "GreaterThanThreshold",
            "{TEMPLATE}: the alarm on {dead_letters} must fire on one message (Maximum > 0)"
        );
    }
}

/// The 5xx-rate alarm judges a period only from this many requests on.
const MIN_REQUESTS_FOR_ERROR_RATE: u64 = 20;

#[test]
fn service_metrics_alarm_on_errors_latency_and_failed_deployments() {
    let template = Template::load();
    let math_alarms = template.math_alarms();

    let server_errors = math_alarms
        .iter()
        .find_map(|alarm| {
            Some((
                alarm,
                alarm.sum_of(names::ERRORS_5XX, 300)?,
                alarm.sum_of(names::REQUESTS, 300)?,
            ))
        })
        .unwrap_or_else(|| {
            panic!("{TEMPLATE}: no alarm on 5-minute sums of Errors5xx over Requests")
        });
    let (alarm, errors, requests) = server_errors;
    alarm.assert_rate_above(errors, requests, 5.0, Some(MIN_REQUESTS_FOR_ERROR_RATE));

    let failed_deployments = math_alarms
        .iter()
        .find_map(|alarm| {
            Some((
                alarm,
                alarm.sum_of(names::DEPLOYMENTS_FAILED, 900)?,
                alarm.sum_of(names::DEPLOYMENTS_COMPLETED, 900)?,
            ))
        })
        .unwrap_or_else(|| {
            panic!(
                "{TEMPLATE}: no alarm on 15-minute sums of DeploymentsFailed and \
                 DeploymentsCompleted"
            )
        });
    let (alarm, failed, completed) = failed_deployments;
    alarm.assert_rate_above(failed, &format!("({completed}+{failed})"), 10.0, None);

    let latency = template
        .of_type("AWS::CloudWatch::Alarm")
        .map(|(id, alarm)| (id, &alarm["Properties"]))
        .find(|(_, properties)| {
            properties["Namespace"] == stage_namespace()
                && properties["MetricName"] == names::LATENCY
        });
    let (id, properties) =
        latency.unwrap_or_else(|| panic!("{TEMPLATE}: no alarm on the service's Latency"));
    assert!(
        properties["Dimensions"].is_null(),
        "{TEMPLATE}: {id} must watch the service-wide Latency (no dimensions)"
    );
    assert_eq!(
        properties["ExtendedStatistic"], "p95",
        "{TEMPLATE}: {id} must watch p95"
    );
    assert_eq!(
        as_float(&properties["Threshold"], &format!("{id}.Threshold")),
        2000.0,
        "{TEMPLATE}: {id} must fire above 2 s (Latency is in milliseconds)"
    );
    assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(properties["TreatMissingData"], "notBreaching");
    assert_eq!(
        as_number(&properties["Period"], &format!("{id}.Period")),
        300
    );
}

// ------------------------------------------------------------------------------ storage

#[test]
fn records_table_matches_the_dynamodb_adapter() {
    let template = Template::load();
    let table = template.environment_target(vars::RECORDS_TABLE, "AWS::DynamoDB::Table");
    let properties = &template.resource(table)["Properties"];

    assert_eq!(
        properties["KeySchema"],
        json!([
            { "AttributeName": PARTITION_KEY, "KeyType": "HASH" },
            { "AttributeName": SORT_KEY, "KeyType": "RANGE" },
        ]),
        "{TEMPLATE}: {table}.KeySchema must be PARTITION_KEY {PARTITION_KEY:?} (HASH) and \
         SORT_KEY {SORT_KEY:?} (RANGE) of walletless::adapters::aws::dynamodb"
    );
    let definitions: BTreeSet<(String, String)> = properties["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|definition| {
            (
                definition["AttributeName"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                definition["AttributeType"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [PARTITION_KEY, SORT_KEY]
        .into_iter()
        .map(|name| (name.to_string(), "S".to_string()))
        .collect();
    assert_eq!(
        expected,
        definitions,
        "{TEMPLATE}: {table}.AttributeDefinitions must declare both keys as strings: {}",
        set_drift(&expected, &definitions)
    );

    let ttl = &properties["TimeToLiveSpecification"];
    assert_eq!(
        ttl["AttributeName"], TTL_ATTRIBUTE,
        "{TEMPLATE}: {table} TTL attribute must be TTL_ATTRIBUTE {TTL_ATTRIBUTE:?}"
    );
    assert_eq!(
        ttl["Enabled"], true,
        "{TEMPLATE}: {table} TTL must be enabled"
    );
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
        "{TEMPLATE}: {table} needs point-in-time recovery"
    );
    assert_eq!(
        properties["BillingMode"], "PAY_PER_REQUEST",
        "{TEMPLATE}: {table} should bill per request"
    );
    let key = template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    assert_eq!(
        referenced_id(&properties["SSESpecification"]["KMSMasterKeyId"]),
        Some(key),
        "{TEMPLATE}: {table} should be encrypted under {key}"
    );
    assert_retained(&template, table);
}

#[test]
fn archive_bucket_is_private_versioned_encrypted_and_expiring() {
    let template = Template::load();
    let bucket = template.environment_target(vars::ARCHIVE_BUCKET, "AWS::S3::Bucket");
    let key = template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    let properties = &template.resource(bucket)["Properties"];

    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            properties["PublicAccessBlockConfiguration"][flag], true,
            "{TEMPLATE}: {bucket}.PublicAccessBlockConfiguration.{flag} must be true"
        );
    }
    assert_eq!(
        properties["VersioningConfiguration"]["Status"], "Enabled",
        "{TEMPLATE}: {bucket} must be versioned"
    );

    let encryption = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms",
        "{TEMPLATE}: {bucket} must encrypt with SSE-KMS"
    );
    assert_eq!(
        referenced_id(&encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]),
        Some(key),
        "{TEMPLATE}: {bucket} must encrypt under {key}"
    );
    assert_eq!(
        encryption["BucketKeyEnabled"], true,
        "{TEMPLATE}: {bucket} should enable the S3 bucket key"
    );

    let rules: Vec<&Value> = properties["LifecycleConfiguration"]["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["Status"] == "Enabled")
        .collect();
    for (part, what) in [
        ("Transitions", "a transition to archive storage"),
        (
            "ExpirationInDays",
            "an expiration after the retention period",
        ),
        (
            "NoncurrentVersionExpiration",
            "an expiry of replaced versions",
        ),
        (
            "AbortIncompleteMultipartUpload",
            "a cleanup of abandoned multipart uploads",
        ),
    ] {
        assert!(
            rules.iter().any(|rule| !rule[part].is_null()),
            "{TEMPLATE}: {bucket} lifecycle has no enabled rule with {part} ({what})"
        );
    }

    // What expires is the audit exports; ARC-3 metadata that assets point at must not.
    for rule in rules
        .iter()
        .filter(|rule| !rule["ExpirationInDays"].is_null())
    {
        assert_eq!(
            rule["Prefix"], "tenants/",
            "{TEMPLATE}: {bucket}: only audit exports (tenants/) may expire, not ARC-3 metadata"
        );
    }

    // Object Lock is optional, but when configured it must be the kind nobody can undo.
    let lock = &properties["ObjectLockConfiguration"];
    let lock_rule = lock
        .get("Fn::If")
        .and_then(|branches| branches.get(1))
        .unwrap_or(lock);
    if !lock_rule.is_null() {
        assert_eq!(
            lock_rule["Rule"]["DefaultRetention"]["Mode"], "COMPLIANCE",
            "{TEMPLATE}: {bucket} Object Lock must retain in COMPLIANCE mode"
        );
    }

    let tls_only = template
        .of_type("AWS::S3::BucketPolicy")
        .any(|(_, policy)| {
            referenced_id(&policy["Properties"]["Bucket"]) == Some(bucket)
                && policy["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|statement| {
                        let secure = &statement["Condition"]["Bool"]["aws:SecureTransport"];
                        statement["Effect"] == "Deny"
                            && (*secure == json!("false") || *secure == json!(false))
                    })
        });
    assert!(
        tls_only,
        "{TEMPLATE}: {bucket} needs a bucket policy denying requests without TLS \
         (aws:SecureTransport false)"
    );
    assert_retained(&template, bucket);
}

#[test]
fn kms_key_rotates_and_has_an_alias() {
    let template = Template::load();
    let key = template.environment_target(vars::KMS_KEY_ID, "AWS::KMS::Key");
    let properties = &template.resource(key)["Properties"];

    assert_eq!(
        properties["EnableKeyRotation"], true,
        "{TEMPLATE}: {key} must rotate (EnableKeyRotation: true)"
    );
    assert!(
        matches!(
            properties["KeySpec"].as_str(),
            None | Some("SYMMETRIC_DEFAULT")
        ),
        "{TEMPLATE}: {key} must be symmetric (GenerateDataKey needs it), is {}",
        properties["KeySpec"]
    );
    assert!(
        !properties["KeyPolicy"].is_null(),
        "{TEMPLATE}: {key} needs an explicit KeyPolicy"
    );
    let aliased = template
        .of_type("AWS::KMS::Alias")
        .any(|(_, alias)| referenced_id(&alias["Properties"]["TargetKeyId"]) == Some(key));
    assert!(aliased, "{TEMPLATE}: no AWS::KMS::Alias targets {key}");
    assert_retained(&template, key);
}

// ------------------------------------------------------------------------------ samconfig

#[test]
fn samconfig_builds_this_template_with_cargo_lambda() {
    let config: toml::Table = read(SAM_CONFIG)
        .parse()
        .unwrap_or_else(|e| panic!("{SAM_CONFIG} is not valid TOML: {e}"));
    let section = |command: &str| -> toml::Table {
        config
            .get("default")
            .and_then(|env| env.get(command))
            .and_then(|command| command.get("parameters"))
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default()
    };

    let build = section("build");
    assert_eq!(
        build.get("template_file").and_then(toml::Value::as_str),
        Some(TEMPLATE),
        "{SAM_CONFIG}: [default.build.parameters] template_file must be {TEMPLATE:?}"
    );
    assert_eq!(
        build.get("beta_features").and_then(toml::Value::as_bool),
        Some(true),
        "{SAM_CONFIG}: rust-cargolambda is a SAM beta feature; build needs beta_features = true"
    );
    assert!(
        section("deploy").get("template_file").is_none()
            && section("global").get("template_file").is_none(),
        "{SAM_CONFIG}: deploy must use the built template in .aws-sam/build; naming the \
         source template there would upload the workspace as the functions' code"
    );
    let capabilities = section("deploy")
        .get("capabilities")
        .map(|value| match value {
            toml::Value::Array(items) => items
                .iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            other => other.as_str().unwrap_or_default().to_string(),
        })
        .unwrap_or_default();
    assert!(
        capabilities.contains("CAPABILITY_IAM"),
        "{SAM_CONFIG}: deploy creates IAM roles and needs CAPABILITY_IAM, has {capabilities}"
    );
}

/// Every API function counts its requests in the records table (rate limits fail open, so a
/// function that cannot write its counters would silently go unlimited).
#[test]
fn every_api_function_can_count_its_requests() {
    let template = Template::load();
    let table = template.environment_target(vars::RECORDS_TABLE, "AWS::DynamoDB::Table");
    for function in template.functions() {
        if function.events_of_type("HttpApi").next().is_none() {
            continue;
        }
        for action in [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ] {
            assert!(
                template.allows(&function, action, table),
                "{TEMPLATE}: {} serves an API route but may not {action} its rate-limit \
                 counters in {table}",
                function.logical_id
            );
        }
    }
}
