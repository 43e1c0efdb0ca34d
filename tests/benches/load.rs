//! Load test: many concurrent connections against a local server (embedded adapters, step
//! worker running, the devnets of `scripts/test`) for a fixed time, with a mix of reads,
//! draft creations and idempotent deployment requests, then a check that no idempotency key
//! made a second deployment.
//!
//! Every task is one HTTP/1.1 connection (its own client, at most one pooled connection) and
//! sends one request at a time. Intended refusals (429 `RATE_LIMIT_EXCEEDED`, 409
//! `IDEMPOTENCY_KEY_IN_PROGRESS`) are counted apart; any other failure, a connection error
//! included, is an error and fails the run.
//!
//! Run (devnets up, e.g. `set -a; . /tmp/devnets.env; set +a`):
//! `cargo bench -p walletless-tests --bench load`. Settings from the environment:
//! `LOAD_CONNECTIONS` (1000), `LOAD_SECONDS` (20), `LOAD_USERS` (50), and
//! `WALLETLESS_RATE_LIMIT_PER_MINUTE` (the server's per-user and per-address budget per
//! route; unset: the default, 100 a minute).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::StreamExt;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use walletless::config::vars;
use walletless_tests::chains::{METADATA_BASE_URL, networks_toml};
use walletless_tests::family::{PASSWORD, TestEnv};

/// Drafts per user that tasks request deployments of: slot 0 is first requested during
/// setup (the load replays it), slot 1 first during the load (concurrent first requests).
const DEPLOYABLE_DRAFTS: usize = 2;

fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .with_context(|| format!("{name}={value:?} is not a number")),
        Err(_) => Ok(default),
    }
}

/// The soft limit on open files of this process, from /proc (client and server sockets
/// both count against it here).
fn open_files_limit() -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .context("no open files limit in /proc/self/limits")?;
    let soft = line
        .split_whitespace()
        .nth(3)
        .context("unreadable open files limit")?;
    Ok(soft.parse().unwrap_or(u64::MAX))
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Health,
    Standards,
    ListDrafts,
    GetDeployment,
    CreateDraft,
    RequestDeployment,
}

impl Op {
    /// The mix, cycled through by every task from its own starting point: 60 % reads,
    /// 20 % draft creations, 20 % deployment requests.
    const MIX: [Op; 10] = [
        Op::Health,
        Op::CreateDraft,
        Op::Standards,
        Op::RequestDeployment,
        Op::ListDrafts,
        Op::GetDeployment,
        Op::CreateDraft,
        Op::ListDrafts,
        Op::RequestDeployment,
        Op::GetDeployment,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Health => "GET /v1/health",
            Op::Standards => "GET /v1/standards",
            Op::ListDrafts => "GET /v1/drafts",
            Op::GetDeployment => "GET /v1/deployments/{id}",
            Op::CreateDraft => "POST /v1/drafts",
            Op::RequestDeployment => "POST /v1/deployments",
        }
    }
}

/// What a task sends as one user.
#[derive(Debug)]
struct LoadUser {
    token: String,
    /// Deployable drafts with the idempotency key every task uses for each.
    deployable: Vec<(String, String)>,
    /// The deployment requested during setup (slot 0), for reads.
    deployment_id: String,
}

#[derive(Debug)]
enum Outcome {
    Status(StatusCode),
    /// A 429 `RATE_LIMIT_EXCEEDED`, or a 409 `IDEMPOTENCY_KEY_IN_PROGRESS` of a deployment
    /// request.
    Intended(StatusCode),
    Error(String),
}

#[derive(Debug)]
struct Sample {
    user: usize,
    op: Op,
    outcome: Outcome,
    latency: Duration,
}

/// Deployment ids answered: (user, idempotency key, deployment id).
type Answered = Vec<(usize, String, String)>;

/// Who a task is: its user (by index) and which of the user's deployable drafts it asks for.
struct Seat<'a> {
    user_index: usize,
    user: &'a LoadUser,
    slot: usize,
}

