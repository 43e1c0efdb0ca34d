//! The deployment steps, chained through the step queue: prepare, sign, submit, confirm,
//! finalize. Each message names a deployment, the step it asks for and the record version it
//! was enqueued after.
//!
//! Delivery is at least once, so a step decides from the record, never from the message:
//! - the step runs only when it is the deployment's next step (computed from the stored
//!   status and progress by [`next_step`]); every write is conditioned on the version and
//!   status read, so of two deliveries racing, one writes and the other stops;
//! - signed bytes and transaction ids are stored before anything is sent, and a stage marked
//!   as being sent is only ever re-sent with those same bytes (the node answers "already in
//!   the ledger", which counts as sent): a step delivered twice, or a worker that dies between
//!   two writes, can never put a second token on chain;
//! - a delivery that finds its own step done (the record is one version past the message)
//!   enqueues the next step again: that is how a worker dying between its write and its
//!   enqueue is recovered. Extra messages this makes die at the next version check.
//!
//! Failures: a transient one (node unreachable, timeout, store throttled) retries the step
//! with backoff; a permanent one moves the deployment to Failed with its catalogued code.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::state::Status;
use super::store::{self, Deployment, Failure, Loaded, StageProgress, StageTransaction};
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::audit::Subject;
use crate::chains::algorand::algod::AlgodClient;
use crate::chains::algorand::deploy as algorand_deploy;
use crate::chains::algorand::transaction::Address as AlgorandAddress;
use crate::chains::error::ChainError;
use crate::chains::evm::{B256, EvmClient, SignedTransaction as EvmSigned};
use crate::chains::issue::{
    self, DeployedToken, EVM_STAGE, IssueError, PreparedDraft, SentTransaction, UserSigner,
};
use crate::chains::readback;
use crate::chains::token::TokenSpec;
use crate::compliance::report as compliance;
use crate::ports::StepMessage;
use crate::ports::records::{RecordsError, now_ms};
use crate::steps::{StepError, StepHandler, StepRunner, backoff};

/// How long a confirmation poll waits before asking again.
pub const CONFIRMATION_POLL: Duration = Duration::from_secs(1);
/// The longest wait between two confirmation polls.
pub const MAX_CONFIRMATION_POLL: Duration = Duration::from_secs(30);

/// The wait before the next confirmation poll: a tenth of the time waited so far, from
/// [`CONFIRMATION_POLL`] up to [`MAX_CONFIRMATION_POLL`], so a slow confirmation is not
/// polled every second for an hour.
pub fn poll_interval(deployment: &Deployment) -> Duration {
    let waited_ms = deployment
        .timeline
        .last()
        .map_or(0, |entry| now_ms().saturating_sub(entry.at_ms));
    let tenth = Duration::from_millis(u64::try_from(waited_ms / 10).unwrap_or(0));
    tenth.clamp(CONFIRMATION_POLL, MAX_CONFIRMATION_POLL)
}

/// The audit actor of the steps (`system:pipeline`).
const PIPELINE: &str = "pipeline";
/// How long one EVM receipt check waits inside a step.
const RECEIPT_WAIT: Duration = Duration::from_secs(2);

/// The steps of a deployment, each a step kind of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Re-check the draft, the compliance gate and the funds; plan the stages.
    Prepare,
    /// Build and sign the next stage; store the signed bytes and ids.
    Sign,
    /// Send the stored bytes of the current stage.
    Submit,
    /// Poll until the current stage is confirmed.
    Confirm,
    /// Read the token back and check it (Confirmed → Indexed), then record ids and links
    /// (Indexed → Completed).
    Finalize,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Prepare,
        Step::Sign,
        Step::Submit,
        Step::Confirm,
        Step::Finalize,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            Step::Prepare => "deploy.prepare",
            Step::Sign => "deploy.sign",
            Step::Submit => "deploy.submit",
            Step::Confirm => "deploy.confirm",
            Step::Finalize => "deploy.finalize",
        }
    }
}

