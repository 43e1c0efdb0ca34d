//! The embedded step queue: a durable SQLite table with SQS semantics.
//!
//! Each row is one message. A receive hides the row until `visible_at_ms` and stamps a fresh
//! receipt, so only the latest delivery can ack or release it. A row received more than
//! `max_receives` times is flagged `dead` instead of delivered: that flag is the dead-letter
//! queue. Everything lives in the file, so a restart loses nothing: an unacked delivery simply
//! becomes visible again once its visibility timeout passes.
//!
//! The file may be shared with other adapters' tables and connections, so this adapter only
//! creates its own table and takes the write lock (`BEGIN IMMEDIATE`) for every
//! read-modify-write.

use crate::ports::records::now_ms;
use crate::ports::step_queue::{
    Delivery, QueueError, QueueResult, StepMessage, StepQueue, validate_enqueue, validate_receive,
    validate_release_delay,
};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ulid::Ulid;

/// How long a statement waits for another connection's lock before reporting `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an empty long-poll looks again; short enough that `receive` returns promptly.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The longest a receive waits, as in SQS.
const MAX_WAIT: Duration = Duration::from_secs(20);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS step_queue (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    enqueued_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS step_queue_visible ON step_queue (dead, visible_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS step_queue_receipt ON step_queue (receipt);
";

/// The SQLite-backed [`StepQueue`].
pub struct SqliteStepQueue {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
    max_receives: u32,
}

impl fmt::Debug for SqliteStepQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStepQueue")
            .field("path", &self.path)
            .field("max_receives", &self.max_receives)
            .finish_non_exhaustive()
    }
}

impl SqliteStepQueue {
    /// Opens (creating if needed) the queue table in the SQLite file at `path`. A message
    /// received more than `max_receives` times goes to the dead-letter set.
    pub fn open(path: &Path, max_receives: u32) -> QueueResult<Self> {
        if max_receives == 0 {
            return Err(QueueError::Invalid(
                "max_receives must be at least 1".into(),
            ));
        }
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_error)?;
        // WAL lets readers and the other adapters' connections work alongside our writes.
        let _mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(sqlite_error)?;
        connection.execute_batch(SCHEMA).map_err(sqlite_error)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_path_buf(),
            max_receives,
        })
    }

    /// Deliveries a message gets before it moves to the dead-letter set.
    pub fn max_receives(&self) -> u32 {
        self.max_receives
    }

    /// Runs `work` on the connection on the blocking pool, so SQLite never stalls the executor.
    async fn with_connection<T, F>(&self, work: F) -> QueueResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> QueueResult<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| QueueError::Internal("queue connection lock poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| QueueError::Internal(format!("queue task failed: {e}")))?
    }
}

#[async_trait]
impl StepQueue for SqliteStepQueue {
    async fn enqueue(&self, message: &StepMessage, delay: Duration) -> QueueResult<String> {
        let body = validate_enqueue(message, delay)?;
        let id = Ulid::new().to_string();
        let row_id = id.clone();
        self.with_connection(move |connection| {
            let now = now_ms();
            connection
                .execute(
                    "INSERT INTO step_queue (id, body, visible_at_ms, enqueued_at_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![row_id, body, now.saturating_add(millis(delay)), now],
                )
                .map_err(sqlite_error)?;
            Ok(())
        })
        .await?;
        Ok(id)
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        validate_receive(max)?;
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        loop {
            let max_receives = self.max_receives;
            let deliveries = self
                .with_connection(move |connection| {
                    receive_now(connection, max, visibility, max_receives)
                })
                .await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !deliveries.is_empty() || remaining.is_zero() {
                return Ok(deliveries);
            }
            tokio::time::sleep(remaining.min(POLL_INTERVAL)).await;
        }
    }

    async fn ack(&self, receipt: &str) -> QueueResult<()> {
        let receipt = receipt.to_owned();
        self.with_connection(move |connection| {
            let deleted = connection
                .execute(
                    "DELETE FROM step_queue WHERE receipt = ?1 AND dead = 0",
                    params![receipt],
                )
                .map_err(sqlite_error)?;
            if deleted == 0 {
                return Err(QueueError::StaleReceipt);
            }
            Ok(())
        })
        .await
    }

