//! The records port: a small key-value store with the conditional writes that idempotency,
//! the deployment state machine, the audit hash chain and rate limits are built on.
//!
//! Model (the same in DynamoDB and SQLite): a record lives at a `partition` and a `sort` key.
//! Everything a tenant owns of one kind shares a partition (`user#<id>#drafts`) and its sort
//! keys sort by time (ULIDs, zero-padded sequence numbers), so a partition query is a
//! time-ordered listing. Every record carries a `version` (1 on create, +1 on each update),
//! an optional `state` that updates can be conditioned on, a JSON body, and an optional
//! expiry after which it reads as absent everywhere, whether or not the store has purged it.
//!
//! Beside records, the store keeps **counters**: an integer at a key, changed only by atomic
//! additions, always with an expiry. They serve what many writers bump at once (rate
//! limits), where a read-then-conditional-write would make every writer but one retry.
//! Counters live in partitions of their own: a key is used for records or for counters,
//! never both.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use time::OffsetDateTime;

/// Where a record lives. Partition and sort keys are non-empty and at most 512 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub partition: String,
    pub sort: String,
}

impl RecordKey {
    pub fn new(partition: impl Into<String>, sort: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            sort: sort.into(),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.partition, self.sort)
    }
}

/// A stored record as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub key: RecordKey,
    pub version: u64,
    pub state: Option<String>,
    pub body: Value,
    /// Unix seconds after which the record no longer exists for readers.
    pub expires_at: Option<i64>,
}

/// A record to create. It gets version 1.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    pub key: RecordKey,
    pub state: Option<String>,
    pub body: Value,
    pub expires_at: Option<i64>,
}

impl NewRecord {
    pub fn new(key: RecordKey, body: Value) -> Self {
        Self {
            key,
            state: None,
            body,
            expires_at: None,
        }
    }

    pub fn with_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    pub fn expiring_at(mut self, unix_seconds: i64) -> Self {
        self.expires_at = Some(unix_seconds);
        self
    }
}

/// What an update, delete or check requires of the current record. The record must exist
/// (and not be expired) in every case; `version` and `state`, when given, must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    pub version: Option<u64>,
    pub state: Option<String>,
}

impl Expect {
    /// Only that the record exists.
    pub fn exists() -> Self {
        Self::default()
    }

    pub fn version(version: u64) -> Self {
        Self {
            version: Some(version),
            state: None,
        }
    }

    pub fn state(state: impl Into<String>) -> Self {
        Self {
            version: None,
            state: Some(state.into()),
        }
    }

    pub fn and_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }
}

/// The new content of an updated record: state, body and expiry are all replaced.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub state: Option<String>,
    pub body: Value,
    pub expires_at: Option<i64>,
}

/// One write of an atomic transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Create only if no live record has the key.
    Create(NewRecord),
    /// Replace a record that meets the expectation; its version goes up by one.
    Update {
        key: RecordKey,
        expect: Expect,
        change: Change,
    },
    /// Remove a record that meets the expectation.
    Delete { key: RecordKey, expect: Expect },
    /// Write nothing, but fail the transaction unless the record meets the expectation.
    Check { key: RecordKey, expect: Expect },
}

impl Write {
    pub fn key(&self) -> &RecordKey {
        match self {
            Write::Create(record) => &record.key,
            Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }
}

/// Which sort keys a query returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SortRange {
    #[default]
    All,
    BeginsWith(String),
    /// Both bounds inclusive.
    Between(String, String),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// A partition query: live records only, in sort-key order, one page at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub partition: String,
    pub range: SortRange,
    pub order: Order,
    /// At most this many records per page (1..=MAX_PAGE_SIZE).
    pub limit: u32,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
}

impl Query {
    pub const MAX_PAGE_SIZE: u32 = 1000;

    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            range: SortRange::All,
            order: Order::Ascending,
            limit: 100,
            cursor: None,
        }
    }
}

