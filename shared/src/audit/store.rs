//! The audit chain in the records port: partition `tenant#<id>#audit`, sort key the sequence
//! zero-padded to 20 digits (so sort order is chain order), body the whole event. Events are
//! only ever created, never updated, deleted or given an expiry.

use super::AuditError;
use super::event::{AuditEvent, GENESIS_HASH, NewAuditEvent, Subject};
use crate::ports::records::{encode_cursor, now_ms};
use crate::ports::{NewRecord, Order, Query, Record, RecordKey, RecordStore, RecordsError, Write};
use std::time::Duration;

/// Appends that lose the race for the next sequence this many times give up as `Contended`.
pub const MAX_APPEND_ATTEMPTS: u32 = 100;
/// The most events one `list` call returns.
pub const MAX_LIST_LIMIT: u32 = 1000;
/// The most stored events one `list` call reads while filtering; past it, the page is short
/// and its cursor resumes where the scan stopped.
pub const MAX_SCANNED_PER_LIST: usize = 10_000;
/// Tenant ids are at most this long (they go into a partition key).
pub const MAX_TENANT_BYTES: usize = 128;

/// The records partition of `tenant`'s chain.
pub fn partition(tenant: &str) -> String {
    format!("tenant#{tenant}#audit")
}

/// The sort key of `sequence`: 20 digits hold every `u64`, so string order is numeric order.
pub fn sort_key(sequence: u64) -> String {
    format!("{sequence:020}")
}

pub fn event_key(tenant: &str, sequence: u64) -> RecordKey {
    RecordKey::new(partition(tenant), sort_key(sequence))
}

/// Which events `list` returns; every given criterion must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub event_type: Option<String>,
    pub subject: Option<Subject>,
    /// Inclusive lower bound on `at_ms`.
    pub from_ms: Option<i64>,
    /// Inclusive upper bound on `at_ms`.
    pub to_ms: Option<i64>,
}

impl AuditFilter {
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|wanted| *wanted == event.event_type)
            && self
                .subject
                .as_ref()
                .is_none_or(|wanted| *wanted == event.subject)
            && self.from_ms.is_none_or(|from| event.at_ms >= from)
            && self.to_ms.is_none_or(|to| event.at_ms <= to)
    }
}

/// One page of `list`, in chain order. `next` is set when more events may follow; a page can
/// be short (even empty) with `next` set when the filter skipped many events.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// `next_cursor` in the API's answer.
    #[serde(rename = "next_cursor")]
    pub next: Option<String>,
}

/// The last event of `tenant`'s chain, if it has any.
pub async fn head(
    records: &dyn RecordStore,
    tenant: &str,
) -> Result<Option<AuditEvent>, AuditError> {
    validate_tenant(tenant)?;
    let page = records
        .query(&Query {
            order: Order::Descending,
            limit: 1,
            ..Query::partition(partition(tenant))
        })
        .await?;
    page.records
        .first()
        .map(|record| stored_event(tenant, record))
        .transpose()
}

/// The next event of `tenant`'s chain and the write that stores it, for the caller to put in
/// the same records transaction as what the event records. The write is a create of the next
/// sequence, so if another append wins first the whole transaction fails (a
/// `TransactionConflict` at this write's index) and the caller prepares again and retries;
/// [`transact`] does all of that.
pub async fn prepare_append(
    records: &dyn RecordStore,
    tenant: &str,
    new: NewAuditEvent,
) -> Result<(AuditEvent, Write), AuditError> {
    let mut prepared = prepare_appends(records, tenant, vec![new]).await?;
    prepared
        .pop()
        .ok_or_else(|| AuditError::Internal("no event was prepared".into()))
}

/// The next events of `tenant`'s chain, in the given order, each with its create.
async fn prepare_appends(
    records: &dyn RecordStore,
    tenant: &str,
    news: Vec<NewAuditEvent>,
) -> Result<Vec<(AuditEvent, Write)>, AuditError> {
    for new in &news {
        validate_new(new)?;
    }
    let head = head(records, tenant).await?;
    let (mut sequence, mut previous_hash, mut previous_at_ms) = match &head {
        Some(head) => (head.sequence, head.hash.clone(), head.at_ms),
        None => (0, GENESIS_HASH.to_owned(), i64::MIN),
    };
    let mut prepared = Vec::with_capacity(news.len());
    for new in news {
        sequence = sequence.checked_add(1).ok_or_else(|| {
            AuditError::Internal(format!("audit chain of tenant {tenant} is full"))
        })?;
        // Never earlier than the head, so the chain is in time order even across skewed
        // clocks (and `list` can stop at the end of a time range).
        let at_ms = now_ms().max(previous_at_ms);
        let event = new
            .into_event(tenant, sequence, at_ms, previous_hash)
            .map_err(|e| AuditError::Invalid(e.to_string()))?;
        let body = serde_json::to_value(&event)
            .map_err(|e| AuditError::Internal(format!("audit event not serialisable: {e}")))?;
        previous_hash = event.hash.clone();
        previous_at_ms = event.at_ms;
        prepared.push((
            event,
            Write::Create(NewRecord::new(event_key(tenant, sequence), body)),
        ));
    }
    Ok(prepared)
}

