//! Lambda function for the `get-audit-export` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("get-audit-export").await
}
