//! The application context every handler and step receives: the ports, built once per process
//! from configuration, plus the network registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use url::Url;

use crate::accounts::tokens::SigningKeyCache;
use crate::adapters::aws::{
    dynamodb::DynamoRecords, kms::KmsKeyVault, s3::S3Archive, sqs::SqsStepQueue,
};
use crate::adapters::embedded::{
    dir_archive::DirArchive, local_vault::LocalKeyVault, sqlite_queue::SqliteStepQueue,
    sqlite_records::SqliteRecords,
};
use crate::config::{AwsResources, Backend, Config};
use crate::networks::{NetworkConfigError, NetworkRegistry};
use crate::ports::{Archive, KeyVault, RecordStore, StepQueue};

/// How long a health probe of one dependency may take before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Networks(#[from] NetworkConfigError),
    #[error("startup: cannot open {what}: {reason}")]
    Embedded { what: &'static str, reason: String },
    #[error("startup: {what} is missing or unusable: {reason}")]
    Missing { what: String, reason: String },
}

/// The ports and registries, shared by every request of a process.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    services: Services,
    signing_keys: SigningKeyCache,
}

#[derive(Debug)]
pub struct Services {
    pub records: Arc<dyn RecordStore>,
    pub key_vault: Arc<dyn KeyVault>,
    pub step_queue: Arc<dyn StepQueue>,
    /// Webhook deliveries' own queue.
    pub webhook_queue: Arc<dyn StepQueue>,
    /// Audit export jobs' own queue.
    pub audit_export_queue: Arc<dyn StepQueue>,
    pub archive: Arc<dyn Archive>,
    pub networks: NetworkRegistry,
    /// Where ARC-3 metadata files are publicly served (`GET /v1/metadata/{id}`), if anywhere.
    pub metadata_base_url: Option<Url>,
    /// Which webhook URLs are allowed: public https in AWS, anything locally.
    pub webhook_targets: crate::webhooks::TargetPolicy,
}

impl Services {
    /// The AWS adapters of `resources`, with clients from one SDK configuration (no checks:
    /// [`App::connect_aws`] probes them).
    pub fn aws(
        sdk: &aws_config::SdkConfig,
        resources: &AwsResources,
        networks: NetworkRegistry,
    ) -> Self {
        Self {
            records: Arc::new(DynamoRecords::new(
                aws_sdk_dynamodb::Client::new(sdk),
                resources.records_table.clone(),
            )),
            key_vault: Arc::new(KmsKeyVault::new(
                aws_sdk_kms::Client::new(sdk),
                resources.kms_key_id.clone(),
            )),
            step_queue: Arc::new(SqsStepQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                resources.step_queue_url.clone(),
                resources.step_dead_letter_queue_url.clone(),
            )),
            webhook_queue: Arc::new(SqsStepQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                resources.webhook_queue_url.clone(),
                resources.webhook_dead_letter_queue_url.clone(),
            )),
            audit_export_queue: Arc::new(SqsStepQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                resources.audit_export_queue_url.clone(),
                resources.audit_export_dead_letter_queue_url.clone(),
            )),
            archive: Arc::new(S3Archive::new(
                aws_sdk_s3::Client::new(sdk),
                resources.archive_bucket.clone(),
                Some(resources.kms_key_id.clone()),
            )),
            networks,
            metadata_base_url: None,
            webhook_targets: crate::webhooks::TargetPolicy::PublicHttpsOnly,
        }
    }
}

/// One dependency's health.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DependencyStatus {
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The embedded application and the one adapter the local server needs directly: the
/// archive, whose signed download links it serves.
#[derive(Debug)]
pub struct EmbeddedApp {
    pub app: App,
    pub archive: Arc<DirArchive>,
}

impl App {
    pub fn new(services: Services) -> Self {
        Self {
            inner: Arc::new(Inner {
                services,
                signing_keys: SigningKeyCache::default(),
            }),
        }
    }

    pub fn records(&self) -> &dyn RecordStore {
        self.inner.services.records.as_ref()
    }

    pub fn key_vault(&self) -> &dyn KeyVault {
        self.inner.services.key_vault.as_ref()
    }

    pub fn step_queue(&self) -> &dyn StepQueue {
        self.inner.services.step_queue.as_ref()
    }

    pub fn archive(&self) -> &dyn Archive {
        self.inner.services.archive.as_ref()
    }

    pub fn networks(&self) -> &NetworkRegistry {
        &self.inner.services.networks
    }

    pub fn webhook_queue(&self) -> &dyn StepQueue {
        self.inner.services.webhook_queue.as_ref()
    }

    pub fn audit_export_queue(&self) -> &dyn StepQueue {
        self.inner.services.audit_export_queue.as_ref()
    }

    /// The queue `name`.
    pub fn queue(&self, name: crate::steps::QueueName) -> &dyn StepQueue {
        match name {
            crate::steps::QueueName::Steps => self.step_queue(),
            crate::steps::QueueName::Webhooks => self.webhook_queue(),
            crate::steps::QueueName::AuditExports => self.audit_export_queue(),
        }
    }

    pub fn webhook_targets(&self) -> crate::webhooks::TargetPolicy {
        self.inner.services.webhook_targets
    }

    pub fn metadata_base_url(&self) -> Option<&Url> {
        self.inner.services.metadata_base_url.as_ref()
    }

    /// The access-token signing key, unwrapped once per process.
    pub fn signing_keys(&self) -> &SigningKeyCache {
        &self.inner.signing_keys
    }

