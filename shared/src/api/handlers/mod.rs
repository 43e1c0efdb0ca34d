//! Route handlers, one module per area. Each is a plain async function of the app and the
//! request, so tests call them directly and the router serves them anywhere.

pub mod audit;
pub mod auth;
pub mod compliance;
pub mod deployments;
pub mod dev;
pub mod docs;
pub mod drafts;
pub mod health;
pub mod networks;
pub mod webhooks;

use crate::api::ApiError;

/// Milliseconds since the epoch from an RFC 3339 time or a number of milliseconds (query
/// parameter or body field `name`).
pub(crate) fn time_filter(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok())
        .ok_or_else(|| {
            ApiError::malformed(name, "an RFC 3339 time or milliseconds since the epoch")
        })
}
