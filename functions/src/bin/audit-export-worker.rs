//! Lambda function consuming the audit exports queue (see `walletless::audit::exports`).

#[tokio::main]
async fn main() -> Result<(), walletless::lambda::Error> {
    walletless::lambda::serve_audit_exports().await
}
