//! The step queue port: background steps delivered at least once.
//!
//! AWS: SQS with a redrive policy to a dead-letter queue; Lambda consumes it through event
//! source mappings (see [`crate::steps`]), while `receive` serves the contract tests and any
//! polling worker. Embedded: a durable SQLite table polled by an in-process worker, so a
//! restart loses nothing.
//!
//! Semantics both adapters share: a received message stays invisible for the visibility
//! timeout; `ack` removes it; `release` makes it visible again after a delay; a message
//! received more than `max_receives` times moves to the dead-letter queue instead of being
//! delivered again.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// What a step is: its `kind` names the handler, `payload` is the handler's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMessage {
    pub kind: String,
    pub payload: Value,
}

impl StepMessage {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
        }
    }
}

/// A received message. `receipt` acknowledges or releases this delivery only.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub message_id: String,
    pub receipt: String,
    /// 1 on first delivery.
    pub attempt: u32,
    pub message: StepMessage,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid step queue request: {0}")]
    Invalid(String),
    /// The receipt is unknown or stale (the delivery timed out and went to someone else).
    #[error("receipt is no longer valid")]
    StaleReceipt,
    #[error("step queue unavailable: {0}")]
    Unavailable(String),
    #[error("step queue failed: {0}")]
    Internal(String),
}

impl QueueError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Unavailable(_))
    }
}

pub type QueueResult<T> = Result<T, QueueError>;

/// SQS delays at most 15 minutes; both adapters refuse longer delays the same way.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Deliveries before a message moves to the dead-letter queue (the SQS redrive `maxReceiveCount`).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
/// SQS messages are at most 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait StepQueue: Send + Sync + fmt::Debug {
    /// Enqueue a step, visible after `delay` (at most [`MAX_DELAY`]). Returns its message id.
    async fn enqueue(&self, message: &StepMessage, delay: Duration) -> QueueResult<String>;

    /// Up to `max` visible messages (1..=10), each hidden for `visibility` afterwards.
    /// Waits up to `wait` for one to arrive.
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<Delivery>>;

    /// The step is done: delete the message.
    async fn ack(&self, receipt: &str) -> QueueResult<()>;

    /// The attempt failed: deliver the message again after `delay`.
    async fn release(&self, receipt: &str, delay: Duration) -> QueueResult<()>;

    /// Take up to `max` messages from the dead-letter queue (for inspection and redrive).
    async fn receive_dead_letters(&self, max: u32) -> QueueResult<Vec<Delivery>>;

    /// Whether the queue answers.
    async fn health(&self) -> QueueResult<()>;
}

/// Checks both adapters make before enqueueing.
pub fn validate_enqueue(message: &StepMessage, delay: Duration) -> QueueResult<String> {
    if message.kind.is_empty() {
        return Err(QueueError::Invalid("step kind is empty".into()));
    }
    check_delay("delay", delay)?;
    let body = serde_json::to_string(message)
        .map_err(|e| QueueError::Invalid(format!("message is not serialisable: {e}")))?;
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::Invalid(format!(
            "message is {} bytes, more than {}",
            body.len(),
            MAX_MESSAGE_BYTES
        )));
    }
    Ok(body)
}

/// Release delays share the enqueue limit, so both adapters refuse the same requests.
pub fn validate_release_delay(delay: Duration) -> QueueResult<()> {
    check_delay("release delay", delay)
}

/// A delay of at most [`MAX_DELAY`]; `what` names it in the refusal.
fn check_delay(what: &str, delay: Duration) -> QueueResult<()> {
    if delay > MAX_DELAY {
        return Err(QueueError::Invalid(format!(
            "{what} {}s is longer than the {}s allowed",
            delay.as_secs(),
            MAX_DELAY.as_secs()
        )));
    }
    Ok(())
}

pub fn validate_receive(max: u32) -> QueueResult<()> {
    if !(1..=10).contains(&max) {
        return Err(QueueError::Invalid("receive takes 1 to 10 messages".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_and_release_delays_share_one_limit() {
        let message = StepMessage::new("k", Value::Null);
        let too_long = MAX_DELAY + Duration::from_secs(1);
        assert!(validate_enqueue(&message, MAX_DELAY).is_ok());
        assert!(validate_release_delay(MAX_DELAY).is_ok());
        for result in [
            validate_enqueue(&message, too_long).map(drop),
            validate_release_delay(too_long),
        ] {
            assert!(matches!(result, Err(QueueError::Invalid(_))), "{result:?}");
        }
    }
}