    async fn release(&self, receipt: &str, delay: Duration) -> QueueResult<()> {
        validate_release_delay(delay)?;
        let receipt = receipt.to_owned();
        self.with_connection(move |connection| {
            let updated = connection
                .execute(
                    "UPDATE step_queue SET visible_at_ms = ?2 WHERE receipt = ?1 AND dead = 0",
                    params![receipt, now_ms().saturating_add(millis(delay))],
                )
                .map_err(sqlite_error)?;
            if updated == 0 {
                return Err(QueueError::StaleReceipt);
            }
            Ok(())
        })
        .await
    }

    async fn receive_dead_letters(&self, max: u32) -> QueueResult<Vec<Delivery>> {
        validate_receive(max)?;
        self.with_connection(move |connection| take_dead_letters(connection, max))
            .await
    }

    async fn health(&self) -> QueueResult<()> {
        self.with_connection(|connection| {
            connection
                .query_row("SELECT COUNT(*) FROM step_queue WHERE 0", [], |row| {
                    row.get::<_, i64>(0)
                })
                .map_err(sqlite_error)?;
            Ok(())
        })
        .await
    }
}

/// One atomic pass over the visible messages: deliver up to `max`, moving those past
/// `max_receives` to the dead-letter set on the way.
fn receive_now(
    connection: &mut Connection,
    max: u32,
    visibility: Duration,
    max_receives: u32,
) -> QueueResult<Vec<Delivery>> {
    let now = now_ms();
    // An idle poll only reads, so waiting receivers do not keep taking the write lock that
    // other connections to the same file need.
    let anything_visible: bool = connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM step_queue WHERE dead = 0 AND visible_at_ms <= ?1)",
        )
        .and_then(|mut statement| statement.query_row(params![now], |row| row.get(0)))
        .map_err(sqlite_error)?;
    if !anything_visible {
        return Ok(Vec::new());
    }
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    let hidden_until = now.saturating_add(millis(visibility));
    let mut deliveries = Vec::new();
    // Rows that die or are unreadable do not count towards `max`, so look further until the
    // batch is full or nothing visible is left. The scan resumes after the last row seen (a
    // zero visibility timeout leaves picked rows visible, and each must be picked only once).
    let mut after = (i64::MIN, i64::MIN);
    while deliveries.len() < max as usize {
        let wanted = max as usize - deliveries.len();
        let candidates = visible_rows(&transaction, now, after, wanted)?;
        let Some(last) = candidates.last() else {
            break;
        };
        after = (last.enqueued_at_ms, last.row_id);
        for VisibleRow {
            id,
            body,
            receive_count: previous_count,
            ..
        } in candidates
        {
            let receive_count = previous_count.saturating_add(1);
            if receive_count > i64::from(max_receives) {
                transaction
                    .execute(
                        "UPDATE step_queue SET dead = 1, receive_count = ?2, receipt = NULL
                         WHERE id = ?1",
                        params![id, receive_count],
                    )
                    .map_err(sqlite_error)?;
                continue;
            }
            let receipt = Ulid::new().to_string();
            transaction
                .execute(
                    "UPDATE step_queue SET receive_count = ?2, receipt = ?3, visible_at_ms = ?4
                     WHERE id = ?1",
                    params![id, receive_count, receipt, hidden_until],
                )
                .map_err(sqlite_error)?;
            // A body this adapter did not write is counted and hidden like any delivery but
            // not handed out, so it reaches the dead-letter set after `max_receives` tries
            // instead of failing every receive (the same choice as the SQS adapter).
            let Some(message) = parse_body(&id, &body) else {
                continue;
            };
            deliveries.push(Delivery {
                message_id: id,
                receipt,
                attempt: attempt_number(receive_count),
                message,
            });
        }
    }
    transaction.commit().map_err(sqlite_error)?;
    Ok(deliveries)
}

struct VisibleRow {
    id: String,
    body: String,
    receive_count: i64,
    enqueued_at_ms: i64,
    row_id: i64,
}

/// Up to `limit` visible live rows, oldest first, after the `(enqueued_at_ms, rowid)` cursor.
fn visible_rows(
    connection: &Connection,
    now: i64,
    after: (i64, i64),
    limit: usize,
) -> QueueResult<Vec<VisibleRow>> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, body, receive_count, enqueued_at_ms, rowid FROM step_queue
             WHERE dead = 0 AND visible_at_ms <= ?1 AND (enqueued_at_ms, rowid) > (?2, ?3)
             ORDER BY enqueued_at_ms, rowid LIMIT ?4",
        )
        .map_err(sqlite_error)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement
        .query_map(params![now, after.0, after.1, limit], |row| {
            Ok(VisibleRow {
                id: row.get(0)?,
                body: row.get(1)?,
                receive_count: row.get(2)?,
                enqueued_at_ms: row.get(3)?,
                row_id: row.get(4)?,
            })
        })
        .map_err(sqlite_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
}

