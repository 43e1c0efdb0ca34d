//! Lambda function for the `get-api-docs` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("get-api-docs").await
}
