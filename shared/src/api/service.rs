//! The router: turns any subset of the route table into one tower service (axum), which
//! lambda_http runs as a Lambda function and the local server runs on a socket.
//!
//! Every request gets a request id (API Gateway's when there is one) that is on every log
//! line of the request, in the `X-Request-Id` header and in every error body. After
//! authentication, routes that take an `Idempotency-Key` go through
//! [`super::idempotency::guard`], so handlers never see keys.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Request};
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
use super::routes::{Auth, Route};
use crate::app::App;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// What a handler sees of a request.
#[derive(Debug)]
pub struct ApiRequest {
    pub request_id: String,
    pub path_params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The signed-in user, on routes that require one (set by the router).
    pub user_id: Option<String>,
}

impl ApiRequest {
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

/// One service over `routes`, with JSON 404 and 405 answers for everything else.
pub fn router(app: App, routes: impl IntoIterator<Item = &'static Route>) -> axum::Router {
    // Group by path: axum wants one method router per path.
    let mut by_path: Vec<(&'static str, MethodRouter)> = Vec::new();
    for route in routes {
        let app = app.clone();
        let filter = method_filter(&route.method);
        let handler = move |Path(params): Path<HashMap<String, String>>, request: Request| {
            serve(app, route, params, request)
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
    route: &'static Route,
    path_params: HashMap<String, String>,
    request: Request,
) -> Response {
    let request_id = request_id_of(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        route = route.id,
        method = %route.method,
        user_id = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let answer = match to_api_request(request_id.clone(), path_params, request).await {
            Ok(mut api_request) => match authenticate(&app, route, &mut api_request).await {
                Ok(()) => super::idempotency::guard(app, route, api_request).await,
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let response = match answer {
            Ok(answer) => to_response(&request_id, answer),
            Err(error) => error_response(&request_id, &error),
        };
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request completed"
        );
        response
    }
    .instrument(span)
    .await
}

/// On [`Auth::User`] routes, require a valid `Authorization: Bearer` access token.
async fn authenticate(app: &App, route: &Route, request: &mut ApiRequest) -> Result<(), ApiError> {
    if route.auth == Auth::Public {
        return Ok(());
    }
    let token = request
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    let user_id = crate::accounts::service::authenticate(app, token).await?;
    tracing::Span::current().record("user_id", user_id.as_str());
    request.user_id = Some(user_id);
    Ok(())
}

async fn to_api_request(
    request_id: String,
    path_params: HashMap<String, String>,
    request: Request,
) -> Result<ApiRequest, ApiError> {
    let query = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))?;
    Ok(ApiRequest {
        request_id,
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
