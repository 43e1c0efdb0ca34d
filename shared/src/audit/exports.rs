//! Audit exports: a request stores the export (queued, with the chain's head at that moment
//! as its end) and enqueues its job on the audit exports queue; the job streams the tenant's
//! events through the export encoder into the archive, stores the manifest beside the file and
//! completes the export, with its audit event, in one transaction.
//!
//! A job is deterministic (the same events up to the same sequence, the same bytes), so a
//! redelivered or concurrent run writes the very same object and only one completes the
//! record. Memory stays bounded: a page of events and one upload part at a time.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::export::{
    ExportEncoder, ExportFilters, ExportFormat, ExportManifest, MANIFEST_VERSION, manifest_key,
};
use super::{AuditFilter, Origin, Subject, types};
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::ports::records::{
    Change, Expect, NewRecord, Record, RecordKey, RecordsError, Write, now_ms,
};
use crate::ports::{ArchiveUpload, StepMessage};
use crate::steps::{QueueName, StepError, StepHandler, StepRunner, backoff};

/// The step kind of an export job.
pub const EXPORT_STEP: &str = "audit.export";
/// How long a download link of a finished export works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Events read from the chain per page.
const PAGE_SIZE: u32 = 1000;
/// Encoded bytes gathered before they are handed to the upload (which sends whole parts).
const WRITE_CHUNK_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Queued,
    Completed,
    Failed,
}

/// An export as stored in `user#<id>#audit-exports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditExport {
    pub id: String,
    pub format: ExportFormat,
    pub filters: ExportFilters,
    pub status: ExportStatus,
    /// The chain's last sequence when the export was requested: the export ends there, so
    /// every run of its job writes the same file. `None`: the chain was empty.
    pub up_to_sequence: Option<u64>,
    /// The archive key of the file (`tenants/<tenant>/audit-exports/<id>.<ext>`).
    pub file: String,
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ExportManifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The correlation id of the request, carried by the job's audit events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// The answer of the export routes: the export, and while it is complete, links to its file
/// and manifest that work for [`LINK_LIFETIME`].
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditExportView)]
pub struct ExportView {
    #[serde(flatten)]
    pub export: AuditExport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links_expire_in_s: Option<u64>,
}

fn partition(user_id: &str) -> String {
    format!("user#{user_id}#audit-exports")
}

fn key(user_id: &str, export_id: &str) -> RecordKey {
    RecordKey::new(partition(user_id), export_id)
}

/// Where the file of `export_id` goes: under the tenant's own prefix.
pub fn file_key(tenant: &str, export_id: &str, format: ExportFormat) -> String {
    format!(
        "tenants/{tenant}/audit-exports/{export_id}.{}",
        format.extension()
    )
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::AuditExportNotFound)
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::from(RecordsError::Internal(error.to_string()))
}

fn parse(record: &Record) -> Result<AuditExport, ApiError> {
    serde_json::from_value(record.body.clone()).map_err(internal)
}

/// Requests an export of the user's chain as it is now, in `format`, of the events that
/// match `filters`.
pub async fn request(
    app: &App,
    user_id: &str,
    format: ExportFormat,
    filters: ExportFilters,
    origin: &Origin,
) -> Result<ExportView, ApiError> {
    AuditFilter::try_from(&filters)
        .map_err(|error| ApiError::malformed("filters.subject_kind", error.to_string()))?;
    let head = super::head(app.records(), user_id).await?;
    let id = ulid::Ulid::new().to_string();
    let export = AuditExport {
        file: file_key(user_id, &id, format),
        id: id.clone(),
        format,
        filters,
        status: ExportStatus::Queued,
        up_to_sequence: head.map(|event| event.sequence),
        created_at_ms: now_ms(),
        completed_at_ms: None,
        manifest: None,
        error: None,
        correlation_id: origin.correlation_id.clone(),
    };
    let body = serde_json::to_value(&export).map_err(internal)?;
    let event = origin.event(
        types::EXPORT_REQUESTED,
        Subject::new("audit-export", &id),
        json!({
            "format": export.format,
            "filters": export.filters,
            "up_to_sequence": export.up_to_sequence,
        }),
    );
    let create = Write::Create(NewRecord::new(key(user_id, &id), body));
    super::transact(app.records(), user_id, vec![create], vec![event]).await?;
    let message = StepMessage::new(EXPORT_STEP, json!({ "user_id": user_id, "export_id": id }));
    if let Err(error) = app
        .queue(QueueName::AuditExports)
        .enqueue(&message, Duration::ZERO)
        .await
    {
        // Nothing will run it: say so on the export rather than leave it queued forever.
        let api_error = ApiError::from(error);
        let failure = json!({ "code": api_error.code, "message": api_error.message });
        if let Err(record_error) = fail(app, user_id, &id, failure, origin).await {
            tracing::error!(export_id = %id, error = %record_error.message, "export not marked failed");
        }
        return Err(api_error);
    }
    tracing::info!(export_id = %id, "audit export requested");
    Ok(ExportView {
        export,
        download_url: None,
        manifest_url: None,
        links_expire_in_s: None,
    })
}

