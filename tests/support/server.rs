//! The local server, run in-process on a free loopback port, for tests that go through the
//! same HTTP routes callers use.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::oneshot;
use walletless::config::{Config, RateLimits, vars};

/// The default rate limit of test servers unless a test sets one: the existing suites poll
/// fast and register many users from one address, so they run with limits (and their
/// headers and records) a thousand times the real ones, which they never reach.
pub const TEST_RATE_LIMIT_PER_MINUTE: u32 = 100_000;

/// The rate limits test servers run with unless a test sets its own.
pub fn test_rate_limits() -> RateLimits {
    RateLimits {
        default_limit: TEST_RATE_LIMIT_PER_MINUTE,
        ..RateLimits::default()
    }
}

/// A running local server; stopped (gracefully) when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub address: SocketAddr,
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Start a server with configuration from these variables (nothing from the process
    /// environment), e.g. `WALLETLESS_DATA_DIR` pointing at a temporary directory. `{server}`
    /// in a value becomes the server's own base URL (known only once it listens). Without
    /// `WALLETLESS_RATE_LIMIT_PER_MINUTE` the default limit is
    /// [`TEST_RATE_LIMIT_PER_MINUTE`].
    pub async fn start(env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let mut env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.replace("{server}", &format!("http://{address}")),
                )
            })
            .collect();
        env.entry(vars::RATE_LIMIT_PER_MINUTE.to_string())
            .or_insert_with(|| TEST_RATE_LIMIT_PER_MINUTE.to_string());
        let config = Config::from_vars(&env)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(walletless_local::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        let mut server = Self {
            address,
            base_url: format!("http://{address}"),
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_until_serving().await?;
        Ok(server)
    }

    /// Serve every route (the local-only ones too) of an app built by the test itself (e.g. with a fault injected into
    /// one adapter), with [`test_rate_limits`]. No step worker runs.
    pub async fn serve_app(app: walletless::app::App) -> anyhow::Result<Self> {
        Self::serve_app_with_rate_limits(app, test_rate_limits()).await
    }

    /// [`Self::serve_app`] with these rate limits.
    pub async fn serve_app_with_rate_limits(
        app: walletless::app::App,
        rate_limits: RateLimits,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let routes = walletless::api::ROUTES
            .iter()
            .chain(walletless::api::LOCAL_ROUTES);
        let service = walletless::api::router(app, routes, rate_limits)
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .map_err(anyhow::Error::from)
        });
        let mut server = Self {
            address,
            base_url: format!("http://{address}"),
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_until_serving().await?;
        Ok(server)
    }

    /// An embedded server over `data_dir`.
    pub async fn embedded(data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let dir = data_dir.display().to_string();
        Self::start(&[(vars::BACKEND, "embedded"), (vars::DATA_DIR, &dir)]).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Wait for the first answer; a server that stopped instead reports why. The probe asks
    /// for a path that is no route, so it spends nothing of any rate limit.
    async fn wait_until_serving(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(self.url("/v1/ready-probe")).send().await.is_ok() {
                return Ok(());
            }
            if self.task.as_ref().is_some_and(|task| task.is_finished()) {
                if let Some(task) = self.task.take() {
                    task.await??;
                }
                anyhow::bail!("local server stopped without an error before serving");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!("local server on {} did not start", self.address)
    }

    /// Stop the server and return how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
