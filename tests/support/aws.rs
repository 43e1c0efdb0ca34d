//! The AWS emulator (moto server) that the test command starts.
//!
//! `scripts/test` starts moto on a free loopback port and exports `AWS_ENDPOINT_URL` with
//! dummy credentials. Tests refuse to run against anything but a loopback endpoint, so a
//! misconfigured shell can never point them at a real account.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The SDK configuration for the emulator, from the standard environment variables.
///
/// Panics (failing the test, with the reason) when no loopback emulator is configured.
pub async fn emulator_config() -> SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    assert!(
        loopback.iter().any(|prefix| endpoint.starts_with(prefix)),
        "AWS contract tests need the moto server on a loopback AWS_ENDPOINT_URL \
         (got {endpoint:?}); run them through scripts/test, which starts it"
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .load()
        .await
}

/// A resource name no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}