/// The step a deployment needs next, from what is stored; `None` when it is final.
pub fn next_step(deployment: &Deployment, planned: usize) -> Option<Step> {
    let current = deployment.stages.last();
    match deployment.status {
        Status::Queued if planned == 0 => Some(Step::Prepare),
        Status::Queued => match current {
            None => Some(Step::Sign),
            Some(stage) if !stage.submitted => Some(Step::Submit),
            // Sent but the move to Submitted was not written: the confirm step writes it.
            Some(_) => Some(Step::Confirm),
        },
        Status::Submitted => Some(Step::Confirm),
        Status::Pending => match current {
            Some(stage) if !stage.submitted => Some(Step::Submit),
            Some(stage) if stage.confirmed_in.is_none() => Some(Step::Confirm),
            Some(_) if deployment.stages.len() < planned => Some(Step::Sign),
            // Every stage confirmed but the move to Confirmed was not written.
            _ => Some(Step::Confirm),
        },
        Status::Confirmed | Status::Indexed => Some(Step::Finalize),
        Status::Completed | Status::Failed | Status::Cancelled => None,
    }
}

/// The stages the deployment plans, stored by the prepare step in `planned_stages`.
fn planned(deployment: &Deployment) -> usize {
    deployment.planned_stages.len()
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    user_id: String,
    deployment_id: String,
    /// The record version the message was enqueued after.
    version: u64,
}

/// Enqueues `step` for the deployment at `version`.
pub async fn enqueue(
    app: &App,
    deployment: &Deployment,
    step: Step,
    version: u64,
    delay: Duration,
) -> Result<(), crate::ports::QueueError> {
    let payload = json!(Payload {
        user_id: deployment.user_id.clone(),
        deployment_id: deployment.id.clone(),
        version,
    });
    app.step_queue()
        .enqueue(&StepMessage::new(step.kind(), payload), delay)
        .await?;
    Ok(())
}

/// Registers the deployment steps.
pub fn register(runner: StepRunner) -> StepRunner {
    Step::ALL.into_iter().fold(runner, |runner, step| {
        runner.with(step.kind(), Arc::new(DeploymentStep { step }))
    })
}

struct DeploymentStep {
    step: Step,
}

/// What a step did.
enum Progress {
    /// Wrote the deployment; the next step (if any) is enqueued after this version.
    Saved(Box<Loaded>),
    /// Nothing changed yet (a confirmation not there yet): ask again later.
    NotYet,
}

/// Why a step stopped.
enum Stop {
    /// Try the step again after this long.
    Retry(String, Duration),
    /// The deployment cannot go on: it fails with this.
    Fail(Failure),
    /// Another delivery wrote first: it carries on.
    Superseded,
}

impl From<RecordsError> for Stop {
    fn from(error: RecordsError) -> Self {
        match error {
            RecordsError::ConditionFailed { .. } | RecordsError::TransactionConflict { .. } => {
                Stop::Superseded
            }
            error if error.is_retryable() => Stop::Retry(error.to_string(), backoff(1)),
            error => Stop::Fail(failure_of(ApiError::from(error))),
        }
    }
}

impl From<IssueError> for Stop {
    fn from(error: IssueError) -> Self {
        let transient = match &error {
            IssueError::Chain(chain) => chain.is_retryable(),
            IssueError::Accounts(crate::accounts::AccountError::Vault(vault)) => {
                vault.is_retryable()
            }
            IssueError::Accounts(crate::accounts::AccountError::Records(records)) => {
                records.is_retryable()
            }
            IssueError::Drafts(crate::drafts::service::DraftError::Records(records)) => {
                records.is_retryable()
            }
            _ => false,
        };
        if transient {
            Stop::Retry(error.to_string(), backoff(1))
        } else {
            Stop::Fail(failure_of(ApiError::from(error)))
        }
    }
}

impl From<ChainError> for Stop {
    fn from(error: ChainError) -> Self {
        IssueError::Chain(error).into()
    }
}

fn failure_of(error: ApiError) -> Failure {
    Failure {
        code: error.code.as_str(),
        message: error.message,
        retryable: error.code.retryable(),
    }
}

