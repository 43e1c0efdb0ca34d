//! JSON-RPC 2.0 over HTTP(S) to one EVM node, on the chain clients' HTTP layer
//! (`chains/http.rs`: hyper, rustls on AWS-LC with the system roots, the timeouts and retry
//! policy of the algod client).
//!
//! Retries happen here, below the JSON-RPC layer, and only for transport trouble: refused or
//! reset connections, timeouts, HTTP 5xx and 429 (honouring `Retry-After`). An answer that
//! carries a JSON-RPC `error` is the node's verdict and is returned, never retried.
//!
//! The endpoint URL never appears in errors, logs or `Debug` output: providers put API keys in
//! it. Errors name the network and the JSON-RPC method instead.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::chains::error::ChainError;
use crate::chains::http::{
    Body, ClientOptions, NodeHttp, Outgoing, Reply, RetryPolicy, node_message,
};

/// The media type of the calls and of the answers asked for.
const JSON: &str = "application/json";

/// A JSON-RPC error answer: the node understood the call and refused it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct NodeError {
    pub code: i64,
    pub message: String,
    /// Revert data and other details, in each node's own shape.
    #[serde(default)]
    pub data: Option<Value>,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// Why a call has no result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallError {
    /// The node's answer was a JSON-RPC error; what it means depends on the call.
    Node(NodeError),
    /// No usable answer: unreachable, timed out, or not understood.
    Chain(ChainError),
}

impl From<ChainError> for CallError {
    fn from(error: ChainError) -> Self {
        CallError::Chain(error)
    }
}

/// The JSON-RPC endpoint of one network. Clones share the connection pool and the id counter.
#[derive(Clone)]
pub(crate) struct RpcTransport {
    /// The pool, the network id and the timeouts and retries.
    http: NodeHttp,
    url: Url,
    next_id: Arc<AtomicU64>,
}

impl fmt::Debug for RpcTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The host only: the path and query may hold an API key.
        f.debug_struct("RpcTransport")
            .field("network", &self.http.network())
            .field("host", &self.url.host_str().unwrap_or_default())
            .field("options", self.http.options())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Envelope<'a, P> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: P,
}

#[derive(Deserialize)]
struct Answer {
    /// Absent and `null` both read as `Value::Null`.
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<NodeError>,
}

impl RpcTransport {
    pub(crate) fn new(network: &str, url: Url, options: ClientOptions) -> Result<Self, ChainError> {
        Ok(Self {
            http: NodeHttp::new(network, "EVM JSON-RPC", options)?,
            url,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The policy [`Self::call`] retries with, for callers that retry a call themselves.
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.http.options().retry
    }

    /// Calls `method` with the client's retry policy.
    pub(crate) async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, CallError> {
        self.call_with(method, params, self.retry_policy()).await
    }

    /// Calls `method` once, without retrying: for live probes.
    pub(crate) async fn call_once<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, CallError> {
        self.call_with(method, params, self.retry_policy().single())
            .await
    }

    async fn call_with<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
        retry: RetryPolicy,
    ) -> Result<R, CallError> {
        let envelope = Envelope {
            jsonrpc: "2.0",
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            method,
            params,
        };
        let body = serde_json::to_vec(&envelope).map_err(|error| {
            self.malformed(format!("{method}: cannot encode the call: {error}"))
        })?;
        let request = Outgoing {
            method: Method::POST,
            url: &self.url,
            body: Some(Body {
                content_type: JSON,
                bytes: Bytes::from(body),
            }),
            accept: Some(JSON),
            headers: Vec::new(),
            any_status: false,
        };
        let timeout = self.http.options().request_timeout;
        let reply = self.http.send(&request, method, retry, timeout).await?;
        let answer =
            parse_answer(&reply).map_err(|reason| self.malformed(format!("{method}: {reason}")))?;
        if let Some(error) = answer.error {
            return Err(CallError::Node(NodeError {
                message: node_message(error.message.as_bytes()),
                ..error
            }));
        }
        serde_json::from_value(answer.result)
            .map_err(|error| CallError::Chain(self.malformed(format!("{method}: {error}"))))
    }

    pub(crate) fn malformed(&self, reason: String) -> ChainError {
        self.http.malformed(reason)
    }
}

/// The JSON-RPC answer in a reply. A 2xx must hold one; a 4xx may (some nodes and gateways
/// send JSON-RPC errors with HTTP 400), else it is reported with its status.
fn parse_answer(reply: &Reply) -> Result<Answer, String> {
    match serde_json::from_slice::<Answer>(&reply.body) {
        Ok(answer) if reply.status.is_success() || answer.error.is_some() => Ok(answer),
        Ok(_) => Err(format!(
            "HTTP {}: {}",
            reply.status,
            node_message(&reply.body)
        )),
        Err(error) if reply.status.is_success() => Err(format!("not a JSON-RPC answer: {error}")),
        Err(_) => Err(format!(
            "HTTP {}: {}",
            reply.status,
            node_message(&reply.body)
        )),
    }
}

/// A JSON-RPC node on loopback that answers as a test scripts it.
#[cfg(test)]
pub(crate) mod mock {
    use std::sync::Mutex;

