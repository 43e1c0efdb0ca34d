//! Lambda function for the `refresh` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("refresh").await
}
