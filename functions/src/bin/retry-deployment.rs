//! Lambda function for the `retry-deployment` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("retry-deployment").await
}