    use serde_json::Value;
    use tokio::net::{TcpListener, TcpStream};
    use url::Url;

    pub(crate) use crate::chains::http::testing::quick_options;

    /// An answer: an HTTP status and body, or `None` to never answer.
    pub(crate) type Scripted = Option<(u16, String)>;

    /// The script: the request and how many earlier requests had its method.
    pub(crate) type Script = dyn Fn(&Value, usize) -> Scripted + Send + Sync;

    pub(crate) struct MockNode {
        pub url: Url,
        requests: std::sync::Arc<Mutex<Vec<Value>>>,
    }

    impl MockNode {
        /// How many requests called `method`.
        pub(crate) fn calls(&self, method: &str) -> usize {
            let requests = self.requests.lock().unwrap();
            requests.iter().filter(|r| r["method"] == method).count()
        }
    }

    /// A JSON-RPC result answer to `request`.
    pub(crate) fn result(request: &Value, result: Value) -> Scripted {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": request["id"], "result": result});
        Some((200, body.to_string()))
    }

    /// A JSON-RPC error answer to `request`.
    pub(crate) fn error(request: &Value, code: i64, message: &str) -> Scripted {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": request["id"],
            "error": {"code": code, "message": message}});
        Some((200, body.to_string()))
    }

    pub(crate) async fn serve(
        script: impl Fn(&Value, usize) -> Scripted + Send + Sync + 'static,
    ) -> MockNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let script: std::sync::Arc<Script> = std::sync::Arc::new(script);
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move { answer(stream, &log, &*script).await });
            }
        });
        MockNode { url, requests }
    }

    /// One request per connection: read it, answer, close.
    async fn answer(stream: TcpStream, log: &Mutex<Vec<Value>>, script: &Script) {
        let mut received = Vec::new();
        let request = loop {
            if let Some(request) = complete_request(&received) {
                break request;
            }
            let mut chunk = [0u8; 4096];
            stream.readable().await.unwrap();
            match stream.try_read(&mut chunk) {
                Ok(0) => return,
                Ok(read) => received.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        };
        let earlier = {
            let mut log = log.lock().unwrap();
            let earlier = log
                .iter()
                .filter(|r| r["method"] == request["method"])
                .count();
            log.push(request.clone());
            earlier
        };
        let Some((status, body)) = script(&request, earlier) else {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            return;
        };
        let response = format!(
            "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut unsent = response.as_bytes();
        while !unsent.is_empty() {
            stream.writable().await.unwrap();
            match stream.try_write(unsent) {
                Ok(written) => unsent = &unsent[written..],
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    /// The JSON body of a request once its headers and `content-length` bytes are in.
    fn complete_request(received: &[u8]) -> Option<Value> {
        let text = std::str::from_utf8(received).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        (body.len() >= length)
            .then(|| serde_json::from_str(&body[..length]).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: http::StatusCode::from_u16(status).unwrap(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn results_errors_and_nulls_are_read_from_answers() {
        let answer = parse_answer(&reply(200, r#"{"jsonrpc":"2.0","id":1,"result":"0x7a69"}"#));
        assert_eq!(answer.unwrap().result, Value::from("0x7a69"));

        let null = parse_answer(&reply(200, r#"{"jsonrpc":"2.0","id":1,"result":null}"#));
        assert_eq!(null.unwrap().result, Value::Null);

        let error = parse_answer(&reply(
            200,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"nonce too low"}}"#,
        ))
        .unwrap()
        .error
        .unwrap();
        assert_eq!(error.code, -32000);
        assert_eq!(error.message, "nonce too low");
        assert_eq!(error.data, None);

        // A JSON-RPC error sent with HTTP 400 is still the node's answer.
        let bad_request = parse_answer(&reply(
            400,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid params","data":"0x01"}}"#,
        ))
        .unwrap();
        assert_eq!(bad_request.error.unwrap().data, Some(Value::from("0x01")));
    }

    #[test]
    fn what_is_not_a_json_rpc_answer_is_reported_with_its_status() {
        let html = parse_answer(&reply(200, "<html>gateway</html>"))
            .err()
            .unwrap();
        assert!(html.starts_with("not a JSON-RPC answer"), "{html}");
        let forbidden = parse_answer(&reply(403, "Forbidden")).err().unwrap();
        assert_eq!(forbidden, "HTTP 403 Forbidden: Forbidden");
        let no_error = parse_answer(&reply(404, r#"{"result":"0x1"}"#))
            .err()
            .unwrap();
        assert!(no_error.starts_with("HTTP 404"), "{no_error}");
    }

    #[test]
    fn debug_output_shows_the_host_but_not_the_path_that_may_hold_a_key() {
        let transport = RpcTransport::new(
            "evm-test",
            Url::parse("https://rpc.example/v2/SECRET-KEY").unwrap(),
            ClientOptions::default(),
        )
        .unwrap();
        let debug = format!("{transport:?}");
        assert!(debug.contains("rpc.example"), "{debug}");
        assert!(debug.contains("evm-test"), "{debug}");
        assert!(!debug.contains("SECRET-KEY"), "{debug}");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_node_errors_are_not() {
        let node = mock::serve(|request, earlier| match request["method"].as_str() {
            Some("flaky") if earlier == 0 => Some((503, "busy".into())),
            Some("limited") if earlier == 0 => Some((429, "slow down".into())),
            Some("flaky" | "limited") => mock::result(request, "0x1".into()),
            Some("refused") => mock::error(request, -32000, "nonce too low"),
            Some("down") => Some((502, "<html>bad gateway</html>".into())),
            Some("hangs") => None,
            _ => Some((404, "no".into())),
        })
        .await;
        let rpc = RpcTransport::new("evm-test", node.url.clone(), mock::quick_options()).unwrap();

        let flaky: String = rpc.call("flaky", [(); 0]).await.unwrap();
        assert_eq!(flaky, "0x1");
        assert_eq!(node.calls("flaky"), 2);
        let limited: String = rpc.call("limited", [(); 0]).await.unwrap();
        assert_eq!(limited, "0x1");

        let refused = rpc.call::<_, String>("refused", [(); 0]).await.unwrap_err();
        assert!(matches!(&refused, CallError::Node(error) if error.message == "nonce too low"));
        assert_eq!(
            node.calls("refused"),
            1,
            "a JSON-RPC error is never retried"
        );

        let down = rpc.call::<_, String>("down", [(); 0]).await.unwrap_err();
        assert!(
            matches!(&down, CallError::Chain(ChainError::NetworkUnreachable { reason, .. })
                if reason.starts_with("down: HTTP 502")),
            "{down:?}"
        );
        assert_eq!(node.calls("down"), 3);

        let hangs = rpc.call::<_, String>("hangs", [(); 0]).await.unwrap_err();
        assert_eq!(
            hangs,
            CallError::Chain(ChainError::Timeout {
                network: "evm-test".into(),
                operation: "hangs".into()
            })
        );
        assert_eq!(node.calls("hangs"), 3);

        let once = rpc
            .call_once::<_, String>("down", [(); 0])
            .await
            .unwrap_err();
        assert!(matches!(
            once,
            CallError::Chain(ChainError::NetworkUnreachable { .. })
        ));
        assert_eq!(node.calls("down"), 4, "a probe tries once");

        let missing = rpc.call::<_, String>("other", [(); 0]).await.unwrap_err();
        assert!(
            matches!(&missing, CallError::Chain(ChainError::Malformed { .. })),
            "{missing:?}"
        );
        assert_eq!(node.calls("other"), 1, "a 4xx is an answer");
    }
}
