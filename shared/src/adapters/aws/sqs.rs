//! The SQS step queue: a standard queue whose redrive policy moves a message to the
//! dead-letter queue after [`DEFAULT_MAX_RECEIVES`](crate::ports::step_queue::DEFAULT_MAX_RECEIVES)
//! receives (the policy lives on the queue, set by the SAM template; this adapter only reads
//! the dead-letter queue).
//!
//! SQS counts time in whole seconds: visibility timeouts and delays round *up* (a message is
//! never shown earlier than asked), long-poll waits round *down* and are capped at SQS's 20 s
//! (a receive never blocks longer than asked).
//!
//! Stale receipts: SQS does not reject every stale receipt. Deleting with the receipt of an
//! earlier delivery succeeds (SQS documents that the message "might not be deleted"; moto
//! deletes it), and so does deleting an already deleted message, so
//! `ack` reports [`QueueError::StaleReceipt`] only for receipts SQS refuses outright (unknown
//! or malformed handles, or messages no longer in flight). Step handlers must be idempotent
//! anyway, since delivery is at least once.

use crate::adapters::aws::SdkFailure;
use crate::ports::step_queue::{
    Delivery, QueueError, QueueResult, StepMessage, StepQueue, validate_enqueue, validate_receive,
    validate_release_delay,
};
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use std::time::Duration;

/// The longest long poll SQS allows.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// How long dead letters stay hidden after being read: if deleting them fails, they come back
/// for the next reader instead of being lost.
const DEAD_LETTER_VISIBILITY_SECONDS: i32 = 30;
/// A short long poll for the dead-letter queue: SQS short polling samples only some servers
/// and can answer empty while messages are waiting.
const DEAD_LETTER_WAIT_SECONDS: i32 = 1;

/// Error codes SQS uses for conditions that pass on their own.
const TRANSIENT_CODES: &[&str] = &[
    "RequestThrottled",
    "ThrottlingException",
    "Throttling",
    "KMS.ThrottlingException",
    "OverLimit",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "RequestTimeout",
];
/// Error codes SQS uses for requests that can never succeed as sent.
const INVALID_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "MissingParameter",
    "InvalidMessageContents",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "ValidationError",
];

/// The SQS-backed [`StepQueue`].
#[derive(Clone, Debug)]
pub struct SqsStepQueue {
    client: Client,
    queue_url: String,
    dead_letter_queue_url: String,
}

impl SqsStepQueue {
    /// Uses the queue at `queue_url`, whose redrive policy targets `dead_letter_queue_url`.
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dead_letter_queue_url: dead_letter_queue_url.into(),
        }
    }

    async fn check_queue(&self, queue_url: &str) -> QueueResult<()> {
        let result = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await;
        outcome(
            result,
            "GetQueueAttributes",
            queue_url,
            |e| e.is_queue_does_not_exist(),
            || QueueError::Unavailable(format!("queue {queue_url} does not exist")),
        )
    }
}

