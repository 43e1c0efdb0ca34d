//! Idempotency keys: a client that sends `Idempotency-Key` on a route that takes one (see
//! [`Idempotency`]) gets the handler run at most once per key, and every retry answered with
//! the first answer. The router applies this after authentication, so handlers never see it.
//!
//! Keys are scoped per user and route: the record lives at `user#<id>#idempotency` /
//! `<route id>#<key>` in the records store, with the SHA-256 of the canonical request (method,
//! route id, path and query parameters, the JSON body with its keys sorted, or a non-JSON body
//! as bytes), its status and, once completed, the answer. One conditional create ("only if
//! absent or expired") decides which request runs, so two racing duplicates never both run
//! (the practice of AWS Powertools, Stripe and the IETF Idempotency-Key draft):
//!
//! - the first request runs; a 2xx or 4xx answer is stored as `completed` and replayed for
//!   24 h ([`COMPLETED_RETENTION_S`]). A 5xx or retryable answer deletes the record instead,
//!   so the client's retry runs the request again rather than replaying a failure;
//! - the same key with the same request after it completed answers the stored response, with
//!   `Idempotent-Replayed: true`, without running the handler. The body is the first answer's,
//!   byte for byte (an error body keeps the first request's `request_id`); `X-Request-Id`
//!   names the replay;
//! - the same key with another request answers 422 `IDEMPOTENCY_KEY_MISMATCH`;
//! - the same key while the first request is still running answers 409
//!   `IDEMPOTENCY_KEY_IN_PROGRESS` (retryable, `Retry-After` = what is left of its lease). A
//!   request that crashed holds its key only until its lease ([`IN_PROGRESS_LEASE_S`]) ends;
//!   the next request with the key then takes it over.
//!
//! On routes that take no key ([`Idempotency::None`], which every public route is) the header
//! is ignored.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::errors::{ApiError, ErrorCode};
use super::routes::{Idempotency, Route};
use super::service::{ApiRequest, ApiResponse, ResponseBody};
use crate::app::App;
use crate::canonical;
use crate::ports::records::now_unix;
use crate::ports::{Change, Expect, NewRecord, Record, RecordKey, RecordStore, RecordsError};

pub const IDEMPOTENCY_KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set to `true` on an answer that is a stored one, not a new run.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key accepted (Stripe's limit; the IETF draft sets none).
pub const MAX_KEY_LEN: usize = 255;

/// How long a request that is running holds its key: the longest any HTTP request can run,
/// API Gateway HTTP API's 30 s integration timeout (route functions time out sooner, at 10 s).
/// Past it the request has certainly ended, so a crashed one blocks its key no longer.
pub const IN_PROGRESS_LEASE_S: i64 = 30;

/// How long a completed answer is replayed: 24 h, as Stripe and the IETF draft keep keys.
pub const COMPLETED_RETENTION_S: i64 = 24 * 60 * 60;

const STATUS_IN_PROGRESS: &str = "in_progress";
const STATUS_COMPLETED: &str = "completed";

/// Headers of an answer that a replay repeats: where the created thing is, and its version.
const REPLAYED_HEADERS: &[&str] = &["location", "etag"];

/// How often a claim tries again when the record it lost to is gone before it could read it
/// (released by a failed request, or expired, in between).
const CLAIM_ATTEMPTS: usize = 3;

/// A valid `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        if value.is_empty() || value.len() > MAX_KEY_LEN {
            return Err(malformed_key(format!(
                "must be 1 to {MAX_KEY_LEN} characters long"
            )));
        }
        if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(malformed_key("must be printable ASCII characters only"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The request's key, if it sent one; more than one is refused as ambiguous.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let mut values = headers.get_all(&IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(malformed_key("send it once"));
        }
        let text = value
            .to_str()
            .map_err(|_| malformed_key("must be printable ASCII characters only"))?;
        Self::parse(text).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn malformed_key(why: impl Into<String>) -> ApiError {
    ApiError::malformed("Idempotency-Key", why)
}

/// Where a user's key for a route is stored.
pub fn record_key(user_id: &str, route_id: &str, key: &IdempotencyKey) -> RecordKey {
    RecordKey::new(
        format!("user#{user_id}#idempotency"),
        format!("{route_id}#{}", key.as_str()),
    )
}

/// The hex SHA-256 of the canonical request. Parameter order and the key order and spacing
/// of a JSON body do not change it; a body that is not JSON is hashed as its bytes. Every
/// part is length-prefixed, so no two different requests share an encoding.
pub fn request_hash(
    method: &Method,
    route_id: &str,
    path_params: &HashMap<String, String>,
    query: &HashMap<String, String>,
    body: &[u8],
) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(b"walletless-idempotency-v1");
    part(method.as_str().as_bytes());
    part(route_id.as_bytes());
    for params in [path_params, query] {
        let mut sorted: Vec<(&String, &String)> = params.iter().collect();
        sorted.sort();
        part(&(sorted.len() as u64).to_be_bytes());
        for (name, value) in sorted {
            part(name.as_bytes());
            part(value.as_bytes());
        }
    }
    match serde_json::from_slice::<Value>(body) {
        // Key order and spacing do not matter; a body nested past the canonical depth limit
        // (deeper than serde_json parses anyway) is hashed as bytes.
        Ok(json) => match canonical::to_canonical_bytes_with(&json, canonical::Numbers::Any) {
            Ok(canonical) => {
                part(b"json");
                part(&canonical);
            }
            Err(_) => {
                part(b"bytes");
                part(body);
            }
        },
        Err(_) => {
            part(b"bytes");
            part(body);
        }
    }
    hex::encode(hasher.finalize())
}

