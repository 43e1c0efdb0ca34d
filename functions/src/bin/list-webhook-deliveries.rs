//! Lambda function for the `list-webhook-deliveries` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("list-webhook-deliveries").await
}