#[async_trait]
impl StepHandler for DeploymentStep {
    async fn run(&self, app: &App, payload: &Value) -> Result<(), StepError> {
        let Ok(payload) = serde_json::from_value::<Payload>(payload.clone()) else {
            tracing::error!(%payload, "malformed deployment step; dropped");
            return Ok(());
        };
        let retry = |reason: String, after: Duration| StepError::Retry { reason, after };
        let loaded = match store::load(app, &payload.user_id, &payload.deployment_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return Ok(()),
            Err(error) => return Err(retry(error.to_string(), backoff(1))),
        };
        let next = next_step(&loaded.deployment, planned(&loaded.deployment));
        if next != Some(self.step) || payload.version > loaded.version {
            // Not this step's turn. If the record is exactly one write past the message,
            // this step did its work and may have died before enqueueing the next one.
            if loaded.version == payload.version + 1
                && let Some(next) = next
            {
                enqueue(
                    app,
                    &loaded.deployment,
                    next,
                    loaded.version,
                    Duration::ZERO,
                )
                .await
                .map_err(|error| retry(error.to_string(), backoff(1)))?;
            }
            return Ok(());
        }
        tracing::info!(
            deployment_id = %loaded.deployment.id,
            status = %loaded.deployment.status,
            step = self.step.kind(),
            "deployment step"
        );
        let outcome = match self.step {
            Step::Prepare => prepare(app, &loaded).await,
            Step::Sign => sign(app, &loaded).await,
            Step::Submit => submit(app, &loaded).await,
            Step::Confirm => confirm(app, &loaded).await,
            Step::Finalize => finalize(app, &loaded).await,
        };
        match outcome {
            Ok(Progress::Saved(saved)) => {
                if let Some(next) = next_step(&saved.deployment, planned(&saved.deployment)) {
                    let delay = if next == Step::Confirm {
                        CONFIRMATION_POLL
                    } else {
                        Duration::ZERO
                    };
                    enqueue(app, &saved.deployment, next, saved.version, delay)
                        .await
                        .map_err(|error| retry(error.to_string(), backoff(1)))?;
                }
                Ok(())
            }
            // A fresh message per poll: polling must not use up the delivery's receives (a
            // slow chain would otherwise dead-letter a healthy deployment).
            Ok(Progress::NotYet) => enqueue(
                app,
                &loaded.deployment,
                self.step,
                loaded.version,
                poll_interval(&loaded.deployment),
            )
            .await
            .map_err(|error| retry(error.to_string(), backoff(1))),
            Err(Stop::Superseded) => Ok(()),
            Err(Stop::Retry(reason, after)) => Err(retry(reason, after)),
            Err(Stop::Fail(failure)) => {
                tracing::warn!(
                    deployment_id = %loaded.deployment.id,
                    code = %failure.code,
                    "deployment failed"
                );
                // The step may have written before it failed (submit marks the stage as
                // being sent first): the failure goes on the record as it is now, as long as
                // no other delivery has moved it past this step.
                let current = match store::load(app, &payload.user_id, &payload.deployment_id).await
                {
                    Ok(Some(current)) => current,
                    Ok(None) => return Ok(()),
                    Err(error) => return Err(retry(error.to_string(), backoff(1))),
                };
                if next_step(&current.deployment, planned(&current.deployment)) != Some(self.step) {
                    return Ok(());
                }
                let mut failed = current.deployment.clone();
                if let Err(illegal) = failed.fail(failure) {
                    // Steps only run for deployments that can still fail; this is a bug.
                    tracing::error!(deployment_id = %current.deployment.id, %illegal, "cannot fail");
                    return Ok(());
                }
                match store::save(
                    app,
                    &current,
                    failed,
                    &current.deployment.system_origin(PIPELINE),
                )
                .await
                {
                    Ok(_) => Ok(()),
                    Err(RecordsError::ConditionFailed { .. })
                    | Err(RecordsError::TransactionConflict { .. }) => Ok(()),
                    Err(error) => Err(retry(error.to_string(), backoff(1))),
                }
            }
        }
    }
}