#[async_trait]
impl StepQueue for SqsStepQueue {
    async fn enqueue(&self, message: &StepMessage, delay: Duration) -> QueueResult<String> {
        let body = validate_enqueue(message, delay)?;
        let output = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(seconds_rounded_up(delay))
            .send()
            .await
            .map_err(|e| sdk_error("SendMessage", &self.queue_url, e))?;
        output
            .message_id
            .ok_or_else(|| QueueError::Internal("SendMessage returned no message id".into()))
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        validate_receive(max)?;
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(seconds_rounded_up(visibility))
            .wait_time_seconds(wait_seconds(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sdk_error("ReceiveMessage", &self.queue_url, e))?;
        let mut deliveries = Vec::new();
        for message in output.messages.unwrap_or_default() {
            if let Some(delivery) = to_delivery(message)? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn ack(&self, receipt: &str) -> QueueResult<()> {
        let result = self
            .client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await;
        outcome(
            result,
            "DeleteMessage",
            &self.queue_url,
            |e| e.is_receipt_handle_is_invalid(),
            || QueueError::StaleReceipt,
        )
    }

    async fn release(&self, receipt: &str, delay: Duration) -> QueueResult<()> {
        validate_release_delay(delay)?;
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds_rounded_up(delay))
            .send()
            .await;
        outcome(
            result,
            "ChangeMessageVisibility",
            &self.queue_url,
            |e| {
                e.is_receipt_handle_is_invalid()
                    || e.is_message_not_inflight()
                    || is_expired_receipt(e.code(), e.message())
            },
            || QueueError::StaleReceipt,
        )
    }

    async fn receive_dead_letters(&self, max: u32) -> QueueResult<Vec<Delivery>> {
        validate_receive(max)?;
        let queue_url = &self.dead_letter_queue_url;
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(DEAD_LETTER_VISIBILITY_SECONDS)
            .wait_time_seconds(DEAD_LETTER_WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| sdk_error("ReceiveMessage", queue_url, e))?;
        let mut deliveries = Vec::new();
        let mut entries = Vec::new();
        for message in output.messages.unwrap_or_default() {
            // An unreadable dead letter is left in the queue (hidden for a while) for an
            // operator to inspect with the AWS tools; deleting it would lose it for good.
            let Some(delivery) = to_delivery(message)? else {
                continue;
            };
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{}", entries.len()))
                .receipt_handle(&delivery.receipt)
                .build()
                .map_err(|e| QueueError::Internal(format!("delete batch entry: {e}")))?;
            entries.push(entry);
            deliveries.push(delivery);
        }
        if entries.is_empty() {
            return Ok(deliveries);
        }
        let deleted = self
            .client
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteMessageBatch", queue_url, e))?;
        // The messages were read either way; the ones SQS failed to delete come back after the
        // visibility timeout, so returning them is a duplicate at worst, never a loss.
        for failure in deleted.failed() {
            tracing::warn!(
                entry = failure.id(),
                code = failure.code(),
                "dead letter was read but not deleted; it will be delivered again"
            );
        }
        Ok(deliveries)
    }

    async fn health(&self) -> QueueResult<()> {
        self.check_queue(&self.queue_url).await?;
        self.check_queue(&self.dead_letter_queue_url).await
    }
}

/// Turns an SQS message into a delivery, or `None` for a body that is not a step message.
///
/// Such a body cannot come from [`StepQueue::enqueue`], only from someone writing to the queue
/// directly. Failing the whole receive would block every good message behind it, and deleting
/// it would destroy evidence, so it is skipped: it stays hidden for the visibility timeout,
/// and after `maxReceiveCount` receives the redrive policy parks it in the dead-letter queue.
fn to_delivery(message: Message) -> QueueResult<Option<Delivery>> {
    let message_id = message
        .message_id
        .ok_or_else(|| QueueError::Internal("received a message without an id".into()))?;
    let receipt = message
        .receipt_handle
        .ok_or_else(|| QueueError::Internal(format!("message {message_id} has no receipt")))?;
    let attempt = message
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse::<u32>().ok())
        .ok_or_else(|| {
            QueueError::Internal(format!(
                "message {message_id} has no ApproximateReceiveCount"
            ))
        })?;
    let body = message.body.unwrap_or_default();
    match serde_json::from_str::<StepMessage>(&body) {
        Ok(step) => Ok(Some(Delivery {
            message_id,
            receipt,
            attempt,
            message: step,
        })),
        Err(error) => {
            tracing::warn!(
                message_id,
                attempt,
                %error,
                "skipping a queue message that is not a step message"
            );
            Ok(None)
        }
    }
}

/// Whole seconds, rounded up so a message is never visible earlier than asked.
fn seconds_rounded_up(duration: Duration) -> i32 {
    let whole = duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0));
    i32::try_from(whole).unwrap_or(i32::MAX)
}

/// Whole seconds, rounded down and capped, so a receive never waits longer than asked.
fn wait_seconds(wait: Duration) -> i32 {
    i32::try_from(wait.as_secs().min(MAX_WAIT_SECONDS)).unwrap_or(0)
}

/// Real SQS answers `InvalidParameterValue` ("The receipt handle has expired") to a visibility
/// change on a delivery whose receipt has timed out.
fn is_expired_receipt(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("InvalidParameterValue")
        && message.is_some_and(|m| {
            m.to_ascii_lowercase()
                .contains("receipt handle has expired")
        })
}