/// Removes and returns up to `max` dead messages, oldest first, like receiving from a
/// dead-letter queue and deleting what was received. Their receipts are fresh and already
/// spent: the messages are gone, so there is nothing left to ack.
fn take_dead_letters(connection: &mut Connection, max: u32) -> QueueResult<Vec<Delivery>> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error)?;
    let mut deliveries = Vec::new();
    {
        let mut statement = transaction
            .prepare(
                "SELECT id, body, receive_count FROM step_queue WHERE dead = 1
                 ORDER BY enqueued_at_ms, rowid",
            )
            .map_err(sqlite_error)?;
        let mut rows = statement.query([]).map_err(sqlite_error)?;
        while deliveries.len() < max as usize {
            let Some(row) = rows.next().map_err(sqlite_error)? else {
                break;
            };
            let id: String = row.get(0).map_err(sqlite_error)?;
            let body: String = row.get(1).map_err(sqlite_error)?;
            let receive_count: i64 = row.get(2).map_err(sqlite_error)?;
            // An unreadable body stays in the dead set for someone to inspect in the file.
            let Some(message) = parse_body(&id, &body) else {
                continue;
            };
            deliveries.push(Delivery {
                message_id: id,
                receipt: Ulid::new().to_string(),
                attempt: attempt_number(receive_count),
                message,
            });
        }
    }
    for delivery in &deliveries {
        transaction
            .execute(
                "DELETE FROM step_queue WHERE id = ?1",
                params![delivery.message_id],
            )
            .map_err(sqlite_error)?;
    }
    transaction.commit().map_err(sqlite_error)?;
    Ok(deliveries)
}

fn parse_body(id: &str, body: &str) -> Option<StepMessage> {
    match serde_json::from_str(body) {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::warn!(message_id = id, %error, "step queue row is not a step message");
            None
        }
    }
}

fn attempt_number(receive_count: i64) -> u32 {
    u32::try_from(receive_count).unwrap_or(u32::MAX)
}

/// A duration in whole milliseconds, saturating rather than wrapping for absurd values.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Lock contention from other connections is transient; anything else is a real failure.
fn sqlite_error(error: rusqlite::Error) -> QueueError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            QueueError::Unavailable(format!("step queue database is busy: {error}"))
        }
        _ => QueueError::Internal(format!("step queue database error: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_saturates_instead_of_wrapping() {
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }

    #[test]
    fn attempt_number_saturates() {
        assert_eq!(attempt_number(3), 3);
        assert_eq!(attempt_number(i64::MAX), u32::MAX);
    }

    #[test]
    fn open_refuses_zero_max_receives() {
        let dir = tempfile::tempdir().unwrap();
        let result = SqliteStepQueue::open(&dir.path().join("q.db"), 0);
        assert!(matches!(result, Err(QueueError::Invalid(_))));
    }

    #[tokio::test]
    async fn unreadable_row_is_skipped_then_dead_lettered_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteStepQueue::open(&dir.path().join("q.db"), 1).unwrap();
        queue
            .connection
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO step_queue (id, body, visible_at_ms, enqueued_at_ms)
                 VALUES ('foreign', 'not a step', 0, 0)",
                [],
            )
            .unwrap();
        let good = queue
            .enqueue(&StepMessage::new("k", serde_json::json!(1)), Duration::ZERO)
            .await
            .unwrap();

        let delivered = queue
            .receive(10, Duration::ZERO, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].message_id, good);
        queue.ack(&delivered[0].receipt).await.unwrap();

        // Its second receive exceeds max_receives = 1: dead, but not handed out or deleted.
        let again = queue.receive(10, Duration::ZERO, Duration::ZERO);
        assert!(again.await.unwrap().is_empty());
        assert!(queue.receive_dead_letters(10).await.unwrap().is_empty());
        let dead: i64 = queue
            .connection
            .lock()
            .unwrap()
            .query_row(
                "SELECT dead FROM step_queue WHERE id = 'foreign'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dead, 1);
    }

    #[test]
    fn unreadable_body_is_skipped() {
        assert!(parse_body("id", "not json").is_none());
        assert_eq!(
            parse_body("id", r#"{"kind":"k","payload":1}"#),
            Some(StepMessage::new("k", serde_json::json!(1)))
        );
    }
}
