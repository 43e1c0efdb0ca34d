//! Lambda function a schedule invokes to sweep stalled deployments (see
//! `walletless::lambda::SCHEDULED_FUNCTIONS` and `walletless::deployments::sweep`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_schedule("deployment-sweep").await
}
