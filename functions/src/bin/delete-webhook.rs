//! Lambda function for the `delete-webhook` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("delete-webhook").await
}
