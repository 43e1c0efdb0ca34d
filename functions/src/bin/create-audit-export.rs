//! Lambda function for the `create-audit-export` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("create-audit-export").await
}
