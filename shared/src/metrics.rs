//! CloudWatch metrics as embedded metric format (EMF) documents: one JSON object per line on
//! stdout, which CloudWatch Logs turns into metrics when Lambda ships the line (no agent, no
//! `PutMetricData` call, no extra permission). Spec:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
//!
//! The lines are written straight to stdout, not through `tracing`, whose formatter would
//! wrap them in a log record that CloudWatch no longer reads as EMF.
//!
//! Switch: `WALLETLESS_METRICS=on|off`. Unset, metrics are written on Lambda (where
//! `AWS_LAMBDA_FUNCTION_NAME` is set) and not elsewhere, so the local server's terminal is
//! not filled with them. Namespace: `WALLETLESS_METRICS_NAMESPACE`, default `walletless`.
//! Both are read once, at the first metric.
//!
//! Every dimension value is bounded by the code (route ids, error codes, network ids,
//! outcomes): each distinct value is a billed custom metric. Request and correlation ids go
//! in as plain properties, for Logs Insights, never as dimensions.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::ports::records::now_ms;

/// The environment variable that turns metrics on or off.
pub const SWITCH_VAR: &str = "WALLETLESS_METRICS";
/// The environment variable that overrides [`DEFAULT_NAMESPACE`].
pub const NAMESPACE_VAR: &str = "WALLETLESS_METRICS_NAMESPACE";
/// Set by Lambda in every function: metrics are on there unless switched off.
const LAMBDA_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";

pub const DEFAULT_NAMESPACE: &str = "walletless";

/// Metric names, as the alarms of `infra/template.yaml` use them.
pub mod names {
    pub const REQUESTS: &str = "Requests";
    pub const ERRORS_5XX: &str = "Errors5xx";
    pub const ERRORS_4XX: &str = "Errors4xx";
    pub const LATENCY: &str = "Latency";
    pub const ERRORS_BY_CODE: &str = "ErrorsByCode";
    pub const DEPLOYMENTS_COMPLETED: &str = "DeploymentsCompleted";
    pub const DEPLOYMENTS_FAILED: &str = "DeploymentsFailed";
    pub const DEPLOYMENTS_CANCELLED: &str = "DeploymentsCancelled";
    pub const DEPLOYMENT_DURATION: &str = "DeploymentDuration";
}

/// Dimension names.
pub mod dimensions {
    pub const ROUTE: &str = "Route";
    pub const ERROR_CODE: &str = "ErrorCode";
    pub const NETWORK: &str = "Network";
    pub const OUTCOME: &str = "Outcome";
}

const COUNT: &str = "Count";
const MILLISECONDS: &str = "Milliseconds";

/// CloudWatch refuses dimension values longer than this (and the whole document with them).
const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// One request answered: `Requests`, `Errors5xx`, `Errors4xx` (each 1 or 0) and `Latency`
/// (ms) per route and service-wide, plus `ErrorsByCode` per error code when the answer was
/// an error with a code. The ids go in as properties (the router has them at hand, so no
/// span is searched for them).
pub fn record_request(
    route_id: &str,
    status: u16,
    error_code: Option<&str>,
    latency: Duration,
    request_id: &str,
    correlation_id: &str,
) {
    to_stdout(|emitter| {
        let ids = RequestIds {
            request_id: Some(request_id.to_owned()),
            correlation_id: Some(correlation_id.to_owned()),
        };
        emitter.request_document(now_ms(), route_id, status, error_code, latency, &ids)
    });
}

/// A deployment reached a final state (`completed`, `failed` or `cancelled`): one of
/// `DeploymentsCompleted`/`DeploymentsFailed`/`DeploymentsCancelled` is 1 (the others 0) and
/// `DeploymentDuration` (ms since it was accepted), per network, per outcome and
/// service-wide. A failed deployment that is retried and then completes counts in both.
pub fn record_deployment_final(
    standard: &str,
    network: &str,
    chain_family: &str,
    outcome: &str,
    duration: Duration,
) {
    to_stdout(|emitter| {
        emitter.deployment_document(
            now_ms(),
            &DeploymentFinal {
                standard,
                network,
                chain_family,
                outcome,
                duration,
            },
            &current_request_ids(),
        )
    });
}