/// Apply the route's [`Idempotency`] to an authenticated request and run its handler at most
/// once per key.
pub async fn guard(
    app: App,
    route: &'static Route,
    request: ApiRequest,
) -> Result<ApiResponse, ApiError> {
    if route.idempotency == Idempotency::None {
        return (route.handler)(app, request).await;
    }
    let Some(key) = IdempotencyKey::from_headers(&request.headers)? else {
        if route.idempotency == Idempotency::Required {
            return Err(ApiError::new(ErrorCode::IdempotencyKeyRequired));
        }
        return (route.handler)(app, request).await;
    };
    // Keyed routes are user routes (the route table's tests hold it), so there is a user.
    let record_key = record_key(request.user()?, route.id, &key);
    let hash = request_hash(
        &route.method,
        route.id,
        &request.path_params,
        &request.query,
        &request.body,
    );
    match claim(app.records(), record_key, &hash, now_unix()).await? {
        Claim::Replay(response) => {
            tracing::info!(
                status = response.status.as_u16(),
                "idempotent replay: answering the stored response"
            );
            Ok(response)
        }
        Claim::Run(lease) => {
            let request_id = request.request_id.clone();
            let answer = (route.handler)(app.clone(), request).await;
            lease
                .settle(app.records(), &answer, &request_id, now_unix())
                .await;
            answer
        }
    }
}

/// What the conditional create decided for a request with a key.
#[derive(Debug)]
pub enum Claim {
    /// This request holds the key: run it, then [`Lease::settle`] its answer.
    Run(Lease),
    /// The key's request completed: its stored answer, marked as a replay.
    Replay(ApiResponse),
}

/// A request's hold on its key, until its answer is settled or [`IN_PROGRESS_LEASE_S`] pass.
#[derive(Debug)]
pub struct Lease {
    key: RecordKey,
    /// The record's state while this attempt holds it. A taken-over record starts again at
    /// version 1, so only this attempt-unique state tells a late first attempt that its
    /// record is no longer its own.
    state: String,
    request_hash: String,
    created_at: i64,
}

