//! The audit hash chain on both records adapter families: `embedded::<case>` on a fresh SQLite
//! file in a temporary directory, `aws::<case>` on a fresh DynamoDB table in the moto server
//! (through `OneRequestAtATime`, see its doc for why).

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use walletless::audit::{
    self, AuditError, AuditEvent, AuditFilter, BreakReason, ChainBreak, NewAuditEvent, Subject,
};
use walletless::ports::{Change, Expect, NewRecord, RecordKey, RecordStore, RecordsError, Write};

type Store = Arc<dyn RecordStore>;

macro_rules! audit_cases {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = super::support::embedded_store();
                    super::cases::$case(store).await;
                }
            )+
        }

        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::cases::$case(super::support::aws_store().await).await;
                }
            )+
        }
    };
}

audit_cases!(
    fifty_concurrent_appends_form_one_chain,
    tenants_have_independent_chains,
    prepared_append_commits_only_with_its_transaction,
    racing_prepared_appends_fail_their_whole_transaction,
    tampered_payload_is_named_by_verify,
    list_filters_and_paginates,
    float_payloads_are_refused_and_nothing_is_written,
    transact_writes_events_and_writes_together,
    transact_retries_when_another_append_takes_the_sequence,
    concurrent_transacts_with_several_events_keep_one_chain,
    empty_ids_are_refused,
    audit_records_never_expire,
);

/// Every event of `tenant`'s chain, read through `list` a small page at a time.
async fn whole_chain(store: &Store, tenant: &str) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = audit::list(
            &**store,
            tenant,
            &AuditFilter::default(),
            cursor.as_deref(),
            7,
        )
        .await
        .expect("list");
        events.extend(page.events);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
}

fn event(event_type: &str, subject: &str, n: u64) -> NewAuditEvent {
    NewAuditEvent::new("user:alice", event_type, Subject::new("draft", subject))
        .with_request_id(format!("req-{n}"))
        .with_correlation_id("corr-1")
        .with_payload(json!({ "n": n, "note": "ünïcode \"quoted\"\n" }))
}

fn sequences(events: &[AuditEvent]) -> Vec<u64> {
    events.iter().map(|e| e.sequence).collect()
}

/// A store on which another writer appends to `tenant-r` just before the first
/// transaction commits: the race `audit::transact` must survive.
#[derive(Debug)]
struct AppendsBeforeFirstTransaction {
    inner: Store,
    raced: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl RecordStore for AppendsBeforeFirstTransaction {
    async fn get(
        &self,
        key: &RecordKey,
    ) -> Result<Option<walletless::ports::Record>, RecordsError> {
        self.inner.get(key).await
    }
    async fn create(&self, record: NewRecord) -> Result<walletless::ports::Record, RecordsError> {
        self.inner.create(record).await
    }
    async fn update(
        &self,
        key: &RecordKey,
        expect: Expect,
        change: Change,
    ) -> Result<walletless::ports::Record, RecordsError> {
        self.inner.update(key, expect, change).await
    }
    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<(), RecordsError> {
        self.inner.delete(key, expect).await
    }
    async fn query(
        &self,
        query: &walletless::ports::Query,
    ) -> Result<walletless::ports::Page, RecordsError> {
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), RecordsError> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            audit::append(&*self.inner, "tenant-r", event("raced", "x", 9))
                .await
                .expect("racing append");
        }
        self.inner.transact(writes).await
    }
    async fn add_to_counter(
        &self,
        key: &RecordKey,
        delta: i64,
        expires_at: i64,
    ) -> Result<i64, RecordsError> {
        self.inner.add_to_counter(key, delta, expires_at).await
    }
    async fn read_counter(&self, key: &RecordKey) -> Result<Option<i64>, RecordsError> {
        self.inner.read_counter(key).await
    }
    async fn health(&self) -> Result<(), RecordsError> {
        self.inner.health().await
    }
}

