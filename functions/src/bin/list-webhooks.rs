//! Lambda function for the `list-webhooks` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("list-webhooks").await
}