/// Claim `key` for a request with hash `request_hash` at time `now` (Unix seconds): run it,
/// replay the stored answer, or refuse (422 another request, 409 still in progress).
pub async fn claim(
    records: &dyn RecordStore,
    key: RecordKey,
    request_hash: &str,
    now: i64,
) -> Result<Claim, ApiError> {
    for _ in 0..CLAIM_ATTEMPTS {
        let state = format!("{STATUS_IN_PROGRESS}#{}", ulid::Ulid::new());
        let record = NewRecord::new(
            key.clone(),
            json!({
                "status": STATUS_IN_PROGRESS,
                "request_hash": request_hash,
                "created_at": now,
            }),
        )
        .with_state(state.clone())
        .expiring_at(now + IN_PROGRESS_LEASE_S);
        match records.create(record).await {
            Ok(_) => {
                return Ok(Claim::Run(Lease {
                    key,
                    state,
                    request_hash: request_hash.to_owned(),
                    created_at: now,
                }));
            }
            Err(RecordsError::ConditionFailed { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        if let Some(existing) = records.get(&key).await? {
            return decide_existing(&existing, request_hash, now);
        }
    }
    // Records keep appearing and vanishing under this key: other requests are contending.
    Err(in_progress(1))
}

/// The answer for a request that lost the create to a live record.
fn decide_existing(record: &Record, request_hash: &str, now: i64) -> Result<Claim, ApiError> {
    if record.body["request_hash"].as_str() != Some(request_hash) {
        return Err(ApiError::new(ErrorCode::IdempotencyKeyMismatch));
    }
    match record.state.as_deref() {
        Some(STATUS_COMPLETED) => replay(&record.body["response"])
            .map(Claim::Replay)
            .ok_or_else(|| {
                tracing::error!(key = %record.key, "stored idempotent answer is unreadable");
                ApiError::new(ErrorCode::Internal)
            }),
        Some(state) if state.starts_with(STATUS_IN_PROGRESS) => {
            let lease_end = record.expires_at.unwrap_or(now + IN_PROGRESS_LEASE_S);
            Err(in_progress(lease_end - now))
        }
        other => {
            tracing::error!(key = %record.key, state = ?other, "idempotency record in an unknown state");
            Err(ApiError::new(ErrorCode::Internal))
        }
    }
}

fn in_progress(seconds_left: i64) -> ApiError {
    ApiError::new(ErrorCode::IdempotencyKeyInProgress)
        .with_details(json!({ "retry_after_s": seconds_left.max(1) }))
}

/// What becomes of a key once its request has answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Keep the answer for replays: the request's outcome is final (2xx, and 4xx that a retry
    /// would only repeat).
    Store,
    /// Delete the record: the request failed in a way a retry may fix (5xx, or a retryable
    /// error such as 429), so the retry must run again instead of replaying the failure.
    Release,
}

pub fn settlement(answer: &Result<ApiResponse, ApiError>) -> Settlement {
    let retry_may_help = match answer {
        Ok(response) => response.status.is_server_error(),
        Err(error) => error.code.status().is_server_error() || error.code.retryable(),
    };
    if retry_may_help {
        Settlement::Release
    } else {
        Settlement::Store
    }
}

impl Lease {
    /// Store or release the key after the request answered (see [`settlement`]). The answer
    /// goes to the client whatever happens here: the work is done, and a store failure only
    /// means a retry within the lease gets 409 and one after it runs again; so failures are
    /// logged, not returned.
    pub async fn settle(
        self,
        records: &dyn RecordStore,
        answer: &Result<ApiResponse, ApiError>,
        request_id: &str,
        now: i64,
    ) {
        let outcome = match settlement(answer) {
            Settlement::Store => {
                let change = Change {
                    state: Some(STATUS_COMPLETED.to_owned()),
                    body: json!({
                        "status": STATUS_COMPLETED,
                        "request_hash": self.request_hash,
                        "created_at": self.created_at,
                        "completed_at": now,
                        "response": stored_answer(answer, request_id),
                    }),
                    expires_at: Some(now + COMPLETED_RETENTION_S),
                };
                records
                    .update(&self.key, Expect::state(self.state), change)
                    .await
                    .map(|_| ())
            }
            Settlement::Release => records.delete(&self.key, Expect::state(self.state)).await,
        };
        match outcome {
            Ok(()) => {}
            Err(RecordsError::ConditionFailed { .. }) => tracing::warn!(
                "the request outlived its idempotency lease and another took the key over; \
                 its answer is not stored"
            ),
            Err(error) => {
                tracing::error!(error = %error, "idempotency record not settled; the key stays in progress until its lease ends")
            }
        }
    }
}

/// An answer as stored for replays: status, the headers worth replaying, and the body.
fn stored_answer(answer: &Result<ApiResponse, ApiError>, request_id: &str) -> Value {
    match answer {
        Ok(response) => {
            let headers: Map<String, Value> = REPLAYED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = response.headers.get(*name)?.to_str().ok()?;
                    Some(((*name).to_owned(), Value::from(value)))
                })
                .collect();
            let body = match &response.body {
                ResponseBody::Json(value) => json!({ "json": value }),
                ResponseBody::Bytes {
                    content_type,
                    bytes,
                } => json!({
                    "bytes": BASE64.encode(bytes),
                    "content_type": content_type.to_str().unwrap_or("application/octet-stream"),
                }),
            };
            json!({ "status": response.status.as_u16(), "headers": headers, "body": body })
        }
        Err(error) => json!({
            "status": error.code.status().as_u16(),
            "headers": {},
            "body": { "json": error.body(request_id) },
        }),
    }
}

