//! What each Lambda binary runs: load configuration, build the app once at init, then serve
//! one route (lambda_http) or one queue (lambda_runtime). A configuration or resource
//! problem stops the function at init with one line naming it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::api::{router, routes};
use crate::app::App;
use crate::config::Config;
use crate::steps::StepRunner;

pub type Error = lambda_runtime::Error;

async fn init() -> Result<App, Error> {
    crate::telemetry::init();
    let app = async { App::from_config(&Config::from_env()?).await }.await;
    app.map_err(|error: crate::app::StartupError| {
        tracing::error!(%error, "function cannot start");
        error.into()
    })
}

/// Serve the route with this id through API Gateway.
pub async fn serve_route(route_id: &str) -> Result<(), Error> {
    let route = routes::find(route_id).ok_or_else(|| format!("no route {route_id:?}"))?;
    let app = init().await?;
    lambda_http::run(router(app, [route])).await
}

/// Consume the steps queue, reporting partial batch failures.
pub async fn serve_steps() -> Result<(), Error> {
    let app = init().await?;
    let runner = StepRunner::standard();
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: LambdaEvent<SqsEvent>| {
            let (app, runner) = (app.clone(), runner.clone());
            async move {
                Ok::<SqsBatchResponse, Error>(runner.handle_sqs_batch(&app, event.payload).await)
            }
        },
    ))
    .await
}