/// The user's export, with fresh download links while it is complete.
pub async fn get(app: &App, user_id: &str, export_id: &str) -> Result<ExportView, ApiError> {
    export_id.parse::<ulid::Ulid>().map_err(|_| not_found())?;
    let record = app
        .records()
        .get(&key(user_id, export_id))
        .await?
        .ok_or_else(not_found)?;
    let export = parse(&record)?;
    let mut view = ExportView {
        export,
        download_url: None,
        manifest_url: None,
        links_expire_in_s: None,
    };
    if view.export.status == ExportStatus::Completed {
        let archive = app.archive();
        view.download_url = Some(
            archive
                .download_url(&view.export.file, LINK_LIFETIME)
                .await?,
        );
        view.manifest_url = Some(
            archive
                .download_url(&manifest_key(&view.export.file), LINK_LIFETIME)
                .await?,
        );
        view.links_expire_in_s = Some(LINK_LIFETIME.as_secs());
    }
    Ok(view)
}

/// Moves a queued export to `Failed` with `error`, with its audit event.
async fn fail(
    app: &App,
    user_id: &str,
    export_id: &str,
    error: Value,
    origin: &Origin,
) -> Result<(), ApiError> {
    let Some(record) = app.records().get(&key(user_id, export_id)).await? else {
        return Ok(());
    };
    let export = parse(&record)?;
    if export.status != ExportStatus::Queued {
        return Ok(());
    }
    fail_record(app, user_id, &record, export, error, origin).await
}

/// [`fail`] for the queued export already read as `record`.
async fn fail_record(
    app: &App,
    user_id: &str,
    record: &Record,
    mut export: AuditExport,
    error: Value,
    origin: &Origin,
) -> Result<(), ApiError> {
    export.status = ExportStatus::Failed;
    export.completed_at_ms = Some(now_ms());
    export.error = Some(error.clone());
    let event = origin.event(
        types::EXPORT_FAILED,
        Subject::new("audit-export", export.id.as_str()),
        json!({ "error": error }),
    );
    finish_record(app, user_id, record, &export, event).await
}

