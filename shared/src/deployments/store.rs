//! How a deployment is kept: one record per deployment in its owner's partition
//! (`user#<id>#deployments`, sorted by ULID), its status also in the record's state so that
//! every write is conditioned on the status and version it read; and an entry in the
//! `deployments#active` partition while it is not final, for the sweep. Every transition is
//! written with its webhook deliveries and its audit event, in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::state::{IllegalTransition, Status, TimelineEntry};
use crate::app::App;
use crate::audit::{self, NewAuditEvent, Origin, Subject, types};
use crate::chains::issue::DeployedToken;
use crate::ports::records::{
    Change, Expect, NewRecord, Record, RecordKey, RecordsError, Write, now_unix,
};
use crate::webhooks;

/// The partition of deployments not yet final, for the sweep.
pub const ACTIVE_PARTITION: &str = "deployments#active";

pub fn partition(user_id: &str) -> String {
    format!("user#{user_id}#deployments")
}

pub fn key(user_id: &str, deployment_id: &str) -> RecordKey {
    RecordKey::new(partition(user_id), deployment_id)
}

fn active_key(deployment_id: &str) -> RecordKey {
    RecordKey::new(ACTIVE_PARTITION, deployment_id)
}

use crate::ports::records::now_ms;

/// One transaction of a stage: its id and its signed bytes, recorded before it is sent so a
/// retry sends exactly these bytes and never a second, different transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTransaction {
    pub id: String,
    /// Base64 of the signed transaction (Algorand msgpack, EVM EIP-2718 bytes).
    pub signed: String,
}

/// The progress of one transaction group (one stage) of the current attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageProgress {
    pub stage: String,
    pub transactions: Vec<StageTransaction>,
    /// Algorand: the last round the transactions are valid in. EVM: unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_valid: Option<u64>,
    /// EVM: the nonce the transaction uses (kept across re-signing so that at most one
    /// transaction of this deployment can ever be mined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// Set before the bytes are first sent: from then on the deployment cannot be cancelled
    /// and the stage is only ever re-sent, never signed again.
    #[serde(default)]
    pub sending: bool,
    pub submitted: bool,
    /// The round or block it was confirmed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_address: Option<String>,
}

/// Why a deployment failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// A deployment as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub user_id: String,
    pub draft_id: String,
    /// The draft as it was when the deployment was requested: what is deployed.
    pub draft: Value,
    pub draft_version: u64,
    pub standard: String,
    pub network: String,
    pub status: Status,
    /// 1, then one more per retry.
    pub attempt: u32,
    /// The transaction groups the deployment needs, named; set by the prepare step.
    #[serde(default)]
    pub planned_stages: Vec<String>,
    /// The current attempt's transaction groups, in order.
    pub stages: Vec<StageProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DeployedToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub timeline: Vec<TimelineEntry>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The correlation id of the request that asked for it: every later step's audit
    /// events carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// A deployment with the version its record had when read.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub version: u64,
    pub deployment: Deployment,
}

impl Deployment {
    /// A new deployment of `draft` (the draft's content at `draft_version`), accepted now:
    /// Queued, first attempt, its first timeline entry.
    pub fn queued(
        user_id: &str,
        draft_id: &str,
        draft: Value,
        draft_version: u64,
        standard: &str,
        network: &str,
    ) -> Self {
        let now = now_ms();
        Self {
            id: ulid::Ulid::new().to_string(),
            user_id: user_id.to_string(),
            draft_id: draft_id.to_string(),
            draft,
            draft_version,
            standard: standard.to_string(),
            network: network.to_string(),
            status: Status::Queued,
            attempt: 1,
            planned_stages: Vec::new(),
            stages: Vec::new(),
            result: None,
            failure: None,
            timeline: vec![TimelineEntry {
                at_ms: now,
                from: None,
                to: Status::Queued,
                reason: "accepted".into(),
                attempt: 1,
                transaction_ids: Vec::new(),
                since_previous_ms: 0,
                error_code: None,
                retryable: None,
                message: None,
            }],
            created_at_ms: now,
            updated_at_ms: now,
            correlation_id: None,
        }
    }

    /// The origin of the steps that carry this deployment on by themselves.
    pub fn system_origin(&self, component: &str) -> Origin {
        Origin::system(component).correlated(self.correlation_id.as_deref())
    }

    /// The audit events of the timeline entries from `first` on, caused by `origin`.
    fn transition_events(&self, first: usize, origin: &Origin) -> Vec<NewAuditEvent> {
        self.timeline
            .iter()
            .skip(first)
            .map(|entry| {
                origin.event(
                    types::DEPLOYMENT_TRANSITION,
                    Subject::new("deployment", &self.id),
                    json!({
                        "from": entry.from.map(Status::as_str),
                        "to": entry.to.as_str(),
                        "reason": entry.reason,
                        "attempt": entry.attempt,
                        "transaction_ids": entry.transaction_ids,
                        "error_code": entry.error_code,
                        "retryable": entry.retryable,
                        "draft_id": self.draft_id,
                        "draft_version": self.draft_version,
                        "standard": self.standard,
                        "network": self.network,
                    }),
                )
            })
            .collect()
    }