/// Writes the document `build` makes with the process's emitter (configured from the
/// environment at first use) to stdout, whose `write_all` holds its lock for the whole line,
/// so a log line written by another thread never lands inside it.
fn to_stdout(build: impl FnOnce(&Emitter) -> Value) {
    static EMITTER: OnceLock<Emitter> = OnceLock::new();
    let emitter = EMITTER.get_or_init(Emitter::from_env);
    if let Err(error) = emit(emitter, &mut std::io::stdout(), build) {
        tracing::warn!(%error, "metrics line not written");
    }
}

/// The document `build` makes, as one JSON line on `out`; nothing, and `build` is not even
/// called, when metrics are off.
fn emit(
    emitter: &Emitter,
    out: &mut impl Write,
    build: impl FnOnce(&Emitter) -> Value,
) -> std::io::Result<()> {
    if !emitter.enabled {
        return Ok(());
    }
    write_document(out, &build(emitter))
}

fn write_document(out: &mut impl Write, document: &Value) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(document)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Whether metrics are written, and under which namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Emitter {
    enabled: bool,
    namespace: String,
}

impl Emitter {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok();
        let switch = var(SWITCH_VAR);
        if let Some(value) = switch.as_deref()
            && parse_switch(value).is_none()
        {
            tracing::warn!(
                variable = SWITCH_VAR,
                value,
                "not on or off; using the default (on in Lambda only)"
            );
        }
        Self::from_values(
            switch.as_deref(),
            var(NAMESPACE_VAR).as_deref(),
            var(LAMBDA_VAR).is_some_and(|name| !name.is_empty()),
        )
    }

    fn from_values(switch: Option<&str>, namespace: Option<&str>, on_lambda: bool) -> Self {
        Self {
            enabled: switch.and_then(parse_switch).unwrap_or(on_lambda),
            namespace: namespace
                .map(str::trim)
                .filter(|namespace| !namespace.is_empty())
                .unwrap_or(DEFAULT_NAMESPACE)
                .to_string(),
        }
    }

    fn request_document(
        &self,
        timestamp_ms: i64,
        route_id: &str,
        status: u16,
        error_code: Option<&str>,
        latency: Duration,
        ids: &RequestIds,
    ) -> Value {
        let mut directives = vec![self.directive(
            &[&[dimensions::ROUTE], &[]],
            &[
                (names::REQUESTS, COUNT),
                (names::ERRORS_5XX, COUNT),
                (names::ERRORS_4XX, COUNT),
                (names::LATENCY, MILLISECONDS),
            ],
        )];
        let mut members = Map::new();
        members.insert(dimensions::ROUTE.into(), dimension_value(route_id).into());
        members.insert(names::REQUESTS.into(), 1.into());
        members.insert(names::ERRORS_5XX.into(), u8::from(status >= 500).into());
        members.insert(
            names::ERRORS_4XX.into(),
            u8::from((400..500).contains(&status)).into(),
        );
        members.insert(names::LATENCY.into(), millis(latency).into());
        members.insert("StatusCode".into(), status.into());
        if let Some(code) = error_code {
            directives.push(self.directive(
                &[&[dimensions::ERROR_CODE]],
                &[(names::ERRORS_BY_CODE, COUNT)],
            ));
            members.insert(dimensions::ERROR_CODE.into(), dimension_value(code).into());
            members.insert(names::ERRORS_BY_CODE.into(), 1.into());
        }
        ids.add_to(&mut members);
        document(timestamp_ms, directives, members)
    }

    fn deployment_document(
        &self,
        timestamp_ms: i64,
        deployment: &DeploymentFinal<'_>,
        ids: &RequestIds,
    ) -> Value {
        let directive = self.directive(
            &[&[dimensions::NETWORK], &[dimensions::OUTCOME], &[]],
            &[
                (names::DEPLOYMENTS_COMPLETED, COUNT),
                (names::DEPLOYMENTS_FAILED, COUNT),
                (names::DEPLOYMENTS_CANCELLED, COUNT),
                (names::DEPLOYMENT_DURATION, MILLISECONDS),
            ],
        );
        let outcome = deployment.outcome;
        let mut members = Map::new();
        members.insert(
            dimensions::NETWORK.into(),
            dimension_value(deployment.network).into(),
        );
        members.insert(dimensions::OUTCOME.into(), dimension_value(outcome).into());
        for (name, counted) in [
            (names::DEPLOYMENTS_COMPLETED, "completed"),
            (names::DEPLOYMENTS_FAILED, "failed"),
            (names::DEPLOYMENTS_CANCELLED, "cancelled"),
        ] {
            members.insert(name.into(), u8::from(outcome == counted).into());
        }
        members.insert(
            names::DEPLOYMENT_DURATION.into(),
            millis(deployment.duration).into(),
        );
        members.insert("Standard".into(), deployment.standard.into());
        members.insert("ChainFamily".into(), deployment.chain_family.into());
        ids.add_to(&mut members);
        document(timestamp_ms, vec![directive], members)
    }

    fn directive(&self, dimension_sets: &[&[&str]], metrics: &[(&str, &str)]) -> Value {
        json!({
            "Namespace": self.namespace,
            "Dimensions": dimension_sets,
            "Metrics": metrics
                .iter()
                .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
                .collect::<Vec<_>>(),
        })
    }
}

