//! The records contract: what every `RecordStore` must do, asserted through the trait only.
//! Each case takes a fresh, empty store.
//!
//! Also here: provisioning of a DynamoDB table for the AWS adapter, built from the layout
//! constants the adapter module exports (the SAM template is checked against the same ones).

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use walletless::adapters::aws::dynamodb::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use walletless::ports::records::{limits, now_unix};
use walletless::ports::{
    Change, Expect, NewRecord, Order, Page, Query, Record, RecordKey, RecordStore, RecordsError,
    SortRange, Write,
};

/// The store under test, shared with spawned tasks in the race cases.
pub type Store = Arc<dyn RecordStore>;

/// Creates a uniquely named table with the adapter's layout (on-demand billing, TTL on the
/// expiry attribute) and returns its name.
pub async fn provision_dynamodb_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = crate::aws::unique_name("records");
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("key schema element")
    };
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(string_attribute(PARTITION_KEY))
        .attribute_definitions(string_attribute(SORT_KEY))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create records table");
    client
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .expect("enable ttl");
    table
}

fn key(partition: &str, sort: &str) -> RecordKey {
    RecordKey::new(partition, sort)
}

fn change(state: Option<&str>, body: Value) -> Change {
    Change {
        state: state.map(str::to_owned),
        body,
        expires_at: None,
    }
}

fn expired() -> i64 {
    now_unix() - 60
}

fn far_future() -> i64 {
    now_unix() + 86_400
}

async fn create(store: &Store, partition: &str, sort: &str, body: Value) -> Record {
    store
        .create(NewRecord::new(key(partition, sort), body))
        .await
        .unwrap_or_else(|e| panic!("create {partition}/{sort}: {e}"))
}

async fn get(store: &Store, partition: &str, sort: &str) -> Option<Record> {
    store
        .get(&key(partition, sort))
        .await
        .unwrap_or_else(|e| panic!("get {partition}/{sort}: {e}"))
}

fn sorts(page: &Page) -> Vec<String> {
    page.records.iter().map(|r| r.key.sort.clone()).collect()
}

