//! Lambda function for the `cancel-deployment` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("cancel-deployment").await
}