async fn snapshot(app: &App, deployment: &Deployment) -> Result<PreparedDraft, Stop> {
    Ok(issue::prepare_snapshot(
        app,
        &deployment.user_id,
        &deployment.draft_id,
        &deployment.draft,
    )
    .await?)
}

/// Re-checks the draft, the compliance gate and the funds, and plans the stages.
async fn prepare(app: &App, loaded: &Loaded) -> Result<Progress, Stop> {
    let deployment = &loaded.deployment;
    let prepared = snapshot(app, deployment).await?;
    if let Err(error) = compliance::gate(app, &deployment.user_id, &deployment.draft_id).await {
        return Err(Stop::Fail(failure_of(ApiError::from(error))));
    }
    let stages: Vec<String> = match &prepared.spec {
        TokenSpec::Algorand(token) => {
            let client = AlgodClient::connect(&prepared.network).await?;
            let note = issue::deployment_note(&note_of(deployment));
            algorand_deploy::preflight(&client, token, prepared.deployer.algorand, 0, &note)
                .await
                .map_err(IssueError::from)?;
            token
                .stages(prepared.deployer.algorand)
                .into_iter()
                .map(|stage| stage.name().to_string())
                .collect()
        }
        TokenSpec::Evm(erc20) => {
            let client = EvmClient::connect(&prepared.network).await?;
            // Estimates gas and fees and checks the balance covers them: nothing is signed.
            client
                .prepare_deployment(prepared.deployer.evm, erc20.creation_code())
                .await?;
            vec![EVM_STAGE.to_string()]
        }
    };
    let mut next = deployment.clone();
    next.planned_stages = stages;
    save_step(app, loaded, next).await
}

/// Builds and signs the next stage, and stores it before anything is sent.
async fn sign(app: &App, loaded: &Loaded) -> Result<Progress, Stop> {
    let deployment = &loaded.deployment;
    let prepared = snapshot(app, deployment).await?;
    let signer = UserSigner::new(
        app,
        &deployment.user_id,
        Subject::new("deployment", &deployment.id),
        format!("attempt {}", deployment.attempt),
        deployment.system_origin(PIPELINE),
    );
    let index = deployment.stages.len();
    let progress = match &prepared.spec {
        TokenSpec::Algorand(token) => {
            let deployer = prepared.deployer.algorand;
            let stage = *token
                .stages(deployer)
                .get(index)
                .ok_or_else(|| internal(format!("stage {index} is not planned")))?;
            let client = AlgodClient::connect(&prepared.network).await?;
            let note = issue::deployment_note(&note_of(deployment));
            let params = algorand_deploy::preflight(&client, token, deployer, index, &note)
                .await
                .map_err(IssueError::from)?;
            let app_id = deployment
                .stages
                .iter()
                .find_map(|stage| stage.application_id);
            let group = token
                .build(stage, deployer, &params, app_id, &note)
                .map_err(IssueError::from)?;
            let signed = signer
                .sign_algorand(&group, stage)
                .await
                .map_err(IssueError::from)?;
            StageProgress {
                stage: stage.name().to_string(),
                transactions: signed
                    .iter()
                    .map(|txn| StageTransaction {
                        id: txn.id(),
                        signed: BASE64.encode(txn.to_msgpack()),
                    })
                    .collect(),
                last_valid: group.first().map(|txn| txn.last_valid),
                ..StageProgress::default()
            }
        }
        TokenSpec::Evm(erc20) => {
            let client = EvmClient::connect(&prepared.network).await?;
            let transaction = client
                .prepare_deployment(prepared.deployer.evm, erc20.creation_code())
                .await?;
            let signed = signer.sign_evm(&transaction).await?;
            StageProgress {
                stage: EVM_STAGE.to_string(),
                transactions: vec![StageTransaction {
                    id: signed.hash.to_string(),
                    signed: BASE64.encode(&signed.raw),
                }],
                nonce: Some(transaction.nonce),
                ..StageProgress::default()
            }
        }
    };
    let mut next = deployment.clone();
    next.stages.push(progress);
    save_step(app, loaded, next).await
}

