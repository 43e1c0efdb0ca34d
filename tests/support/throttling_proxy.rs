//! An HTTP proxy in front of the emulator's DynamoDB that can answer requests with
//! DynamoDB's throttling error instead of passing them on, so a test sees the real SDK retry
//! and the real adapter's error mapping, not a mock. It counts what it refused and passed.
//!
//! Point one client at it (a per-service endpoint), never the whole process: the other
//! services keep talking to the emulator directly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// DynamoDB's answer when a table or account is over its request rate.
pub const THROTTLING_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#;
/// The content type of DynamoDB's JSON protocol.
const AMZ_JSON: &str = "application/x-amz-json-1.0";
/// "Throttle every request from now on".
const ALWAYS: u64 = u64::MAX;

#[derive(Debug)]
pub struct ThrottlingProxy {
    pub address: SocketAddr,
    state: Arc<Shared>,
    server: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    /// Requests still to let through before throttling starts.
    pass_first: AtomicU64,
    /// Requests to throttle once `pass_first` is used up ([`ALWAYS`]: every one).
    throttle: AtomicU64,
    refused: AtomicU64,
    passed: AtomicU64,
}

impl ThrottlingProxy {
    /// Forward HTTP requests to `upstream` (host:port); nothing is throttled until asked.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(Shared {
            upstream: format!("http://{upstream}"),
            client: reqwest::Client::new(),
            pass_first: AtomicU64::new(0),
            throttle: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            passed: AtomicU64::new(0),
        });
        let service = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Ok(Self {
            address,
            state,
            server,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Throttle the next `count` requests, then pass requests on again.
    pub fn throttle_next(&self, count: u64) {
        self.throttle_after(0, count);
    }

    /// Throttle every request from now on, until [`Self::stop_throttling`].
    pub fn throttle_all(&self) {
        self.throttle_after(0, ALWAYS);
    }

    /// Let the next `pass` requests through, then throttle `count` of them ([`u64::MAX`]:
    /// all), to fail a request in the middle of its writes.
    pub fn throttle_after(&self, pass: u64, count: u64) {
        self.state.throttle.store(count, Ordering::SeqCst);
        self.state.pass_first.store(pass, Ordering::SeqCst);
    }

    pub fn stop_throttling(&self) {
        self.state.pass_first.store(0, Ordering::SeqCst);
        self.state.throttle.store(0, Ordering::SeqCst);
    }

    /// Requests answered with the throttling error so far.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// Requests passed on to the upstream so far.
    pub fn passed(&self) -> u64 {
        self.state.passed.load(Ordering::SeqCst)
    }
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Decrement `counter` unless it is zero (or [`ALWAYS`], which stays); whether it was above
/// zero.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
            0 => None,
            ALWAYS => Some(ALWAYS),
            left => Some(left - 1),
        })
        .is_ok()
}

async fn forward(State(state): State<Arc<Shared>>, request: Request) -> Response {
    if !take_one(&state.pass_first) && take_one(&state.throttle) {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, AMZ_JSON)],
            THROTTLING_BODY,
        )
            .into_response();
    }
    state.passed.fetch_add(1, Ordering::SeqCst);
    match pass_on(&state, request).await {
        Ok(response) => response,
        // The emulator itself failed: the client sees a gateway error, as behind a real proxy.
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Hop-by-hop headers, which belong to one connection and are not forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

async fn pass_on(state: &Shared, request: Request) -> anyhow::Result<Response> {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let mut upstream = state
        .client
        .request(parts.method, format!("{}{path}", state.upstream))
        .body(body);
    // The Host header goes along unchanged: it is part of the request's SigV4 signature.
    for (name, value) in parts.headers.iter().filter(|(name, _)| !hop_by_hop(name)) {
        upstream = upstream.header(name, value);
    }
    let answer = upstream.send().await?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer
        .headers()
        .iter()
        .filter(|(name, _)| !hop_by_hop(name))
    {
        response = response.header(name, value);
    }
    Ok(response.body(Body::from(answer.bytes().await?))?)
}