/// The stored answer as a response marked as a replay; `None` if it cannot be read back.
fn replay(stored: &Value) -> Option<ApiResponse> {
    let status = StatusCode::from_u16(u16::try_from(stored["status"].as_u64()?).ok()?).ok()?;
    let body = &stored["body"];
    let mut response = match body.get("json") {
        Some(json) => ApiResponse {
            status,
            headers: HeaderMap::new(),
            body: ResponseBody::Json(json.clone()),
        },
        None => ApiResponse::bytes(
            status,
            body["content_type"].as_str()?,
            BASE64.decode(body["bytes"].as_str()?).ok()?,
        ),
    };
    for (name, value) in stored["headers"].as_object()? {
        response.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(value.as_str()?).ok()?,
        );
    }
    response
        .headers
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::sqlite_records::SqliteRecords;
    use http::header;

    fn hash_of(body: &[u8]) -> String {
        request_hash(
            &Method::POST,
            "create-draft",
            &HashMap::new(),
            &HashMap::new(),
            body,
        )
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn json_bodies_hash_the_same_whatever_their_key_order_and_spacing() {
        assert_eq!(hash_of(br#"{"a":1,"b":2}"#), hash_of(br#"{"b":2,"a":1}"#));
        assert_eq!(
            hash_of(br#"{"x":{"b":[1,{"d":4,"c":3}],"a":null},"y":"z"}"#),
            hash_of(b"{ \"y\" : \"z\",\n \"x\": {\"a\": null, \"b\": [1, {\"c\": 3, \"d\": 4}]}}"),
        );
        assert_eq!(hash_of(b"").len(), 64);
    }

    #[test]
    fn any_difference_in_the_request_changes_the_hash() {
        let base = hash_of(br#"{"a":1,"b":2}"#);
        for other in [
            &br#"{"a":1,"b":3}"#[..],
            br#"{"a":1}"#,
            br#"{"a":"1","b":2}"#,
            br#"{"a":1.0,"b":2}"#,
            br#"[{"a":1,"b":2}]"#,
        ] {
            assert_ne!(hash_of(other), base, "{}", String::from_utf8_lossy(other));
        }
        // Arrays keep their order.
        assert_ne!(hash_of(b"[1,2]"), hash_of(b"[2,1]"));
        let empty = HashMap::new();
        let body = br#"{"a":1,"b":2}"#;
        assert_ne!(
            request_hash(&Method::PUT, "create-draft", &empty, &empty, body),
            base
        );
        assert_ne!(
            request_hash(&Method::POST, "create-other", &empty, &empty, body),
            base
        );
        assert_ne!(
            request_hash(
                &Method::POST,
                "create-draft",
                &params(&[("id", "1")]),
                &empty,
                body
            ),
            base
        );
        assert_ne!(
            request_hash(
                &Method::POST,
                "create-draft",
                &empty,
                &params(&[("id", "1")]),
                body
            ),
            base
        );
    }

    #[test]
    fn parameters_hash_by_name_and_value_not_order() {
        let empty = HashMap::new();
        let hash =
            |path: &[(&str, &str)]| request_hash(&Method::POST, "r", &params(path), &empty, b"{}");
        assert_eq!(
            hash(&[("a", "1"), ("b", "2")]),
            hash(&[("b", "2"), ("a", "1")])
        );
        assert_ne!(
            hash(&[("a", "1"), ("b", "2")]),
            hash(&[("a", "2"), ("b", "1")])
        );
        // Length prefixes: moving bytes between a name and its value is another request.
        assert_ne!(hash(&[("ab", "c")]), hash(&[("a", "bc")]));
        // Path and query parameters are told apart.
        assert_ne!(
            request_hash(&Method::POST, "r", &params(&[("a", "1")]), &empty, b"{}"),
            request_hash(&Method::POST, "r", &empty, &params(&[("a", "1")]), b"{}"),
        );
    }

    #[test]
    fn non_json_bodies_hash_as_bytes() {
        assert_eq!(hash_of(b"not json"), hash_of(b"not json"));
        assert_ne!(hash_of(b"not json"), hash_of(b"not json "));
        // JSON text and the same bytes sent as something unparsable never collide.
        assert_ne!(hash_of(b"{\"a\":1"), hash_of(b"{\"a\":1}"));
    }

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        for good in [
            "a",
            "8e03978e-40d5-43e8-bc93-6894a57f9324",
            " ~!\"#",
            &"k".repeat(255),
        ] {
            assert_eq!(
                IdempotencyKey::parse(good).map(|k| k.0),
                Ok(good.to_owned())
            );
        }
        for bad in [
            "",
            &"k".repeat(256),
            "tab\there",
            "bell\u{7}",
            "del\u{7f}",
            "clé",
        ] {
            let error = IdempotencyKey::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?}"));
            assert_eq!(error.code, ErrorCode::MalformedRequest);
            assert_eq!(
                error.details.as_ref().map(|d| &d["field"]),
                Some(&json!("Idempotency-Key"))
            );
        }
    }

    #[test]
    fn the_header_is_optional_but_single() {
        let mut headers = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&headers), Ok(None));
        headers.insert(&IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("k-1"));
        assert_eq!(
            IdempotencyKey::from_headers(&headers),
            Ok(Some(IdempotencyKey("k-1".into())))
        );
        headers.append(&IDEMPOTENCY_KEY_HEADER, HeaderValue::from_static("k-2"));
        assert!(IdempotencyKey::from_headers(&headers).is_err());
        let mut binary = HeaderMap::new();
        binary.insert(
            &IDEMPOTENCY_KEY_HEADER,
            HeaderValue::from_bytes(b"cl\xe9").unwrap(),
        );
        assert!(IdempotencyKey::from_headers(&binary).is_err());
    }

    #[test]
    fn keys_are_stored_per_user_and_route() {
        let key = IdempotencyKey::parse("k#1").unwrap();
        assert_eq!(
            record_key("u1", "create-draft", &key),
            RecordKey::new("user#u1#idempotency", "create-draft#k#1")
        );
        assert_ne!(
            record_key("u1", "create-draft", &key),
            record_key("u2", "create-draft", &key)
        );
    }

    fn json_answer(status: StatusCode) -> Result<ApiResponse, ApiError> {
        ApiResponse::json(status, &json!({ "id": "d1" }))
    }

    #[test]
    fn final_answers_are_stored_and_failures_a_retry_may_fix_are_released() {
        for status in [StatusCode::OK, StatusCode::CREATED, StatusCode::NOT_FOUND] {
            assert_eq!(
                settlement(&json_answer(status)),
                Settlement::Store,
                "{status}"
            );
        }
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert_eq!(
                settlement(&json_answer(status)),
                Settlement::Release,
                "{status}"
            );
        }
        for code in [
            ErrorCode::MalformedRequest,
            ErrorCode::DraftInvalid,
            ErrorCode::DraftVersionConflict,
        ] {
            assert_eq!(
                settlement(&Err(ApiError::new(code))),
                Settlement::Store,
                "{code:?}"
            );
        }
        for code in [
            ErrorCode::Internal,
            ErrorCode::RecordsUnavailable,
            ErrorCode::NetworkMismatch,
            ErrorCode::RateLimitExceeded,
            ErrorCode::ChainTimeout,
        ] {
            assert_eq!(
                settlement(&Err(ApiError::new(code))),
                Settlement::Release,
                "{code:?}"
            );
        }
    }

    #[test]
    fn stored_answers_replay_status_headers_and_body() {
        let mut created = ApiResponse::json(StatusCode::CREATED, &json!({ "id": "d1" })).unwrap();
        created
            .headers
            .insert(header::ETAG, HeaderValue::from_static("\"1\""));
        created
            .headers
            .insert(header::LOCATION, HeaderValue::from_static("/v1/drafts/d1"));
        created
            .headers
            .insert("x-private", HeaderValue::from_static("not replayed"));
        let replayed = replay(&stored_answer(&Ok(created), "req-1")).unwrap();
        assert_eq!(replayed.status, StatusCode::CREATED);
        assert_eq!(replayed.headers[header::ETAG], "\"1\"");
        assert_eq!(replayed.headers[header::LOCATION], "/v1/drafts/d1");
        assert_eq!(replayed.headers[REPLAYED_HEADER], "true");
        assert!(replayed.headers.get("x-private").is_none());
        assert!(
            matches!(replayed.body, ResponseBody::Json(ref body) if body == &json!({ "id": "d1" }))
        );

        let bytes = ApiResponse::bytes(StatusCode::OK, "application/pdf", vec![0, 159, 255]);
        let replayed = replay(&stored_answer(&Ok(bytes), "req-1")).unwrap();
        assert!(matches!(
            replayed.body,
            ResponseBody::Bytes { ref content_type, ref bytes }
                if content_type == "application/pdf" && bytes == &[0, 159, 255]
        ));

        let error = ApiError::malformed("body", "a draft is a JSON object");
        let replayed = replay(&stored_answer(&Err(error.clone()), "req-1")).unwrap();
        assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
        assert!(
            matches!(replayed.body, ResponseBody::Json(ref body) if body == &error.body("req-1"))
        );

        assert!(replay(&json!({ "status": 99, "headers": {}, "body": { "json": 1 } })).is_none());
    }

    fn store() -> (SqliteRecords, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRecords::open(&dir.path().join("records.sqlite3")).unwrap();
        (store, dir)
    }

    fn key() -> RecordKey {
        record_key("u1", "create-draft", &IdempotencyKey::parse("k").unwrap())
    }

    async fn won(store: &SqliteRecords, hash: &str, now: i64) -> Lease {
        match claim(store, key(), hash, now).await {
            Ok(Claim::Run(lease)) => lease,
            other => panic!("expected to run, got {other:?}"),
        }
    }

    fn refused(claimed: Result<Claim, ApiError>) -> ApiError {
        match claimed {
            Err(error) => error,
            Ok(claim) => panic!("expected a refusal, got {claim:?}"),
        }
    }

    #[tokio::test]
    async fn a_completed_key_replays_and_refuses_another_request() {
        let (store, _dir) = store();
        let now = now_unix();
        let lease = won(&store, "h1", now).await;

        let busy = refused(claim(&store, key(), "h1", now + 10).await);
        assert_eq!(busy.code, ErrorCode::IdempotencyKeyInProgress);
        assert_eq!(
            busy.details,
            Some(json!({ "retry_after_s": IN_PROGRESS_LEASE_S - 10 }))
        );
        let late = refused(claim(&store, key(), "h1", now + IN_PROGRESS_LEASE_S - 1).await);
        assert_eq!(late.details, Some(json!({ "retry_after_s": 1 })));
        let other = refused(claim(&store, key(), "h2", now).await);
        assert_eq!(other.code, ErrorCode::IdempotencyKeyMismatch);

        lease
            .settle(&store, &json_answer(StatusCode::CREATED), "req-1", now)
            .await;
        let Ok(Claim::Replay(replayed)) = claim(&store, key(), "h1", now).await else {
            panic!("expected a replay");
        };
        assert_eq!(replayed.status, StatusCode::CREATED);
        assert_eq!(replayed.headers[REPLAYED_HEADER], "true");
        let stored = store.get(&key()).await.unwrap().unwrap();
        assert_eq!(stored.state.as_deref(), Some(STATUS_COMPLETED));
        assert_eq!(stored.expires_at, Some(now + COMPLETED_RETENTION_S));
        let other = refused(claim(&store, key(), "h2", now).await);
        assert_eq!(other.code, ErrorCode::IdempotencyKeyMismatch);
    }

    #[tokio::test]
    async fn a_failure_a_retry_may_fix_releases_the_key() {
        let (store, _dir) = store();
        let now = now_unix();
        let lease = won(&store, "h1", now).await;
        let failure = Err(ApiError::new(ErrorCode::RecordsUnavailable));
        lease.settle(&store, &failure, "req-1", now).await;
        assert_eq!(store.get(&key()).await.unwrap(), None);
        // The retry runs, even with another request under the key.
        won(&store, "h2", now).await;
    }

    #[tokio::test]
    async fn a_lapsed_lease_is_taken_over_and_its_late_answer_is_not_stored() {
        let (store, _dir) = store();
        let now = now_unix();
        let crashed = won(&store, "h1", now - IN_PROGRESS_LEASE_S).await;
        let successor = won(&store, "h1", now).await;
        // The first attempt answers after all: it must not overwrite the successor's record.
        crashed
            .settle(&store, &json_answer(StatusCode::CREATED), "req-1", now)
            .await;
        let busy = refused(claim(&store, key(), "h1", now).await);
        assert_eq!(busy.code, ErrorCode::IdempotencyKeyInProgress);
        successor
            .settle(&store, &json_answer(StatusCode::CREATED), "req-2", now)
            .await;
        assert!(matches!(
            claim(&store, key(), "h1", now).await,
            Ok(Claim::Replay(_))
        ));
    }
}