/// What the deployment's transactions say they are: the deployment and its attempt.
fn note_of(deployment: &Deployment) -> String {
    format!(
        "deployment {} attempt {}",
        deployment.id, deployment.attempt
    )
}

fn signed_bytes(stage: &StageProgress) -> Result<Vec<Vec<u8>>, Stop> {
    stage
        .transactions
        .iter()
        .map(|txn| {
            BASE64
                .decode(&txn.signed)
                .map_err(|_| internal(format!("the stored bytes of {} are not base64", txn.id)))
        })
        .collect()
}

/// Sends the stored bytes of the current stage. The deployment is marked as sending first,
/// so that a cancel can no longer win once bytes may have left.
async fn submit(app: &App, loaded: &Loaded) -> Result<Progress, Stop> {
    let mut loaded = loaded.clone();
    if !loaded
        .deployment
        .stages
        .last()
        .is_some_and(|stage| stage.sending)
    {
        let mut marked = loaded.deployment.clone();
        if let Some(stage) = marked.stages.last_mut() {
            stage.sending = true;
        }
        let origin = marked.system_origin(PIPELINE);
        loaded = store::save(app, &loaded, marked, &origin).await?;
    }
    let deployment = &loaded.deployment;
    let Some(stage) = deployment.stages.last() else {
        return Err(Stop::Superseded);
    };
    let network = network_of(app, deployment)?;
    let bytes = signed_bytes(stage)?;
    if stage.stage == EVM_STAGE {
        let client = EvmClient::connect(&network).await?;
        for (raw, txn) in bytes.into_iter().zip(&stage.transactions) {
            let hash = transaction_hash(txn)?;
            client.submit(&EvmSigned { raw, hash }).await?;
        }
    } else {
        let client = AlgodClient::connect(&network).await?;
        client.submit(&bytes.concat()).await?;
    }
    let ids: Vec<String> = stage
        .transactions
        .iter()
        .map(|txn| txn.id.clone())
        .collect();
    let mut next = deployment.clone();
    if let Some(stage) = next.stages.last_mut() {
        stage.submitted = true;
    }
    if next.status == Status::Queued {
        next.move_to(Status::Submitted, "transactions_sent", ids)
            .map_err(illegal)?;
    }
    save_step(app, &loaded, next).await
}

/// Saves the step's outcome `next` over `loaded`, as the pipeline (the correlation id stays
/// the deployment's).
async fn save_step(app: &App, loaded: &Loaded, next: Deployment) -> Result<Progress, Stop> {
    let origin = loaded.deployment.system_origin(PIPELINE);
    let saved = store::save(app, loaded, next, &origin).await?;
    Ok(Progress::Saved(Box::new(saved)))
}

fn illegal(error: super::state::IllegalTransition) -> Stop {
    internal(error.to_string())
}

/// A failure that means the stored deployment and this code disagree: a bug, not the chain.
fn internal(message: String) -> Stop {
    Stop::Fail(Failure {
        code: ErrorCode::Internal.as_str(),
        message,
        retryable: false,
    })
}

/// The EVM transaction hash a stage recorded as the transaction's id.
fn transaction_hash(txn: &StageTransaction) -> Result<B256, Stop> {
    txn.id
        .parse()
        .map_err(|_| internal(format!("{} is not a transaction hash", txn.id)))
}

fn network_of(app: &App, deployment: &Deployment) -> Result<crate::networks::Network, Stop> {
    app.networks()
        .get(&deployment.network)
        .cloned()
        .ok_or_else(|| Stop::from(IssueError::UnknownNetwork(deployment.network.clone())))
}

