//! The sweep: finds deployments that stopped moving and moves them on, or fails them.
//!
//! A step chain can stop without anything being wrong with the deployment: a message
//! dead-lettered after repeated transient failures (a node down for long), or a worker that
//! died in a way no redelivery recovers. Every deployment not yet final has an entry in the
//! `deployments#active` partition; the sweep reads it and, for each deployment untouched for
//! [`STALL_AFTER`], enqueues its next step again (steps are safe to run twice), unless it is
//! past [`DEADLINE`] with nothing sent, in which case it fails with `DEPLOYMENT_TIMEOUT`
//! (retryable: a retry starts a new attempt). A deployment whose transactions were sent is
//! never failed by the sweep: the confirm step decides, from the chain, whether they can
//! still confirm.

use std::time::Duration;

use serde::Serialize;

use super::pipeline::{self, next_step};
use super::store::{self, ACTIVE_PARTITION, Failure};
use crate::api::ErrorCode;
use crate::app::App;
use crate::ports::records::now_ms;
use crate::ports::records::{Query, RecordsError};

/// How long a deployment may go without a write before the sweep pushes it on.
pub const STALL_AFTER: Duration = Duration::from_secs(5 * 60);
/// How long a deployment may take to send its first transaction.
pub const DEADLINE: Duration = Duration::from_secs(60 * 60);
/// How often the local server's worker sweeps (in AWS, a schedule invokes it).
pub const INTERVAL: Duration = Duration::from_secs(60);

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub examined: usize,
    pub resumed: Vec<String>,
    pub failed: Vec<String>,
    pub webhook_deliveries_resumed: usize,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Sweeps every active deployment, as of `now_ms`.
pub async fn sweep(app: &App, now_ms: i64) -> Result<SweepReport, RecordsError> {
    let mut report = SweepReport::default();
    let mut query = Query::partition(ACTIVE_PARTITION);
    loop {
        let page = app.records().query(&query).await?;
        for entry in &page.records {
            report.examined += 1;
            let Some(user_id) = entry.body["user_id"].as_str() else {
                continue;
            };
            let deployment_id = &entry.key.sort;
            let Some(loaded) = store::load(app, user_id, deployment_id).await? else {
                continue;
            };
            let deployment = &loaded.deployment;
            if deployment.status.is_final()
                || now_ms.saturating_sub(deployment.updated_at_ms) < millis(STALL_AFTER)
            {
                continue;
            }
            let sent = deployment.stages.iter().any(|stage| stage.sending);
            if !sent && now_ms.saturating_sub(deployment.created_at_ms) >= millis(DEADLINE) {
                let mut failed = deployment.clone();
                let timeout = Failure {
                    code: ErrorCode::DeploymentTimeout.as_str(),
                    message: format!(
                        "nothing was sent within {} minutes",
                        DEADLINE.as_secs() / 60
                    ),
                    retryable: ErrorCode::DeploymentTimeout.retryable(),
                };
                if failed.fail(timeout).is_ok() {
                    match store::save(app, &loaded, failed, &deployment.system_origin("sweep"))
                        .await
                    {
                        Ok(_) => report.failed.push(deployment_id.clone()),
                        // It moved meanwhile: not stalled after all.
                        Err(RecordsError::ConditionFailed { .. })
                        | Err(RecordsError::TransactionConflict { .. }) => {}
                        Err(error) => return Err(error),
                    }
                }
                continue;
            }
            if let Some(step) = next_step(deployment, deployment.planned_stages.len()) {
                pipeline::enqueue(app, deployment, step, loaded.version, Duration::ZERO)
                    .await
                    .map_err(|error| RecordsError::Unavailable(error.to_string()))?;
                report.resumed.push(deployment_id.clone());
            }
        }
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    // Webhook deliveries whose message was lost are resumed by the same sweep.
    report.webhook_deliveries_resumed = crate::webhooks::resume_pending(app, now_ms).await?;
    if !report.resumed.is_empty() || !report.failed.is_empty() {
        tracing::info!(
            examined = report.examined,
            resumed = report.resumed.len(),
            failed = report.failed.len(),
            "deployment sweep"
        );
    }
    Ok(report)
}

/// Sweeps now.
pub async fn sweep_now(app: &App) -> Result<SweepReport, RecordsError> {
    sweep(app, now_ms()).await
}
