//! Lambda function consuming the steps queue (see `walletless::steps`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_steps().await
}