/// One page of a query. `next` is set when more records may follow.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<String>,
}

impl Page {
    /// The page of a query that read up to one record more than `page_size`: that extra
    /// record only tells that another page follows, so `next` is `None` exactly on the last
    /// page, and otherwise resumes after the last record kept.
    pub fn from_lookahead(mut records: Vec<Record>, page_size: usize) -> Self {
        let next = if records.len() > page_size {
            records.truncate(page_size);
            records.last().map(|record| encode_cursor(&record.key.sort))
        } else {
            None
        };
        Self { records, next }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// A create found a live record, or an update, delete or check found none or one
    /// whose version or state did not match. Nothing was written.
    #[error("condition failed for record {key}")]
    ConditionFailed { key: RecordKey },
    /// A transaction was refused because its write at `index` did not meet its condition.
    /// Nothing was written.
    #[error("transaction refused: write {index} ({key}) did not meet its condition")]
    TransactionConflict { index: usize, key: RecordKey },
    #[error("invalid records request: {0}")]
    Invalid(String),
    /// The store could not be reached or was throttling; a retry may help.
    #[error("records store unavailable: {0}")]
    Unavailable(String),
    #[error("records store failed: {0}")]
    Internal(String),
}

impl RecordsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, RecordsError::Unavailable(_))
    }
}

pub type RecordsResult<T> = Result<T, RecordsError>;

/// The records port. Both adapters (DynamoDB, SQLite) pass `walletless-tests`' contract suite.
#[async_trait]
pub trait RecordStore: Send + Sync + fmt::Debug {
    /// The live record at `key`, if any (expired records are absent).
    async fn get(&self, key: &RecordKey) -> RecordsResult<Option<Record>>;

    /// Create a record only if no live record has its key (an expired one is replaced).
    /// Of any number of concurrent creates of one key, exactly one succeeds.
    async fn create(&self, record: NewRecord) -> RecordsResult<Record>;

    /// Replace a live record that meets `expect`; returns it with its new version.
    async fn update(
        &self,
        key: &RecordKey,
        expect: Expect,
        change: Change,
    ) -> RecordsResult<Record>;

    /// Remove a live record that meets `expect`.
    async fn delete(&self, key: &RecordKey, expect: Expect) -> RecordsResult<()>;

    /// Live records of one partition in sort-key order, a page at a time.
    async fn query(&self, query: &Query) -> RecordsResult<Page>;

    /// Apply all writes or none (at most 25 writes, each key at most once).
    async fn transact(&self, writes: Vec<Write>) -> RecordsResult<()>;

    /// Add `delta` (negative to subtract) to the counter at `key` and return its new value.
    /// A counter that does not exist, or has expired, starts from 0; every addition sets its
    /// expiry to `expires_at` (Unix seconds). Additions are atomic: of concurrent ones none is
    /// lost, and each sees the value after its own addition (so concurrent additions of 1
    /// see different values). Not idempotent: an addition whose answer was lost and that is
    /// sent again (DynamoDB's SDK retries transient failures) may count twice.
    async fn add_to_counter(
        &self,
        key: &RecordKey,
        delta: i64,
        expires_at: i64,
    ) -> RecordsResult<i64>;

    /// The value of the live counter at `key`, if there is one.
    async fn read_counter(&self, key: &RecordKey) -> RecordsResult<Option<i64>>;

    /// Whether the store answers.
    async fn health(&self) -> RecordsResult<()>;
}

/// Limits both adapters enforce identically, so a call that works locally works on AWS.
pub mod limits {
    pub const MAX_KEY_BYTES: usize = 512;
    pub const MAX_TRANSACTION_WRITES: usize = 25;
    /// DynamoDB items are at most 400 KB; leave room for the key and attributes.
    pub const MAX_BODY_BYTES: usize = 350 * 1024;
}