/// The outcome of a call whose answer we do not need: the service errors `is_refusal` picks
/// out mean `refused()` in the port's terms; any other failure goes through [`sdk_error`].
fn outcome<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    operation: &str,
    queue_url: &str,
    is_refusal: impl FnOnce(&E) -> bool,
    refused: impl FnOnce() -> QueueError,
) -> QueueResult<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.as_service_error().is_some_and(is_refusal) => Err(refused()),
        Err(error) => Err(sdk_error(operation, queue_url, error)),
    }
}

/// Maps an SDK failure: transport trouble, throttling and 5xx are retryable
/// (`Unavailable`), requests SQS refuses as malformed are `Invalid`, the rest `Internal`.
fn sdk_error<E>(operation: &str, queue_url: &str, error: SdkError<E, HttpResponse>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    queue_error(SdkFailure::new(
        &error,
        TRANSIENT_CODES,
        format_args!("{operation} on {queue_url}"),
    ))
}

fn queue_error(failure: SdkFailure) -> QueueError {
    if failure.retryable {
        QueueError::Unavailable(failure.detail)
    } else if INVALID_CODES.contains(&failure.code()) {
        QueueError::Invalid(failure.detail)
    } else {
        QueueError::Internal(failure.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_and_delay_round_up_to_whole_seconds() {
        assert_eq!(seconds_rounded_up(Duration::ZERO), 0);
        assert_eq!(seconds_rounded_up(Duration::from_secs(2)), 2);
        assert_eq!(seconds_rounded_up(Duration::from_millis(1001)), 2);
        assert_eq!(seconds_rounded_up(Duration::from_millis(1)), 1);
        assert_eq!(seconds_rounded_up(Duration::MAX), i32::MAX);
    }

    #[test]
    fn wait_rounds_down_and_caps_at_twenty_seconds() {
        assert_eq!(wait_seconds(Duration::from_millis(999)), 0);
        assert_eq!(wait_seconds(Duration::from_millis(2500)), 2);
        assert_eq!(wait_seconds(Duration::from_secs(60)), 20);
        assert_eq!(wait_seconds(Duration::MAX), 20);
    }

    #[test]
    fn service_errors_are_classified() {
        let classify = |status, code| {
            queue_error(SdkFailure::service(
                status,
                code,
                TRANSIENT_CODES,
                String::new(),
            ))
        };
        assert!(classify(400, Some("RequestThrottled")).is_retryable());
        assert!(classify(503, None).is_retryable());
        assert!(classify(429, None).is_retryable());
        assert!(matches!(
            classify(400, Some("InvalidParameterValue")),
            QueueError::Invalid(_)
        ));
        assert!(matches!(
            classify(403, Some("AccessDenied")),
            QueueError::Internal(_)
        ));
    }

    #[test]
    fn expired_receipt_is_recognised() {
        assert!(is_expired_receipt(
            Some("InvalidParameterValue"),
            Some(
                "Value x for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
            )
        ));
        assert!(!is_expired_receipt(
            Some("InvalidParameterValue"),
            Some("VisibilityTimeout is invalid")
        ));
    }

    fn message(body: &str, count: Option<&str>) -> Message {
        let mut builder = Message::builder()
            .message_id("id-1")
            .receipt_handle("r-1")
            .body(body);
        if let Some(count) = count {
            builder = builder.attributes(
                MessageSystemAttributeName::ApproximateReceiveCount,
                count.to_owned(),
            );
        }
        builder.build()
    }

    #[test]
    fn a_step_message_becomes_a_delivery() {
        let delivery = to_delivery(message(r#"{"kind":"mint","payload":{"n":1}}"#, Some("3")))
            .unwrap()
            .unwrap();
        assert_eq!(delivery.attempt, 3);
        assert_eq!(delivery.message_id, "id-1");
        assert_eq!(delivery.receipt, "r-1");
        assert_eq!(
            delivery.message,
            StepMessage::new("mint", serde_json::json!({"n": 1}))
        );
    }

    #[test]
    fn a_foreign_body_is_skipped_not_fatal() {
        assert!(to_delivery(message("hello", Some("1"))).unwrap().is_none());
    }

    #[test]
    fn a_missing_receive_count_is_an_error() {
        assert!(matches!(
            to_delivery(message(r#"{"kind":"k","payload":null}"#, None)),
            Err(QueueError::Internal(_))
        ));
    }
}
