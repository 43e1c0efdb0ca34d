//! Lambda function for the `key-export` route (see `walletless::api::routes`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_route("key-export").await
}
