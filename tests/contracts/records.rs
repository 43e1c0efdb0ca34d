//! The records contract on both adapter families: `embedded::<case>` runs each case on a
//! fresh SQLite file in a temporary directory, `aws::<case>` on a fresh DynamoDB table in the
//! moto server. A few family-specific tests follow the generated ones.

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use walletless::ports::RecordStore;
use walletless_tests::contract::records as contract;

macro_rules! records_contract {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            use super::contract;
            use super::embedded_support::fresh_store;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = fresh_store();
                    contract::$case(store).await;
                }
            )+
        }

        mod aws {
            use super::aws_support::fresh_store;
            use super::contract;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    contract::$case(fresh_store().await).await;
                }
            )+
        }
    };
}

records_contract!(
    get_missing_is_none,
    create_then_get_round_trips,
    second_create_fails_and_keeps_first,
    two_concurrent_creates_one_wins,
    ten_concurrent_creates_one_wins,
    create_replaces_expired_record,
    expired_records_are_absent,
    record_expires_while_stored,
    update_with_version_bumps_it,
    update_with_stale_version_changes_nothing,
    update_conditioned_on_state,
    concurrent_state_transitions_one_wins,
    concurrent_updates_on_one_version_one_wins,
    delete_with_expectation,
    query_orders_ascending_and_descending,
    query_begins_with_matches_literally,
    query_between_is_inclusive,
    query_paginates_every_record_once,
    query_pages_skip_expired_records,
    query_does_not_leak_other_partitions,
    transaction_applies_every_write,
    transaction_failing_check_writes_nothing,
    transaction_failing_create_writes_nothing,
    audit_chain_append_is_atomic,
    concurrent_audit_chain_appends_serialise,
    invalid_inputs_are_refused,
    largest_body_round_trips,
    counters_start_from_zero_and_add,
    concurrent_counter_additions_are_never_lost,
    expired_counters_start_again,
    counters_refuse_invalid_keys,
    health_answers,
);

mod embedded_only {
    use super::*;
    use serde_json::json;
    use walletless::adapters::embedded::sqlite_records::SqliteRecords;
    use walletless::ports::{Change, Expect, NewRecord, RecordKey, RecordsError};

    /// Two handles on one file stand in for two processes: each has its own connection, so
    /// only SQLite's write lock (taken by `BEGIN IMMEDIATE`) keeps their writes atomic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_handles_on_one_file_race_safely() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.sqlite3");
        let handles: Vec<Arc<dyn RecordStore>> = vec![
            Arc::new(SqliteRecords::open(&path).expect("open first")),
            Arc::new(SqliteRecords::open(&path).expect("open second")),
        ];
        let key = RecordKey::new("p", "s");
        let mut tasks = tokio::task::JoinSet::new();
        for contender in 0..20 {
            let store = Arc::clone(&handles[contender % 2]);
            let key = key.clone();
            tasks.spawn(async move { store.create(NewRecord::new(key, json!(contender))).await });
        }
        let mut wins = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                Ok(_) => wins += 1,
                Err(RecordsError::ConditionFailed { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1);

        // Every increment conditioned on the version read lands exactly once.
        let mut tasks = tokio::task::JoinSet::new();
        for handle in &handles {
            let store = Arc::clone(handle);
            let key = key.clone();
            tasks.spawn(async move {
                let mut done = 0;
                while done < 10 {
                    let current = store.get(&key).await.expect("get").expect("present");
                    let value = current.body["count"].as_u64().unwrap_or(0);
                    let change = Change {
                        state: None,
                        body: json!({ "count": value + 1 }),
                        expires_at: None,
                    };
                    match store
                        .update(&key, Expect::version(current.version), change)
                        .await
                    {
                        Ok(_) => done += 1,
                        Err(RecordsError::ConditionFailed { .. }) => {}
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("writer");
        }
        let last = handles[0].get(&key).await.expect("get").expect("present");
        assert_eq!(last.body["count"], json!(20));
        assert_eq!(last.version, 21);
    }

    #[tokio::test]
    async fn records_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.sqlite3");
        let created = {
            let store = SqliteRecords::open(&path).expect("open");
            store
                .create(NewRecord::new(
                    RecordKey::new("p", "s"),
                    json!({"kept": true}),
                ))
                .await
                .expect("create")
        };
        let reopened = SqliteRecords::open(&path).expect("reopen");
        assert_eq!(
            reopened.get(&RecordKey::new("p", "s")).await.expect("get"),
            Some(created)
        );
    }

    #[tokio::test]
    async fn open_in_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = SqliteRecords::open(&dir.path().join("absent").join("records.sqlite3"));
        assert!(result.is_err());
    }
}

mod aws_only {
    use super::*;
    use walletless::adapters::aws::dynamodb::DynamoRecords;
    use walletless::ports::{RecordKey, RecordsError};

    /// A missing table is an outage to retry, and the message says which table.
    #[tokio::test]
    async fn missing_table_is_unavailable_and_named() {
        let config = walletless_tests::aws::emulator_config().await;
        let table = walletless_tests::aws::unique_name("absent-records");
        let store = DynamoRecords::new(aws_sdk_dynamodb::Client::new(&config), table.clone());
        for result in [
            store.get(&RecordKey::new("p", "s")).await.map(|_| ()),
            store.health().await,
        ] {
            match result {
                Err(RecordsError::Unavailable(message)) => {
                    assert!(message.contains(&table), "{message}")
                }
                other => panic!("expected Unavailable, got {other:?}"),
            }
        }
    }
}

mod embedded_support {
    use super::*;
    use walletless::adapters::embedded::sqlite_records::SqliteRecords;

    pub fn fresh_store() -> (Arc<dyn RecordStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteRecords::open(&dir.path().join("records.sqlite3")).expect("open sqlite");
        (Arc::new(store), dir)
    }
}

mod aws_support {
    use super::*;
    use walletless::adapters::aws::dynamodb::DynamoRecords;
    use walletless_tests::aws::OneRequestAtATime;

    pub async fn fresh_store() -> Arc<dyn RecordStore> {
        let config = walletless_tests::aws::emulator_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = contract::provision_dynamodb_table(&client).await;
        // See OneRequestAtATime for why the emulator must see one request at a time.
        Arc::new(OneRequestAtATime::new(Arc::new(DynamoRecords::new(
            client, table,
        ))))
    }
}
