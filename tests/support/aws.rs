//! The AWS emulator (moto server) that the test command starts.
//!
//! `scripts/test` starts moto on a free loopback port and exports `AWS_ENDPOINT_URL` with
//! dummy credentials. Tests refuse to run against anything but a loopback endpoint, so a
//! misconfigured shell can never point them at a real account.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The SDK configuration for the emulator, from the standard environment variables.
///
/// Panics (failing the test, with the reason) when no loopback emulator is configured.
pub async fn emulator_config() -> SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    assert!(
        loopback.iter().any(|prefix| endpoint.starts_with(prefix)),
        "AWS contract tests need the moto server on a loopback AWS_ENDPOINT_URL \
         (got {endpoint:?}); run them through scripts/test, which starts it"
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .load()
        .await
}

/// A resource name no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A fresh symmetric KMS key; returns its key id.
pub async fn provision_kms_key(sdk: &SdkConfig) -> String {
    aws_sdk_kms::Client::new(sdk)
        .create_key()
        .description("walletless test key")
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .expect("moto CreateKey")
        .key_metadata
        .expect("key metadata")
        .key_id
}

/// A fresh bucket; returns its name.
pub async fn provision_bucket(sdk: &SdkConfig) -> String {
    let bucket = unique_name("walletless-archive");
    aws_sdk_s3::Client::new(sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("moto CreateBucket");
    bucket
}

/// Every resource of a deployment, freshly made in the emulator.
pub async fn provision_all() -> walletless::config::AwsResources {
    let sdk = emulator_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    // Every queue redrives after the same count, as in the template.
    let max_receives = walletless::ports::step_queue::DEFAULT_MAX_RECEIVES;
    let queues = crate::contract::step_queue::SqsQueues::provision(max_receives).await;
    let webhook_queues = crate::contract::step_queue::SqsQueues::provision(max_receives).await;
    let audit_export_queues = crate::contract::step_queue::SqsQueues::provision(max_receives).await;
    walletless::config::AwsResources {
        records_table: crate::contract::records::provision_dynamodb_table(&dynamodb).await,
        kms_key_id: provision_kms_key(&sdk).await,
        step_queue_url: queues.queue_url,
        step_dead_letter_queue_url: queues.dead_letter_queue_url,
        webhook_queue_url: webhook_queues.queue_url,
        webhook_dead_letter_queue_url: webhook_queues.dead_letter_queue_url,
        audit_export_queue_url: audit_export_queues.queue_url,
        audit_export_dead_letter_queue_url: audit_export_queues.dead_letter_queue_url,
        archive_bucket: provision_bucket(&sdk).await,
    }
}

/// Fresh emulator resources, the SDK configuration, and the AWS adapters over them (built-in
/// networks): for a test that swaps one adapter (a wrapped store, a client through a proxy)
/// before serving them.
pub async fn fresh_services() -> (
    walletless::config::AwsResources,
    SdkConfig,
    walletless::app::Services,
) {
    let resources = provision_all().await;
    let sdk = emulator_config().await;
    let networks = walletless::networks::NetworkRegistry::built_in()
        .unwrap_or_else(|error| panic!("the built-in network registry: {error}"));
    let services = walletless::app::Services::aws(&sdk, &resources, networks);
    (resources, sdk, services)
}

/// The variables that point a server or function at `resources` in AWS mode.
pub fn aws_env(resources: &walletless::config::AwsResources) -> Vec<(&'static str, String)> {
    use walletless::config::vars;
    vec![
        (vars::BACKEND, "aws".to_string()),
        (vars::RECORDS_TABLE, resources.records_table.clone()),
        (vars::KMS_KEY_ID, resources.kms_key_id.clone()),
        (vars::STEP_QUEUE_URL, resources.step_queue_url.clone()),
        (
            vars::STEP_DEAD_LETTER_QUEUE_URL,
            resources.step_dead_letter_queue_url.clone(),
        ),
        (vars::WEBHOOK_QUEUE_URL, resources.webhook_queue_url.clone()),
        (
            vars::WEBHOOK_DEAD_LETTER_QUEUE_URL,
            resources.webhook_dead_letter_queue_url.clone(),
        ),
        (
            vars::AUDIT_EXPORT_QUEUE_URL,
            resources.audit_export_queue_url.clone(),
        ),
        (
            vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
            resources.audit_export_dead_letter_queue_url.clone(),
        ),
        (vars::ARCHIVE_BUCKET, resources.archive_bucket.clone()),
    ]
}

/// A record store that lets the emulator see one request at a time. moto checks a condition
/// and applies the write in separate steps without a lock (and a cancelled transaction restores
/// a snapshot of the whole table taken when it began), so truly simultaneous conditional
/// writes can both succeed there; DynamoDB guarantees each request is atomic. Races still race
/// through it: tasks interleave between calls, read stale versions and states, and must lose
/// on the conditions the code sends.
#[derive(Debug)]
pub struct OneRequestAtATime {
    inner: std::sync::Arc<dyn walletless::ports::RecordStore>,
    turn: tokio::sync::Mutex<()>,
}

impl OneRequestAtATime {
    pub fn new(inner: std::sync::Arc<dyn walletless::ports::RecordStore>) -> Self {
        Self {
            inner,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

mod one_request_at_a_time {
    use walletless::ports::records::RecordsResult;
    use walletless::ports::{
        Change, Expect, NewRecord, Page, Query, Record, RecordKey, RecordStore, Write,
    };

    use super::OneRequestAtATime;

    #[async_trait::async_trait]
    impl RecordStore for OneRequestAtATime {
        async fn get(&self, key: &RecordKey) -> RecordsResult<Option<Record>> {
            let _turn = self.turn.lock().await;
            self.inner.get(key).await
        }

        async fn create(&self, record: NewRecord) -> RecordsResult<Record> {
            let _turn = self.turn.lock().await;
            self.inner.create(record).await
        }

        async fn update(
            &self,
            key: &RecordKey,
            expect: Expect,
            change: Change,
        ) -> RecordsResult<Record> {
            let _turn = self.turn.lock().await;
            self.inner.update(key, expect, change).await
        }

        async fn delete(&self, key: &RecordKey, expect: Expect) -> RecordsResult<()> {
            let _turn = self.turn.lock().await;
            self.inner.delete(key, expect).await
        }

        async fn query(&self, query: &Query) -> RecordsResult<Page> {
            let _turn = self.turn.lock().await;
            self.inner.query(query).await
        }

        async fn transact(&self, writes: Vec<Write>) -> RecordsResult<()> {
            let _turn = self.turn.lock().await;
            self.inner.transact(writes).await
        }

        async fn add_to_counter(
            &self,
            key: &RecordKey,
            delta: i64,
            expires_at: i64,
        ) -> RecordsResult<i64> {
            let _turn = self.turn.lock().await;
            self.inner.add_to_counter(key, delta, expires_at).await
        }

        async fn read_counter(&self, key: &RecordKey) -> RecordsResult<Option<i64>> {
            let _turn = self.turn.lock().await;
            self.inner.read_counter(key).await
        }

        async fn health(&self) -> RecordsResult<()> {
            let _turn = self.turn.lock().await;
            self.inner.health().await
        }
    }
}
