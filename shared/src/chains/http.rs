//! The HTTP layer of the chain node clients (algod's REST API, EVM JSON-RPC): one connection
//! pool per node, each request with a timeout and a size limit, and retries of transient
//! failures only.
//!
//! - HTTP/1.1 through hyper and HTTPS through rustls on the AWS-LC provider, trusting the
//!   system's root certificates: the stack the AWS SDK already links, so no second crypto
//!   library and no new crate. (reqwest's rustls backends either bring `ring` or, without a
//!   built-in provider, make every other `reqwest::Client::new()` in the process panic.)
//! - Every request has a connect timeout (3 s) and a request timeout (10 s) and is retried with
//!   exponential backoff and jitter (3 attempts in all) on transient failures: refused or reset
//!   connections, timeouts, 5xx and 429 (honouring `Retry-After`). Any other answer, a 4xx
//!   included, is returned for the client to read: asking again would get the same.
//! - Errors and logs name the network and the operation, never the URL: EVM providers put API
//!   keys in it.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER, USER_AGENT as USER_AGENT_HEADER};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use url::Url;

use crate::chains::error::ChainError;

/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per call, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The largest answer read: the nodes' answers this project asks for are kilobytes (the
/// largest, an algod application with its programs, holds 8 KiB of code at most).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// How long an unused connection is kept for the next call.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest node message kept in an error.
const MAX_MESSAGE_CHARS: usize = 1_000;
const USER_AGENT: &str = concat!("walletless/", env!("CARGO_PKG_VERSION"));

type HttpClient = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// When and how often a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 never retries.
    pub attempts: u32,
    /// The wait after the first failure; each further wait doubles, up to `max_delay`.
    pub initial_delay: Duration,
    /// The longest wait, also the most of a server's `Retry-After` that is honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_ATTEMPTS,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// This policy with one attempt: for live probes, and for requests that must not be sent
    /// twice (each would be a new payment).
    pub(crate) fn single(self) -> Self {
        Self {
            attempts: 1,
            ..self
        }
    }

    /// The wait after failed attempt `attempt` (from 1): the exponential step, jittered into
    /// its upper half so that clients failing together do not retry together, or the
    /// server's `Retry-After` (capped) when that is longer.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let step = self
            .initial_delay
            .saturating_mul(doubling)
            .min(self.max_delay);
        let half = step / 2;
        let backoff = half + half.mul_f64(rand::random::<f64>());
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.max_delay)),
            None => backoff,
        }
    }
}

/// Timeouts and retries of a client; the defaults are the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// One node's connection pool, with the network that errors and logs name and the client's
/// timeouts and retries. Clones share the pool. Holds no URL: each request brings its own.
#[derive(Debug, Clone)]
pub(crate) struct NodeHttp {
    client: HttpClient,
    network: String,
    /// What the retry log calls the client ("algod", "EVM JSON-RPC").
    service: &'static str,
    options: ClientOptions,
}

/// A request, built again for each attempt.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a Url,
    pub(crate) body: Option<Body>,
    /// The media type asked for in return, if any.
    pub(crate) accept: Option<&'static str>,
    /// Any other headers (webhook signatures).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Every status is an answer to return, 5xx and 429 included (a webhook receiver's
    /// status is what the delivery log records), rather than a failure to retry.
    pub(crate) any_status: bool,
}

/// A request's body and its media type.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Bytes,
}

