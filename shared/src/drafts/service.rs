//! Draft storage: a user's drafts live in their own partition (`user#<id>#drafts`, sorted by
//! ULID, so newest-last), each with its validation result. Updates are conditioned on the
//! version the client last saw, so a stale write is refused rather than lost.

use serde::Serialize;
use serde_json::{Value, json};

use super::arc3;
use super::validate::{self, Context, ValidationReport};
use crate::accounts::{AccountError, rfc3339, service as accounts};
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::ports::records::{
    Change, Expect, NewRecord, Order, Query, Record, RecordKey, RecordsError, now_unix,
};

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("no draft with this id")]
    NotFound,
    #[error("the draft changed since version {expected}; it is now at {current}")]
    VersionConflict { expected: u64, current: u64 },
    #[error("invalid page request: {0}")]
    InvalidPage(&'static str),
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
    #[error(transparent)]
    Archive(#[from] crate::ports::ArchiveError),
}

impl From<DraftError> for ApiError {
    fn from(error: DraftError) -> Self {
        match error {
            DraftError::NotFound => ApiError::new(ErrorCode::DraftNotFound),
            DraftError::VersionConflict { expected, current } => {
                ApiError::new(ErrorCode::DraftVersionConflict)
                    .with_message(format!(
                        "The draft changed since version {expected}; reload version {current} and apply your change again."
                    ))
                    .with_details(json!({ "expected_version": expected, "current_version": current }))
            }
            DraftError::InvalidPage(why) => ApiError::malformed("cursor", why),
            DraftError::Records(error) => error.into(),
            DraftError::Accounts(error) => error.into(),
            DraftError::Archive(error) => error.into(),
        }
    }
}

/// A stored draft as the API shows it.
#[derive(Debug, Serialize)]
pub struct DraftView {
    pub id: String,
    pub version: u64,
    pub draft: Value,
    pub validation: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct DraftPage {
    pub drafts: Vec<DraftView>,
    pub next_cursor: Option<String>,
}

fn partition(user_id: &str) -> String {
    format!("user#{user_id}#drafts")
}

fn key(user_id: &str, draft_id: &str) -> RecordKey {
    RecordKey::new(partition(user_id), draft_id)
}

/// Draft ids are ULIDs; anything else cannot exist (and must not reach the store as a key).
fn check_id(draft_id: &str) -> Result<(), DraftError> {
    draft_id
        .parse::<ulid::Ulid>()
        .map(|_| ())
        .map_err(|_| DraftError::NotFound)
}

async fn context(app: &App, user_id: &str) -> Result<Context, DraftError> {
    let profile = accounts::profile(app, user_id).await?;
    Ok(Context {
        algorand_address: profile.algorand_address,
        evm_address: profile.evm_address,
        metadata_base_url: app.metadata_base_url().cloned(),
    })
}

/// Validate without storing.
pub async fn check(
    app: &App,
    user_id: &str,
    draft: &Value,
) -> Result<ValidationReport, DraftError> {
    let context = context(app, user_id).await?;
    Ok(validate::validate(draft, app.networks(), &context))
}

/// Store a valid draft's ARC-3 metadata (the exact bytes its hash covers) at its content
/// address before the draft that points to it is saved. Content-addressed, so storing again
/// is harmless.
async fn store_metadata(app: &App, report: &ValidationReport) -> Result<(), DraftError> {
    let Some(metadata) = report
        .resolved
        .as_ref()
        .and_then(|resolved| resolved.get("metadata"))
    else {
        return Ok(());
    };
    let (Some(json), Some(key)) = (
        metadata["json"].as_str(),
        metadata["content_address"].as_str(),
    ) else {
        return Ok(());
    };
    app.archive()
        .put(key, json.as_bytes().to_vec(), arc3::ARC3_CONTENT_TYPE)
        .await?;
    Ok(())
}

fn view(record: &Record) -> DraftView {
    let body = &record.body;
    DraftView {
        id: record.key.sort.clone(),
        version: record.version,
        draft: body["draft"].clone(),
        validation: body["validation"].clone(),
        created_at: rfc3339(body["created_at"].as_i64().unwrap_or_default()),
        updated_at: rfc3339(body["updated_at"].as_i64().unwrap_or_default()),
    }
}

fn validation_json(report: &ValidationReport) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// Save a new draft, valid or not, with its validation result.
pub async fn create(app: &App, user_id: &str, draft: Value) -> Result<DraftView, DraftError> {
    let report = check(app, user_id, &draft).await?;
    store_metadata(app, &report).await?;
    let now = now_unix();
    let draft_id = ulid::Ulid::new().to_string();
    let record = app
        .records()
        .create(NewRecord::new(
            key(user_id, &draft_id),
            json!({
                "draft": draft,
                "validation": validation_json(&report),
                "created_at": now,
                "updated_at": now,
            }),
        ))
        .await?;
    tracing::info!(draft_id = %draft_id, valid = report.valid, "draft created");
    Ok(view(&record))
}

pub async fn get(app: &App, user_id: &str, draft_id: &str) -> Result<DraftView, DraftError> {
    check_id(draft_id)?;
    let record = app
        .records()
        .get(&key(user_id, draft_id))
        .await?
        .ok_or(DraftError::NotFound)?;
    Ok(view(&record))
}

/// Replace a draft if it is still at `expected_version`.
pub async fn update(
    app: &App,
    user_id: &str,
    draft_id: &str,
    expected_version: u64,
    draft: Value,
) -> Result<DraftView, DraftError> {
    check_id(draft_id)?;
    let record_key = key(user_id, draft_id);
    let current = app
        .records()
        .get(&record_key)
        .await?
        .ok_or(DraftError::NotFound)?;
    if current.version != expected_version {
        return Err(DraftError::VersionConflict {
            expected: expected_version,
            current: current.version,
        });
    }
    let report = check(app, user_id, &draft).await?;
    store_metadata(app, &report).await?;
    let updated = app
        .records()
        .update(
            &record_key,
            Expect::version(expected_version),
            Change {
                state: None,
                body: json!({
                    "draft": draft,
                    "validation": validation_json(&report),
                    "created_at": current.body["created_at"],
                    "updated_at": now_unix(),
                }),
                expires_at: None,
            },
        )
        .await;
    match updated {
        Ok(record) => {
            tracing::info!(draft_id = %draft_id, version = record.version, valid = report.valid, "draft changed");
            Ok(view(&record))
        }
        // Someone else saved in between our read and write.
        Err(RecordsError::ConditionFailed { .. }) => {
            let current = app
                .records()
                .get(&record_key)
                .await?
                .ok_or(DraftError::NotFound)?;
            Err(DraftError::VersionConflict {
                expected: expected_version,
                current: current.version,
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Delete a draft (at `expected_version` when given).
pub async fn delete(
    app: &App,
    user_id: &str,
    draft_id: &str,
    expected_version: Option<u64>,
) -> Result<(), DraftError> {
    check_id(draft_id)?;
    let record_key = key(user_id, draft_id);
    let expect = expected_version.map(Expect::version).unwrap_or_default();
    match app.records().delete(&record_key, expect).await {
        Ok(()) => {
            tracing::info!(draft_id = %draft_id, "draft deleted");
            Ok(())
        }
        Err(RecordsError::ConditionFailed { .. }) => {
            match (app.records().get(&record_key).await?, expected_version) {
                (Some(current), Some(expected)) => Err(DraftError::VersionConflict {
                    expected,
                    current: current.version,
                }),
                _ => Err(DraftError::NotFound),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// The user's drafts, newest first, a page at a time.
pub async fn list(
    app: &App,
    user_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<DraftPage, DraftError> {
    if !(1..=100).contains(&limit) {
        return Err(DraftError::InvalidPage("limit must be 1 to 100"));
    }
    let mut query = Query::partition(partition(user_id));
    query.order = Order::Descending;
    query.limit = limit;
    query.cursor = cursor;
    let page = app
        .records()
        .query(&query)
        .await
        .map_err(|error| match error {
            RecordsError::Invalid(_) => {
                DraftError::InvalidPage("the cursor is not one this API gave")
            }
            other => other.into(),
        })?;
    Ok(DraftPage {
        drafts: page.records.iter().map(view).collect(),
        next_cursor: page.next,
    })
}