/// Send one request as `seat` (a draft creation names its draft `draft_name`); a 202
/// deployment answer is noted in `answered`.
async fn send(
    client: &reqwest::Client,
    base: &str,
    op: Op,
    seat: &Seat<'_>,
    draft_name: &str,
    answered: &mut Answered,
) -> Outcome {
    let Seat {
        user_index,
        user,
        slot,
    } = *seat;
    let request = match op {
        Op::Health => client.get(format!("{base}/v1/health")),
        Op::Standards => client.get(format!("{base}/v1/standards")),
        Op::ListDrafts => client
            .get(format!("{base}/v1/drafts"))
            .bearer_auth(&user.token),
        Op::GetDeployment => client
            .get(format!("{base}/v1/deployments/{}", user.deployment_id))
            .bearer_auth(&user.token),
        Op::CreateDraft => client
            .post(format!("{base}/v1/drafts"))
            .bearer_auth(&user.token)
            .json(&asa_draft(draft_name)),
        Op::RequestDeployment => {
            let (draft_id, key) = &user.deployable[slot];
            client
                .post(format!("{base}/v1/deployments"))
                .bearer_auth(&user.token)
                .header("idempotency-key", key)
                .json(&json!({ "draft_id": draft_id }))
        }
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Outcome::Error(format!("{op:?}: {error}")),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return Outcome::Error(format!("{op:?} body: {error}")),
    };
    let expected = match op {
        Op::CreateDraft => StatusCode::CREATED,
        Op::RequestDeployment => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    if status == expected {
        if op == Op::RequestDeployment {
            let body: Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = body["deployment"]["id"].as_str().unwrap_or_default();
            answered.push((user_index, user.deployable[slot].1.clone(), id.to_string()));
        }
        return Outcome::Status(status);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or_default();
    match (status, code) {
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED") => Outcome::Intended(status),
        (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_PROGRESS") if op == Op::RequestDeployment => {
            Outcome::Intended(status)
        }
        _ => Outcome::Error(format!("{op:?}: {status} {body}")),
    }
}

fn asa_draft(name: &str) -> Value {
    json!({ "standard": "asa-ft", "network": "algorand-devnet", "params": {
        "asset_name": name, "unit_name": "LOAD", "total": "1000000", "decimals": 2,
        "url": "https://load.example/asset" }})
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One user set up through the API: funded on the devnet, with deployable drafts past their
/// compliance gate, the first one's deployment requested.
async fn set_up_user(env: &TestEnv, token: String, user: usize) -> anyhow::Result<LoadUser> {
    let post = |path: &str, body: Value, key: Option<String>| {
        let mut request = env
            .client
            .post(env.server.url(path))
            .bearer_auth(&token)
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            Ok::<_, anyhow::Error>((status, body))
        }
    };
    let (status, body) = post(
        "/v1/dev/faucet",
        json!({ "network": "algorand-devnet" }),
        None,
    )
    .await?;
    ensure!(status == StatusCode::OK, "faucet: {status} {body}");
    let mut deployable = Vec::new();
    for slot in 0..DEPLOYABLE_DRAFTS {
        let (status, draft) = post(
            "/v1/drafts",
            asa_draft(&format!("User {user} slot {slot}")),
            None,
        )
        .await?;
        ensure!(status == StatusCode::CREATED, "draft: {status} {draft}");
        let draft_id = draft["id"].as_str().context("draft id")?.to_string();
        let (status, report) = post(
            &format!("/v1/drafts/{draft_id}/compliance"),
            json!({}),
            None,
        )
        .await?;
        ensure!(
            status == StatusCode::CREATED,
            "compliance: {status} {report}"
        );
        deployable.push((draft_id.clone(), format!("load-{draft_id}")));
    }
    let (draft_id, key) = &deployable[0];
    let (status, accepted) = post(
        "/v1/deployments",
        json!({ "draft_id": draft_id }),
        Some(key.clone()),
    )
    .await?;
    ensure!(
        status == StatusCode::ACCEPTED,
        "deployment: {status} {accepted}"
    );
    let deployment_id = accepted["deployment"]["id"]
        .as_str()
        .context("deployment id")?
        .to_string();
    Ok(LoadUser {
        token,
        deployable,
        deployment_id,
    })
}

/// Every deployment of the user, through `GET /v1/deployments`.
async fn deployments_of(env: &TestEnv, token: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = env.server.url("/v1/deployments?limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = env.client.get(url).bearer_auth(token).send().await?;
        let status = response.status();
        let page: Value = response.json().await?;
        ensure!(
            status == StatusCode::OK,
            "list deployments: {status} {page}"
        );
        all.extend(page["deployments"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return Ok(all),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let connections = setting("LOAD_CONNECTIONS", 1000)? as usize;
    let seconds = setting("LOAD_SECONDS", 20)?;
    let users = setting("LOAD_USERS", 50)? as usize;
    let rate_limit = std::env::var(vars::RATE_LIMIT_PER_MINUTE).unwrap_or_else(|_| "100".into());
    let limit = open_files_limit()?;
    // Both ends of every connection are in this process, plus the server's files.
    let needed = 2 * connections as u64 + 256;
    ensure!(
        limit >= needed,
        "open files limit {limit} < {needed}: raise it (ulimit -n)"
    );

    // The server gets its own runtime (threads), so the load generator's tasks do not queue
    // behind it on the same workers; both still share this machine's cores.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()?;

    let dir = tempfile::tempdir()?;
    let networks = dir.path().join("networks.toml");
    std::fs::write(&networks, networks_toml())?;
    let networks = networks.display().to_string();
    let env = server_runtime.block_on(TestEnv::embedded_with(&[
        (vars::NETWORKS_FILE, &networks),
        (vars::METADATA_BASE_URL, METADATA_BASE_URL),
        (vars::RATE_LIMIT_PER_MINUTE, &rate_limit),
    ]));

    let result =
        client_runtime.block_on(run(&env, connections, seconds, users, &rate_limit, limit));
    server_runtime.block_on(async move { env.server.stop().await })?;
    result
}

async fn run(
    env: &TestEnv,
    connections: usize,
    seconds: u64,
    users: usize,
    rate_limit: &str,
    open_files_limit: u64,
) -> anyhow::Result<()> {
    // Users are registered straight through the accounts service (ARC-76 and Argon2id take
    // most of a second each; the API would also rate-limit registrations from one address).
    let started = Instant::now();
    let backstage = env.backstage().await;
    let tokens: Vec<String> = futures::stream::iter(0..users)
        .map(|n| {
            let backstage = backstage.clone();
            async move {
                let (_, session) = walletless::accounts::service::register(
                    &backstage,
                    &format!("load.{n}.{}@example.com", ulid::Ulid::new()).to_lowercase(),
                    PASSWORD.to_string().into(),
                    None,
                    &walletless::audit::Origin::anonymous(),
                )
                .await?;
                Ok::<_, anyhow::Error>(session.access_token.expose_secret().to_string())
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut load_users = Vec::with_capacity(users);
    for (n, token) in tokens.into_iter().enumerate() {
        load_users.push(set_up_user(env, token, n).await?);
    }
    let load_users = Arc::new(load_users);
    eprintln!(
        "setup: {users} users with {DEPLOYABLE_DRAFTS} deployable drafts each in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let base = env.server.base_url.clone();
    let duration = Duration::from_secs(seconds);
    let start = Instant::now() + Duration::from_millis(500);
    let deadline = start + duration;
    let fd_sampler = tokio::spawn(async move {
        let mut peak = 0;
        while Instant::now() < deadline {
            peak = peak.max(open_files());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        peak
    });
    let mut tasks = Vec::with_capacity(connections);
    for task in 0..connections {
        let (base, load_users) = (base.clone(), load_users.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()?;
            let user_index = task % load_users.len();
            let seat = Seat {
                user_index,
                user: &load_users[user_index],
                slot: (task / load_users.len()) % DEPLOYABLE_DRAFTS,
            };
            let mut samples = Vec::new();
            let mut answered = Answered::new();
            tokio::time::sleep_until(start.into()).await;
            // Each task walks the whole mix, from its own starting point.
            let mut sent_by_task: usize = 0;
            while Instant::now() < deadline {
                let op = Op::MIX[(task + sent_by_task) % Op::MIX.len()];
                let sent = Instant::now();
                let name = format!("Load {task}.{sent_by_task}");
                let outcome = send(&client, &base, op, &seat, &name, &mut answered).await;
                samples.push(Sample {
                    user: user_index,
                    op,
                    outcome,
                    latency: sent.elapsed(),
                });
                sent_by_task += 1;
            }
            Ok::<_, anyhow::Error>((samples, answered))
        }));
    }
    let mut samples = Vec::new();
    let mut answered = Answered::new();
    for task in tasks {
        let (task_samples, task_answered) = task.await??;
        samples.extend(task_samples);
        answered.extend(task_answered);
    }
    let elapsed = start.elapsed();
    let peak_files = fd_sampler.await?;

    report(
        &samples,
        elapsed,
        connections,
        users,
        rate_limit,
        open_files_limit,
        peak_files,
    );

    // No duplicate deployment: per user, each deployable draft has exactly one deployment,
    // and every 202 for its key named that one.
    let mut by_key: HashMap<(usize, String), Vec<String>> = HashMap::new();
    for (user, key, id) in answered {
        by_key.entry((user, key)).or_default().push(id);
    }
    let mut duplicates = 0;
    let mut keys_checked = 0;
    let mut never_admitted = 0;
    for (index, user) in load_users.iter().enumerate() {
        let deployments = deployments_of(env, &user.token).await?;
        for (draft_id, key) in &user.deployable {
            let of_draft: Vec<&str> = deployments
                .iter()
                .filter(|deployment| deployment["draft_id"] == draft_id.as_str())
                .filter_map(|deployment| deployment["id"].as_str())
                .collect();
            keys_checked += 1;
            match of_draft.as_slice() {
                [] => never_admitted += 1,
                [only] => {
                    let answers = by_key
                        .get(&(index, key.clone()))
                        .cloned()
                        .unwrap_or_default();
                    if let Some(other) = answers.iter().find(|id| id.as_str() != *only) {
                        bail!("key {key} answered {other} but its deployment is {only}");
                    }
                }
                several => {
                    duplicates += 1;
                    eprintln!("key {key}: {} deployments: {several:?}", several.len());
                }
            }
        }
    }
    println!(
        "idempotency: {keys_checked} keys, {duplicates} with more than one deployment, \
         {never_admitted} never admitted during the run"
    );
    ensure!(
        duplicates == 0,
        "{duplicates} keys made more than one deployment"
    );
    let errors = samples
        .iter()
        .filter(|sample| matches!(sample.outcome, Outcome::Error(_)))
        .count();
    ensure!(errors == 0, "{errors} errors");
    Ok(())
}

fn report(
    samples: &[Sample],
    elapsed: Duration,
    connections: usize,
    users: usize,
    rate_limit: &str,
    open_files_limit: u64,
    peak_files: usize,
) {
    println!(
        "{connections} connections, {users} users, {:.1} s, rate limit {rate_limit}/min per \
         route and user (or address); open files limit {open_files_limit}, peak open files {peak_files}",
        elapsed.as_secs_f64()
    );
    println!(
        "| request                  | count  |  req/s  | p50 ms | p99 ms | max ms | answers |"
    );
    println!(
        "|--------------------------|-------:|--------:|-------:|-------:|-------:|---------|"
    );
    let mut ops: BTreeMap<Op, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        ops.entry(sample.op).or_default().push(sample);
    }
    let line = |name: &str, samples: &[&Sample]| {
        let mut latencies: Vec<Duration> = samples.iter().map(|sample| sample.latency).collect();
        latencies.sort();
        let mut answers: BTreeMap<String, usize> = BTreeMap::new();
        for sample in samples {
            let label = match &sample.outcome {
                Outcome::Status(status) => status.as_u16().to_string(),
                Outcome::Intended(status) => status.as_u16().to_string(),
                Outcome::Error(_) => "error".to_string(),
            };
            *answers.entry(label).or_default() += 1;
        }
        let answers: Vec<String> = answers
            .iter()
            .map(|(label, count)| format!("{label}: {count}"))
            .collect();
        println!(
            "| {name:<24} | {:>6} | {:>7.0} | {:>6.1} | {:>6.1} | {:>6.1} | {} |",
            samples.len(),
            samples.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or_default()),
            answers.join(", "),
        );
    };
    for (op, op_samples) in &ops {
        line(op.name(), op_samples);
    }
    let all: Vec<&Sample> = samples.iter().collect();
    line("all", &all);
    let admitted: Vec<&Sample> = samples
        .iter()
        .filter(|sample| matches!(sample.outcome, Outcome::Status(_)))
        .collect();
    line("all but 409/429", &admitted);
    // What each user was let through, per route (public routes count per address instead).
    let mut admitted_per_user: BTreeMap<(Op, usize), usize> = BTreeMap::new();
    for sample in samples {
        if matches!(sample.outcome, Outcome::Status(_)) {
            *admitted_per_user
                .entry((sample.op, sample.user))
                .or_default() += 1;
        }
    }
    for op in [
        Op::ListDrafts,
        Op::GetDeployment,
        Op::CreateDraft,
        Op::RequestDeployment,
    ] {
        let counts: Vec<usize> = (0..users)
            .map(|user| admitted_per_user.get(&(op, user)).copied().unwrap_or(0))
            .collect();
        println!(
            "{}: admitted per user min {} max {}",
            op.name(),
            counts.iter().min().unwrap_or(&0),
            counts.iter().max().unwrap_or(&0)
        );
    }
    let mut shown = 0;
    for sample in samples {
        if let Outcome::Error(error) = &sample.outcome {
            if shown < 10 {
                eprintln!("error: {error}");
            }
            shown += 1;
        }
    }
}
