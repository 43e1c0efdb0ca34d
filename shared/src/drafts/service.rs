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
use crate::audit::{self, NewAuditEvent, Origin, Subject, types};
use crate::ports::records::{
    Change, Expect, NewRecord, Order, Query, Record, RecordKey, RecordsError, Write, now_unix,
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

/// An audit event is written with the records it describes: its failure is theirs.
impl From<crate::audit::AuditError> for DraftError {
    fn from(error: crate::audit::AuditError) -> Self {
        DraftError::Records(error.into_records_error())
    }
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub id: String,
    pub version: u64,
    pub draft: Value,
    #[schema(value_type = crate::drafts::validate::ValidationReport)]
    pub validation: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// [`check`] on request of the user, recorded in their audit chain (the outcome, not the
/// draft itself: it was not stored).
pub async fn validate(
    app: &App,
    user_id: &str,
    draft: &Value,
    origin: &Origin,
) -> Result<ValidationReport, DraftError> {
    let report = check(app, user_id, draft).await?;
    // The draft was not stored, so it has no id: the subject is the validation request.
    let validation_id = origin
        .request_id
        .clone()
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let event = origin.event(
        types::DRAFT_VALIDATED,
        Subject::new("draft-validation", validation_id),
        validation_facts(draft, &report),
    );
    audit::append(app.records(), user_id, event).await?;
    Ok(report)
}

/// What an audit event says about a draft's validation: its standard and network, valid or
/// not, and which rules failed.
fn validation_facts(draft: &Value, report: &ValidationReport) -> Value {
    let codes: Vec<&str> = report.errors.iter().map(|issue| issue.code).collect();
    json!({
        "standard": draft["standard"].as_str(),
        "network": draft["network"].as_str(),
        "outcome": { "valid": report.valid, "error_codes": codes },
    })
}

/// [`validation_facts`] of a stored draft at `version`.
fn saved_draft_facts(version: u64, draft: &Value, report: &ValidationReport) -> Value {
    let mut facts = validation_facts(draft, report);
    facts["version"] = json!(version);
    facts
}

fn draft_event(origin: &Origin, event_type: &str, draft_id: &str, payload: Value) -> NewAuditEvent {
    origin.event(event_type, Subject::new("draft", draft_id), payload)
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
    view_of(&record.key, record.version, &record.body)
}

fn view_of(key: &RecordKey, version: u64, body: &Value) -> DraftView {
    DraftView {
        id: key.sort.clone(),
        version,
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
pub async fn create(
    app: &App,
    user_id: &str,
    draft: Value,
    origin: &Origin,
) -> Result<DraftView, DraftError> {
    let report = check(app, user_id, &draft).await?;
    store_metadata(app, &report).await?;
    let now = now_unix();
    let draft_id = ulid::Ulid::new().to_string();
    let record = NewRecord::new(
        key(user_id, &draft_id),
        json!({
            "draft": draft,
            "validation": validation_json(&report),
            "created_at": now,
            "updated_at": now,
        }),
    );
    let event = draft_event(
        origin,
        types::DRAFT_CREATED,
        &draft_id,
        saved_draft_facts(1, &draft, &report),
    );
    let stored = view_of(&record.key, 1, &record.body);
    audit::transact(
        app.records(),
        user_id,
        vec![Write::Create(record)],
        vec![event],
    )
    .await?;
    tracing::info!(draft_id = %draft_id, valid = report.valid, "draft created");
    Ok(stored)
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
    origin: &Origin,
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
    let body = json!({
        "draft": draft,
        "validation": validation_json(&report),
        "created_at": current.body["created_at"],
        "updated_at": now_unix(),
    });
    let version = expected_version + 1;
    let stored = view_of(&record_key, version, &body);
    let event = draft_event(
        origin,
        types::DRAFT_CHANGED,
        draft_id,
        saved_draft_facts(version, &draft, &report),
    );
    let update = Write::Update {
        key: record_key.clone(),
        expect: Expect::version(expected_version),
        change: Change {
            state: None,
            body,
            expires_at: None,
        },
    };
    match audit::transact(app.records(), user_id, vec![update], vec![event]).await {
        Ok(_) => {
            tracing::info!(draft_id = %draft_id, version, valid = report.valid, "draft changed");
            Ok(stored)
        }
        // Someone else saved in between our read and write.
        Err(RecordsError::TransactionConflict { .. }) => {
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
    origin: &Origin,
) -> Result<(), DraftError> {
    check_id(draft_id)?;
    let record_key = key(user_id, draft_id);
    let expect = expected_version.map(Expect::version).unwrap_or_default();
    let delete = Write::Delete {
        key: record_key.clone(),
        expect,
    };
    let event = draft_event(
        origin,
        types::DRAFT_DELETED,
        draft_id,
        json!({ "expected_version": expected_version }),
    );
    match audit::transact(app.records(), user_id, vec![delete], vec![event]).await {
        Ok(_) => {
            tracing::info!(draft_id = %draft_id, "draft deleted");
            Ok(())
        }
        Err(RecordsError::TransactionConflict { .. }) => {
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
