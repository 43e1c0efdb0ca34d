//! Lambda function for the `change-password` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("change-password").await
}