    /// Build the app the configuration describes. In AWS mode every resource is checked
    /// first, so a missing table, key, queue or bucket stops the process with one line.
    pub async fn from_config(config: &Config) -> Result<Self, StartupError> {
        match &config.backend {
            Backend::Embedded {
                data_dir,
                public_url,
            } => {
                let public_url = public_url.clone().unwrap_or_else(default_public_url);
                Ok(Self::open_embedded(data_dir, public_url, config).await?.app)
            }
            Backend::Aws(resources) => Self::connect_aws(resources, config).await,
        }
    }

    /// The embedded family under `data_dir`, created on first run. `public_url` is where the
    /// local server can be reached, for archive download links.
    pub async fn open_embedded(
        data_dir: &Path,
        public_url: Url,
        config: &Config,
    ) -> Result<EmbeddedApp, StartupError> {
        let networks = NetworkRegistry::load(config.networks_file.as_deref())?;
        std::fs::create_dir_all(data_dir).map_err(|e| StartupError::Embedded {
            what: "the data directory",
            reason: format!("{}: {e}", data_dir.display()),
        })?;
        let embedded = |what: &'static str| {
            move |e: &dyn std::fmt::Display| StartupError::Embedded {
                what,
                reason: e.to_string(),
            }
        };
        let records = SqliteRecords::open(&data_dir.join("records.sqlite3"))
            .map_err(|e| embedded("the records database")(&e))?;
        let key_vault = LocalKeyVault::open_or_create(&data_dir.join("master.key"))
            .map_err(|e| embedded("the master key")(&e))?;
        let step_queue =
            SqliteStepQueue::open(&data_dir.join("steps.sqlite3"), config.step_max_receives)
                .map_err(|e| embedded("the step queue")(&e))?;
        let webhook_queue =
            SqliteStepQueue::open(&data_dir.join("webhooks.sqlite3"), config.step_max_receives)
                .map_err(|e| embedded("the webhook queue")(&e))?;
        let audit_export_queue = SqliteStepQueue::open(
            &data_dir.join("audit-exports.sqlite3"),
            config.step_max_receives,
        )
        .map_err(|e| embedded("the audit export queue")(&e))?;
        let archive_public_url = public_url.clone();
        let archive = Arc::new(
            DirArchive::open(
                &data_dir.join("archive"),
                &data_dir.join("archive-link.key"),
                public_url,
            )
            .map_err(|e| embedded("the archive")(&e))?,
        );
        let metadata_base_url = match &config.metadata_base_url {
            Some(url) => Some(url.clone()),
            None => archive_public_url.join("v1/metadata/").ok(),
        };
        let app = Self::new(Services {
            records: Arc::new(records),
            key_vault: Arc::new(key_vault),
            step_queue: Arc::new(step_queue),
            webhook_queue: Arc::new(webhook_queue),
            audit_export_queue: Arc::new(audit_export_queue),
            archive: archive.clone(),
            networks,
            metadata_base_url,
            webhook_targets: crate::webhooks::TargetPolicy::AnyForLocalDevelopment,
        });
        Ok(EmbeddedApp { app, archive })
    }

    /// The AWS family, with credentials and region from the standard provider chain.
    pub async fn connect_aws(
        resources: &AwsResources,
        config: &Config,
    ) -> Result<Self, StartupError> {
        let networks = NetworkRegistry::load(config.networks_file.as_deref())?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut services = Services::aws(&sdk, resources, networks);
        services.metadata_base_url = config.metadata_base_url.clone();
        let app = Self::new(services);
        for (dependency, status) in app.check_dependencies().await {
            let Some(reason) = status.error else { continue };
            let what = match dependency {
                "records" => format!("DynamoDB table {}", resources.records_table),
                "key_vault" => format!("KMS key {}", resources.kms_key_id),
                "step_queue" => format!("SQS queue {}", resources.step_queue_url),
                "webhook_queue" => format!("SQS queue {}", resources.webhook_queue_url),
                "audit_export_queue" => {
                    format!("SQS queue {}", resources.audit_export_queue_url)
                }
                _ => format!("S3 bucket {}", resources.archive_bucket),
            };
            return Err(StartupError::Missing { what, reason });
        }
        Ok(app)
    }

    /// Probe every dependency at once, each within [`PROBE_TIMEOUT`].
    pub async fn check_dependencies(&self) -> BTreeMap<&'static str, DependencyStatus> {
        let (records, key_vault, step_queue, webhook_queue, audit_export_queue, archive) = tokio::join!(
            probe(async { self.records().health().await.map_err(|e| e.to_string()) }),
            probe(async { self.key_vault().health().await.map_err(|e| e.to_string()) }),
            probe(async { self.step_queue().health().await.map_err(|e| e.to_string()) }),
            probe(async {
                self.webhook_queue()
                    .health()
                    .await
                    .map_err(|e| e.to_string())
            }),
            probe(async {
                self.audit_export_queue()
                    .health()
                    .await
                    .map_err(|e| e.to_string())
            }),
            probe(async { self.archive().health().await.map_err(|e| e.to_string()) }),
        );
        BTreeMap::from([
            ("archive", archive),
            ("audit_export_queue", audit_export_queue),
            ("key_vault", key_vault),
            ("records", records),
            ("step_queue", step_queue),
            ("webhook_queue", webhook_queue),
        ])
    }
}

fn default_public_url() -> Url {
    Url::parse("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable!("a valid literal"))
}

async fn probe(check: impl Future<Output = Result<(), String>>) -> DependencyStatus {
    let started = Instant::now();
    let result = match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs_f32())),
    };
    DependencyStatus {
        ok: result.is_ok(),
        latency_ms: started.elapsed().as_millis() as u64,
        error: result.err(),
    }
}
