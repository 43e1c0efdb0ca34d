//! Lambda function consuming the webhook deliveries queue (see `walletless::webhooks`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_webhook_deliveries().await
}