mod cases {
    use super::*;

    pub async fn fifty_concurrent_appends_form_one_chain(store: Store) {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..50 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                audit::append(&*store, "tenant-a", event("draft.changed", "d1", n)).await
            });
        }
        let mut appended = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            appended.push(joined.expect("task").expect("append"));
        }
        appended.sort_by_key(|e| e.sequence);
        assert_eq!(sequences(&appended), (1..=50).collect::<Vec<_>>());

        let stored = whole_chain(&store, "tenant-a").await;
        assert_eq!(stored, appended, "each append returned what was stored");
        assert_eq!(audit::verify(&stored), Ok(()));
        let mut payloads: Vec<u64> = stored
            .iter()
            .map(|e| e.payload["n"].as_u64().unwrap())
            .collect();
        payloads.sort_unstable();
        assert_eq!(
            payloads,
            (0..50).collect::<Vec<_>>(),
            "every append landed once"
        );
        assert_eq!(
            audit::head(&*store, "tenant-a")
                .await
                .unwrap()
                .map(|e| e.sequence),
            Some(50)
        );
    }

    pub async fn tenants_have_independent_chains(store: Store) {
        for n in 0..3 {
            audit::append(&*store, "tenant-a", event("draft.created", "a", n))
                .await
                .unwrap();
            if n < 2 {
                audit::append(&*store, "tenant-b", event("draft.created", "b", n))
                    .await
                    .unwrap();
            }
        }
        let a = whole_chain(&store, "tenant-a").await;
        let b = whole_chain(&store, "tenant-b").await;
        assert_eq!(sequences(&a), [1, 2, 3]);
        assert_eq!(sequences(&b), [1, 2]);
        assert!(a.iter().all(|e| e.tenant == "tenant-a"));
        assert!(b.iter().all(|e| e.tenant == "tenant-b"));
        assert_eq!(a[0].previous_hash, audit::GENESIS_HASH);
        assert_eq!(b[0].previous_hash, audit::GENESIS_HASH);
        assert_eq!(audit::verify(&a), Ok(()));
        assert_eq!(audit::verify(&b), Ok(()));
        assert!(whole_chain(&store, "tenant-c").await.is_empty());
        // A tenant id that could alias another partition is refused.
        assert!(matches!(
            audit::append(&*store, "tenant-a#audit", event("x", "a", 0)).await,
            Err(AuditError::Invalid(_))
        ));
    }

    pub async fn prepared_append_commits_only_with_its_transaction(store: Store) {
        let deployment = RecordKey::new("user#alice#deployments", "dep-1");
        store
            .create(NewRecord::new(deployment.clone(), json!({})).with_state("queued"))
            .await
            .unwrap();
        let transition = |from: &str, to: &str| Write::Update {
            key: deployment.clone(),
            expect: Expect::state(from),
            change: Change {
                state: Some(to.into()),
                body: json!({}),
                expires_at: None,
            },
        };

        // The transition's condition fails (the deployment is not `submitted`): neither the
        // transition nor its event is written.
        let (_, write) = audit::prepare_append(
            &*store,
            "tenant-a",
            event("deployment.transition", "dep-1", 1),
        )
        .await
        .unwrap();
        let refused = store
            .transact(vec![transition("submitted", "confirmed"), write])
            .await;
        assert!(
            matches!(
                refused,
                Err(RecordsError::TransactionConflict { index: 0, .. })
            ),
            "{refused:?}"
        );
        assert!(whole_chain(&store, "tenant-a").await.is_empty());
        assert_eq!(
            store
                .get(&deployment)
                .await
                .unwrap()
                .unwrap()
                .state
                .as_deref(),
            Some("queued")
        );

        // The right condition: both happen.
        let (prepared, write) = audit::prepare_append(
            &*store,
            "tenant-a",
            event("deployment.transition", "dep-1", 2),
        )
        .await
        .unwrap();
        store
            .transact(vec![transition("queued", "submitted"), write])
            .await
            .unwrap();
        assert_eq!(whole_chain(&store, "tenant-a").await, vec![prepared]);
        assert_eq!(
            store
                .get(&deployment)
                .await
                .unwrap()
                .unwrap()
                .state
                .as_deref(),
            Some("submitted")
        );
    }

    pub async fn racing_prepared_appends_fail_their_whole_transaction(store: Store) {
        audit::append(&*store, "tenant-a", event("draft.created", "d", 0))
            .await
            .unwrap();
        // Two callers prepare from the same head; the second to commit must lose entirely.
        let (first, first_write) =
            audit::prepare_append(&*store, "tenant-a", event("draft.changed", "d", 1))
                .await
                .unwrap();
        let (second, second_write) =
            audit::prepare_append(&*store, "tenant-a", event("draft.changed", "d", 2))
                .await
                .unwrap();
        assert_eq!((first.sequence, second.sequence), (2, 2));
        let marker = |name: &str| {
            Write::Create(NewRecord::new(
                RecordKey::new("user#alice#drafts", name),
                json!({}),
            ))
        };
        store
            .transact(vec![marker("first"), first_write])
            .await
            .unwrap();
        let lost = store.transact(vec![marker("second"), second_write]).await;
        assert!(
            matches!(
                lost,
                Err(RecordsError::TransactionConflict { index: 1, .. })
            ),
            "{lost:?}"
        );
        assert!(
            store
                .get(&RecordKey::new("user#alice#drafts", "second"))
                .await
                .unwrap()
                .is_none()
        );

        // The loser prepares again on the new head and gets through.
        let (retried, write) =
            audit::prepare_append(&*store, "tenant-a", event("draft.changed", "d", 2))
                .await
                .unwrap();
        store.transact(vec![marker("second"), write]).await.unwrap();
        let chain = whole_chain(&store, "tenant-a").await;
        assert_eq!(sequences(&chain), [1, 2, 3]);
        assert_eq!(chain[1], first);
        assert_eq!(chain[2], retried);
        assert_eq!(audit::verify(&chain), Ok(()));
    }

    pub async fn tampered_payload_is_named_by_verify(store: Store) {
        for n in 0..5 {
            audit::append(&*store, "tenant-a", event("draft.changed", "d", n))
                .await
                .unwrap();
        }
        // Rewrite the fourth event's payload behind the chain's back, through the port.
        let key = audit::event_key("tenant-a", 4);
        let stored = store.get(&key).await.unwrap().unwrap();
        let mut body = stored.body.clone();
        body["payload"]["n"] = json!(1000);
        store
            .update(
                &key,
                Expect::version(stored.version),
                Change {
                    state: stored.state,
                    body,
                    expires_at: None,
                },
            )
            .await
            .unwrap();

        let chain = whole_chain(&store, "tenant-a").await;
        match audit::verify(&chain) {
            Err(ChainBreak {
                index: 3,
                reason: BreakReason::HashMismatch { .. },
            }) => {}
            other => panic!("expected a break at index 3, got {other:?}"),
        }
        // A run that starts after the tampered event still verifies.
        assert_eq!(audit::verify(&chain[4..]), Ok(()));
    }

    pub async fn list_filters_and_paginates(store: Store) {
        let mut appended = Vec::new();
        for (n, (event_type, subject)) in [
            ("draft.created", "d1"),
            ("draft.changed", "d1"),
            ("draft.created", "d2"),
            ("draft.changed", "d2"),
            ("draft.changed", "d1"),
        ]
        .into_iter()
        .enumerate()
        {
            appended.push(
                audit::append(&*store, "tenant-a", event(event_type, subject, n as u64))
                    .await
                    .unwrap(),
            );
            // Distinct milliseconds, so a time range can pick events out.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let list = |filter: AuditFilter, cursor: Option<String>, limit: u32| {
            let store = Arc::clone(&store);
            async move {
                audit::list(&*store, "tenant-a", &filter, cursor.as_deref(), limit)
                    .await
                    .unwrap()
            }
        };

        let changed = list(
            AuditFilter {
                event_type: Some("draft.changed".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await;
        assert_eq!(sequences(&changed.events), [2, 4, 5]);
        assert_eq!(changed.next, None);

        let d1 = AuditFilter {
            subject: Some(Subject::new("draft", "d1")),
            ..Default::default()
        };
        let first = list(d1.clone(), None, 2).await;
        assert_eq!(sequences(&first.events), [1, 2]);
        let second = list(d1.clone(), first.next.clone(), 2).await;
        assert_eq!(sequences(&second.events), [5]);
        assert_eq!(second.next, None);

        let range = AuditFilter {
            from_ms: Some(appended[1].at_ms),
            to_ms: Some(appended[3].at_ms),
            ..Default::default()
        };
        assert_eq!(sequences(&list(range, None, 10).await.events), [2, 3, 4]);

        // A page that ends exactly at the chain's end says so.
        let all = list(AuditFilter::default(), None, 5).await;
        assert_eq!(sequences(&all.events), [1, 2, 3, 4, 5]);
        assert_eq!(all.next, None);
        assert_eq!(all.events, appended);

        for limit in [0, audit::store::MAX_LIST_LIMIT + 1] {
            assert!(matches!(
                audit::list(&*store, "tenant-a", &AuditFilter::default(), None, limit).await,
                Err(AuditError::Invalid(_))
            ));
        }
        assert!(matches!(
            audit::list(
                &*store,
                "tenant-a",
                &AuditFilter::default(),
                Some("not a cursor!"),
                5
            )
            .await,
            Err(AuditError::Invalid(_))
        ));
    }

    pub async fn transact_writes_events_and_writes_together(store: Store) {
        let key = RecordKey::new("things", "t1");
        let events = vec![
            event("thing.created", "t1", 1),
            event("thing.noted", "t1", 2),
        ];
        let written = audit::transact(
            &*store,
            "tenant-t",
            vec![Write::Create(NewRecord::new(key.clone(), json!({"v": 1})))],
            events,
        )
        .await
        .expect("transact");
        assert_eq!(
            sequences(&written),
            [1, 2],
            "several events get consecutive sequences"
        );
        assert_eq!(written[1].previous_hash, written[0].hash);
        assert!(store.get(&key).await.unwrap().is_some());

        // The caller's own write fails its condition: nothing at all is written, and the
        // conflict names the caller's write.
        let refused = audit::transact(
            &*store,
            "tenant-t",
            vec![Write::Create(NewRecord::new(key.clone(), json!({"v": 2})))],
            vec![event("thing.created", "t1", 3)],
        )
        .await;
        assert!(
            matches!(
                refused,
                Err(RecordsError::TransactionConflict { index: 0, .. })
            ),
            "{refused:?}"
        );
        let chain = whole_chain(&store, "tenant-t").await;
        assert_eq!(sequences(&chain), [1, 2], "no event without its write");
        assert_eq!(audit::verify(&chain), Ok(()));
    }

    pub async fn transact_retries_when_another_append_takes_the_sequence(store: Store) {
        audit::append(&*store, "tenant-r", event("first", "x", 0))
            .await
            .unwrap();
        // Another writer appends between this transact's read of the head and its commit.
        let racing: Store = Arc::new(AppendsBeforeFirstTransaction {
            inner: Arc::clone(&store),
            raced: std::sync::atomic::AtomicBool::new(false),
        });
        let key = RecordKey::new("things", "raced");
        let written = audit::transact(
            &*racing,
            "tenant-r",
            vec![Write::Create(NewRecord::new(key.clone(), json!({})))],
            vec![event("thing.created", "raced", 1)],
        )
        .await
        .expect("retried past the race");
        assert_eq!(sequences(&written), [3], "after the racing append at 2");
        let chain = whole_chain(&store, "tenant-r").await;
        assert_eq!(sequences(&chain), [1, 2, 3]);
        assert_eq!(chain[1].event_type, "raced");
        assert_eq!(audit::verify(&chain), Ok(()));
        assert!(store.get(&key).await.unwrap().is_some());
    }

    pub async fn concurrent_transacts_with_several_events_keep_one_chain(store: Store) {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..10u64 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let key = RecordKey::new("things", format!("c{n}"));
                audit::transact(
                    &*store,
                    "tenant-c",
                    vec![Write::Create(NewRecord::new(key, json!({ "n": n })))],
                    vec![event("a", "c", n), event("b", "c", n)],
                )
                .await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("task").expect("transact");
        }
        let chain = whole_chain(&store, "tenant-c").await;
        assert_eq!(sequences(&chain), (1..=20).collect::<Vec<_>>());
        assert_eq!(audit::verify(&chain), Ok(()));
        // Each transaction's two events are adjacent: nobody slipped in between.
        for pair in chain.chunks(2) {
            assert_eq!(pair[0].payload["n"], pair[1].payload["n"]);
            assert_eq!(
                (pair[0].event_type.as_str(), pair[1].event_type.as_str()),
                ("a", "b")
            );
        }
    }

    /// The records table expires items by TTL; audit events must never carry one, so they
    /// stay for the whole retention (and beyond, until deliberately archived).
    pub async fn audit_records_never_expire(store: Store) {
        audit::append(&*store, "tenant-x", event("a", "x", 1))
            .await
            .unwrap();
        audit::transact(&*store, "tenant-x", vec![], vec![event("b", "x", 2)])
            .await
            .unwrap();
        for sequence in [1, 2] {
            let record = store
                .get(&audit::event_key("tenant-x", sequence))
                .await
                .unwrap()
                .expect("stored");
            assert_eq!(record.expires_at, None, "event {sequence}");
        }
    }

    pub async fn empty_ids_are_refused(store: Store) {
        let refused = audit::append(
            &*store,
            "tenant-e",
            NewAuditEvent::new("user:a", "x", Subject::new("k", "i")).with_request_id(""),
        )
        .await;
        assert!(
            matches!(refused, Err(AuditError::Invalid(_))),
            "{refused:?}"
        );
        assert_eq!(audit::head(&*store, "tenant-e").await.unwrap(), None);
    }

    pub async fn float_payloads_are_refused_and_nothing_is_written(store: Store) {
        let with_float = event("draft.changed", "d", 0).with_payload(json!({ "price": 1.5 }));
        match audit::append(&*store, "tenant-a", with_float.clone()).await {
            Err(AuditError::Invalid(message)) => assert!(message.contains("price"), "{message}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(matches!(
            audit::prepare_append(&*store, "tenant-a", with_float).await,
            Err(AuditError::Invalid(_))
        ));
        assert!(whole_chain(&store, "tenant-a").await.is_empty());
    }
}

mod support {
    use super::Store;
    use std::sync::Arc;
    use walletless::adapters::aws::dynamodb::DynamoRecords;
    use walletless::adapters::embedded::sqlite_records::SqliteRecords;
    use walletless_tests::aws::OneRequestAtATime;
    use walletless_tests::contract::records::provision_dynamodb_table;

    pub fn embedded_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteRecords::open(&dir.path().join("records.sqlite3")).expect("open sqlite");
        (Arc::new(store), dir)
    }

    pub async fn aws_store() -> Store {
        let config = walletless_tests::aws::emulator_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = provision_dynamodb_table(&client).await;
        // See OneRequestAtATime for why the emulator must see one request at a time.
        Arc::new(OneRequestAtATime::new(Arc::new(DynamoRecords::new(
            client, table,
        ))))
    }
}