/// Applies `writes` and appends `events` to `tenant`'s chain in one records transaction: the
/// events exist exactly when the writes happened. The events' creates go after `writes`, so a
/// `TransactionConflict` the caller sees has the index of one of its own writes; a conflict on
/// an event's create (another append took the sequence) is retried here with fresh sequences.
pub async fn transact(
    records: &dyn RecordStore,
    tenant: &str,
    writes: Vec<Write>,
    events: Vec<NewAuditEvent>,
) -> Result<Vec<AuditEvent>, RecordsError> {
    if events.is_empty() {
        records.transact(writes).await?;
        return Ok(Vec::new());
    }
    let own = writes.len();
    for attempt in 1..=MAX_APPEND_ATTEMPTS {
        let prepared = prepare_appends(records, tenant, events.clone())
            .await
            .map_err(AuditError::into_records_error)?;
        let mut all = writes.clone();
        let mut appended = Vec::with_capacity(prepared.len());
        for (event, write) in prepared {
            appended.push(event);
            all.push(write);
        }
        match records.transact(all).await {
            Ok(()) => return Ok(appended),
            Err(RecordsError::TransactionConflict { index, .. }) if index >= own => {
                tokio::time::sleep(retry_pause(attempt)).await;
            }
            Err(other) => return Err(other),
        }
    }
    Err(AuditError::Contended {
        tenant: tenant.to_owned(),
        attempts: MAX_APPEND_ATTEMPTS,
    }
    .into_records_error())
}