/// Every page of a query, following `next` until it is `None`.
async fn all_pages(store: &Store, mut query: Query) -> Vec<Page> {
    let mut pages = Vec::new();
    loop {
        let page = store.query(&query).await.expect("query page");
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return pages,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, RecordsError>, what: &str) {
    match result {
        Err(RecordsError::ConditionFailed { .. }) => {}
        other => panic!("{what}: expected ConditionFailed, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, RecordsError>, what: &str) {
    match result {
        Err(RecordsError::Invalid(_)) => {}
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

fn assert_conflict_at(
    result: Result<(), RecordsError>,
    expected_index: usize,
    expected: &RecordKey,
) {
    match result {
        Err(RecordsError::TransactionConflict { index, key }) => {
            assert_eq!(
                (index, &key),
                (expected_index, expected),
                "conflict reported at the wrong write"
            );
        }
        other => panic!("expected TransactionConflict at {expected_index}, got {other:?}"),
    }
}

pub async fn get_missing_is_none(store: Store) {
    assert_eq!(get(&store, "p", "missing").await, None);
}

pub async fn create_then_get_round_trips(store: Store) {
    let body = json!({
        "name": "Ünïcode ✓ \"quoted\"",
        "count": 42,
        "big": u64::MAX,
        "negative": -7,
        "list": [true, null, 1.5, "x"],
        "nested": {"a": {"b": "c"}},
    });
    let expires_at = far_future();
    let created = store
        .create(
            NewRecord::new(key("user#1#drafts", "01J0000000"), body.clone())
                .with_state("Queued")
                .expiring_at(expires_at),
        )
        .await
        .expect("create");
    let expected = Record {
        key: key("user#1#drafts", "01J0000000"),
        version: 1,
        state: Some("Queued".into()),
        body,
        expires_at: Some(expires_at),
    };
    assert_eq!(created, expected);
    assert_eq!(
        get(&store, "user#1#drafts", "01J0000000").await,
        Some(expected)
    );

    let plain = create(
        &store,
        "user#1#drafts",
        "01J0000001",
        json!("just a string"),
    )
    .await;
    assert_eq!(
        (plain.state, plain.expires_at, plain.version),
        (None, None, 1)
    );
    let read = get(&store, "user#1#drafts", "01J0000001")
        .await
        .expect("present");
    assert_eq!((read.state, read.expires_at), (None, None));
    assert_eq!(read.body, json!("just a string"));
}

pub async fn second_create_fails_and_keeps_first(store: Store) {
    let first = create(&store, "p", "s", json!({"winner": "first"})).await;
    let second = store
        .create(NewRecord::new(key("p", "s"), json!({"winner": "second"})).with_state("X"))
        .await;
    assert_condition_failed(second, "second create");
    assert_eq!(get(&store, "p", "s").await, Some(first));
}

async fn race_creates(store: Store, contenders: usize) {
    let mut tasks = JoinSet::new();
    for contender in 0..contenders {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let result = store
                .create(NewRecord::new(
                    key("idem", "request-1"),
                    json!({ "contender": contender }),
                ))
                .await;
            (contender, result)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (contender, result) = joined.expect("task");
        match result {
            Ok(record) => winners.push((contender, record)),
            Err(RecordsError::ConditionFailed { key: lost }) => {
                assert_eq!(lost, key("idem", "request-1"))
            }
            Err(other) => panic!("contender {contender}: unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    let (winner, record) = &winners[0];
    assert_eq!(record.body, json!({ "contender": winner }));
    assert_eq!(
        get(&store, "idem", "request-1").await.as_ref(),
        Some(record)
    );
}

pub async fn two_concurrent_creates_one_wins(store: Store) {
    race_creates(store, 2).await;
}

pub async fn ten_concurrent_creates_one_wins(store: Store) {
    race_creates(store, 10).await;
}

pub async fn create_replaces_expired_record(store: Store) {
    store
        .create(
            NewRecord::new(key("p", "s"), json!({"old": true}))
                .with_state("Old")
                .expiring_at(expired()),
        )
        .await
        .expect("create already-expired record");
    let replaced = store
        .create(NewRecord::new(key("p", "s"), json!({"new": true})))
        .await
        .expect("create over an expired record");
    assert_eq!(replaced.version, 1);
    let read = get(&store, "p", "s").await.expect("replacement is live");
    assert_eq!(read, replaced);
    assert_eq!(read.state, None, "nothing of the expired record survives");
    assert_eq!(read.expires_at, None);

    // The same through a transaction.
    store
        .create(NewRecord::new(key("p", "t"), json!(1)).expiring_at(expired()))
        .await
        .expect("create expired");
    store
        .transact(vec![Write::Create(NewRecord::new(key("p", "t"), json!(2)))])
        .await
        .expect("transactional create over an expired record");
    assert_eq!(
        get(&store, "p", "t").await.map(|r| (r.version, r.body)),
        Some((1, json!(2)))
    );
}

pub async fn expired_records_are_absent(store: Store) {
    store
        .create(
            NewRecord::new(key("p", "gone"), json!(1))
                .with_state("A")
                .expiring_at(expired()),
        )
        .await
        .expect("create expired");
    store
        .create(NewRecord::new(key("p", "kept"), json!(2)).expiring_at(far_future()))
        .await
        .expect("create live");

    assert_eq!(get(&store, "p", "gone").await, None);
    let page = store.query(&Query::partition("p")).await.expect("query");
    assert_eq!(sorts(&page), vec!["kept"]);
    assert_eq!(page.next, None);

    assert_condition_failed(
        store
            .update(
                &key("p", "gone"),
                Expect::exists(),
                change(Some("B"), json!(3)),
            )
            .await,
        "update of an expired record",
    );
    assert_condition_failed(
        store
            .update(
                &key("p", "gone"),
                Expect::version(1),
                change(None, json!(3)),
            )
            .await,
        "versioned update of an expired record",
    );
    assert_condition_failed(
        store.delete(&key("p", "gone"), Expect::exists()).await,
        "delete of an expired record",
    );
    assert_conflict_at(
        store
            .transact(vec![
                Write::Create(NewRecord::new(key("p", "new"), json!(4))),
                Write::Check {
                    key: key("p", "gone"),
                    expect: Expect::state("A"),
                },
            ])
            .await,
        1,
        &key("p", "gone"),
    );
    assert_eq!(get(&store, "p", "new").await, None);
}

/// A record that is live when written reads as absent once its expiry second has passed.
pub async fn record_expires_while_stored(store: Store) {
    let expires_at = now_unix() + 1;
    store
        .create(NewRecord::new(key("p", "lease"), json!("held")).expiring_at(expires_at))
        .await
        .expect("create");
    while now_unix() <= expires_at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&store, "p", "lease").await, None);
    assert!(
        store
            .query(&Query::partition("p"))
            .await
            .expect("query")
            .records
            .is_empty()
    );
    assert_condition_failed(
        store
            .update(
                &key("p", "lease"),
                Expect::version(1),
                change(None, json!("renewed")),
            )
            .await,
        "renewal after expiry",
    );
    let taken = create(&store, "p", "lease", json!("taken over")).await;
    assert_eq!(taken.version, 1);
}

pub async fn update_with_version_bumps_it(store: Store) {
    create(&store, "p", "s", json!({"n": 0})).await;
    let expires_at = far_future();
    let updated = store
        .update(
            &key("p", "s"),
            Expect::version(1),
            Change {
                state: Some("Submitted".into()),
                body: json!({"n": 1}),
                expires_at: Some(expires_at),
            },
        )
        .await
        .expect("update at version 1");
    let expected = Record {
        key: key("p", "s"),
        version: 2,
        state: Some("Submitted".into()),
        body: json!({"n": 1}),
        expires_at: Some(expires_at),
    };
    assert_eq!(updated, expected);
    assert_eq!(get(&store, "p", "s").await, Some(expected));

    // Replacing clears state and expiry when the change has none.
    let cleared = store
        .update(
            &key("p", "s"),
            Expect::exists(),
            change(None, json!({"n": 2})),
        )
        .await
        .expect("unconditional update");
    assert_eq!(
        (cleared.version, cleared.state, cleared.expires_at),
        (3, None, None)
    );
    let read = get(&store, "p", "s").await.expect("present");
    assert_eq!((read.version, read.state, read.expires_at), (3, None, None));
}

pub async fn update_with_stale_version_changes_nothing(store: Store) {
    create(&store, "p", "s", json!({"n": 0})).await;
    let current = store
        .update(
            &key("p", "s"),
            Expect::version(1),
            change(Some("A"), json!({"n": 1})),
        )
        .await
        .expect("first update");
    assert_condition_failed(
        store
            .update(
                &key("p", "s"),
                Expect::version(1),
                change(Some("B"), json!({"n": 9})),
            )
            .await,
        "stale update",
    );
    assert_condition_failed(
        store
            .update(
                &key("p", "s"),
                Expect::version(7),
                change(Some("B"), json!({"n": 9})),
            )
            .await,
        "future version",
    );
    assert_eq!(get(&store, "p", "s").await, Some(current));
    assert_condition_failed(
        store
            .update(
                &key("p", "absent"),
                Expect::exists(),
                change(None, json!(1)),
            )
            .await,
        "update of a missing record",
    );
    assert_eq!(
        get(&store, "p", "absent").await,
        None,
        "update never creates"
    );
}

/// A deployment's small state machine: each transition is conditioned on the current state.
pub async fn update_conditioned_on_state(store: Store) {
    let job = key("deployments", "01J-job");
    store
        .create(NewRecord::new(job.clone(), json!({"step": 0})).with_state("Queued"))
        .await
        .expect("create job");
    let submitted = store
        .update(
            &job,
            Expect::state("Queued"),
            change(Some("Submitted"), json!({"step": 1})),
        )
        .await
        .expect("Queued -> Submitted");
    assert_eq!(
        (submitted.version, submitted.state.as_deref()),
        (2, Some("Submitted"))
    );
    assert_condition_failed(
        store
            .update(
                &job,
                Expect::state("Queued"),
                change(Some("Submitted"), json!({"step": 9})),
            )
            .await,
        "second Queued -> Submitted",
    );
    assert_condition_failed(
        store
            .update(
                &job,
                Expect::version(1).and_state("Submitted"),
                change(Some("Confirmed"), json!({})),
            )
            .await,
        "right state, wrong version",
    );
    let confirmed = store
        .update(
            &job,
            Expect::version(2).and_state("Submitted"),
            change(Some("Confirmed"), json!({"step": 2})),
        )
        .await
        .expect("Submitted -> Confirmed");
    assert_eq!(
        (confirmed.version, confirmed.state.as_deref()),
        (3, Some("Confirmed"))
    );

    // A record without a state never matches an expected state.
    create(&store, "deployments", "stateless", json!({})).await;
    assert_condition_failed(
        store
            .update(
                &key("deployments", "stateless"),
                Expect::state("Queued"),
                change(None, json!(1)),
            )
            .await,
        "expected state on a stateless record",
    );
}

/// The records the racing conditional writes in `tasks` wrote; losing a race is a failed
/// condition, and anything else fails the test.
async fn conditional_winners(mut tasks: JoinSet<Result<Record, RecordsError>>) -> Vec<Record> {
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(record) => winners.push(record),
            Err(RecordsError::ConditionFailed { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    winners
}

pub async fn concurrent_state_transitions_one_wins(store: Store) {
    let job = key("deployments", "01J-race");
    store
        .create(NewRecord::new(job.clone(), json!({"by": null})).with_state("Queued"))
        .await
        .expect("create job");
    let mut tasks = JoinSet::new();
    for worker in 0..2 {
        let store = Arc::clone(&store);
        let job = job.clone();
        tasks.spawn(async move {
            store
                .update(
                    &job,
                    Expect::state("Queued"),
                    change(Some("Submitted"), json!({ "by": worker })),
                )
                .await
        });
    }
    let winners = conditional_winners(tasks).await;
    assert_eq!(winners.len(), 1, "exactly one worker submits");
    let current = store.get(&job).await.expect("get").expect("present");
    assert_eq!(current, winners[0]);
    assert_eq!(
        (current.version, current.state.as_deref()),
        (2, Some("Submitted"))
    );
}

pub async fn concurrent_updates_on_one_version_one_wins(store: Store) {
    create(&store, "counter", "c", json!({"value": 0})).await;
    let mut tasks = JoinSet::new();
    for writer in 0..8 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            store
                .update(
                    &key("counter", "c"),
                    Expect::version(1),
                    change(None, json!({ "value": writer })),
                )
                .await
        });
    }
    let winners = conditional_winners(tasks).await;
    assert_eq!(winners.len(), 1, "exactly one update of version 1 wins");
    assert_eq!(
        get(&store, "counter", "c").await.as_ref(),
        Some(&winners[0])
    );
    assert_eq!(winners[0].version, 2);
}

pub async fn delete_with_expectation(store: Store) {
    store
        .create(NewRecord::new(key("p", "s"), json!(1)).with_state("Open"))
        .await
        .expect("create");
    assert_condition_failed(
        store.delete(&key("p", "s"), Expect::version(2)).await,
        "wrong version",
    );
    assert_condition_failed(
        store.delete(&key("p", "s"), Expect::state("Closed")).await,
        "wrong state",
    );
    assert!(
        get(&store, "p", "s").await.is_some(),
        "failed deletes keep the record"
    );
    store
        .delete(&key("p", "s"), Expect::version(1).and_state("Open"))
        .await
        .expect("delete");
    assert_eq!(get(&store, "p", "s").await, None);
    assert_condition_failed(
        store.delete(&key("p", "s"), Expect::exists()).await,
        "second delete",
    );
    // A deleted key can be created afresh.
    assert_eq!(create(&store, "p", "s", json!(2)).await.version, 1);
}

pub async fn query_orders_ascending_and_descending(store: Store) {
    for sort in ["c", "a", "e", "b", "d"] {
        create(&store, "p", sort, json!(sort)).await;
    }
    let ascending = store
        .query(&Query::partition("p"))
        .await
        .expect("ascending");
    assert_eq!(sorts(&ascending), vec!["a", "b", "c", "d", "e"]);
    assert_eq!(ascending.next, None);
    assert_eq!(ascending.records[2].body, json!("c"));
    let descending = store
        .query(&Query {
            order: Order::Descending,
            ..Query::partition("p")
        })
        .await
        .expect("descending");
    assert_eq!(sorts(&descending), vec!["e", "d", "c", "b", "a"]);
    assert_eq!(descending.next, None);
    let empty = store
        .query(&Query::partition("nobody"))
        .await
        .expect("empty");
    assert_eq!(
        empty,
        Page {
            records: vec![],
            next: None
        }
    );
}

/// `%` and `_` are ordinary characters in a prefix, and the prefix is matched exactly.
pub async fn query_begins_with_matches_literally(store: Store) {
    for sort in [
        "a%1",
        "a%2",
        "a_1",
        "ab",
        "a",
        "a%",
        "b%",
        "a%\u{10FFFF}",
        "A%",
    ] {
        create(&store, "p", sort, json!(sort)).await;
    }
    let prefixed = |prefix: &str, order: Order| Query {
        range: SortRange::BeginsWith(prefix.into()),
        order,
        ..Query::partition("p")
    };
    let page = store
        .query(&prefixed("a%", Order::Ascending))
        .await
        .expect("a%");
    assert_eq!(sorts(&page), vec!["a%", "a%1", "a%2", "a%\u{10FFFF}"]);
    let page = store
        .query(&prefixed("a_", Order::Descending))
        .await
        .expect("a_");
    assert_eq!(sorts(&page), vec!["a_1"]);
    let page = store
        .query(&prefixed("a", Order::Descending))
        .await
        .expect("a");
    assert_eq!(
        sorts(&page),
        vec!["ab", "a_1", "a%\u{10FFFF}", "a%2", "a%1", "a%", "a"]
    );
    let page = store
        .query(&prefixed("z", Order::Ascending))
        .await
        .expect("z");
    assert!(page.records.is_empty());
}

pub async fn query_between_is_inclusive(store: Store) {
    for n in 1..=9 {
        create(&store, "p", &format!("event#{n:04}"), json!(n)).await;
    }
    let between = |low: &str, high: &str, order: Order| Query {
        range: SortRange::Between(low.into(), high.into()),
        order,
        ..Query::partition("p")
    };
    let page = store
        .query(&between("event#0003", "event#0006", Order::Ascending))
        .await
        .expect("between");
    assert_eq!(
        sorts(&page),
        vec!["event#0003", "event#0004", "event#0005", "event#0006"]
    );
    let page = store
        .query(&between("event#0003", "event#0006", Order::Descending))
        .await
        .expect("between descending");
    assert_eq!(
        sorts(&page),
        vec!["event#0006", "event#0005", "event#0004", "event#0003"]
    );
    let page = store
        .query(&between("event#00035", "event#0005", Order::Ascending))
        .await
        .expect("bounds between keys");
    assert_eq!(sorts(&page), vec!["event#0004", "event#0005"]);
    let page = store
        .query(&between("event#0007", "event#0007", Order::Ascending))
        .await
        .expect("single key");
    assert_eq!(sorts(&page), vec!["event#0007"]);
}

pub async fn query_paginates_every_record_once(store: Store) {
    let all: Vec<String> = (0..10).map(|n| format!("item#{n:03}")).collect();
    for sort in &all {
        create(&store, "p", sort, json!(sort)).await;
    }
    for order in [Order::Ascending, Order::Descending] {
        for limit in [1, 3, 5, 10, 11] {
            let pages = all_pages(
                &store,
                Query {
                    order,
                    limit,
                    ..Query::partition("p")
                },
            )
            .await;
            let seen: Vec<String> = pages.iter().flat_map(sorts).collect();
            let mut expected = all.clone();
            if order == Order::Descending {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{order:?} with limit {limit}");
            let full_pages = all.len().div_ceil(limit as usize);
            assert_eq!(
                pages.len(),
                full_pages,
                "{order:?} with limit {limit}: no empty last page"
            );
            for page in &pages[..pages.len() - 1] {
                assert_eq!(page.records.len(), limit as usize);
                assert!(page.next.is_some());
            }
        }
    }
    // Pagination within a range.
    let pages = all_pages(
        &store,
        Query {
            range: SortRange::Between("item#002".into(), "item#008".into()),
            order: Order::Descending,
            limit: 2,
            ..Query::partition("p")
        },
    )
    .await;
    let seen: Vec<String> = pages.iter().flat_map(sorts).collect();
    let expected: Vec<String> = (2..=8).rev().map(|n| format!("item#{n:03}")).collect();
    assert_eq!(seen, expected);
}

/// Expired records in the middle of a partition neither appear nor shorten a page.
pub async fn query_pages_skip_expired_records(store: Store) {
    let mut live = Vec::new();
    for n in 0..30 {
        let sort = format!("k{n:03}");
        let mut record = NewRecord::new(key("p", &sort), json!(n));
        if n % 3 != 0 {
            record = record.expiring_at(expired());
        } else {
            live.push(sort);
        }
        store.create(record).await.expect("create");
    }
    let pages = all_pages(
        &store,
        Query {
            limit: 4,
            ..Query::partition("p")
        },
    )
    .await;
    let seen: Vec<String> = pages.iter().flat_map(sorts).collect();
    assert_eq!(seen, live);
    let sizes: Vec<usize> = pages.iter().map(|p| p.records.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
}

pub async fn query_does_not_leak_other_partitions(store: Store) {
    for partition in ["p", "p2", "pp", "o", "p#x", "q"] {
        for sort in ["a", "b", "c"] {
            create(&store, partition, sort, json!(partition)).await;
        }
    }
    for limit in [1, 2, 100] {
        let pages = all_pages(
            &store,
            Query {
                limit,
                ..Query::partition("p")
            },
        )
        .await;
        let records: Vec<&Record> = pages.iter().flat_map(|p| &p.records).collect();
        assert_eq!(records.len(), 3);
        assert!(
            records
                .iter()
                .all(|r| r.key.partition == "p" && r.body == json!("p"))
        );
    }
    let page = store
        .query(&Query {
            range: SortRange::BeginsWith("a".into()),
            ..Query::partition("pp")
        })
        .await
        .expect("query");
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].key, key("pp", "a"));
}

pub async fn transaction_applies_every_write(store: Store) {
    create(&store, "t", "to-update", json!("old")).await;
    create(&store, "t", "to-delete", json!("old")).await;
    store
        .create(NewRecord::new(key("t", "to-check"), json!("guard")).with_state("Open"))
        .await
        .expect("create");
    store
        .transact(vec![
            Write::Create(NewRecord::new(key("t", "created"), json!("new")).with_state("S")),
            Write::Update {
                key: key("t", "to-update"),
                expect: Expect::version(1),
                change: change(Some("Updated"), json!("new")),
            },
            Write::Delete {
                key: key("t", "to-delete"),
                expect: Expect::exists(),
            },
            Write::Check {
                key: key("t", "to-check"),
                expect: Expect::version(1).and_state("Open"),
            },
        ])
        .await
        .expect("transaction");
    let created = get(&store, "t", "created").await.expect("created");
    assert_eq!(
        (created.version, created.state.as_deref(), created.body),
        (1, Some("S"), json!("new"))
    );
    let updated = get(&store, "t", "to-update").await.expect("updated");
    assert_eq!(
        (updated.version, updated.state.as_deref(), updated.body),
        (2, Some("Updated"), json!("new"))
    );
    assert_eq!(get(&store, "t", "to-delete").await, None);
    let checked = get(&store, "t", "to-check").await.expect("checked");
    assert_eq!(checked.version, 1, "a check writes nothing");
}

/// Snapshot of a small partition, to show a refused transaction changed nothing.
async fn snapshot(store: &Store, partition: &str) -> Vec<Record> {
    store
        .query(&Query::partition(partition))
        .await
        .expect("snapshot")
        .records
}

pub async fn transaction_failing_check_writes_nothing(store: Store) {
    create(&store, "t", "existing", json!("old")).await;
    store
        .create(NewRecord::new(key("t", "guard"), json!("g")).with_state("Closed"))
        .await
        .expect("create guard");
    let before = snapshot(&store, "t").await;
    let result = store
        .transact(vec![
            Write::Create(NewRecord::new(key("t", "new"), json!("new"))),
            Write::Update {
                key: key("t", "existing"),
                expect: Expect::version(1),
                change: change(None, json!("changed")),
            },
            Write::Check {
                key: key("t", "guard"),
                expect: Expect::state("Open"),
            },
        ])
        .await;
    assert_conflict_at(result, 2, &key("t", "guard"));
    assert_eq!(snapshot(&store, "t").await, before, "nothing was written");

    let result = store
        .transact(vec![
            Write::Delete {
                key: key("t", "existing"),
                expect: Expect::exists(),
            },
            Write::Check {
                key: key("t", "missing"),
                expect: Expect::exists(),
            },
        ])
        .await;
    assert_conflict_at(result, 1, &key("t", "missing"));
    assert_eq!(snapshot(&store, "t").await, before, "nothing was deleted");

    let result = store
        .transact(vec![Write::Update {
            key: key("t", "existing"),
            expect: Expect::version(5),
            change: change(None, json!("changed")),
        }])
        .await;
    assert_conflict_at(result, 0, &key("t", "existing"));
    assert_eq!(snapshot(&store, "t").await, before);
}

pub async fn transaction_failing_create_writes_nothing(store: Store) {
    create(&store, "t", "taken", json!("first")).await;
    create(&store, "t", "other", json!("other")).await;
    let before = snapshot(&store, "t").await;
    let result = store
        .transact(vec![
            Write::Create(NewRecord::new(key("t", "fresh"), json!("fresh"))),
            Write::Delete {
                key: key("t", "other"),
                expect: Expect::version(1),
            },
            Write::Create(NewRecord::new(key("t", "taken"), json!("second"))),
            Write::Create(NewRecord::new(key("t", "fresh2"), json!("fresh"))),
        ])
        .await;
    assert_conflict_at(result, 2, &key("t", "taken"));
    assert_eq!(snapshot(&store, "t").await, before);
}

fn event_key(chain: &str, sequence: u64) -> RecordKey {
    key(chain, &format!("event#{sequence:08}"))
}

/// Appends one event to an audit chain: the new event is created and the head advanced in
/// one transaction, conditioned on the head's version, so appends are serialised.
async fn append_event(store: &Store, chain: &str, payload: Value) -> Result<u64, RecordsError> {
    let head_key = key(chain, "head");
    let head = store.get(&head_key).await?.expect("chain head");
    let sequence = head.body["sequence"].as_u64().expect("sequence") + 1;
    let previous = head.body["last"].clone();
    store
        .transact(vec![
            Write::Update {
                key: head_key,
                expect: Expect::version(head.version),
                change: change(None, json!({ "sequence": sequence, "last": payload })),
            },
            Write::Create(NewRecord::new(
                event_key(chain, sequence),
                json!({ "sequence": sequence, "previous": previous, "payload": payload }),
            )),
        ])
        .await?;
    Ok(sequence)
}

async fn start_chain(store: &Store, chain: &str) {
    create(store, chain, "head", json!({ "sequence": 0, "last": null })).await;
}

pub async fn audit_chain_append_is_atomic(store: Store) {
    start_chain(&store, "audit").await;
    assert_eq!(
        append_event(&store, "audit", json!("one"))
            .await
            .expect("append"),
        1
    );
    assert_eq!(
        append_event(&store, "audit", json!("two"))
            .await
            .expect("append"),
        2
    );

    // An append from a stale head is refused at the head update, and writes no event.
    let result = store
        .transact(vec![
            Write::Update {
                key: key("audit", "head"),
                expect: Expect::version(2),
                change: change(None, json!({ "sequence": 2, "last": "stale" })),
            },
            Write::Create(NewRecord::new(event_key("audit", 2), json!("stale"))),
        ])
        .await;
    assert_conflict_at(result, 0, &key("audit", "head"));
    // The head is right but the event already exists: refused at the create.
    let result = store
        .transact(vec![
            Write::Update {
                key: key("audit", "head"),
                expect: Expect::version(3),
                change: change(None, json!({ "sequence": 3, "last": "dup" })),
            },
            Write::Create(NewRecord::new(event_key("audit", 2), json!("dup"))),
        ])
        .await;
    assert_conflict_at(result, 1, &event_key("audit", 2));

    let head = get(&store, "audit", "head").await.expect("head");
    assert_eq!((head.version, head.body["sequence"].as_u64()), (3, Some(2)));
    let events = store
        .query(&Query {
            range: SortRange::BeginsWith("event#".into()),
            ..Query::partition("audit")
        })
        .await
        .expect("events");
    let payloads: Vec<&Value> = events.records.iter().map(|r| &r.body["payload"]).collect();
    assert_eq!(payloads, vec![&json!("one"), &json!("two")]);
    assert_eq!(events.records[1].body["previous"], json!("one"));
}

/// Concurrent appenders that retry on conflict end with one gap-free chain.
pub async fn concurrent_audit_chain_appends_serialise(store: Store) {
    const WRITERS: u64 = 4;
    const APPENDS: u64 = 4;
    start_chain(&store, "audit").await;
    let mut tasks = JoinSet::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut conflicts = 0;
            for append in 0..APPENDS {
                loop {
                    match append_event(&store, "audit", json!(format!("{writer}/{append}"))).await {
                        Ok(_) => break,
                        Err(RecordsError::TransactionConflict { index, .. }) => {
                            assert_eq!(index, 0, "a stale append fails at its head update");
                            conflicts += 1;
                        }
                        Err(error) if error.is_retryable() => conflicts += 1,
                        Err(error) => panic!("writer {writer}: {error:?}"),
                    }
                    assert!(conflicts < 500, "writer {writer} starves");
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("writer");
    }
    let total = WRITERS * APPENDS;
    let head = get(&store, "audit", "head").await.expect("head");
    assert_eq!(head.body["sequence"].as_u64(), Some(total));
    assert_eq!(head.version, total + 1);
    let pages = all_pages(
        &store,
        Query {
            range: SortRange::BeginsWith("event#".into()),
            limit: 5,
            ..Query::partition("audit")
        },
    )
    .await;
    let events: Vec<&Record> = pages.iter().flat_map(|p| &p.records).collect();
    assert_eq!(events.len() as u64, total);
    let mut payloads = BTreeSet::new();
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.body["sequence"].as_u64(), Some(index as u64 + 1));
        let previous = if index == 0 {
            Value::Null
        } else {
            events[index - 1].body["payload"].clone()
        };
        assert_eq!(
            event.body["previous"],
            previous,
            "event {} links to its predecessor",
            index + 1
        );
        assert!(
            payloads.insert(event.body["payload"].to_string()),
            "each append lands once"
        );
    }
}

pub async fn invalid_inputs_are_refused(store: Store) {
    let long = "x".repeat(limits::MAX_KEY_BYTES + 1);
    let oversized = json!("x".repeat(limits::MAX_BODY_BYTES));
    create(&store, "p", "s", json!("kept")).await;

    assert_invalid(store.get(&key("", "s")).await, "get with empty partition");
    assert_invalid(store.get(&key("p", "")).await, "get with empty sort");
    assert_invalid(store.get(&key("p", &long)).await, "get with long sort");
    assert_invalid(
        store.create(NewRecord::new(key("", "s"), json!(1))).await,
        "create empty key",
    );
    assert_invalid(
        store
            .create(NewRecord::new(key(&long, "s"), json!(1)))
            .await,
        "create long key",
    );
    assert_invalid(
        store
            .create(NewRecord::new(key("p", "big"), oversized.clone()))
            .await,
        "create oversized body",
    );
    assert_eq!(get(&store, "p", "big").await, None);
    assert_invalid(
        store
            .update(
                &key("p", "s"),
                Expect::exists(),
                change(None, oversized.clone()),
            )
            .await,
        "update oversized body",
    );
    assert_invalid(
        store
            .update(&key("p", ""), Expect::exists(), change(None, json!(1)))
            .await,
        "update empty key",
    );
    assert_invalid(
        store.delete(&key("", "s"), Expect::exists()).await,
        "delete empty key",
    );
    let kept = get(&store, "p", "s").await.expect("kept");
    assert_eq!((kept.version, kept.body), (1, json!("kept")));

    let many: Vec<Write> = (0..=limits::MAX_TRANSACTION_WRITES)
        .map(|n| Write::Create(NewRecord::new(key("batch", &format!("{n:02}")), json!(n))))
        .collect();
    assert_eq!(many.len(), 26);
    assert_invalid(store.transact(many).await, "26-write transaction");
    let duplicate = vec![
        Write::Create(NewRecord::new(key("batch", "a"), json!(1))),
        Write::Check {
            key: key("batch", "a"),
            expect: Expect::exists(),
        },
    ];
    assert_invalid(
        store.transact(duplicate).await,
        "duplicate key in transaction",
    );
    assert_invalid(store.transact(vec![]).await, "empty transaction");
    let with_bad_write = vec![
        Write::Create(NewRecord::new(key("batch", "a"), json!(1))),
        Write::Update {
            key: key("p", "s"),
            expect: Expect::exists(),
            change: change(None, oversized),
        },
    ];
    assert_invalid(
        store.transact(with_bad_write).await,
        "oversized body in transaction",
    );
    let with_empty_key = vec![
        Write::Create(NewRecord::new(key("batch", "a"), json!(1))),
        Write::Delete {
            key: key("batch", ""),
            expect: Expect::exists(),
        },
    ];
    assert_invalid(
        store.transact(with_empty_key).await,
        "empty key in transaction",
    );
    assert!(
        snapshot(&store, "batch").await.is_empty(),
        "refused transactions wrote nothing"
    );

    let base = Query::partition("p");
    assert_invalid(
        store
            .query(&Query {
                limit: 0,
                ..base.clone()
            })
            .await,
        "page size 0",
    );
    assert_invalid(
        store
            .query(&Query {
                limit: Query::MAX_PAGE_SIZE + 1,
                ..base.clone()
            })
            .await,
        "page size too big",
    );
    assert_invalid(store.query(&Query::partition("")).await, "empty partition");
    assert_invalid(
        store
            .query(&Query {
                cursor: Some("%%% not a cursor".into()),
                ..base.clone()
            })
            .await,
        "malformed cursor",
    );
    assert_invalid(
        store
            .query(&Query {
                range: SortRange::BeginsWith(String::new()),
                ..base.clone()
            })
            .await,
        "empty prefix",
    );
    assert_invalid(
        store
            .query(&Query {
                range: SortRange::Between("b".into(), "a".into()),
                ..base.clone()
            })
            .await,
        "reversed range",
    );
    assert_invalid(
        store
            .query(&Query {
                range: SortRange::Between(String::new(), "a".into()),
                ..base
            })
            .await,
        "empty range bound",
    );
}

/// The largest accepted body is stored and read back whole.
pub async fn largest_body_round_trips(store: Store) {
    // The JSON text of a string is its content plus two quotes.
    let body = json!("y".repeat(limits::MAX_BODY_BYTES - 2));
    let created = store
        .create(NewRecord::new(key("p", "large"), body.clone()))
        .await
        .expect("create the largest body");
    assert_eq!(created.body, body);
    assert_eq!(get(&store, "p", "large").await.map(|r| r.body), Some(body));
}

pub async fn counters_start_from_zero_and_add(store: Store) {
    let (hits, other) = (key("counters", "hits"), key("counters", "other"));
    assert_eq!(store.read_counter(&hits).await.expect("read"), None);
    let add = |delta| {
        let (store, hits) = (store.clone(), hits.clone());
        async move {
            store
                .add_to_counter(&hits, delta, far_future())
                .await
                .expect("add")
        }
    };
    assert_eq!(add(1).await, 1);
    assert_eq!(add(5).await, 6);
    assert_eq!(add(-2).await, 4, "a negative delta subtracts");
    assert_eq!(add(-10).await, -6, "and may go below zero");
    assert_eq!(add(6).await, 0);
    assert_eq!(store.read_counter(&hits).await.expect("read"), Some(0));
    assert_eq!(
        store.read_counter(&other).await.expect("read"),
        None,
        "another key is another counter"
    );
}

pub async fn concurrent_counter_additions_are_never_lost(store: Store) {
    const WRITERS: i64 = 50;
    let counter = key("counters", "busy");
    let mut tasks = JoinSet::new();
    for _ in 0..WRITERS {
        let (store, counter) = (store.clone(), counter.clone());
        tasks.spawn(async move {
            store
                .add_to_counter(&counter, 1, far_future())
                .await
                .expect("add")
        });
    }
    let mut seen = BTreeSet::new();
    while let Some(value) = tasks.join_next().await {
        assert!(
            seen.insert(value.expect("task")),
            "two additions saw one value"
        );
    }
    assert_eq!(
        seen,
        (1..=WRITERS).collect::<BTreeSet<i64>>(),
        "each addition saw its own value"
    );
    assert_eq!(
        store.read_counter(&counter).await.expect("read"),
        Some(WRITERS)
    );
}

pub async fn expired_counters_start_again(store: Store) {
    let counter = key("counters", "window");
    assert_eq!(
        store
            .add_to_counter(&counter, 3, expired())
            .await
            .expect("add"),
        3,
        "an addition returns the value even when it set an expiry in the past"
    );
    assert_eq!(store.read_counter(&counter).await.expect("read"), None);
    assert_eq!(
        store
            .add_to_counter(&counter, 2, far_future())
            .await
            .expect("add"),
        2,
        "an expired counter counts from zero"
    );
    assert_eq!(store.read_counter(&counter).await.expect("read"), Some(2));

    // Expiring while stored.
    let brief = key("counters", "brief");
    store
        .add_to_counter(&brief, 7, now_unix() + 1)
        .await
        .expect("add");
    assert_eq!(store.read_counter(&brief).await.expect("read"), Some(7));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(store.read_counter(&brief).await.expect("read"), None);
    assert_eq!(
        store
            .add_to_counter(&brief, 1, far_future())
            .await
            .expect("add"),
        1
    );
}

pub async fn counters_refuse_invalid_keys(store: Store) {
    for bad in [
        key("", "s"),
        key("p", ""),
        key(&"p".repeat(limits::MAX_KEY_BYTES + 1), "s"),
    ] {
        assert!(
            matches!(
                store.add_to_counter(&bad, 1, far_future()).await,
                Err(RecordsError::Invalid(_))
            ),
            "add at {bad}"
        );
        assert!(
            matches!(
                store.read_counter(&bad).await,
                Err(RecordsError::Invalid(_))
            ),
            "read at {bad}"
        );
    }
}

pub async fn health_answers(store: Store) {
    store.health().await.expect("healthy");
}