struct DeploymentFinal<'a> {
    standard: &'a str,
    network: &'a str,
    chain_family: &'a str,
    outcome: &'a str,
    duration: Duration,
}

fn document(timestamp_ms: i64, directives: Vec<Value>, mut members: Map<String, Value>) -> Value {
    members.insert(
        "_aws".into(),
        json!({ "Timestamp": timestamp_ms, "CloudWatchMetrics": directives }),
    );
    Value::Object(members)
}

fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// A value CloudWatch accepts as a dimension: printable ASCII, not blank, at most 1024
/// characters. Ours already are; this keeps a stray one from losing the whole document.
fn dimension_value(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .take(MAX_DIMENSION_VALUE_CHARS)
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim().is_empty() {
        "unknown".to_string()
    } else {
        cleaned
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The request and correlation ids of the innermost spans that carry them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RequestIds {
    request_id: Option<String>,
    correlation_id: Option<String>,
}

impl RequestIds {
    fn add_to(&self, members: &mut Map<String, Value>) {
        if let Some(id) = &self.request_id {
            members.insert("request_id".into(), id.as_str().into());
        }
        if let Some(id) = &self.correlation_id {
            members.insert("correlation_id".into(), id.as_str().into());
        }
    }
}

/// Read from the fields the JSON log formatter of [`crate::telemetry`] has already recorded
/// on the current spans; nothing when another subscriber (or none) is installed.
fn current_request_ids() -> RequestIds {
    use tracing_subscriber::fmt::FormattedFields;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::registry::{LookupSpan, Registry};

    tracing::dispatcher::get_default(|dispatch| {
        let mut ids = RequestIds::default();
        let Some(registry) = dispatch.downcast_ref::<Registry>() else {
            return ids;
        };
        let Some(span) = dispatch
            .current_span()
            .id()
            .and_then(|id| registry.span(id))
        else {
            return ids;
        };
        for span in span.scope() {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                continue;
            };
            let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&fields.fields) else {
                continue;
            };
            let field = |name: &str| fields.get(name).and_then(Value::as_str).map(String::from);
            ids.request_id = ids.request_id.or_else(|| field("request_id"));
            ids.correlation_id = ids.correlation_id.or_else(|| field("correlation_id"));
            if ids.request_id.is_some() && ids.correlation_id.is_some() {
                break;
            }
        }
        ids
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_700_000_000_123;

    fn emitter() -> Emitter {
        Emitter::from_values(Some("on"), None, false)
    }

    fn ids() -> RequestIds {
        RequestIds {
            request_id: Some("req-1".into()),
            correlation_id: Some("corr-1".into()),
        }
    }

    /// The document as written, read back from its line.
    fn written(document: &Value) -> Value {
        let mut out = Vec::new();
        write_document(&mut out, document).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 1, "one document per line: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A metric directive as read back: its dimension sets, its metric names with units.
    type Directive = (Vec<Vec<String>>, Vec<(String, String)>);

    /// Checks `document` against the EMF specification and returns its metric names with
    /// their units and dimension sets, per directive.
    fn assert_valid_emf(document: &Value) -> Vec<Directive> {
        let root = document.as_object().expect("the root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(
            aws["Timestamp"].is_i64() || aws["Timestamp"].is_u64(),
            "Timestamp must be an integer of ms: {}",
            aws["Timestamp"]
        );
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert!(!directives.is_empty());
        directives
            .iter()
            .map(|directive| {
                assert!(!directive["Namespace"].as_str().unwrap().is_empty());
                let sets: Vec<Vec<String>> =
                    serde_json::from_value(directive["Dimensions"].clone()).unwrap();
                assert!(!sets.is_empty(), "Dimensions needs at least one set");
                for key in sets.iter().flatten() {
                    let value = root
                        .get(key)
                        .unwrap_or_else(|| panic!("dimension {key} has no member"));
                    let value = value
                        .as_str()
                        .unwrap_or_else(|| panic!("dimension {key} is not a string"));
                    assert!(!value.trim().is_empty() && value.len() <= 1024);
                }
                let metrics = directive["Metrics"].as_array().unwrap();
                assert!(!metrics.is_empty() && metrics.len() <= 100);
                let metrics = metrics
                    .iter()
                    .map(|metric| {
                        let name = metric["Name"].as_str().unwrap().to_string();
                        assert!(
                            root.get(&name).is_some_and(Value::is_number),
                            "metric {name} has no numeric value"
                        );
                        (name, metric["Unit"].as_str().unwrap().to_string())
                    })
                    .collect();
                (sets, metrics)
            })
            .collect()
    }

    fn sets(sets: &[&[&str]]) -> Vec<Vec<String>> {
        sets.iter()
            .map(|set| set.iter().map(|key| key.to_string()).collect())
            .collect()
    }

    fn units(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, unit)| (name.to_string(), unit.to_string()))
            .collect()
    }

    #[test]
    fn a_request_is_counted_per_route_and_service_wide() {
        let document = written(&emitter().request_document(
            AT,
            "get-deployment",
            200,
            None,
            Duration::from_micros(12_500),
            &ids(),
        ));
        let directives = assert_valid_emf(&document);
        assert_eq!(
            directives,
            vec![(
                sets(&[&["Route"], &[]]),
                units(&[
                    ("Requests", "Count"),
                    ("Errors5xx", "Count"),
                    ("Errors4xx", "Count"),
                    ("Latency", "Milliseconds"),
                ])
            )]
        );
        assert_eq!(document["_aws"]["Timestamp"], json!(AT));
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "walletless"
        );
        assert_eq!(document["Route"], "get-deployment");
        assert_eq!(document["Requests"], json!(1));
        assert_eq!(document["Errors5xx"], json!(0));
        assert_eq!(document["Errors4xx"], json!(0));
        assert_eq!(document["Latency"], json!(12.5));
        assert_eq!(document["StatusCode"], json!(200));
        assert_eq!(document["request_id"], "req-1");
        assert_eq!(document["correlation_id"], "corr-1");
        assert!(document.get("ErrorCode").is_none());
    }

    #[test]
    fn errors_count_by_class_and_by_code() {
        let server_error = written(&emitter().request_document(
            AT,
            "create-deployment",
            503,
            Some("dependency_unavailable"),
            Duration::from_millis(2),
            &RequestIds::default(),
        ));
        let directives = assert_valid_emf(&server_error);
        assert_eq!(directives.len(), 2);
        assert_eq!(
            directives[1],
            (sets(&[&["ErrorCode"]]), units(&[("ErrorsByCode", "Count")]))
        );
        assert_eq!(server_error["Errors5xx"], json!(1));
        assert_eq!(server_error["Errors4xx"], json!(0));
        assert_eq!(server_error["ErrorCode"], "dependency_unavailable");
        assert_eq!(server_error["ErrorsByCode"], json!(1));
        assert!(server_error.get("request_id").is_none());

        let client_error = written(&emitter().request_document(
            AT,
            "create-deployment",
            422,
            Some("validation_failed"),
            Duration::ZERO,
            &RequestIds::default(),
        ));
        assert_valid_emf(&client_error);
        assert_eq!(client_error["Errors5xx"], json!(0));
        assert_eq!(client_error["Errors4xx"], json!(1));

        for (status, errors_5xx, errors_4xx) in [
            (399, 0, 0),
            (400, 0, 1),
            (499, 0, 1),
            (500, 1, 0),
            (599, 1, 0),
        ] {
            let document = emitter().request_document(
                AT,
                "r",
                status,
                None,
                Duration::ZERO,
                &RequestIds::default(),
            );
            assert_eq!(document["Errors5xx"], json!(errors_5xx), "status {status}");
            assert_eq!(document["Errors4xx"], json!(errors_4xx), "status {status}");
        }
    }

    #[test]
    fn a_final_deployment_counts_its_outcome_and_duration() {
        for (outcome, completed, failed, cancelled) in [
            ("completed", 1, 0, 0),
            ("failed", 0, 1, 0),
            ("cancelled", 0, 0, 1),
        ] {
            let document = written(&emitter().deployment_document(
                AT,
                &DeploymentFinal {
                    standard: "arc3",
                    network: "algorand-testnet",
                    chain_family: "algorand",
                    outcome,
                    duration: Duration::from_secs(42),
                },
                &ids(),
            ));
            let directives = assert_valid_emf(&document);
            assert_eq!(
                directives,
                vec![(
                    sets(&[&["Network"], &["Outcome"], &[]]),
                    units(&[
                        ("DeploymentsCompleted", "Count"),
                        ("DeploymentsFailed", "Count"),
                        ("DeploymentsCancelled", "Count"),
                        ("DeploymentDuration", "Milliseconds"),
                    ])
                )]
            );
            assert_eq!(document["Network"], "algorand-testnet");
            assert_eq!(document["Outcome"], outcome);
            assert_eq!(document["DeploymentsCompleted"], json!(completed));
            assert_eq!(document["DeploymentsFailed"], json!(failed));
            assert_eq!(document["DeploymentsCancelled"], json!(cancelled));
            assert_eq!(document["DeploymentDuration"], json!(42_000.0));
            assert_eq!(document["Standard"], "arc3");
            assert_eq!(document["ChainFamily"], "algorand");
            assert_eq!(document["correlation_id"], "corr-1");
        }
    }

    #[test]
    fn dimension_values_stay_acceptable_to_cloudwatch() {
        assert_eq!(dimension_value("base-sepolia"), "base-sepolia");
        assert_eq!(dimension_value(""), "unknown");
        assert_eq!(dimension_value("  "), "unknown");
        assert_eq!(dimension_value("a\nb€"), "a_b_");
        assert_eq!(dimension_value(&"x".repeat(2000)).len(), 1024);

        let document = emitter().request_document(
            AT,
            "",
            500,
            Some("\u{7f}"),
            Duration::ZERO,
            &RequestIds::default(),
        );
        assert_valid_emf(&document);
    }

    #[test]
    fn the_switch_and_namespace_come_from_the_environment() {
        let on_lambda = Emitter::from_values(None, None, true);
        assert!(on_lambda.enabled);
        assert_eq!(on_lambda.namespace, DEFAULT_NAMESPACE);
        assert!(!Emitter::from_values(None, None, false).enabled);
        assert!(!Emitter::from_values(Some("off"), None, true).enabled);
        assert!(!Emitter::from_values(Some("OFF"), None, true).enabled);
        assert!(!Emitter::from_values(Some("false"), None, true).enabled);
        assert!(Emitter::from_values(Some("on"), None, false).enabled);
        assert!(Emitter::from_values(Some("bogus"), None, true).enabled);
        assert!(!Emitter::from_values(Some("bogus"), None, false).enabled);

        let renamed = Emitter::from_values(Some("on"), Some("walletless/prod"), false);
        assert_eq!(renamed.namespace, "walletless/prod");
        let document =
            renamed.request_document(AT, "r", 200, None, Duration::ZERO, &RequestIds::default());
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "walletless/prod"
        );
        assert_eq!(
            Emitter::from_values(Some("on"), Some(" "), false).namespace,
            DEFAULT_NAMESPACE
        );
    }

    /// `emit` is the path of the public functions, with a buffer for stdout.
    #[test]
    fn switched_off_nothing_is_written() {
        let build = |emitter: &Emitter| {
            emitter.request_document(AT, "r", 500, Some("internal"), Duration::ZERO, &ids())
        };
        let mut out = Vec::new();
        emit(
            &Emitter::from_values(Some("off"), None, true),
            &mut out,
            build,
        )
        .unwrap();
        assert!(out.is_empty());

        emit(&emitter(), &mut out, build).unwrap();
        assert_valid_emf(&serde_json::from_slice(&out).unwrap());
    }

    #[test]
    fn request_ids_come_from_the_current_span() {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(current_request_ids(), RequestIds::default());
            let request = tracing::info_span!(
                "request",
                request_id = "req-9",
                correlation_id = "corr-9",
                route = "get-deployment",
            );
            let _in_request = request.enter();
            let inner = tracing::info_span!("inner", request_id = "step-1");
            let _in_inner = inner.enter();
            assert_eq!(
                current_request_ids(),
                RequestIds {
                    request_id: Some("step-1".into()),
                    correlation_id: Some("corr-9".into()),
                }
            );
        });
        // No subscriber that records fields: no ids, and no failure.
        assert_eq!(current_request_ids(), RequestIds::default());
    }
}