/// Appends an event to `tenant`'s chain on its own. The create of the next sequence is
/// conditional, so of concurrent appends exactly one takes each sequence; the others re-read
/// the head and retry after a jittered pause, up to [`MAX_APPEND_ATTEMPTS`] in all.
pub async fn append(
    records: &dyn RecordStore,
    tenant: &str,
    new: NewAuditEvent,
) -> Result<AuditEvent, AuditError> {
    for attempt in 1..=MAX_APPEND_ATTEMPTS {
        let (event, write) = prepare_append(records, tenant, new.clone()).await?;
        let Write::Create(record) = write else {
            return Err(AuditError::Internal(
                "prepare_append made a write other than a create".into(),
            ));
        };
        match records.create(record).await {
            Ok(_) => return Ok(event),
            Err(RecordsError::ConditionFailed { .. }) => {
                tokio::time::sleep(retry_pause(attempt)).await;
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(AuditError::Contended {
        tenant: tenant.to_owned(),
        attempts: MAX_APPEND_ATTEMPTS,
    })
}

/// Events of `tenant`'s chain that match `filter`, in chain order, at most `limit`
/// (1..=[`MAX_LIST_LIMIT`]) per page; `cursor` is a previous page's `next`.
pub async fn list(
    records: &dyn RecordStore,
    tenant: &str,
    filter: &AuditFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<AuditPage, AuditError> {
    validate_tenant(tenant)?;
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(AuditError::Invalid(format!(
            "page size must be 1..={MAX_LIST_LIMIT}"
        )));
    }
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut events = Vec::new();
    let mut scanned = 0usize;
    let mut query = Query {
        limit: limit.clamp(100, Query::MAX_PAGE_SIZE),
        cursor: cursor.map(str::to_owned),
        ..Query::partition(partition(tenant))
    };
    loop {
        let page = records.query(&query).await?;
        let count = page.records.len();
        for (index, record) in page.records.iter().enumerate() {
            let event = stored_event(tenant, record)?;
            // Times never go backwards along a chain: nothing later can be in range.
            if filter.to_ms.is_some_and(|to| event.at_ms > to) {
                return Ok(AuditPage { events, next: None });
            }
            if filter.matches(&event) {
                events.push(event);
            }
            scanned += 1;
            if events.len() == wanted || scanned >= MAX_SCANNED_PER_LIST {
                let last_of_all = index + 1 == count && page.next.is_none();
                let next = (!last_of_all).then(|| encode_cursor(&record.key.sort));
                return Ok(AuditPage { events, next });
            }
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(AuditPage { events, next: None }),
        }
    }
}

/// The event stored in `record`, checked to belong where it is stored.
fn stored_event(tenant: &str, record: &Record) -> Result<AuditEvent, AuditError> {
    let corrupt = |reason: String| AuditError::Corrupt {
        key: record.key.clone(),
        reason,
    };
    let event = <AuditEvent as serde::Deserialize>::deserialize(&record.body)
        .map_err(|e| corrupt(e.to_string()))?;
    if event.tenant != tenant || sort_key(event.sequence) != record.key.sort {
        return Err(corrupt(format!(
            "holds sequence {} of tenant {:?}",
            event.sequence, event.tenant
        )));
    }
    Ok(event)
}

/// Tenant ids go into partition keys: `#` would let one tenant's partition name another's.
fn validate_tenant(tenant: &str) -> Result<(), AuditError> {
    if tenant.is_empty()
        || tenant.len() > MAX_TENANT_BYTES
        || tenant.chars().any(|c| c == '#' || c.is_control())
    {
        return Err(AuditError::Invalid(format!(
            "tenant id must be 1..={MAX_TENANT_BYTES} bytes without '#' or control characters"
        )));
    }
    Ok(())
}

fn validate_new(new: &NewAuditEvent) -> Result<(), AuditError> {
    for (name, value) in [("actor", &new.actor), ("event type", &new.event_type)] {
        if value.is_empty() {
            return Err(AuditError::Invalid(format!("audit event {name} is empty")));
        }
    }
    if new.subject.kind.is_empty() || new.subject.id.is_empty() {
        return Err(AuditError::Invalid(
            "audit event subject needs a kind and an id".into(),
        ));
    }
    // Exports write a missing id as an empty cell, so an empty id would read back as none.
    for (name, value) in [
        ("request id", &new.request_id),
        ("correlation id", &new.correlation_id),
    ] {
        if value.as_deref().is_some_and(str::is_empty) {
            return Err(AuditError::Invalid(format!(
                "audit event {name} is empty; leave it out instead"
            )));
        }
    }
    Ok(())
}

/// Full jitter over an exponential ceiling (2 ms doubling to 64 ms): contenders spread out
/// instead of colliding again in lockstep, and no loser waits long.
fn retry_pause(attempt: u32) -> Duration {
    use rand::Rng as _;
    let ceiling_ms = 2u64.saturating_mul(1 << attempt.saturating_sub(1).min(5));
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_like_sequences() {
        assert_eq!(sort_key(1), "00000000000000000001");
        assert_eq!(sort_key(u64::MAX), "18446744073709551615");
        assert!(sort_key(9) < sort_key(10));
        assert_eq!(partition("01ABC"), "tenant#01ABC#audit");
    }

    #[test]
    fn tenants_that_could_alias_a_partition_are_refused() {
        assert!(validate_tenant("01HZX3T5Q8J9V2K7M4N6P0R1S2").is_ok());
        for bad in ["", "a#audit", "a\nb", &"x".repeat(MAX_TENANT_BYTES + 1)] {
            assert!(
                matches!(validate_tenant(bad), Err(AuditError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn retry_pauses_stay_under_their_ceiling() {
        for attempt in 1..=MAX_APPEND_ATTEMPTS {
            let ceiling = Duration::from_millis(2 << attempt.saturating_sub(1).min(5));
            assert!(retry_pause(attempt) <= ceiling);
        }
    }

    #[test]
    fn filters_need_every_criterion() {
        let event = NewAuditEvent::new("user:u", "draft.changed", Subject::new("draft", "d"))
            .into_event("t", 1, 50, GENESIS_HASH.into());
        let Ok(event) = event else {
            panic!("event");
        };
        let filter = |f: AuditFilter| f.matches(&event);
        assert!(filter(AuditFilter::default()));
        assert!(filter(AuditFilter {
            event_type: Some("draft.changed".into()),
            subject: Some(Subject::new("draft", "d")),
            from_ms: Some(50),
            to_ms: Some(50),
        }));
        assert!(!filter(AuditFilter {
            event_type: Some("draft.created".into()),
            ..AuditFilter::default()
        }));
        assert!(!filter(AuditFilter {
            subject: Some(Subject::new("deployment", "d")),
            ..AuditFilter::default()
        }));
        assert!(!filter(AuditFilter {
            from_ms: Some(51),
            ..AuditFilter::default()
        }));
        assert!(!filter(AuditFilter {
            to_ms: Some(49),
            ..AuditFilter::default()
        }));
    }
}
