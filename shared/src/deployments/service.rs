//! What the deployment routes do: request a deployment of a draft, read one or a page of
//! them, cancel one that is still queued, retry one that failed. Only the owner sees or
//! changes a deployment: every lookup is in the caller's own partition.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::pipeline::{self, Step};
use super::state::{Status, TimelineEntry};
use super::store::{self, Deployment, Loaded};
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::audit::Origin;
use crate::chains::issue::{self, DeployedToken};
use crate::compliance::report as compliance;
use crate::drafts::service as drafts;
use crate::ports::records::{Order, Query, RecordsError};

/// What the API shows of a deployment: everything but the signed bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Deployment)]
pub struct DeploymentView {
    pub id: String,
    pub draft_id: String,
    pub draft_version: u64,
    pub standard: String,
    pub network: String,
    pub status: Status,
    pub attempt: u32,
    pub transaction_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<DeployedToken>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::openapi::DeploymentFailure>)]
    pub error: Option<super::store::Failure>,
    pub timeline: Vec<TimelineEntry>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<&Deployment> for DeploymentView {
    fn from(deployment: &Deployment) -> Self {
        Self {
            id: deployment.id.clone(),
            draft_id: deployment.draft_id.clone(),
            draft_version: deployment.draft_version,
            standard: deployment.standard.clone(),
            network: deployment.network.clone(),
            status: deployment.status,
            attempt: deployment.attempt,
            transaction_ids: deployment
                .stages
                .iter()
                .flat_map(|stage| stage.transactions.iter().map(|txn| txn.id.clone()))
                .collect(),
            result: deployment.result.clone(),
            error: deployment.failure.clone(),
            timeline: deployment.timeline.clone(),
            created_at_ms: deployment.created_at_ms,
            updated_at_ms: deployment.updated_at_ms,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::DeploymentNotFound)
}

fn check_id(deployment_id: &str) -> Result<(), ApiError> {
    deployment_id
        .parse::<ulid::Ulid>()
        .map(|_| ())
        .map_err(|_| not_found())
}

/// Requests the deployment of the user's draft: it must be theirs, valid, and past the
/// compliance gate. Recorded as Queued with its first timeline entry; the prepare step is
/// enqueued first, so a deployment is never stored without a step to carry it.
pub async fn create(
    app: &App,
    user_id: &str,
    draft_id: &str,
    origin: &Origin,
) -> Result<Deployment, ApiError> {
    let draft = drafts::get(app, user_id, draft_id).await?;
    let prepared = issue::prepare_snapshot(app, user_id, draft_id, &draft.draft)
        .await
        .map_err(ApiError::from)?;
    compliance::gate(app, user_id, draft_id).await?;
    let mut deployment = Deployment::queued(
        user_id,
        draft_id,
        draft.draft.clone(),
        draft.version,
        prepared.standard.id,
        &prepared.network.id,
    );
    deployment.correlation_id = origin.correlation_id.clone();
    // Stored first: a step must find its deployment. If the step cannot be enqueued, the
    // deployment fails at once with a retryable code, rather than wait for the sweep.
    let loaded = store::create(app, &deployment, origin).await?;
    if let Err(error) = pipeline::enqueue(app, &deployment, Step::Prepare, 1, Duration::ZERO).await
    {
        let api_error = ApiError::from(error);
        let mut failed = deployment.clone();
        let failure = super::store::Failure {
            code: api_error.code.as_str(),
            message: api_error.message.clone(),
            retryable: api_error.code.retryable(),
        };
        if failed.fail(failure).is_ok() {
            store::save(app, &loaded, failed, origin).await?;
        }
        return Err(api_error);
    }
    tracing::info!(deployment_id = %deployment.id, draft_id, "deployment queued");
    Ok(deployment)
}

pub async fn get(app: &App, user_id: &str, deployment_id: &str) -> Result<Deployment, ApiError> {
    check_id(deployment_id)?;
    store::load(app, user_id, deployment_id)
        .await?
        .map(|loaded| loaded.deployment)
        .ok_or_else(not_found)
}

/// Filters of the listing.
#[derive(Debug, Default)]
pub struct Filters {
    pub status: Option<Status>,
    pub standard: Option<String>,
    pub network: Option<String>,
    /// Created at or after / before, milliseconds since the epoch.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Filters {
    fn keep(&self, deployment: &Deployment) -> bool {
        self.status.is_none_or(|status| deployment.status == status)
            && self
                .standard
                .as_ref()
                .is_none_or(|standard| &deployment.standard == standard)
            && self
                .network
                .as_ref()
                .is_none_or(|network| &deployment.network == network)
            && self
                .since_ms
                .is_none_or(|since| deployment.created_at_ms >= since)
            && self
                .until_ms
                .is_none_or(|until| deployment.created_at_ms < until)
    }
}

/// A page of the user's deployments, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentPage {
    pub deployments: Vec<DeploymentView>,
    pub next_cursor: Option<String>,
}

