//! The step queue contract on both adapter families: `embedded::<case>` runs on a SQLite
//! file in a temporary directory, `aws::<case>` on fresh SQS queues in the moto server.

use std::sync::Arc;
use walletless::adapters::embedded::sqlite_queue::SqliteStepQueue;
use walletless::ports::StepQueue;
use walletless::ports::step_queue::DEFAULT_MAX_RECEIVES;
use walletless_tests::contract::step_queue;

/// A queue in a fresh SQLite file; the directory lives as long as the fixture.
struct EmbeddedQueue {
    dir: tempfile::TempDir,
    max_receives: u32,
}

impl EmbeddedQueue {
    fn new(max_receives: u32) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            max_receives,
        }
    }

    /// Opens the queue on the fixture's file; opening again simulates a restart.
    fn open(&self) -> Arc<dyn StepQueue> {
        let path = self.dir.path().join("walletless.db");
        Arc::new(SqliteStepQueue::open(&path, self.max_receives).unwrap())
    }
}

/// One test per case and family. A case may take extra arguments after the queue:
/// `case(arg, ...)`. Family-specific tests go in the `embedded_only` and `aws_only` blocks.
macro_rules! step_queue_contract {
    (
        cases: [$($case:ident $(($($arg:expr),*))?),* $(,)?],
        embedded_only: {$($embedded_item:item)*},
        aws_only: {$($aws_item:item)*} $(,)?
    ) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = EmbeddedQueue::new(DEFAULT_MAX_RECEIVES);
                    step_queue::$case(fixture.open() $($(, $arg)*)?).await;
                }
            )*
            $($embedded_item)*
        }

        mod aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    step_queue::$case(step_queue::sqs_queue().await $($(, $arg)*)?).await;
                }
            )*
            $($aws_item)*
        }
    };
}

step_queue_contract! {
    cases: [
        enqueue_then_receive,
        receive_batches_in_order,
        zero_visibility_delivers_each_message_once_per_receive,
        ack_removes_message,
        release_redelivers_as_next_attempt,
        release_with_delay_hides_message,
        unacked_message_returns_after_visibility_timeout,
        delay_hides_message_until_due,
        long_poll_returns_when_a_message_arrives,
        unknown_receipt_is_stale,
        dead_letter_after_max_receives(DEFAULT_MAX_RECEIVES),
        invalid_inputs_are_refused,
        concurrent_receivers_get_every_message,
        health_ok,
    ],
    embedded_only: {
        /// SQS accepts stale receipts (see the case's documentation), so only here.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn stale_receipt_after_redelivery() {
            let fixture = EmbeddedQueue::new(DEFAULT_MAX_RECEIVES);
            step_queue::stale_receipt_after_redelivery(fixture.open()).await;
        }

        /// moto occasionally hands one message to two concurrent receivers (see the case).
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_receivers_never_share_a_message() {
            let fixture = EmbeddedQueue::new(DEFAULT_MAX_RECEIVES);
            step_queue::concurrent_receivers_never_share_a_message(fixture.open()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn survives_reopen() {
            let fixture = EmbeddedQueue::new(DEFAULT_MAX_RECEIVES);
            step_queue::survives_reopen(|| fixture.open()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dead_letter_after_custom_max_receives() {
            let fixture = EmbeddedQueue::new(2);
            step_queue::dead_letter_after_max_receives(fixture.open(), 2).await;
        }
    },
    aws_only: {
        use step_queue::SqsQueues;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn foreign_body_is_skipped_then_dead_lettered() {
            let queues = SqsQueues::provision(DEFAULT_MAX_RECEIVES).await;
            step_queue::foreign_body_is_skipped_then_dead_lettered(&queues, DEFAULT_MAX_RECEIVES)
                .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn missing_queue_is_unavailable() {
            let queues = SqsQueues::provision(DEFAULT_MAX_RECEIVES).await;
            step_queue::missing_queue_is_unavailable(&queues).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dead_letter_after_custom_max_receives() {
            let queues = SqsQueues::provision(2).await;
            step_queue::dead_letter_after_max_receives(Arc::new(queues.adapter()), 2).await;
        }
    },
}
