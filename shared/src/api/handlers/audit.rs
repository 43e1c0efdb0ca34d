//! Audit routes: read your audit trail, export it to the archive, follow an export.

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::time_filter;
use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::audit::export::{ExportFilters, ExportFormat};
use crate::audit::{self, AuditFilter, Subject, exports};

/// Events per page when the caller does not say.
const DEFAULT_PAGE_SIZE: u32 = 100;

pub async fn list_events(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let query = &request.query;
    let text = |name: &str| query.get(name).map(String::as_str);
    let subject = match (text("subject_kind"), text("subject_id")) {
        (None, None) => None,
        (Some(kind), Some(id)) => Some(Subject::new(kind, id)),
        _ => {
            return Err(ApiError::malformed(
                "subject_kind",
                "subject_kind and subject_id go together",
            ));
        }
    };
    let filter = AuditFilter {
        event_type: text("event_type").map(str::to_owned),
        subject,
        from_ms: text("from").map(|t| time_filter("from", t)).transpose()?,
        to_ms: text("to").map(|t| time_filter("to", t)).transpose()?,
    };
    let limit = match text("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse()
            .ok()
            .filter(|limit| (1..=audit::store::MAX_LIST_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::malformed(
                    "limit",
                    format!("a number from 1 to {}", audit::store::MAX_LIST_LIMIT),
                )
            })?,
    };
    let page = audit::list(app.records(), user_id, &filter, text("cursor"), limit)
        .await
        .map_err(|error| match error {
            audit::AuditError::Invalid(_) => {
                ApiError::malformed("cursor", "not a cursor this API gave")
            }
            other => other.into(),
        })?;
    ApiResponse::ok(&page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    format: ExportFormat,
    #[serde(default)]
    filters: FilterRequest,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterRequest {
    event_type: Option<String>,
    subject_kind: Option<String>,
    subject_id: Option<String>,
    /// RFC 3339 or milliseconds since the epoch, inclusive.
    from: Option<Value>,
    to: Option<Value>,
}

/// A time given as an RFC 3339 string or a number of milliseconds.
fn time_value(name: &str, value: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::malformed(name, "whole milliseconds since the epoch")),
        Some(Value::String(text)) => time_filter(name, text).map(Some),
        Some(_) => Err(ApiError::malformed(
            name,
            "an RFC 3339 time or milliseconds since the epoch",
        )),
    }
}

pub async fn create_export(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let user_id = request.user()?;
    let body: ExportRequest = request.json()?;
    let filters = ExportFilters {
        event_type: body.filters.event_type,
        subject_kind: body.filters.subject_kind,
        subject_id: body.filters.subject_id,
        from_ms: time_value("filters.from", body.filters.from.as_ref())?,
        to_ms: time_value("filters.to", body.filters.to.as_ref())?,
    };
    let view = exports::request(&app, user_id, body.format, filters, &request.origin()?).await?;
    ApiResponse::json(StatusCode::ACCEPTED, &view)
}

pub async fn get_export(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let view = exports::get(&app, request.user()?, request.path_param("id")?).await?;
    ApiResponse::ok(&view)
}
