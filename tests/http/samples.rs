//! `scripts/tools/issue_samples.py`, which `scripts/start` runs, against an in-process local
//! server on the test devnets: it issues an ASA and an ERC-20 through the public API, prints
//! their timelines and what was created, signs in instead of registering when the user exists,
//! and fails with the API's error when it cannot go on.

use std::path::Path;
use std::process::{Command, Output};

use walletless_tests::chains::{Family, environment_of};
use walletless_tests::family::{PASSWORD, unique_email};

/// Runs the script from the repository root, as `scripts/start` does, off the runtime that
/// serves the API it calls.
async fn issue_samples(base_url: &str, email: &str, password: &str) -> (Output, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let args = [
        "scripts/tools/issue_samples.py".to_string(),
        "--url".to_string(),
        base_url.to_string(),
        "--email".to_string(),
        email.to_string(),
        "--password".to_string(),
        password.to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(args)
            .current_dir(root)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// The word after `label` on the line where it first appears.
fn value_after<'a>(output: &'a str, label: &str) -> &'a str {
    let start = output
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{output}"))
        + label.len();
    output[start..].split_whitespace().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_an_asa_and_an_erc20_with_their_timelines() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let email = unique_email("samples");

    let (output, text) = issue_samples(&env.server.base_url, &email, PASSWORD).await;
    assert!(output.status.success(), "{text}");
    assert!(text.contains(&format!("registered {email}")), "{text}");
    assert!(text.contains("funded 10 Algo on algorand-devnet"), "{text}");
    assert!(text.contains("funded 1 ETH on evm-devnet"), "{text}");
    for step in [
        "→ queued",
        "queued → submitted",
        "submitted → pending",
        "pending → confirmed",
        "indexed → completed",
    ] {
        assert_eq!(text.matches(step).count(), 2, "{step}:\n{text}");
    }
    assert_eq!(text.matches("  completed: ").count(), 2, "{text}");

    let asset_id = value_after(&text, "completed: asset id ");
    assert!(asset_id.parse::<u64>().unwrap() > 0, "{text}");
    let contract = value_after(&text, "completed: contract address ");
    assert!(
        contract.len() == 42
            && contract.starts_with("0x")
            && contract[2..].chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    assert!(text.contains("== 2 sample tokens issued"), "{text}");

    // Run again as the same user: it signs in and issues two new tokens.
    let (again, text) = issue_samples(&env.server.base_url, &email, PASSWORD).await;
    assert!(again.status.success(), "{text}");
    assert!(text.contains(&format!("signed in {email}")), "{text}");
    assert_ne!(
        value_after(&text, "completed: asset id "),
        asset_id,
        "{text}"
    );
    assert_ne!(
        value_after(&text, "completed: contract address "),
        contract,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_with_the_api_error_when_it_cannot_sign_in() {
    let (env, _dir) = environment_of(Family::Embedded).await;
    let email = unique_email("samples");
    env.register(&email).await;

    let (output, text) = issue_samples(
        &env.server.base_url,
        &email,
        "orbit mango trellis 97 quasar",
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: POST /v1/auth/login answered 401"),
        "{text}"
    );
    assert!(!text.contains("completed"), "{text}");
}