    /// Appends the timeline entry of the move to `to` and makes it the status.
    pub fn move_to(
        &mut self,
        to: Status,
        reason: &str,
        transaction_ids: Vec<String>,
    ) -> Result<(), IllegalTransition> {
        self.status.check_move(to)?;
        let now = now_ms();
        let previous = self.timeline.last().map_or(now, |entry| entry.at_ms);
        self.timeline.push(TimelineEntry {
            at_ms: now,
            from: Some(self.status),
            to,
            reason: reason.to_string(),
            attempt: self.attempt,
            transaction_ids,
            since_previous_ms: u64::try_from(now.saturating_sub(previous)).unwrap_or(0),
            error_code: None,
            retryable: None,
            message: None,
        });
        self.status = to;
        Ok(())
    }

    /// Moves to Failed with the error's code, message and whether a retry can help.
    pub fn fail(&mut self, failure: Failure) -> Result<(), IllegalTransition> {
        self.move_to(Status::Failed, "failed", Vec::new())?;
        if let Some(entry) = self.timeline.last_mut() {
            entry.error_code = Some(failure.code.clone());
            entry.retryable = Some(failure.retryable);
            entry.message = Some(failure.message.clone());
        }
        self.failure = Some(failure);
        Ok(())
    }

    fn body(&self) -> Result<Value, RecordsError> {
        serde_json::to_value(self).map_err(|error| RecordsError::Internal(error.to_string()))
    }
}

fn parse(record: &Record) -> Result<Loaded, RecordsError> {
    let deployment = serde_json::from_value(record.body.clone()).map_err(|error| {
        RecordsError::Internal(format!("deployment {} unreadable: {error}", record.key))
    })?;
    Ok(Loaded {
        version: record.version,
        deployment,
    })
}

pub async fn load(
    app: &App,
    user_id: &str,
    deployment_id: &str,
) -> Result<Option<Loaded>, RecordsError> {
    match app.records().get(&key(user_id, deployment_id)).await? {
        Some(record) => parse(&record).map(Some),
        None => Ok(None),
    }
}

/// Stores a new deployment and its active-index entry, together with its audit event.
pub async fn create(
    app: &App,
    deployment: &Deployment,
    origin: &Origin,
) -> Result<Loaded, RecordsError> {
    let body = deployment.body()?;
    let (announcements, announced) = webhooks::announcements(app, deployment, 0).await?;
    let mut writes = vec![
        Write::Create(
            NewRecord::new(key(&deployment.user_id, &deployment.id), body)
                .with_state(deployment.status.as_str()),
        ),
        Write::Create(NewRecord::new(
            active_key(&deployment.id),
            json!({ "user_id": deployment.user_id, "since": now_unix() }),
        )),
    ];
    writes.extend(announcements);
    let events = deployment.transition_events(0, origin);
    audit::transact(app.records(), &deployment.user_id, writes, events).await?;
    webhooks::enqueue_announced(app, &announced).await;
    Ok(Loaded {
        version: 1,
        deployment: deployment.clone(),
    })
}

/// Replaces the deployment read at `loaded` (same version and status, or nothing is written:
/// `ConditionFailed`/`TransactionConflict`), keeping the active index in step: removed when the
/// deployment becomes final, added back when a retry re-queues it.
pub async fn save(
    app: &App,
    loaded: &Loaded,
    mut deployment: Deployment,
    origin: &Origin,
) -> Result<Loaded, RecordsError> {
    deployment.updated_at_ms = now_ms();
    let record_key = key(&deployment.user_id, &deployment.id);
    let update = Write::Update {
        key: record_key,
        expect: Expect::version(loaded.version).and_state(loaded.deployment.status.as_str()),
        change: Change {
            state: Some(deployment.status.as_str().to_string()),
            body: deployment.body()?,
            expires_at: None,
        },
    };
    let was_final = loaded.deployment.status.is_final();
    let is_final = deployment.status.is_final();
    let mut writes = vec![update];
    if is_final && !was_final {
        writes.push(Write::Delete {
            key: active_key(&deployment.id),
            expect: Expect::exists(),
        });
    } else if was_final && !is_final {
        writes.push(Write::Create(NewRecord::new(
            active_key(&deployment.id),
            json!({ "user_id": deployment.user_id, "since": now_unix() }),
        )));
    }
    // Every new timeline entry is a webhook event, written with the transition.
    let (announcements, announced) =
        webhooks::announcements(app, &deployment, loaded.deployment.timeline.len()).await?;
    writes.extend(announcements);
    let events = deployment.transition_events(loaded.deployment.timeline.len(), origin);
    audit::transact(app.records(), &deployment.user_id, writes, events).await?;
    if is_final && !was_final {
        record_final(app, &deployment);
    }
    webhooks::enqueue_announced(app, &announced).await;
    Ok(Loaded {
        version: loaded.version + 1,
        deployment,
    })
}

/// The metrics of a deployment just saved in a final state (once per attempt: the move into
/// it is written once).
fn record_final(app: &App, deployment: &Deployment) {
    use crate::networks::ChainFamily;
    let chain_family = match app.networks().get(&deployment.network).map(|n| n.family()) {
        Some(ChainFamily::Algorand) => "algorand",
        Some(ChainFamily::Evm) => "evm",
        None => "unknown",
    };
    let elapsed_ms = deployment
        .updated_at_ms
        .saturating_sub(deployment.created_at_ms);
    crate::metrics::record_deployment_final(
        &deployment.standard,
        &deployment.network,
        chain_family,
        deployment.status.as_str(),
        std::time::Duration::from_millis(u64::try_from(elapsed_ms).unwrap_or(0)),
    );
}
