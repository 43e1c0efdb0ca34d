//! The records port on SQLite, for the embedded local mode.
//!
//! One table of records keyed by `(partition, sort)`, and one of counters. Every write runs in a `BEGIN IMMEDIATE`
//! transaction that reads the current row, checks the condition in Rust and writes, so a
//! conditional write is atomic even when two processes open the same file: the immediate
//! transaction takes SQLite's write lock before the read, and a second writer waits for it
//! (up to the busy timeout) instead of acting on a stale read. The connection sits behind a
//! mutex and every call runs on tokio's blocking pool, so the executor never waits on disk.

use crate::ports::records::{
    Change, Expect, NewRecord, Order, Page, Query, Record, RecordKey, RecordStore, RecordsError,
    RecordsResult, SortRange, Write, decode_cursor, is_live, now_unix, validate_body, validate_key,
    validate_query, validate_transaction,
};
use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    partition  TEXT    NOT NULL,
    sort       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    state      TEXT,
    body       TEXT    NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (partition, sort)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    partition  TEXT    NOT NULL,
    sort       TEXT    NOT NULL,
    value      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (partition, sort)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);
";

/// How long a write waits for another process's write lock before reporting `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The records store in one SQLite file.
pub struct SqliteRecords {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl fmt::Debug for SqliteRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRecords")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteRecords {
    /// Opens (creating if needed) the database file at `path` and its schema. The parent
    /// directory must exist.
    pub fn open(path: &Path) -> RecordsResult<Self> {
        // A file that cannot be opened (missing directory, permissions) is a configuration
        // error that retrying will not fix.
        let connection = Connection::open(path)
            .map_err(|e| RecordsError::Internal(format!("cannot open {}: {e}", path.display())))?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
        // WAL lets readers proceed while a writer holds the lock; the pragma answers with the
        // mode actually in force, which we do not need.
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(store_error)?;
        connection.execute_batch(SCHEMA).map_err(store_error)?;
        Ok(Self {
            path: path.to_path_buf(),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` on the blocking pool with the connection to itself.
    async fn run<T, F>(&self, work: F) -> RecordsResult<T>
    where
        F: FnOnce(&mut Connection) -> RecordsResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave a transaction open (rusqlite rolls back on
            // drop), so a poisoned lock still guards a usable connection.
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await
        .map_err(|e| RecordsError::Internal(format!("sqlite task failed: {e}")))?
    }

    /// Applies `ops` in one immediate transaction: all of them, or none and the error. A
    /// failed condition is reported as the transaction's conflict at that write's index.
    async fn transact_ops(&self, ops: Vec<Op>) -> RecordsResult<()> {
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store_error)?;
            let now = now_unix();
            for (index, op) in ops.iter().enumerate() {
                apply(&transaction, op, now).map_err(|error| match error {
                    RecordsError::ConditionFailed { key } => {
                        RecordsError::TransactionConflict { index, key }
                    }
                    other => other,
                })?;
            }
            transaction.commit().map_err(store_error)
        })
        .await
    }

    /// Applies one write in its own immediate transaction.
    async fn write_one(&self, op: Op) -> RecordsResult<Option<Record>> {
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store_error)?;
            let result = apply(&transaction, &op, now_unix())?;
            transaction.commit().map_err(store_error)?;
            Ok(result)
        })
        .await
    }
}

#[async_trait]
impl RecordStore for SqliteRecords {
    async fn get(&self, key: &RecordKey) -> RecordsResult<Option<Record>> {
        validate_key(key)?;
        let key = key.clone();
        self.run(move |connection| {
            let row = read_row(connection, &key)?;
            match row {
                Some(row) if is_live(row.expires_at, now_unix()) => row.into_record(key).map(Some),
                _ => Ok(None),
            }
        })
        .await
    }

    async fn create(&self, record: NewRecord) -> RecordsResult<Record> {
        let created = self.write_one(Op::prepare(Write::Create(record))?).await?;
        created.ok_or_else(|| RecordsError::Internal("create returned no record".into()))
    }

    async fn update(
        &self,
        key: &RecordKey,
        expect: Expect,
        change: Change,
    ) -> RecordsResult<Record> {
        let op = Op::prepare(Write::Update {
            key: key.clone(),
            expect,
            change,
        })?;
        let updated = self.write_one(op).await?;
        updated.ok_or_else(|| RecordsError::Internal("update returned no record".into()))
    }

    async fn delete(&self, key: &RecordKey, expect: Expect) -> RecordsResult<()> {
        let op = Op::prepare(Write::Delete {
            key: key.clone(),
            expect,
        })?;
        self.write_one(op).await.map(|_| ())
    }

    async fn query(&self, query: &Query) -> RecordsResult<Page> {
        validate_query(query)?;
        let after = query
            .cursor
            .as_deref()
            .map(|cursor| decode_cursor(&query.partition, cursor))
            .transpose()?;
        let query = query.clone();
        self.run(move |connection| run_query(connection, &query, after.as_deref()))
            .await
    }

    async fn transact(&self, writes: Vec<Write>) -> RecordsResult<()> {
        validate_transaction(&writes)?;
        let ops = writes
            .into_iter()
            .map(Op::prepare)
            .collect::<RecordsResult<Vec<_>>>()?;
        self.transact_ops(ops).await
    }

    async fn add_to_counter(
        &self,
        key: &RecordKey,
        delta: i64,
        expires_at: i64,
    ) -> RecordsResult<i64> {
        validate_key(key)?;
        let key = key.clone();
        self.run(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(store_error)?;
            // Nothing else purges counters here (DynamoDB's TTL does in AWS), and callers
            // tend to use a key per time window: expired ones go first, found by the index.
            transaction
                .execute(
                    "DELETE FROM counters WHERE expires_at <= ?1",
                    params![now_unix()],
                )
                .map_err(store_error)?;
            let current: Option<i64> = transaction
                .query_row(
                    "SELECT value FROM counters WHERE partition = ?1 AND sort = ?2",
                    params![key.partition, key.sort],
                    |row| row.get(0),
                )
                .optional()
                .map_err(store_error)?;
            let value = current
                .unwrap_or(0)
                .checked_add(delta)
                .ok_or_else(|| RecordsError::Invalid(format!("counter {key} would overflow")))?;
            transaction
                .execute(
                    "INSERT INTO counters (partition, sort, value, expires_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (partition, sort) \
                     DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    params![key.partition, key.sort, value, expires_at],
                )
                .map_err(store_error)?;
            transaction.commit().map_err(store_error)?;
            Ok(value)
        })
        .await
    }

    async fn read_counter(&self, key: &RecordKey) -> RecordsResult<Option<i64>> {
        validate_key(key)?;
        let key = key.clone();
        self.run(move |connection| {
            connection
                .query_row(
                    "SELECT value FROM counters \
                     WHERE partition = ?1 AND sort = ?2 AND expires_at > ?3",
                    params![key.partition, key.sort, now_unix()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(store_error)
        })
        .await
    }

    async fn health(&self) -> RecordsResult<()> {
        self.run(|connection| {
            connection
                .query_row("SELECT count(*) FROM records WHERE 0", [], |row| {
                    row.get::<_, i64>(0)
                })
                .map_err(store_error)
                .map(|_| ())
        })
        .await
    }
}

/// A write that passed validation, with its body already encoded.
enum Op {
    Create {
        record: NewRecord,
        body: String,
    },
    Update {
        key: RecordKey,
        expect: Expect,
        change: Change,
        body: String,
    },
    Delete {
        key: RecordKey,
        expect: Expect,
    },
    Check {
        key: RecordKey,
        expect: Expect,
    },
}

impl Op {
    fn prepare(write: Write) -> RecordsResult<Self> {
        validate_key(write.key())?;
        Ok(match write {
            Write::Create(record) => {
                let body = validate_body(&record.body)?;
                Op::Create { record, body }
            }
            Write::Update {
                key,
                expect,
                change,
            } => {
                let body = validate_body(&change.body)?;
                Op::Update {
                    key,
                    expect,
                    change,
                    body,
                }
            }
            Write::Delete { key, expect } => Op::Delete { key, expect },
            Write::Check { key, expect } => Op::Check { key, expect },
        })
    }
}

/// A row as stored, before its body is parsed.
struct StoredRow {
    version: i64,
    state: Option<String>,
    body: String,
    expires_at: Option<i64>,
}

impl StoredRow {
    fn meets(&self, expect: &Expect, now: i64) -> bool {
        is_live(self.expires_at, now)
            && expect
                .version
                .is_none_or(|version| u64::try_from(self.version) == Ok(version))
            && expect
                .state
                .as_deref()
                .is_none_or(|state| self.state.as_deref() == Some(state))
    }

    fn into_record(self, key: RecordKey) -> RecordsResult<Record> {
        let version = u64::try_from(self.version).map_err(|_| {
            RecordsError::Internal(format!("record {key} has version {}", self.version))
        })?;
        let body = serde_json::from_str(&self.body).map_err(|e| {
            RecordsError::Internal(format!("record {key} has a body that is not JSON: {e}"))
        })?;
        Ok(Record {
            key,
            version,
            state: self.state,
            body,
            expires_at: self.expires_at,
        })
    }
}

fn read_row(connection: &Connection, key: &RecordKey) -> RecordsResult<Option<StoredRow>> {
    connection
        .query_row(
            "SELECT version, state, body, expires_at FROM records \
             WHERE partition = ?1 AND sort = ?2",
            params![key.partition, key.sort],
            |row| {
                Ok(StoredRow {
                    version: row.get(0)?,
                    state: row.get(1)?,
                    body: row.get(2)?,
                    expires_at: row.get(3)?,
                })
            },
        )
        .optional()
        .map_err(store_error)
}

/// Applies one write inside an open transaction. A condition that does not hold is
/// `ConditionFailed`; the caller rolls back.
fn apply(connection: &Connection, op: &Op, now: i64) -> RecordsResult<Option<Record>> {
    match op {
        Op::Create { record, body } => {
            let current = read_row(connection, &record.key)?;
            if current.is_some_and(|row| is_live(row.expires_at, now)) {
                return Err(condition_failed(&record.key));
            }
            // An expired row is replaced outright: the new record starts again at version 1.
            connection
                .execute(
                    "INSERT OR REPLACE INTO records \
                     (partition, sort, version, state, body, expires_at) \
                     VALUES (?1, ?2, 1, ?3, ?4, ?5)",
                    params![
                        record.key.partition,
                        record.key.sort,
                        record.state,
                        body,
                        record.expires_at
                    ],
                )
                .map_err(store_error)?;
            Ok(Some(Record {
                key: record.key.clone(),
                version: 1,
                state: record.state.clone(),
                body: record.body.clone(),
                expires_at: record.expires_at,
            }))
        }
        Op::Update {
            key,
            expect,
            change,
            body,
        } => {
            let current = require(connection, key, expect, now)?;
            let next_version = current
                .version
                .checked_add(1)
                .ok_or_else(|| RecordsError::Internal(format!("record {key} version overflow")))?;
            let version = u64::try_from(next_version).map_err(|_| {
                RecordsError::Internal(format!("record {key} has version {next_version}"))
            })?;
            connection
                .execute(
                    "UPDATE records SET version = ?3, state = ?4, body = ?5, expires_at = ?6 \
                     WHERE partition = ?1 AND sort = ?2",
                    params![
                        key.partition,
                        key.sort,
                        next_version,
                        change.state,
                        body,
                        change.expires_at
                    ],
                )
                .map_err(store_error)?;
            Ok(Some(Record {
                key: key.clone(),
                version,
                state: change.state.clone(),
                body: change.body.clone(),
                expires_at: change.expires_at,
            }))
        }
        Op::Delete { key, expect } => {
            require(connection, key, expect, now)?;
            connection
                .execute(
                    "DELETE FROM records WHERE partition = ?1 AND sort = ?2",
                    params![key.partition, key.sort],
                )
                .map_err(store_error)?;
            Ok(None)
        }
        Op::Check { key, expect } => {
            require(connection, key, expect, now)?;
            Ok(None)
        }
    }
}

/// The current row at `key` if it is live and meets `expect`.
fn require(
    connection: &Connection,
    key: &RecordKey,
    expect: &Expect,
    now: i64,
) -> RecordsResult<StoredRow> {
    match read_row(connection, key)? {
        Some(row) if row.meets(expect, now) => Ok(row),
        _ => Err(condition_failed(key)),
    }
}

fn condition_failed(key: &RecordKey) -> RecordsError {
    RecordsError::ConditionFailed { key: key.clone() }
}

/// One page of live records, reading one more than the page size to learn whether more
/// follow, so `next` is `None` exactly when the page is the last.
fn run_query(connection: &Connection, query: &Query, after: Option<&str>) -> RecordsResult<Page> {
    let mut sql = String::from(
        "SELECT sort, version, state, body, expires_at FROM records \
         WHERE partition = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    );
    let mut args = vec![
        SqlValue::Text(query.partition.clone()),
        SqlValue::Integer(now_unix()),
    ];
    let mut bound = |sql: &mut String, condition: &str, value: &str| {
        args.push(SqlValue::Text(value.to_owned()));
        sql.push_str(&format!(" AND sort {condition} ?{}", args.len()));
    };
    match &query.range {
        SortRange::All => {}
        // A half-open range rather than LIKE, which would treat `%` and `_` in the prefix
        // as wildcards.
        SortRange::BeginsWith(prefix) => {
            bound(&mut sql, ">=", prefix);
            if let Some(end) = prefix_successor(prefix) {
                bound(&mut sql, "<", &end);
            }
        }
        SortRange::Between(low, high) => {
            bound(&mut sql, ">=", low);
            bound(&mut sql, "<=", high);
        }
    }
    if let Some(after) = after {
        match query.order {
            Order::Ascending => bound(&mut sql, ">", after),
            Order::Descending => bound(&mut sql, "<", after),
        }
    }
    let page_size = usize::try_from(query.limit)
        .map_err(|_| RecordsError::Invalid("page size does not fit in memory".into()))?;
    let direction = match query.order {
        Order::Ascending => "ASC",
        Order::Descending => "DESC",
    };
    sql.push_str(&format!(
        " ORDER BY sort {direction} LIMIT {}",
        page_size + 1
    ));

    let mut statement = connection.prepare(&sql).map_err(store_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok((
                row.get::<_, String>(0)?,
                StoredRow {
                    version: row.get(1)?,
                    state: row.get(2)?,
                    body: row.get(3)?,
                    expires_at: row.get(4)?,
                },
            ))
        })
        .map_err(store_error)?;
    let mut records = Vec::with_capacity(page_size + 1);
    for row in rows {
        let (sort, stored) = row.map_err(store_error)?;
        records.push(stored.into_record(RecordKey::new(query.partition.clone(), sort))?);
    }
    Ok(Page::from_lookahead(records, page_size))
}

/// The least string greater than every string that starts with `prefix`, or `None` when no
/// string is (the prefix is all `char::MAX`). Code-point order is UTF-8 byte order, which is
/// how SQLite's default collation compares text.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            other => char::from_u32(u32::from(other) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Lock contention (another process holding the write lock past the busy timeout) is
/// retryable; anything else from SQLite is not.
fn store_error(error: rusqlite::Error) -> RecordsError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            RecordsError::Unavailable(format!("sqlite is busy: {error}"))
        }
        _ => RecordsError::Internal(format!("sqlite: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        let prefix = "a\u{10FFFF}";
        let end = prefix_successor(prefix).unwrap_or_default();
        for inside in ["a\u{10FFFF}", "a\u{10FFFF}\u{10FFFF}x", "a\u{10FFFF}zz"] {
            assert!(inside >= prefix && inside < end.as_str(), "{inside:?}");
        }
        for outside in ["a\u{10FFFE}", "b", "ba"] {
            assert!(
                !(outside >= prefix && outside < end.as_str()),
                "{outside:?}"
            );
        }
    }
}