/// Checks shared by both adapters before anything is sent.
pub fn validate_key(key: &RecordKey) -> RecordsResult<()> {
    for (name, value) in [("partition", &key.partition), ("sort", &key.sort)] {
        if value.is_empty() {
            return Err(RecordsError::Invalid(format!("{name} key is empty")));
        }
        if value.len() > limits::MAX_KEY_BYTES {
            return Err(RecordsError::Invalid(format!(
                "{name} key is longer than {} bytes",
                limits::MAX_KEY_BYTES
            )));
        }
    }
    Ok(())
}

pub fn validate_body(body: &Value) -> RecordsResult<String> {
    let encoded = serde_json::to_string(body)
        .map_err(|e| RecordsError::Invalid(format!("body is not serialisable: {e}")))?;
    if encoded.len() > limits::MAX_BODY_BYTES {
        return Err(RecordsError::Invalid(format!(
            "body is {} bytes, more than the {} allowed",
            encoded.len(),
            limits::MAX_BODY_BYTES
        )));
    }
    Ok(encoded)
}

pub fn validate_transaction(writes: &[Write]) -> RecordsResult<()> {
    if writes.is_empty() {
        return Err(RecordsError::Invalid("transaction has no writes".into()));
    }
    if writes.len() > limits::MAX_TRANSACTION_WRITES {
        return Err(RecordsError::Invalid(format!(
            "transaction has {} writes, more than {}",
            writes.len(),
            limits::MAX_TRANSACTION_WRITES
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for write in writes {
        validate_key(write.key())?;
        if !seen.insert(write.key()) {
            return Err(RecordsError::Invalid(format!(
                "transaction writes {} more than once",
                write.key()
            )));
        }
    }
    Ok(())
}

/// The partition, page size and sort range of a query (its cursor is checked by
/// [`decode_cursor`]).
pub fn validate_query(query: &Query) -> RecordsResult<()> {
    validate_key(&RecordKey::new(query.partition.clone(), "-"))?;
    if query.limit == 0 || query.limit > Query::MAX_PAGE_SIZE {
        return Err(RecordsError::Invalid(format!(
            "page size must be 1..={}",
            Query::MAX_PAGE_SIZE
        )));
    }
    validate_sort_range(&query.partition, &query.range)
}

/// Range bounds are valid sort keys and in order: DynamoDB cannot send empty or reversed
/// bounds, so SQLite refuses them too.
pub fn validate_sort_range(partition: &str, range: &SortRange) -> RecordsResult<()> {
    let bound = |value: &str| {
        validate_key(&RecordKey::new(partition, value))
            .map_err(|e| RecordsError::Invalid(format!("sort range bound: {e}")))
    };
    match range {
        SortRange::All => Ok(()),
        SortRange::BeginsWith(prefix) => bound(prefix),
        SortRange::Between(low, high) => {
            bound(low)?;
            bound(high)?;
            if low > high {
                return Err(RecordsError::Invalid(format!(
                    "sort range starts at {low:?} after it ends at {high:?}"
                )));
            }
            Ok(())
        }
    }
}

/// A page cursor is the last returned sort key (DynamoDB's `ExclusiveStartKey` of the next
/// page), encoded the same way by both adapters and opaque to callers.
pub fn encode_cursor(sort: &str) -> String {
    URL_SAFE_NO_PAD.encode(sort)
}

/// The sort key a query's `cursor` resumes after; anything [`encode_cursor`] could not have
/// made for this partition is `Invalid`.
pub fn decode_cursor(partition: &str, cursor: &str) -> RecordsResult<String> {
    let malformed = || RecordsError::Invalid("malformed page cursor".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
    let sort = String::from_utf8(bytes).map_err(|_| malformed())?;
    validate_key(&RecordKey::new(partition, sort.as_str())).map_err(|_| malformed())?;
    Ok(sort)
}

/// Now, in Unix seconds: the clock every expiry check uses.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, in Unix milliseconds: the clock of timelines, audit events and rate-limit windows.
pub fn now_ms() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// A record is live until its expiry second has passed.
pub fn is_live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|at| at > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transaction_rejects_duplicate_keys_and_empty_or_oversized_batches() {
        let key = RecordKey::new("p", "s");
        let create = Write::Create(NewRecord::new(key.clone(), json!({})));
        let check = Write::Check {
            key,
            expect: Expect::exists(),
        };
        assert!(validate_transaction(&[create.clone(), check]).is_err());
        assert!(validate_transaction(&[]).is_err());
        let many: Vec<Write> = (0..26)
            .map(|i| Write::Create(NewRecord::new(RecordKey::new("p", i.to_string()), json!(1))))
            .collect();
        assert!(validate_transaction(&many).is_err());
        assert!(validate_transaction(&[create]).is_ok());
    }

    #[test]
    fn keys_must_be_non_empty_and_bounded() {
        assert!(validate_key(&RecordKey::new("", "s")).is_err());
        assert!(validate_key(&RecordKey::new("p", "x".repeat(513))).is_err());
        assert!(validate_key(&RecordKey::new("p", "x".repeat(512))).is_ok());
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let sort = "event#0001/ü";
        assert_eq!(
            decode_cursor("p", &encode_cursor(sort)).ok().as_deref(),
            Some(sort)
        );
        assert!(matches!(
            decode_cursor("p", "not base64!"),
            Err(RecordsError::Invalid(_))
        ));
        assert!(matches!(
            decode_cursor("p", &URL_SAFE_NO_PAD.encode([0xff, 0xfe])),
            Err(RecordsError::Invalid(_))
        ));
        assert!(matches!(
            decode_cursor("p", ""),
            Err(RecordsError::Invalid(_))
        ));
    }

    #[test]
    fn lookahead_record_only_sets_the_cursor() {
        let records: Vec<Record> = ["a", "b", "c"]
            .into_iter()
            .map(|sort| Record {
                key: RecordKey::new("p", sort),
                version: 1,
                state: None,
                body: json!(null),
                expires_at: None,
            })
            .collect();
        let sorts = |page: &Page| -> Vec<String> {
            page.records.iter().map(|r| r.key.sort.clone()).collect()
        };
        let more = Page::from_lookahead(records.clone(), 2);
        assert_eq!(sorts(&more), ["a", "b"]);
        assert_eq!(
            more.next.map(|cursor| decode_cursor("p", &cursor).ok()),
            Some(Some("b".to_owned()))
        );
        let last = Page::from_lookahead(records, 3);
        assert_eq!(sorts(&last), ["a", "b", "c"]);
        assert_eq!(last.next, None);
    }

    #[test]
    fn ranges_need_non_empty_ordered_bounds() {
        let range = |range| validate_sort_range("p", &range);
        assert!(range(SortRange::All).is_ok());
        assert!(range(SortRange::BeginsWith(String::new())).is_err());
        assert!(range(SortRange::Between("a".into(), "b".into())).is_ok());
        assert!(range(SortRange::Between("a".into(), "a".into())).is_ok());
        assert!(range(SortRange::Between("b".into(), "a".into())).is_err());
        assert!(range(SortRange::Between(String::new(), "a".into())).is_err());
    }

    #[test]
    fn queries_are_checked_with_their_range() {
        let query = |range| Query {
            range,
            ..Query::partition("p")
        };
        assert!(validate_query(&query(SortRange::BeginsWith("a".into()))).is_ok());
        assert!(validate_query(&query(SortRange::BeginsWith(String::new()))).is_err());
        assert!(
            validate_query(&Query {
                limit: 0,
                ..Query::partition("p")
            })
            .is_err()
        );
    }

    #[test]
    fn expiry_is_exclusive_of_the_expiry_second() {
        assert!(is_live(None, 10));
        assert!(is_live(Some(11), 10));
        assert!(!is_live(Some(10), 10));
    }
}
