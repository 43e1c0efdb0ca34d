//! Draft routes and the standards catalogue.
//!
//! `PUT` and `DELETE` take the version the client last saw in `If-Match` (the `ETag` of
//! every draft answer); `PUT` requires it, so an update can never silently overwrite another.

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use crate::api::{ApiError, ApiRequest, ApiResponse, ErrorCode};
use crate::app::App;
use crate::drafts::service::{self, DraftView};
use crate::drafts::standards::{self, Field, Rule, Standard};
use crate::networks::ChainFamily;

#[derive(Serialize)]
struct RuleView {
    id: Rule,
    description: &'static str,
}

#[derive(Serialize)]
struct StandardView<'a> {
    id: &'static str,
    title: &'static str,
    family: ChainFamily,
    fields: &'static [Field],
    rules: Vec<RuleView>,
    networks: Vec<&'a str>,
}

/// The catalogue of `standards` over the configured networks.
pub fn catalogue(app: &App, standards: &[Standard]) -> Value {
    let views: Vec<StandardView> = standards
        .iter()
        .map(|standard| StandardView {
            id: standard.id,
            title: standard.title,
            family: standard.family,
            fields: standard.fields,
            rules: standard
                .rules
                .iter()
                .map(|rule| RuleView {
                    id: *rule,
                    description: rule.description(),
                })
                .collect(),
            networks: app
                .networks()
                .all()
                .iter()
                .filter(|network| network.family() == standard.family)
                .map(|network| network.id.as_str())
                .collect(),
        })
        .collect();
    serde_json::json!({ "standards": views })
}

pub async fn list_standards(app: App, _request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&catalogue(&app, standards::STANDARDS))
}

fn draft_body(request: &ApiRequest) -> Result<Value, ApiError> {
    let draft: Value = request.json()?;
    if !draft.is_object() {
        return Err(ApiError::malformed("body", "a draft is a JSON object"));
    }
    Ok(draft)
}

fn with_etag(status: StatusCode, draft: &DraftView) -> Result<ApiResponse, ApiError> {
    let mut response = ApiResponse::json(status, draft)?;
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", draft.version)) {
        response.headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The version in `If-Match` (`"3"` or `3`).
fn if_match(request: &ApiRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = request.headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|text| text.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::malformed(
                "If-Match",
                "must be the draft's version, as its ETag gives it",
            )
        })
}

pub async fn validate(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let draft = draft_body(&request)?;
    ApiResponse::ok(&service::validate(&app, request.user()?, &draft, &request.origin()?).await?)
}

pub async fn create(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let draft = draft_body(&request)?;
    let created = service::create(&app, request.user()?, draft, &request.origin()?).await?;
    with_etag(StatusCode::CREATED, &created)
}

pub async fn list(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let limit = match request.query.get("limit") {
        None => 20,
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::malformed("limit", "must be a whole number from 1 to 100"))?,
    };
    let cursor = request.query.get("cursor").cloned();
    ApiResponse::ok(&service::list(&app, request.user()?, limit, cursor).await?)
}

pub async fn get(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let draft = service::get(&app, request.user()?, request.path_param("id")?).await?;
    with_etag(StatusCode::OK, &draft)
}

pub async fn update(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let expected = if_match(&request)?.ok_or_else(|| ApiError::new(ErrorCode::VersionRequired))?;
    let draft = draft_body(&request)?;
    let updated = service::update(
        &app,
        request.user()?,
        request.path_param("id")?,
        expected,
        draft,
        &request.origin()?,
    )
    .await?;
    with_etag(StatusCode::OK, &updated)
}

pub async fn delete(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let expected = if_match(&request)?;
    service::delete(
        &app,
        request.user()?,
        request.path_param("id")?,
        expected,
        &request.origin()?,
    )
    .await?;
    ApiResponse::ok(&serde_json::json!({ "deleted": true }))
}

/// `GET /v1/metadata/{id}`: an ARC-3 metadata file, byte for byte as hashed into the asset's
/// metadata hash. Public: the URL is on chain for anyone to follow.
pub async fn get_metadata(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let id = request.path_param("id")?;
    // A content id is base64url of 32 bytes; anything else cannot name a stored file.
    let well_formed = id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let object = app
        .archive()
        .get(&crate::drafts::arc3::content_key(id))
        .await?;
    let mut response = ApiResponse::bytes(StatusCode::OK, &object.content_type, object.body);
    // Content-addressed: the bytes under an id never change.
    response.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
