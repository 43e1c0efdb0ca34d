//! Latency of register and login through HTTP on the embedded local server, one request at a
//! time: median and p99 over a fixed number of requests.
//!
//! Run: `cargo bench -p walletless-tests --bench auth_latency` (optimised build). Registration
//! is dominated by the ARC-76 derivation (PBKDF2, 999,999 rounds) and the Argon2id hash; login
//! by Argon2id verification.

use std::time::{Duration, Instant};

use serde_json::json;
use walletless_tests::server::TestServer;

const PASSWORD: &str = "lunar cactus violin 42 drizzle";
const REGISTRATIONS: usize = 40;
const LOGINS: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<9} n={:<4} median={:>7.1} ms  p99={:>7.1} ms  mean={:>7.1} ms  max={:>7.1} ms",
        samples.len(),
        percentile(&samples, 50.0).as_secs_f64() * 1e3,
        percentile(&samples, 99.0).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::embedded(dir.path()).await?;
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        let request = client.post(server.url(path)).json(&body);
        async move {
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            response.bytes().await?;
            anyhow::ensure!(status.is_success(), "{status}");
            Ok::<Duration, anyhow::Error>(started.elapsed())
        }
    };

    // Warm-up: the signing key and connection pool.
    post(
        "/v1/auth/register",
        json!({ "email": "warm@example.com", "password": PASSWORD }),
    )
    .await?;

    let mut register = Vec::with_capacity(REGISTRATIONS);
    for n in 0..REGISTRATIONS {
        let email = format!("bench.{n}@example.com");
        register.push(
            post(
                "/v1/auth/register",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await?,
        );
    }
    let mut login = Vec::with_capacity(LOGINS);
    for n in 0..LOGINS {
        let email = format!("bench.{}@example.com", n % REGISTRATIONS);
        login.push(
            post(
                "/v1/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await?,
        );
    }
    report("register", register);
    report("login", login);
    server.stop().await
}