pub const MAX_PAGE: u32 = 100;

/// The user's deployments, newest first, filtered; `limit` of them from `cursor` on. The
/// store pages its partition; filters apply to each page, so a page may hold fewer than
/// `limit` and still have a next one.
pub async fn list(
    app: &App,
    user_id: &str,
    filters: &Filters,
    limit: u32,
    cursor: Option<String>,
) -> Result<DeploymentPage, ApiError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::malformed("limit", format!("1 to {MAX_PAGE}")));
    }
    let mut query = Query::partition(store::partition(user_id));
    query.order = Order::Descending;
    query.limit = limit;
    query.cursor = cursor;
    let page = app
        .records()
        .query(&query)
        .await
        .map_err(|error| match error {
            RecordsError::Invalid(_) => {
                ApiError::malformed("cursor", "the cursor is not one this API gave")
            }
            error => error.into(),
        })?;
    let mut deployments = Vec::new();
    for record in &page.records {
        let deployment: Deployment = serde_json::from_value(record.body.clone())
            .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))?;
        if filters.keep(&deployment) {
            deployments.push(DeploymentView::from(&deployment));
        }
    }
    Ok(DeploymentPage {
        deployments,
        next_cursor: page.next,
    })
}

async fn load(app: &App, user_id: &str, deployment_id: &str) -> Result<Loaded, ApiError> {
    check_id(deployment_id)?;
    store::load(app, user_id, deployment_id)
        .await?
        .ok_or_else(not_found)
}

fn state_conflict(deployment: &Deployment, why: &str) -> ApiError {
    ApiError::new(ErrorCode::DeploymentStateConflict)
        .with_message(format!(
            "The deployment is {}: {why}.",
            deployment.status.as_str()
        ))
        .with_details(json!({ "status": deployment.status }))
}

/// Cancels a deployment that is still queued and has sent nothing.
pub async fn cancel(
    app: &App,
    user_id: &str,
    deployment_id: &str,
    origin: &Origin,
) -> Result<Deployment, ApiError> {
    let loaded = load(app, user_id, deployment_id).await?;
    let deployment = &loaded.deployment;
    if deployment.status != Status::Queued || deployment.stages.iter().any(|stage| stage.sending) {
        return Err(state_conflict(
            deployment,
            "only a queued deployment that has sent nothing can be cancelled",
        ));
    }
    let mut next = deployment.clone();
    next.move_to(Status::Cancelled, "cancelled_by_user", Vec::new())
        .map_err(|error| state_conflict(deployment, &error.to_string()))?;
    let saved = store::save(app, &loaded, next, origin)
        .await
        .map_err(|error| conflict_or(error, deployment))?;
    Ok(saved.deployment)
}

/// Retries a failed deployment as a new attempt, when its failed attempt sent nothing: so a
/// retry can never put a second token on chain.
pub async fn retry(
    app: &App,
    user_id: &str,
    deployment_id: &str,
    origin: &Origin,
) -> Result<Deployment, ApiError> {
    let loaded = load(app, user_id, deployment_id).await?;
    let deployment = &loaded.deployment;
    if deployment.status != Status::Failed {
        return Err(state_conflict(
            deployment,
            "only a failed deployment can be retried",
        ));
    }
    if deployment.stages.iter().any(|stage| stage.sending) {
        return Err(state_conflict(
            deployment,
            "its failed attempt sent transactions, so a new one could create a second token",
        ));
    }
    let mut next = deployment.clone();
    next.attempt += 1;
    next.planned_stages.clear();
    next.stages.clear();
    next.failure = None;
    next.move_to(Status::Queued, "retried_by_user", Vec::new())
        .map_err(|error| state_conflict(deployment, &error.to_string()))?;
    let saved = store::save(app, &loaded, next, origin)
        .await
        .map_err(|error| conflict_or(error, deployment))?;
    pipeline::enqueue(
        app,
        &saved.deployment,
        Step::Prepare,
        saved.version,
        Duration::ZERO,
    )
    .await?;
    Ok(saved.deployment)
}

fn conflict_or(error: RecordsError, deployment: &Deployment) -> ApiError {
    match error {
        RecordsError::ConditionFailed { .. } | RecordsError::TransactionConflict { .. } => {
            state_conflict(deployment, "it changed meanwhile; read it again")
        }
        error => error.into(),
    }
}

/// The body of a deployment answer.
pub fn view(deployment: &Deployment) -> Value {
    serde_json::to_value(DeploymentView::from(deployment)).unwrap_or(Value::Null)
}
