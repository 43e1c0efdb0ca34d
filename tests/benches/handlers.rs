//! Per-route latency in process: the router a Lambda function runs, over the embedded
//! adapters (SQLite records, key file), fed one request at a time without a socket, as
//! lambda_http would. What it times is the whole request path: authentication, the rate
//! limiter's count, the idempotency guard, the handler and the JSON answer, without the
//! network or Lambda's own overhead. No log subscriber is installed. The rate limiter counts
//! every request as deployed, with the test servers' high limits so that none is refused.
//!
//! Run: `cargo bench -p walletless-tests --bench handlers`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use walletless::api::ROUTES;
use walletless::api::router;
use walletless::api::service::call;
use walletless::app::App;
use walletless::config::Config;
use walletless_tests::server::test_rate_limits;

const PASSWORD: &str = "lunar cactus violin 42 drizzle";
const WARM_UP: usize = 20;

struct Bench {
    router: axum::Router,
}

impl Bench {
    /// One call: the status, the JSON body and the time from the request to its last byte.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value, Duration)> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body)?;
        let started = Instant::now();
        let response = call(&self.router, request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let elapsed = started.elapsed();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, body, elapsed))
    }

    /// `count` timed calls after a warm-up; every answer must have status `expected`.
    async fn time(
        &self,
        count: usize,
        expected: StatusCode,
        request: impl Fn(usize) -> (Method, String, Option<Value>),
        token: Option<&str>,
    ) -> anyhow::Result<Vec<Duration>> {
        let mut samples = Vec::with_capacity(count);
        for n in 0..WARM_UP + count {
            let (method, path, body) = request(n);
            let (status, answer, elapsed) =
                self.call(method, &path, token, body.as_ref(), None).await?;
            ensure!(
                status == expected,
                "{path}: {status} instead of {expected}: {answer}"
            );
            if n >= WARM_UP {
                samples.push(elapsed);
            }
        }
        Ok(samples)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn row(route: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "| {route:<18} | {:>5} | {:>8.3} | {:>8.3} | {:>8.3} | {:>8.3} |",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(mean),
        ms(samples[samples.len() - 1]),
    );
}

fn asa_draft(n: usize) -> Value {
    json!({ "standard": "asa-ft", "network": "algorand-testnet", "params": {
        "asset_name": format!("Bench {n}"), "unit_name": "BNC", "total": "1000000",
        "decimals": 2, "url": "https://bench.example/asset" }})
}

fn text<'a>(body: &'a Value, pointer: &str) -> anyhow::Result<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("no {pointer} in {body}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config::from_vars(&Default::default())?;
    let app = App::open_embedded(dir.path(), "http://127.0.0.1:1".parse()?, &config)
        .await?
        .app;
    let bench = Bench {
        router: router(app, ROUTES.iter(), test_rate_limits()),
    };

    // A user, one draft past its compliance gate and its deployment (which stays queued: no
    // step worker runs here).
    let email = "handlers.bench@example.com";
    let (status, registered, _) = bench
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(&json!({ "email": email, "password": PASSWORD })),
            None,
        )
        .await?;
    ensure!(status == StatusCode::CREATED, "register: {registered}");
    let token = text(&registered, "/access_token")?.to_string();
    let token = Some(token.as_str());
    let (status, draft, _) = bench
        .call(Method::POST, "/v1/drafts", token, Some(&asa_draft(0)), None)
        .await?;
    ensure!(status == StatusCode::CREATED, "create draft: {draft}");
    let draft_id = text(&draft, "/id")?.to_string();
    let (status, report, _) = bench
        .call(
            Method::POST,
            &format!("/v1/drafts/{draft_id}/compliance"),
            token,
            Some(&json!({})),
            None,
        )
        .await?;
    ensure!(status == StatusCode::CREATED, "compliance: {report}");
    let (status, accepted, _) = bench
        .call(
            Method::POST,
            "/v1/deployments",
            token,
            Some(&json!({ "draft_id": draft_id })),
            Some("handlers-bench"),
        )
        .await?;
    ensure!(status == StatusCode::ACCEPTED, "deployment: {accepted}");
    let deployment_id = text(&accepted, "/deployment/id")?.to_string();

    let get = |path: String| move |_: usize| (Method::GET, path.clone(), None);
    let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
    rows.push((
        "health",
        bench
            .time(2000, StatusCode::OK, get("/v1/health".into()), None)
            .await?,
    ));
    rows.push((
        "list-standards",
        bench
            .time(2000, StatusCode::OK, get("/v1/standards".into()), None)
            .await?,
    ));
    rows.push((
        "validate-draft",
        bench
            .time(
                2000,
                StatusCode::OK,
                |n| {
                    let draft = asa_draft(n);
                    (Method::POST, "/v1/drafts/validate".into(), Some(draft))
                },
                token,
            )
            .await?,
    ));
    rows.push((
        "create-draft",
        bench
            .time(
                1000,
                StatusCode::CREATED,
                |n| (Method::POST, "/v1/drafts".into(), Some(asa_draft(n + 1))),
                token,
            )
            .await?,
    ));
    rows.push((
        "get-draft",
        bench
            .time(
                2000,
                StatusCode::OK,
                get(format!("/v1/drafts/{draft_id}")),
                token,
            )
            .await?,
    ));
    // A page of 20 drafts (the default) out of more than a thousand.
    rows.push((
        "list-drafts",
        bench
            .time(1000, StatusCode::OK, get("/v1/drafts".into()), token)
            .await?,
    ));
    rows.push((
        "get-deployment",
        bench
            .time(
                2000,
                StatusCode::OK,
                get(format!("/v1/deployments/{deployment_id}")),
                token,
            )
            .await?,
    ));
    // A page of 100 events (the default) out of more than a thousand.
    rows.push((
        "list-audit-events",
        bench
            .time(1000, StatusCode::OK, get("/v1/audit/events".into()), token)
            .await?,
    ));
    // Argon2id verification (19 MiB, 2 passes) dominates.
    rows.push((
        "login",
        bench
            .time(
                50,
                StatusCode::OK,
                |_| {
                    let body = json!({ "email": email, "password": PASSWORD });
                    (Method::POST, "/v1/auth/login".into(), Some(body))
                },
                None,
            )
            .await?,
    ));

    println!("| route              |     n |  p50 ms  |  p99 ms  | mean ms  |  max ms  |");
    println!("|--------------------|------:|---------:|---------:|---------:|---------:|");
    for (route, samples) in rows {
        if samples.is_empty() {
            bail!("{route}: no samples");
        }
        row(route, samples);
    }
    Ok(())
}
