//! What each Lambda binary runs: load configuration, build the app once at init, then serve
//! one route (lambda_http), one queue or one schedule (lambda_runtime). A configuration or
//! resource problem stops the function at init with one line naming it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

use crate::api::{router, routes};
use crate::app::App;
use crate::config::Config;
use crate::deployments::sweep;
use crate::steps::StepRunner;

pub type Error = lambda_runtime::Error;

async fn init() -> Result<(Config, App), Error> {
    crate::telemetry::init();
    let started = async {
        let config = Config::from_env()?;
        let app = App::from_config(&config).await?;
        Ok((config, app))
    };
    started.await.map_err(|error: crate::app::StartupError| {
        tracing::error!(%error, "function cannot start");
        error.into()
    })
}

/// Serve the route with this id through API Gateway.
pub async fn serve_route(route_id: &str) -> Result<(), Error> {
    let route = routes::find(route_id).ok_or_else(|| format!("no route {route_id:?}"))?;
    let (config, app) = init().await?;
    lambda_http::run(router(app, [route], config.rate_limits)).await
}

/// Consume the steps queue, reporting partial batch failures.
pub async fn serve_steps() -> Result<(), Error> {
    serve_queue(StepRunner::standard()).await
}

/// Consume the webhook deliveries queue, reporting partial batch failures.
pub async fn serve_webhook_deliveries() -> Result<(), Error> {
    serve_queue(StepRunner::webhook_deliveries()).await
}

/// Consume the audit exports queue, reporting partial batch failures.
pub async fn serve_audit_exports() -> Result<(), Error> {
    serve_queue(StepRunner::audit_exports()).await
}

async fn serve_queue(runner: StepRunner) -> Result<(), Error> {
    let (_, app) = init().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<SqsEvent>| {
            let (app, runner) = (app.clone(), runner.clone());
            async move {
                Ok::<SqsBatchResponse, Error>(runner.handle_sqs_batch(&app, event.payload).await)
            }
        },
    ))
    .await
}

/// A periodic job, run by a function that an EventBridge schedule invokes. What it answers
/// is the invocation's result (what `aws lambda invoke` prints); an error fails the
/// invocation, so it counts in the function's `Errors` metric.
pub type ScheduledJob = fn(App) -> BoxFuture<'static, Result<Value, Error>>;

/// A function invoked on a schedule: a Lambda binary of this name in `functions/`, and its
/// `Schedule` event in the SAM template (tests/infra_template.rs checks both).
#[derive(Clone, Copy)]
pub struct ScheduledFunction {
    pub name: &'static str,
    /// The EventBridge schedule expression of its `Schedule` event.
    pub schedule: &'static str,
    pub job: ScheduledJob,
}

impl std::fmt::Debug for ScheduledFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.name, self.schedule)
    }
}

/// Every scheduled function. (The local server has no schedules: it runs the sweep on its
/// own timer, every `sweep::INTERVAL`.)
pub static SCHEDULED_FUNCTIONS: &[ScheduledFunction] = &[ScheduledFunction {
    name: "deployment-sweep",
    // A deployment counts as stalled after `sweep::STALL_AFTER` (5 minutes) without a write;
    // sweeping as often finds each one at most 5 minutes after that.
    schedule: "rate(5 minutes)",
    job: |app| Box::pin(sweep_deployments(app)),
}];

/// The scheduled function with this name.
pub fn find_scheduled(name: &str) -> Option<&'static ScheduledFunction> {
    SCHEDULED_FUNCTIONS
        .iter()
        .find(|function| function.name == name)
}

async fn sweep_deployments(app: App) -> Result<Value, Error> {
    let report = sweep::sweep_now(&app).await?;
    Ok(serde_json::to_value(report)?)
}

/// What the functions read of an EventBridge scheduled event: enough to tell invocations
/// apart in the logs. Every field is optional so that a function can also be invoked by
/// hand with `{}`, to run its job now.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScheduledEvent {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// When the schedule fired (RFC 3339).
    #[serde(default)]
    pub time: Option<String>,
    /// The rule that fired.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// Run a scheduled function's job for one event, logging what it did or why it failed.
pub async fn run_scheduled(
    app: &App,
    function: &ScheduledFunction,
    request_id: &str,
    event: &ScheduledEvent,
) -> Result<Value, Error> {
    let span = tracing::info_span!(
        "scheduled",
        request_id,
        function = function.name,
        event_id = event.id.as_deref().unwrap_or(""),
        scheduled_at = event.time.as_deref().unwrap_or(""),
    );
    async {
        match (function.job)(app.clone()).await {
            Ok(report) => {
                tracing::info!(%report, "scheduled job done");
                Ok(report)
            }
            Err(error) => {
                tracing::error!(%error, "scheduled job failed");
                Err(error)
            }
        }
    }
    .instrument(span)
    .await
}

/// The `errorType` of a failed scheduled invocation (instead of the Rust type name).
pub const SCHEDULED_JOB_FAILED: &str = "ScheduledJobFailed";

/// Serve the scheduled function with this name: run its job on every invocation.
pub async fn serve_schedule(name: &str) -> Result<(), Error> {
    let function = find_scheduled(name).ok_or_else(|| format!("no scheduled function {name:?}"))?;
    let (_, app) = init().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<ScheduledEvent>| {
            let app = app.clone();
            async move {
                run_scheduled(&app, function, &event.context.request_id, &event.payload)
                    .await
                    .map_err(|error| lambda_runtime::Diagnostic {
                        error_type: SCHEDULED_JOB_FAILED.to_string(),
                        error_message: error.to_string(),
                    })
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn scheduled_functions_are_unique_and_found_by_name() {
        let mut names = HashSet::new();
        for function in SCHEDULED_FUNCTIONS {
            assert!(names.insert(function.name), "duplicate {function:?}");
            assert!(
                routes::find(function.name).is_none()
                    && !crate::steps::CONSUMER_FUNCTIONS.contains(&function.name),
                "{function:?} shares its name with another function"
            );
            assert!(
                function.schedule.starts_with("rate(") || function.schedule.starts_with("cron("),
                "{function:?}"
            );
        }
        assert!(find_scheduled("deployment-sweep").is_some());
        assert!(find_scheduled("health").is_none());
    }

    #[test]
    fn a_scheduled_event_or_an_empty_object_is_read() {
        let event: ScheduledEvent = serde_json::from_value(serde_json::json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-29T15:30:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
            "detail": {}
        }))
        .unwrap();
        assert_eq!(event.detail_type.as_deref(), Some("Scheduled Event"));
        assert_eq!(event.source.as_deref(), Some("aws.events"));
        assert_eq!(event.resources.len(), 1);

        let by_hand: ScheduledEvent = serde_json::from_str("{}").unwrap();
        assert!(by_hand.id.is_none() && by_hand.resources.is_empty());
    }
}