/// Whether the current stage is confirmed: records where and what it created, and moves the
/// deployment on (Submitted → Pending, and Pending → Confirmed after the last stage).
async fn confirm(app: &App, loaded: &Loaded) -> Result<Progress, Stop> {
    let deployment = &loaded.deployment;
    let network = network_of(app, deployment)?;
    let mut next = deployment.clone();
    if next.status == Status::Queued {
        // Sent by a delivery that died before writing it.
        let ids = ids_of(next.stages.last());
        next.move_to(Status::Submitted, "transactions_sent", ids)
            .map_err(illegal)?;
    }
    let confirmed = match next.stages.last_mut() {
        Some(stage) if stage.confirmed_in.is_none() => {
            if stage.stage == EVM_STAGE {
                confirm_evm(&network, stage).await?
            } else {
                confirm_algorand(&network, stage).await?
            }
        }
        _ => true,
    };
    if next.status == Status::Submitted {
        let ids = ids_of(next.stages.last());
        next.move_to(Status::Pending, "seen_by_network", ids)
            .map_err(illegal)?;
    }
    if confirmed && next.stages.len() >= next.planned_stages.len() {
        let ids = next
            .stages
            .iter()
            .flat_map(|stage| stage.transactions.iter().map(|txn| txn.id.clone()))
            .collect();
        next.move_to(Status::Confirmed, "confirmed", ids)
            .map_err(illegal)?;
    }
    if next == *deployment {
        return Ok(Progress::NotYet);
    }
    save_step(app, loaded, next).await
}