/// Replaces the queued export read as `record` with its final state and writes its event.
/// Another run that finished first wins; this one then changes nothing.
async fn finish_record(
    app: &App,
    user_id: &str,
    record: &Record,
    export: &AuditExport,
    event: super::NewAuditEvent,
) -> Result<(), ApiError> {
    let update = Write::Update {
        key: record.key.clone(),
        expect: Expect::version(record.version),
        change: Change {
            state: None,
            body: serde_json::to_value(export).map_err(internal)?,
            expires_at: None,
        },
    };
    match super::transact(app.records(), user_id, vec![update], vec![event]).await {
        Ok(_) | Err(RecordsError::TransactionConflict { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The audit exports queue's handlers.
pub fn register(runner: StepRunner) -> StepRunner {
    runner.with(EXPORT_STEP, std::sync::Arc::new(ExportStep))
}

#[derive(Deserialize)]
struct ExportPayload {
    user_id: String,
    export_id: String,
}

struct ExportStep;

#[async_trait::async_trait]
impl StepHandler for ExportStep {
    async fn run(&self, app: &App, payload: &Value) -> Result<(), StepError> {
        let Ok(payload) = serde_json::from_value::<ExportPayload>(payload.clone()) else {
            tracing::error!(%payload, "malformed audit export job; dropped");
            return Ok(());
        };
        run_export(app, &payload.user_id, &payload.export_id)
            .await
            .map_err(|error| StepError::Retry {
                reason: error.message,
                after: backoff(1),
            })
    }
}

/// Runs the export job: a transient failure is returned (the queue retries it), any other
/// failure is recorded on the export.
pub async fn run_export(app: &App, user_id: &str, export_id: &str) -> Result<(), ApiError> {
    let Some(record) = app.records().get(&key(user_id, export_id)).await? else {
        return Ok(());
    };
    let export = parse(&record)?;
    if export.status != ExportStatus::Queued {
        return Ok(());
    }
    let origin = Origin::system("audit-export").correlated(export.correlation_id.as_deref());
    match write_file(app, user_id, &export).await {
        Ok(manifest) => {
            let mut done = export;
            done.status = ExportStatus::Completed;
            done.completed_at_ms = Some(now_ms());
            let event = origin.event(
                types::EXPORT_COMPLETED,
                Subject::new("audit-export", export_id),
                json!({
                    "file": manifest.file,
                    "count": manifest.summary.count,
                    "sha256": manifest.summary.sha256,
                    "bytes": manifest.summary.bytes,
                    "first_sequence": manifest.summary.first_sequence,
                    "last_sequence": manifest.summary.last_sequence,
                    "last_hash": manifest.summary.last_hash,
                }),
            );
            done.manifest = Some(manifest);
            finish_record(app, user_id, &record, &done, event).await?;
            tracing::info!(export_id, "audit export completed");
            Ok(())
        }
        Err(error) if error.code.retryable() => Err(error),
        Err(error) => {
            tracing::error!(export_id, code = ?error.code, message = %error.message, "audit export failed");
            let failure = json!({ "code": error.code, "message": error.code.message() });
            fail_record(app, user_id, &record, export, failure, &origin).await
        }
    }
}

/// Streams the export's events into its file and stores the manifest beside it.
async fn write_file(
    app: &App,
    user_id: &str,
    export: &AuditExport,
) -> Result<ExportManifest, ApiError> {
    let mut upload = app
        .archive()
        .start_upload(&export.file, export.format.content_type())
        .await?;
    match stream_events(app, user_id, export, upload.as_mut()).await {
        Ok(encoder) => {
            let mut tail = Vec::new();
            let summary = encoder.finish(&mut tail);
            upload.write(&tail).await?;
            upload.finish().await?;
            let manifest = ExportManifest {
                manifest_version: MANIFEST_VERSION,
                export_id: export.id.clone(),
                tenant: user_id.to_owned(),
                format: export.format,
                filters: export.filters.clone(),
                created_at_ms: export.created_at_ms,
                file: export.file.clone(),
                summary,
            };
            let body = serde_json::to_vec_pretty(&manifest).map_err(internal)?;
            app.archive()
                .put(&manifest_key(&export.file), body, "application/json")
                .await?;
            Ok(manifest)
        }
        Err(error) => {
            if let Err(abort_error) = upload.abort().await {
                tracing::warn!(error = %abort_error, "upload not aborted; the archive's lifecycle removes it");
            }
            Err(error)
        }
    }
}

async fn stream_events(
    app: &App,
    user_id: &str,
    export: &AuditExport,
    upload: &mut dyn ArchiveUpload,
) -> Result<ExportEncoder, ApiError> {
    let mut encoder = ExportEncoder::new(export.format);
    let Some(up_to) = export.up_to_sequence else {
        return Ok(encoder);
    };
    let filter = AuditFilter::try_from(&export.filters).map_err(internal)?;
    let mut chunk = Vec::with_capacity(WRITE_CHUNK_BYTES + 64 * 1024);
    let mut cursor: Option<String> = None;
    'pages: loop {
        let page = super::list(
            app.records(),
            user_id,
            &filter,
            cursor.as_deref(),
            PAGE_SIZE,
        )
        .await?;
        for event in &page.events {
            if event.sequence > up_to {
                break 'pages;
            }
            encoder.encode(event, &mut chunk).map_err(internal)?;
            if chunk.len() >= WRITE_CHUNK_BYTES {
                upload.write(&chunk).await?;
                chunk.clear();
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    upload.write(&chunk).await?;
    Ok(encoder)
}
