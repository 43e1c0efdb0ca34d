//! The router: turns any subset of the route table into one tower service (axum), which
//! lambda_http runs as a Lambda function and the local server runs on a socket.
//!
//! Every request gets a request id (API Gateway's when there is one) that is on every log
//! line of the request, in the `X-Request-Id` header and in every error body. After
//! authentication the request spends one of its rate limit ([`super::rate_limit`]: per user,
//! or per source address when there is no user), then routes that take an `Idempotency-Key`
//! go through [`super::idempotency::guard`], so handlers never see keys.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use lambda_http::RequestExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use super::errors::{ApiError, ErrorCode};
use super::rate_limit::{Decision, RateLimiter, Subject};
use super::routes::{Auth, Route};
use crate::app::App;
use crate::config::RateLimits;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Ties the requests and later steps of one operation together (audit events, logs); taken
/// from the caller when it sends a usable one, else the request id.
pub const CORRELATION_ID_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");
/// Longest correlation id taken from a caller.
pub const MAX_CORRELATION_ID_LEN: usize = 128;

/// What a handler sees of a request.
#[derive(Debug)]
pub struct ApiRequest {
    pub request_id: String,
    pub correlation_id: String,
    pub path_params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The signed-in user, on routes that require one (set by the router).
    pub user_id: Option<String>,
}

impl ApiRequest {
    /// Who the audit trail names for this request: the signed-in user, with the request and
    /// correlation ids.
    pub fn origin(&self) -> Result<crate::audit::Origin, ApiError> {
        Ok(crate::audit::Origin::user(self.user()?)
            .in_request(&self.request_id, &self.correlation_id))
    }

    /// The request and correlation ids for the audit trail of a public route (registration,
    /// sign-in): the actor is named once the user is known.
    pub fn anonymous_origin(&self) -> crate::audit::Origin {
        crate::audit::Origin::anonymous().in_request(&self.request_id, &self.correlation_id)
    }

    /// The signed-in user's id (routes with [`Auth::User`] always have one).
    pub fn user(&self) -> Result<&str, ApiError> {
        self.user_id
            .as_deref()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))
    }

    /// A path parameter the route declares.
    pub fn path_param(&self, name: &str) -> Result<&str, ApiError> {
        self.path_params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::malformed(name, "missing path parameter"))
    }

    /// The body as JSON of type `T`; a 400 names the field that is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::malformed("body", "a JSON body is required"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::malformed(&field, error.into_inner().to_string())
        })
    }
}

/// What a handler answers.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ResponseBody,
}

/// A JSON document, or exact bytes (content that must not be re-serialised, such as ARC-3
/// metadata whose hash is on chain).
#[derive(Debug)]
pub enum ResponseBody {
    Json(Value),
    Bytes {
        content_type: HeaderValue,
        bytes: Vec<u8>,
    },
}

impl ApiResponse {
    pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_value(body).map_err(|e| {
            tracing::error!(error = %e, "response is not serialisable");
            ApiError::new(ErrorCode::Internal)
        })?;
        Ok(Self {
            status,
            headers: HeaderMap::new(),
            body: ResponseBody::Json(body),
        })
    }

    /// Exactly these bytes, with this content type.
    pub fn bytes(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: ResponseBody::Bytes {
                content_type: HeaderValue::from_str(content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                bytes,
            },
        }
    }

    pub fn ok(body: &impl Serialize) -> Result<Self, ApiError> {
        Self::json(StatusCode::OK, body)
    }
}

/// One service over `routes`, with JSON 404 and 405 answers for everything else, rate-limited
/// as `rate_limits` say (`Config::rate_limits` in a deployed process).
///
/// The caller's address for per-address limits is API Gateway's source IP under Lambda, else
/// the socket's peer: serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Requests with neither share one
/// budget. `X-Forwarded-For` is never read: any client can write it.
pub fn router(
    app: App,
    routes: impl IntoIterator<Item = &'static Route>,
    rate_limits: RateLimits,
) -> axum::Router {
    let limiter = RateLimiter::new(rate_limits);
    // Group by path: axum wants one method router per path.
    let mut by_path: Vec<(&'static str, MethodRouter)> = Vec::new();
    for route in routes {
        let app = app.clone();
        let filter = method_filter(&route.method);
        let handler = move |Path(params): Path<HashMap<String, String>>, request: Request| {
            serve(app, limiter, route, params, request)
        };
        match by_path.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, methods)) => {
                *methods = std::mem::take(methods).on(filter, handler);
            }
            None => by_path.push((route.path, on(filter, handler))),
        }
    }
    let mut router = axum::Router::new();
    for (path, methods) in by_path {
        router = router.route(
            path,
            methods.fallback(|request: Request| async move {
                error_response(
                    &request_id_of(&request),
                    &ApiError::new(ErrorCode::MethodNotAllowed),
                )
            }),
        );
    }
    router.fallback(|request: Request| async move {
        error_response(
            &request_id_of(&request),
            &ApiError::new(ErrorCode::RouteNotFound),
        )
    })
}

fn method_filter(method: &http::Method) -> MethodFilter {
    // The route table only uses the standard methods; anything else would be a typo there,
    // caught by the route table's tests, so GET is never silently substituted in practice.
    MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET)
}