/// An answer of the node that asking again would not change (2xx, 4xx and the like).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// Why one attempt did not get a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// No connection: refused, no route, DNS, TLS handshake, connect timeout.
    Connect(String),
    /// No answer in time.
    Timeout,
    /// The connection broke while the request or answer was under way.
    Transport(String),
    /// An answer with this status.
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request could not be built, or the answer is too large: retrying changes nothing.
    Invalid(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(reason) => write!(f, "cannot connect: {reason}"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Transport(reason) => write!(f, "connection failed: {reason}"),
            Failure::Status {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
            Failure::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl Failure {
    /// The retry classifier: network trouble and the node's own trouble (5xx) or load (429)
    /// may pass; any other answer would be the same again.
    fn is_transient(&self) -> bool {
        match self {
            Failure::Connect(_) | Failure::Timeout | Failure::Transport(_) => true,
            Failure::Status { status, .. } => is_transient_status(*status),
            Failure::Invalid(_) => false,
        }
    }
}

fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

impl NodeHttp {
    /// The pool of a node of `network`, connecting within `options.connect_timeout`.
    pub(crate) fn new(
        network: &str,
        service: &'static str,
        options: ClientOptions,
    ) -> Result<Self, ChainError> {
        let tls = tls_config().map_err(|reason| ChainError::Malformed {
            network: network.to_string(),
            reason,
        })?;
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(options.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .build(connector);
        Ok(Self {
            client,
            network: network.to_string(),
            service,
            options,
        })
    }

    /// The registry id of the network the node serves.
    pub(crate) fn network(&self) -> &str {
        &self.network
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub(crate) fn malformed(&self, reason: String) -> ChainError {
        ChainError::Malformed {
            network: self.network.clone(),
            reason,
        }
    }

    /// Sends `request`, each attempt within `timeout`, again after each transient failure
    /// while `retry` allows; any other answer (2xx or 4xx) is returned for the caller to read.
    /// `operation` names the request in errors and logs.
    pub(crate) async fn send(
        &self,
        request: &Outgoing<'_>,
        operation: &str,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Reply, ChainError> {
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(request, timeout).await {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            if !failure.is_transient() || attempt >= retry.attempts {
                return Err(self.give_up(failure, operation));
            }
            let retry_after = match &failure {
                Failure::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = retry.delay(attempt, retry_after);
            tracing::warn!(
                network = %self.network,
                operation,
                attempt,
                failure = %failure,
                delay_ms = delay.as_millis() as u64,
                "{} call failed; retrying",
                self.service
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One exchange; a transient status is a failure, to be retried.
    async fn attempt(&self, outgoing: &Outgoing<'_>, timeout: Duration) -> Result<Reply, Failure> {
        let mut request = Request::builder()
            .method(outgoing.method.clone())
            .uri(outgoing.url.as_str())
            .header(USER_AGENT_HEADER, USER_AGENT);
        let mut bytes = Bytes::new();
        if let Some(body) = &outgoing.body {
            request = request.header(CONTENT_TYPE, body.content_type);
            bytes = body.bytes.clone();
        }
        if let Some(accept) = outgoing.accept {
            request = request.header(ACCEPT, accept);
        }
        for (name, value) in &outgoing.headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(bytes))
            .map_err(|error| Failure::Invalid(format!("cannot build the request: {error}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|error| {
                if error.is_connect() {
                    Failure::Connect(error_chain(&error))
                } else {
                    Failure::Transport(error_chain(&error))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| {
                    if error.is::<LengthLimitError>() {
                        Failure::Invalid(format!("an answer over {MAX_ANSWER_BYTES} bytes"))
                    } else {
                        Failure::Transport(error_chain(error.as_ref()))
                    }
                })?
                .to_bytes();
            if is_transient_status(parts.status) && !outgoing.any_status {
                return Err(Failure::Status {
                    status: parts.status,
                    message: node_message(&body),
                    retry_after: retry_after(&parts.headers),
                });
            }
            Ok(Reply {
                status: parts.status,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    /// The error of a request that failed for good: a timeout, an unreachable node (what may
    /// pass, so the caller may try again later), or an answer that is no use.
    fn give_up(&self, failure: Failure, operation: &str) -> ChainError {
        let network = self.network.clone();
        match failure {
            Failure::Timeout => ChainError::Timeout {
                network,
                operation: operation.to_string(),
            },
            failure if failure.is_transient() => ChainError::NetworkUnreachable {
                network,
                reason: format!("{operation}: {failure}"),
            },
            failure => ChainError::Malformed {
                network,
                reason: format!("{operation}: {failure}"),
            },
        }
    }
}

/// An error and its causes, which is where hyper keeps the useful part ("Connection
/// refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the nodes or their proxies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A node's error text: the `message` of a JSON body (algod's errors, many gateways'), or the
/// body itself, shortened.
pub(crate) fn node_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => error.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    shortened(message)
}

/// A node's message cut to [`MAX_MESSAGE_CHARS`] (algod's may dump whole transactions).
pub(crate) fn shortened(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// rustls on AWS-LC with the system's roots, built once per process.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Result<rustls::ClientConfig, String> {
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "cannot load a system root certificate");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system root certificates: https node endpoints will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // ALPN stays empty: the connector sets it from the protocols it enables (HTTP/1.1).
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS configuration: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// What the clients' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::Duration;

    use super::{ClientOptions, RetryPolicy};

    /// Fast retries and a short timeout, so that scripted trouble takes milliseconds.
    pub(crate) fn quick_options() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(300),
            retry: RetryPolicy {
                attempts: 3,
                initial_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::testing::quick_options;
    use super::*;

    #[test]
    fn retry_classifier_retries_network_trouble_5xx_and_429_only() {
        for transient in [
            Failure::Connect("refused".into()),
            Failure::Timeout,
            Failure::Transport("reset".into()),
        ] {
            assert!(transient.is_transient(), "{transient}");
        }
        let status = |code: u16| Failure::Status {
            status: StatusCode::from_u16(code).unwrap(),
            message: String::new(),
            retry_after: None,
        };
        for code in [500, 502, 503, 504, 429] {
            assert!(status(code).is_transient(), "{code}");
        }
        for code in [200, 201, 400, 401, 403, 404, 405, 409, 413, 422] {
            assert!(!status(code).is_transient(), "{code}");
        }
        assert!(!Failure::Invalid("an answer over 4 MiB".into()).is_transient());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let second = policy.delay(2, None);
            assert!((100..=200).contains(&second.as_millis()), "{second:?}");
            let capped = policy.delay(4, None);
            assert!((175..=350).contains(&capped.as_millis()), "{capped:?}");
            assert!(policy.delay(u32::MAX, None) <= policy.max_delay);
        }
        let asked = policy.delay(1, Some(Duration::from_millis(300)));
        assert_eq!(asked, Duration::from_millis(300));
        let too_long = policy.delay(1, Some(Duration::from_secs(60)));
        assert_eq!(too_long, policy.max_delay);
        assert_eq!(
            policy.single(),
            RetryPolicy {
                attempts: 1,
                ..policy
            }
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn node_messages_are_read_from_json_or_text_and_shortened() {
        assert_eq!(
            node_message(br#"{"message":"overspend","data":{}}"#),
            "overspend"
        );
        assert_eq!(node_message(b" Bad Gateway \n"), "Bad Gateway");
        let long = "é".repeat(MAX_MESSAGE_CHARS + 5);
        let shortened = node_message(long.as_bytes());
        assert_eq!(shortened.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(shortened.ends_with('…'));
    }

    #[test]
    fn the_tls_configuration_builds_on_aws_lc() {
        let config = tls_config().unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert!(
            config
                .crypto_provider()
                .cipher_suites
                .iter()
                .any(|suite| suite.version() == &rustls::version::TLS13)
        );
    }

    #[test]
    fn failures_become_unreachable_timeouts_or_malformed() {
        let node = NodeHttp::new("test-net", "test", ClientOptions::default()).unwrap();
        assert_eq!(
            node.give_up(Failure::Timeout, "eth_chainId"),
            ChainError::Timeout {
                network: "test-net".into(),
                operation: "eth_chainId".into()
            }
        );
        assert_eq!(
            node.give_up(Failure::Connect("refused".into()), "GET /versions"),
            ChainError::NetworkUnreachable {
                network: "test-net".into(),
                reason: "GET /versions: cannot connect: refused".into()
            }
        );
        let unavailable = Failure::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "busy".into(),
            retry_after: None,
        };
        assert_eq!(
            node.give_up(unavailable, "eth_call"),
            ChainError::NetworkUnreachable {
                network: "test-net".into(),
                reason: "eth_call: HTTP 503 Service Unavailable: busy".into()
            }
        );
        assert_eq!(
            node.give_up(Failure::Invalid("too large".into()), "eth_call"),
            ChainError::Malformed {
                network: "test-net".into(),
                reason: "eth_call: too large".into()
            }
        );
    }

    /// A node on loopback that answers its n-th request (from 0) with `script(n)`: the raw
    /// HTTP answer, or `None` to never answer. Returns the URL, the request count and the
    /// heads of the requests.
    async fn serve(
        script: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> (Url, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/path", listener.local_addr().unwrap())).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (counter, log) = (count.clone(), heads.clone());
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (script, log) = (script.clone(), log.clone());
                tokio::spawn(async move {
                    let mut received = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => received.extend_from_slice(&chunk[..read]),
                        }
                    }
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&received).into_owned());
                    match script(n) {
                        Some(answer) => {
                            let _ = stream.write_all(&answer).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        (url, count, heads)
    }

    fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut answer = format!(
            "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(body);
        answer
    }

    fn get(url: &Url) -> Outgoing<'_> {
        Outgoing {
            method: Method::GET,
            url,
            body: None,
            accept: None,
            headers: Vec::new(),
            any_status: false,
        }
    }

    #[tokio::test]
    async fn transient_answers_are_retried_after_the_asked_delay_and_others_returned() {
        let (url, count, heads) = serve(|n| match n {
            0 => Some(answer(
                "503 Service Unavailable",
                "retry-after: 1\r\n",
                b"busy",
            )),
            1 => Some(answer(
                "404 Not Found",
                "",
                b"{\"message\":\"no such app\"}",
            )),
            _ => Some(answer("200 OK", "", b"late")),
        })
        .await;
        let node = NodeHttp::new("test-net", "test", quick_options()).unwrap();
        let options = *node.options();
        let started = Instant::now();
        let reply = node
            .send(
                &get(&url),
                "GET /path",
                options.retry,
                options.request_timeout,
            )
            .await
            .unwrap();
        // Retry-After: 1 s, capped at the policy's 20 ms, is longer than the 5 ms backoff.
        assert!(started.elapsed() >= options.retry.max_delay);
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "a 4xx is an answer");
        assert_eq!(node_message(&reply.body), "no such app");
        assert_eq!(count.load(Ordering::SeqCst), 2);
        let head = heads.lock().unwrap()[0].to_lowercase();
        assert!(head.starts_with("get /path http/1.1"), "{head}");
        assert!(head.contains("user-agent: walletless/"), "{head}");
        assert!(!head.contains("content-type"), "{head}");
    }

    #[tokio::test]
    async fn bodies_go_with_their_media_types_and_a_single_attempt_is_not_retried() {
        let (url, count, heads) = serve(|_| Some(answer("502 Bad Gateway", "", b"down"))).await;
        let node = NodeHttp::new("test-net", "test", quick_options()).unwrap();
        let request = Outgoing {
            method: Method::POST,
            url: &url,
            body: Some(Body {
                content_type: "application/json",
                bytes: Bytes::from_static(b"{}"),
            }),
            accept: Some("application/json"),
            headers: Vec::new(),
            any_status: false,
        };
        let options = *node.options();
        let error = node
            .send(
                &request,
                "eth_call",
                options.retry.single(),
                options.request_timeout,
            )
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ChainError::NetworkUnreachable {
                network: "test-net".into(),
                reason: "eth_call: HTTP 502 Bad Gateway: down".into()
            }
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let head = heads.lock().unwrap()[0].to_lowercase();
        assert!(head.starts_with("post /path http/1.1"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("accept: application/json"), "{head}");
    }

    #[tokio::test]
    async fn silent_nodes_time_out_and_huge_answers_are_refused_without_retry() {
        let (silent, count, _) = serve(|_| None).await;
        let node = NodeHttp::new("test-net", "test", quick_options()).unwrap();
        let options = *node.options();
        let error = node
            .send(
                &get(&silent),
                "GET /path",
                options.retry,
                options.request_timeout,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, ChainError::Timeout { .. }), "{error:?}");
        assert_eq!(count.load(Ordering::SeqCst), 3);

        let huge = vec![b'x'; MAX_ANSWER_BYTES + 1];
        let (url, count, _) = serve(move |_| Some(answer("200 OK", "", &huge))).await;
        let error = node
            .send(
                &get(&url),
                "GET /path",
                options.retry,
                Duration::from_secs(10),
            )
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ChainError::Malformed {
                network: "test-net".into(),
                reason: format!("GET /path: an answer over {MAX_ANSWER_BYTES} bytes")
            }
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}

/// Clients whose node has passed its first-contact check, by the network's whole
/// configuration: every later step reuses the client (and its connection pool) instead of
/// checking the node again. A failed connect is never kept.
pub(crate) type ConnectedClients<C> = std::sync::Mutex<std::collections::HashMap<String, C>>;

/// The cached client of `network`, or a new one from `connect` (then cached).
pub(crate) async fn connect_once<C, F, Fut>(
    clients: &'static OnceLock<ConnectedClients<C>>,
    network: &crate::networks::Network,
    connect: F,
) -> Result<C, ChainError>
where
    C: Clone,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<C, ChainError>>,
{
    let clients = clients.get_or_init(ConnectedClients::default);
    let key = format!("{network:?}");
    let cached = clients
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
        .cloned();
    if let Some(client) = cached {
        return Ok(client);
    }
    let client = connect().await?;
    clients
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(key, client.clone());
    Ok(client)
}
