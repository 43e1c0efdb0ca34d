//! Background steps: a registry of handlers by step kind, and the two ways deliveries reach
//! them — SQS batches handed to a Lambda consumer, and the embedded worker polling the
//! durable local queue. Both go through [`StepRunner::process`], so a step behaves the same
//! in Lambda and locally.
//!
//! Outcomes: a step that finished (or recorded its own permanent failure in the domain) is
//! acknowledged; a step that asks to retry is released with its delay; a message that no
//! handler understands is released with backoff until the queue dead-letters it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::app::App;
use crate::ports::{Delivery, StepMessage};

/// The queue consumer functions (each a Lambda binary of this name in `functions/`): the
/// steps queue's, the webhook deliveries queue's and the audit exports queue's.
pub const CONSUMER_FUNCTIONS: &[&str] = &["step-worker", "webhook-worker", "audit-export-worker"];

/// The queues the system consumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueName {
    /// Deployment steps.
    #[default]
    Steps,
    /// Webhook delivery attempts.
    Webhooks,
    /// Audit export jobs.
    AuditExports,
}

/// How long a received step stays invisible to other consumers while it runs.
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Try again later (a transient failure, or a poll that is not finished yet).
    #[error("retry in {}s: {reason}", after.as_secs())]
    Retry { reason: String, after: Duration },
}

/// One kind of step.
#[async_trait]
pub trait StepHandler: Send + Sync {
    /// Run the step. It must be safe to run twice: delivery is at least once.
    async fn run(&self, app: &App, payload: &Value) -> Result<(), StepError>;
}

/// What became of one delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    RetryAfter(Duration),
}

/// The registered handlers by step kind, and the queue they consume.
#[derive(Clone, Default)]
pub struct StepRunner {
    handlers: HashMap<String, Arc<dyn StepHandler>>,
    queue: QueueName,
}

impl std::fmt::Debug for StepRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&String> = self.handlers.keys().collect();
        kinds.sort();
        f.debug_struct("StepRunner").field("kinds", &kinds).finish()
    }
}

impl StepRunner {
    /// The steps queue's handlers: the deployment pipeline.
    pub fn standard() -> Self {
        crate::deployments::pipeline::register(Self::default())
    }

    /// The webhook queue's handler: delivery attempts.
    pub fn webhook_deliveries() -> Self {
        crate::webhooks::register(Self {
            handlers: HashMap::new(),
            queue: QueueName::Webhooks,
        })
    }

    /// The audit exports queue's handler: export jobs.
    pub fn audit_exports() -> Self {
        crate::audit::exports::register(Self {
            handlers: HashMap::new(),
            queue: QueueName::AuditExports,
        })
    }

    /// The queue this runner consumes.
    pub fn queue(&self) -> QueueName {
        self.queue
    }

    pub fn with(mut self, kind: impl Into<String>, handler: Arc<dyn StepHandler>) -> Self {
        self.handlers.insert(kind.into(), handler);
        self
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// Run one delivery through its handler.
    pub async fn process(&self, app: &App, delivery: &Delivery) -> Outcome {
        let span = tracing::info_span!(
            "step",
            request_id = %delivery.message_id,
            kind = %delivery.message.kind,
            attempt = delivery.attempt,
        );
        async {
            let Some(handler) = self.handlers.get(&delivery.message.kind) else {
                tracing::error!("no handler for this step kind; it will be dead-lettered");
                return Outcome::RetryAfter(backoff(delivery.attempt));
            };
            match handler.run(app, &delivery.message.payload).await {
                Ok(()) => {
                    tracing::info!("step done");
                    Outcome::Done
                }
                Err(StepError::Retry { reason, after }) => {
                    let after = retry_delay(after, delivery.attempt);
                    tracing::warn!(%reason, retry_in_s = after.as_secs(), "step will retry");
                    Outcome::RetryAfter(after)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Handle an SQS batch in a Lambda consumer: succeeded messages are deleted by Lambda,
    /// the others are reported as batch item failures (and given their retry delay).
    pub async fn handle_sqs_batch(&self, app: &App, event: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let message_id = record.message_id.clone().unwrap_or_default();
            let fail = |failures: &mut Vec<BatchItemFailure>| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id.clone();
                failures.push(failure);
            };
            let message = record
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<StepMessage>(body).ok());
            let (Some(message), Some(receipt)) = (message, record.receipt_handle.clone()) else {
                tracing::error!(%message_id, "unreadable step message; it will be dead-lettered");
                fail(&mut failures);
                continue;
            };
            let attempt = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1);
            let delivery = Delivery {
                message_id: message_id.clone(),
                receipt,
                attempt,
                message,
            };
            if let Outcome::RetryAfter(delay) = self.process(app, &delivery).await {
                // On this runner's own queue: the receipt means nothing to another. Best
                // effort: if the visibility change fails the message simply comes back after
                // the queue's own visibility timeout.
                let queue = app.queue(self.queue);
                if let Err(error) = queue.release(&delivery.receipt, delay).await {
                    tracing::warn!(%error, "could not set the retry delay");
                }
                fail(&mut failures);
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }

    /// The embedded worker: poll the queue until `shutdown` resolves, processing deliveries
    /// one batch at a time.
    pub async fn run_worker(&self, app: App, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let batch = tokio::select! {
                () = &mut shutdown => return,
                batch = app.queue(self.queue).receive(10, VISIBILITY_TIMEOUT, Duration::from_secs(1)) => batch,
            };
            let deliveries = match batch {
                Ok(deliveries) => deliveries,
                Err(error) => {
                    tracing::warn!(%error, "step queue receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for delivery in deliveries {
                let queue = app.queue(self.queue);
                let settled = match self.process(&app, &delivery).await {
                    Outcome::Done => queue.ack(&delivery.receipt).await,
                    Outcome::RetryAfter(delay) => queue.release(&delivery.receipt, delay).await,
                };
                if let Err(error) = settled {
                    tracing::warn!(%error, message_id = %delivery.message_id, "could not settle step");
                }
            }
        }
    }
}

/// The wait before a failed delivery's next attempt: at least what the step asked for, and
/// at least the exponential backoff of its attempt, jittered up to half again so that steps
/// failing together (a node down) do not all come back together.
pub fn retry_delay(asked: Duration, attempt: u32) -> Duration {
    let base = asked.max(backoff(attempt));
    let jitter = base.mul_f64(rand::random::<f64>() / 2.0);
    (base + jitter).min(crate::ports::step_queue::MAX_DELAY)
}

/// Exponential backoff by attempt: 2, 4, 8, ... seconds, at most 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.clamp(1, 16)).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_with_the_attempt_and_are_jittered_within_bounds() {
        for attempt in 1..=10 {
            let delay = retry_delay(Duration::from_secs(1), attempt);
            let base = backoff(attempt);
            assert!(
                delay >= base && delay <= base.mul_f64(1.5),
                "{attempt}: {delay:?}"
            );
        }
        let asked = retry_delay(Duration::from_secs(100), 1);
        assert!(asked >= Duration::from_secs(100));
        assert!(retry_delay(Duration::from_secs(3600), 1) <= crate::ports::step_queue::MAX_DELAY);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(300));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }
}
