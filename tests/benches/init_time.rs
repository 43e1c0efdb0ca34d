//! Function init time: from spawning a Lambda binary to its first
//! `GET /2018-06-01/runtime/invocation/next` on a fake Runtime API, which is the moment it
//! is ready for its first event. Init includes reading the configuration, building the AWS
//! clients and checking that the table, key, queues and bucket exist (AWS mode, on the moto
//! server), or opening the SQLite files and the key file (embedded mode).
//!
//! Run (moto running, `AWS_ENDPOINT_URL` and dummy credentials exported, see scripts/test):
//! `cargo build --release -p walletless-functions` (or `scripts/bench/binary-sizes.sh`), then
//! `cargo bench -p walletless-tests --bench init_time`. It uses target/release binaries when
//! they exist, else target/debug ones, and says which.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::routing::get;
use tokio::sync::mpsc;
use walletless_tests::aws::{aws_env, provision_all};

const FUNCTIONS: &[&str] = &["health", "list-standards", "register", "step-worker"];
const STARTS: usize = 10;
/// Longer than any healthy init: AWS mode probes six resources with a 3 s timeout each.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The fake Runtime API: reports each `next` call, then never answers it (the bench stops
/// the function once it has asked).
async fn fake_runtime_api() -> anyhow::Result<(String, mpsc::UnboundedReceiver<Instant>)> {
    let (asked, next_calls) = mpsc::unbounded_channel();
    let service = axum::Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let at = Instant::now();
            let _ = asked.send(at);
            std::future::pending::<&'static str>()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, service).await });
    Ok((address.to_string(), next_calls))
}

/// The directory holding the function binaries, and the profile it is.
fn binaries() -> anyhow::Result<(PathBuf, &'static str)> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let target = target.canonicalize().unwrap_or(target);
    for profile in ["release", "debug"] {
        let dir = target.join(profile);
        if FUNCTIONS
            .iter()
            .all(|function| dir.join(function).is_file())
        {
            return Ok((dir, profile));
        }
    }
    bail!(
        "no function binaries in {}/{{release,debug}}: cargo build --release -p walletless-functions",
        target.display()
    )
}

/// Start `binary` `STARTS` times; the time from spawn to its first `next` each time.
async fn starts(
    binary: &Path,
    env: &[(String, String)],
    runtime_api: &str,
    next_calls: &mut mpsc::UnboundedReceiver<Instant>,
) -> anyhow::Result<Vec<Duration>> {
    let name = binary
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("function");
    let mut samples = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawn {}", binary.display()))?;
        let asked = tokio::time::timeout(READY_WITHIN, next_calls.recv()).await;
        let _ = child.kill();
        let output = child.wait_with_output()?;
        match asked {
            Ok(Some(at)) => samples.push(at.duration_since(spawned)),
            _ => bail!(
                "{name} did not ask for an event within {READY_WITHIN:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
    Ok(samples)
}

/// The median of sorted samples (the mean of the middle two of an even number).
fn median(sorted: &[Duration]) -> Duration {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2
    } else {
        sorted[middle]
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn passthrough(variables: &[&str]) -> Vec<(String, String)> {
    variables
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (dir, profile) = binaries()?;
    let (runtime_api, mut next_calls) = fake_runtime_api().await?;

    // AWS mode on the emulator: fresh resources, credentials and endpoint from this process.
    let resources = provision_all().await;
    let mut aws: Vec<(String, String)> = aws_env(&resources)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    aws.extend(passthrough(&[
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ]));
    // Embedded mode: one data directory, created by the first start.
    let data = tempfile::tempdir()?;
    let embedded = vec![
        ("WALLETLESS_BACKEND".to_string(), "embedded".to_string()),
        (
            "WALLETLESS_DATA_DIR".to_string(),
            data.path().display().to_string(),
        ),
    ];

    println!(
        "{profile} binaries in {}; {STARTS} starts each, spawn to first `next`",
        dir.display()
    );
    println!("| function       | backend        | median ms |   min ms |   max ms |");
    println!("|----------------|----------------|----------:|---------:|---------:|");
    for function in FUNCTIONS {
        for (backend, env) in [("aws (moto)", &aws), ("embedded", &embedded)] {
            let mut samples =
                starts(&dir.join(function), env, &runtime_api, &mut next_calls).await?;
            samples.sort();
            println!(
                "| {function:<14} | {backend:<14} | {:>9.1} | {:>8.1} | {:>8.1} |",
                ms(median(&samples)),
                ms(samples[0]),
                ms(samples[samples.len() - 1]),
            );
        }
    }
    Ok(())
}