fn ids_of(stage: Option<&StageProgress>) -> Vec<String> {
    stage
        .map(|stage| {
            stage
                .transactions
                .iter()
                .map(|txn| txn.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

async fn confirm_algorand(
    network: &crate::networks::Network,
    stage: &mut StageProgress,
) -> Result<bool, Stop> {
    let client = AlgodClient::connect(network).await?;
    let mut round = None;
    for txn in &stage.transactions {
        match client.pending(&txn.id).await? {
            Some(pending) if pending.confirmed_round.is_some() => {
                round = pending.confirmed_round;
                if pending.asset_index.is_some() {
                    stage.asset_id = pending.asset_index;
                }
                if pending.application_index.is_some() {
                    stage.application_id = pending.application_index;
                }
            }
            Some(pending) if !pending.pool_error.is_empty() => {
                return Err(ChainError::TransactionRejected {
                    message: pending.pool_error,
                }
                .into());
            }
            _ => {
                // Not confirmed. Past its last valid round it never will be: nothing of
                // this stage is on chain, so it fails without risk of a second token.
                let last_round = client.status().await?.last_round;
                if stage
                    .last_valid
                    .is_some_and(|last_valid| last_round > last_valid)
                {
                    return Err(Stop::Fail(Failure {
                        code: ErrorCode::ChainTimeout.as_str(),
                        message: format!(
                            "transaction {} expired unconfirmed after round {}",
                            txn.id,
                            stage.last_valid.unwrap_or_default()
                        ),
                        retryable: true,
                    }));
                }
                return Ok(false);
            }
        }
    }
    stage.confirmed_in = round;
    Ok(round.is_some())
}

async fn confirm_evm(
    network: &crate::networks::Network,
    stage: &mut StageProgress,
) -> Result<bool, Stop> {
    let client = EvmClient::connect(network).await?;
    let Some(txn) = stage.transactions.first() else {
        return Ok(false);
    };
    let hash = transaction_hash(txn)?;
    match client
        .wait_for_receipt(hash, network.confirmations, RECEIPT_WAIT)
        .await
    {
        Ok(receipt) => {
            stage.confirmed_in = Some(receipt.block_number);
            stage.contract_address = receipt
                .contract_address
                .map(|address| address.to_checksum(None));
            Ok(true)
        }
        Err(ChainError::Timeout { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// What the stored stages created, as the issuance API describes it.
fn deployed_token(deployment: &Deployment, network: &crate::networks::Network) -> DeployedToken {
    let application_id = deployment
        .stages
        .iter()
        .find_map(|stage| stage.application_id);
    DeployedToken {
        network: deployment.network.clone(),
        standard: deployment.standard.clone(),
        asset_id: deployment.stages.iter().find_map(|stage| stage.asset_id),
        application_id,
        application_address: application_id
            .map(|id| AlgorandAddress::of_application(id).to_string()),
        contract_address: deployment
            .stages
            .iter()
            .find_map(|stage| stage.contract_address.clone()),
        transactions: deployment
            .stages
            .iter()
            .flat_map(|stage| {
                stage.transactions.iter().map(|txn| SentTransaction {
                    stage: stage.stage.clone(),
                    id: txn.id.clone(),
                    confirmed_in: stage.confirmed_in.unwrap_or_default(),
                    explorer_url: network.explorer_link(&txn.id),
                })
            })
            .collect(),
    }
}

/// Confirmed → Indexed once the chain shows the token the draft describes; Indexed →
/// Completed with its ids and links.
async fn finalize(app: &App, loaded: &Loaded) -> Result<Progress, Stop> {
    let deployment = &loaded.deployment;
    let network = network_of(app, deployment)?;
    let token = deployed_token(deployment, &network);
    let mut next = deployment.clone();
    if deployment.status == Status::Confirmed {
        let prepared = snapshot(app, deployment).await?;
        let on_chain = readback::read_back(&network, &token, &prepared.spec).await?;
        if let Err(differences) = readback::verify(&prepared.spec, &on_chain) {
            return Err(Stop::Fail(Failure {
                code: ErrorCode::DeploymentMismatch.as_str(),
                message: format!("the chain shows another token: {}", differences.join("; ")),
                retryable: false,
            }));
        }
        next.move_to(Status::Indexed, "read_back", Vec::new())
            .map_err(illegal)?;
    } else {
        next.result = Some(token);
        next.move_to(Status::Completed, "completed", Vec::new())
            .map_err(illegal)?;
    }
    save_step(app, loaded, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment in `status` whose last timeline entry is at `last_entry_ms`.
    fn deployment(status: Status, last_entry_ms: i64) -> Deployment {
        let mut deployment =
            Deployment::queued("user", "draft", json!({}), 1, "asa-ft", "algorand-devnet");
        deployment.status = status;
        deployment.timeline[0].to = status;
        deployment.timeline[0].at_ms = last_entry_ms;
        deployment
    }

    #[test]
    fn confirmation_polls_slow_down_as_the_wait_grows() {
        let now = now_ms();
        let at = |ago_ms: i64| poll_interval(&deployment(Status::Pending, now - ago_ms));
        assert_eq!(at(0), CONFIRMATION_POLL);
        let after_100_s = at(100_000);
        assert!(
            after_100_s >= Duration::from_secs(9) && after_100_s <= Duration::from_secs(11),
            "{after_100_s:?}"
        );
        assert_eq!(at(3_600_000), MAX_CONFIRMATION_POLL);
    }

    #[test]
    fn the_next_step_follows_the_stored_progress() {
        let mut queued = deployment(Status::Queued, 0);
        assert_eq!(next_step(&queued, 0), Some(Step::Prepare));
        queued.planned_stages = vec!["create_application".into(), "fund_and_bootstrap".into()];
        assert_eq!(next_step(&queued, 2), Some(Step::Sign));
        queued.stages.push(StageProgress::default());
        assert_eq!(next_step(&queued, 2), Some(Step::Submit));
        let mut pending = queued.clone();
        pending.status = Status::Pending;
        pending.stages[0].submitted = true;
        assert_eq!(next_step(&pending, 2), Some(Step::Confirm));
        pending.stages[0].confirmed_in = Some(5);
        assert_eq!(next_step(&pending, 2), Some(Step::Sign), "the second group");
        pending.stages.push(StageProgress::default());
        assert_eq!(next_step(&pending, 2), Some(Step::Submit));
        for status in [Status::Confirmed, Status::Indexed] {
            assert_eq!(next_step(&deployment(status, 0), 1), Some(Step::Finalize));
        }
        for status in [Status::Completed, Status::Failed, Status::Cancelled] {
            assert_eq!(next_step(&deployment(status, 0), 1), None);
        }
    }
}
