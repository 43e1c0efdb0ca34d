//! The local server: every route of the table on one socket, the step, webhook and audit
//! export workers and the deployment sweep in-process, over the embedded adapters by default
//! (or the AWS ones, e.g. against an emulator, when `WALLETLESS_BACKEND=aws`). The binary is a
//! thin `main`; tests run [`serve`] in-process.

mod archive_links;

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use walletless::api::{LOCAL_ROUTES, ROUTES, router};
use walletless::app::App;
use walletless::config::{Backend, Config, vars};
use walletless::deployments::sweep;
use walletless::steps::StepRunner;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The listen address from `WALLETLESS_LISTEN`, else [`DEFAULT_LISTEN`].
pub fn listen_address() -> anyhow::Result<SocketAddr> {
    std::env::var(vars::LISTEN)
        .unwrap_or_else(|_| DEFAULT_LISTEN.to_string())
        .parse()
        .with_context(|| format!("{} must be an address like {DEFAULT_LISTEN}", vars::LISTEN))
}

/// Serve every route and run the queue workers until `shutdown` resolves. Per-address rate
/// limits count the socket's peer address.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let routes = || ROUTES.iter().chain(LOCAL_ROUTES);
    let (app, service) = match &config.backend {
        Backend::Embedded {
            data_dir,
            public_url,
        } => {
            let public_url = match public_url {
                Some(url) => url.clone(),
                None => format!("http://{address}").parse()?,
            };
            let embedded = App::open_embedded(data_dir, public_url, &config).await?;
            let service = router(embedded.app.clone(), routes(), config.rate_limits)
                .merge(archive_links::router(embedded.archive.clone()));
            (embedded.app, service)
        }
        Backend::Aws(resources) => {
            let app = App::connect_aws(resources, &config).await?;
            (app.clone(), router(app, routes(), config.rate_limits))
        }
    };

    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn({
        let app = app.clone();
        async move {
            let sweeper = tokio::spawn(sweep_periodically(app.clone()));
            // The other queues' workers run until the standard one has stopped.
            let (stop_others, others_stopped) = tokio::sync::watch::channel(false);
            let others: Vec<_> = [
                StepRunner::webhook_deliveries(),
                StepRunner::audit_exports(),
            ]
            .into_iter()
            .map(|runner| {
                let (app, mut stopped) = (app.clone(), others_stopped.clone());
                tokio::spawn(async move {
                    runner
                        .run_worker(app, async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await;
                })
            })
            .collect();
            StepRunner::standard()
                .run_worker(app, async {
                    let _ = worker_stopped.await;
                })
                .await;
            let _ = stop_others.send(true);
            for worker in others {
                let _ = worker.await;
            }
            sweeper.abort();
        }
    });

    tracing::info!(address = %address, routes = ROUTES.len() + LOCAL_ROUTES.len(), "listening");
    axum::serve(
        listener,
        service.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed")?;
    let _ = stop_worker.send(());
    worker.await.context("step worker panicked")?;
    tracing::info!("stopped");
    Ok(())
}

/// The deployment sweep, every `sweep::INTERVAL` (in AWS a schedule runs it).
async fn sweep_periodically(app: walletless::app::App) {
    let mut ticks = tokio::time::interval(sweep::INTERVAL);
    loop {
        ticks.tick().await;
        if let Err(error) = sweep::sweep_now(&app).await {
            tracing::warn!(%error, "deployment sweep failed");
        }
    }
}