async fn serve(
    app: App,
    limiter: RateLimiter,
    route: &'static Route,
    path_params: HashMap<String, String>,
    request: Request,
) -> Response {
    let request_id = request_id_of(&request);
    let source = source_address(&request);
    let correlation_id = correlation_id_of(&request).unwrap_or_else(|| request_id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        correlation_id = %correlation_id,
        route = route.id,
        method = %route.method,
        user_id = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let ids = (request_id.clone(), correlation_id.clone());
        let (parts, body) = request.into_parts();
        let user = authenticate(&app, route, &parts.headers).await;
        let subject = match &user {
            Ok(Some(user_id)) => Subject::User(user_id.clone()),
            _ => Subject::address(source),
        };
        let quota = spend_rate_limit(&app, limiter, route, &subject).await;
        let answer = match (quota, user) {
            (Some(decision), _) if !decision.admitted => Err(decision.exceeded()),
            (_, Err(error)) => Err(error),
            (_, Ok(user_id)) => match to_api_request(ids, path_params, parts, body).await {
                Ok(mut api_request) => {
                    api_request.user_id = user_id;
                    super::idempotency::guard(app, route, api_request).await
                }
                Err(error) => Err(error),
            },
        };
        let error_code = match &answer {
            Err(error) => Some(error.code.as_str()),
            // A replayed error answer (idempotency) is a response with the error's body.
            Ok(ApiResponse {
                status,
                body: ResponseBody::Json(body),
                ..
            }) if status.is_client_error() || status.is_server_error() => {
                body["error"]["code"].as_str().map(str::to_owned)
            }
            Ok(_) => None,
        };
        let mut response = match answer {
            Ok(answer) => to_response(&request_id, answer),
            Err(error) => error_response(&request_id, &error),
        };
        if let Some(decision) = quota {
            decision.write_headers(response.headers_mut());
        }
        if let Ok(value) = HeaderValue::from_str(&correlation_id) {
            response.headers_mut().insert(CORRELATION_ID_HEADER, value);
        }
        let latency = started.elapsed();
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = latency.as_millis() as u64,
            "request completed"
        );
        crate::metrics::record_request(
            route.id,
            response.status().as_u16(),
            error_code.as_deref(),
            latency,
            &request_id,
            &correlation_id,
        );
        response
    }
    .instrument(span)
    .await
}

/// Spend one request of `subject`'s budget on the route: `None` when limits are off or the
/// records store could not count it (the request then runs: see [`super::rate_limit`]).
async fn spend_rate_limit(
    app: &App,
    limiter: RateLimiter,
    route: &Route,
    subject: &Subject,
) -> Option<Decision> {
    match limiter.check(app.records(), route.id, subject).await {
        Ok(Some(decision)) => {
            if !decision.admitted {
                tracing::info!(
                    limit = decision.limit,
                    retry_after_s = decision.reset_seconds(),
                    per_user = matches!(subject, Subject::User(_)),
                    "rate limit exceeded"
                );
            }
            Some(decision)
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "rate limit not checked: the records store failed; the request proceeds");
            None
        }
    }
}

/// The caller's address: API Gateway's source IP under Lambda, else the socket's peer (the
/// local server). Never a header a client could write.
fn source_address<B>(request: &http::Request<B>) -> Option<IpAddr> {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
        return context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok());
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// On [`Auth::User`] routes, require a valid `Authorization: Bearer` access token: the
/// signed-in user's id (`None` on public routes).
async fn authenticate(
    app: &App,
    route: &Route,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    if route.auth == Auth::Public {
        return Ok(None);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    let user_id = crate::accounts::service::authenticate(app, token).await?;
    tracing::Span::current().record("user_id", user_id.as_str());
    Ok(Some(user_id))
}

async fn to_api_request(
    (request_id, correlation_id): (String, String),
    path_params: HashMap<String, String>,
    parts: http::request::Parts,
    body: Body,
) -> Result<ApiRequest, ApiError> {
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))?;
    Ok(ApiRequest {
        request_id,
        correlation_id,
        path_params,
        query,
        headers: parts.headers,
        body,
        user_id: None,
    })
}

/// API Gateway's request id when behind it (the one its logs and clients see), else the
/// Lambda invocation's, else a fresh ULID (local server).
fn request_id_of<B>(request: &http::Request<B>) -> String {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
        && let Some(id) = &context.request_id
    {
        return id.clone();
    }
    if let Some(context) = request.lambda_context_ref() {
        return context.request_id.clone();
    }
    ulid::Ulid::new().to_string()
}

/// The caller's `X-Correlation-Id` when it is 1 to 128 visible ASCII characters (it goes into
/// logs, headers and the audit trail verbatim); anything else is ignored.
fn correlation_id_of<B>(request: &http::Request<B>) -> Option<String> {
    let value = request
        .headers()
        .get(CORRELATION_ID_HEADER)?
        .to_str()
        .ok()?;
    let usable = !value.is_empty()
        && value.len() <= MAX_CORRELATION_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_owned())
}

fn to_response(request_id: &str, answer: ApiResponse) -> Response {
    let mut response = match answer.body {
        ResponseBody::Json(body) => (answer.status, axum::Json(body)).into_response(),
        ResponseBody::Bytes {
            content_type,
            bytes,
        } => (answer.status, [(header::CONTENT_TYPE, content_type)], bytes).into_response(),
    };
    response.headers_mut().extend(answer.headers);
    stamp(request_id, response)
}

fn error_response(request_id: &str, error: &ApiError) -> Response {
    if error.code.status().is_server_error() {
        tracing::warn!(code = %error.code.as_str(), message = %error.message, "request failed");
    }
    let mut response = (error.code.status(), axum::Json(error.body(request_id))).into_response();
    if error.code == ErrorCode::Unauthorized {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = error
        .details
        .as_ref()
        .and_then(|details| details["retry_after_s"].as_i64())
        && let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    stamp(request_id, response)
}

fn stamp(request_id: &str, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Feed one request through a router (tests, and the Lambda event tests).
pub async fn call(router: &axum::Router, request: http::Request<Body>) -> Response {
    use tower::ServiceExt;
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
