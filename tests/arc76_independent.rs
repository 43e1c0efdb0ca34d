//! Cross-check of our ARC-76 derivation against independent implementations: the `arc76` npm
//! package (seed and Algorand account, through algosdk), algosdk's mnemonic and ethers' EVM
//! address, all run by tests/tools/arc76_derive.js on random inputs from a fixed RNG seed.
//!
//! It installs nothing: scripts/test runs `npm ci --prefix tests/tools` first (see
//! `ensure_node_tools` in scripts/lib.sh).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use secrecy::SecretString;
use serde_json::{Value, json};
use walletless::accounts::arc76::{Arc76Accounts, MAX_SLOT, derive_seed};
use walletless::accounts::mnemonic::{mnemonic_to_seed, seed_to_mnemonic};

/// Few cases: each costs one PBKDF2 (999,999 rounds) here and two in node.
const CASES: usize = 6;

struct Case {
    email: Option<String>,
    password: String,
    slot: u32,
}

/// SplitMix64: a fixed, dependency-free RNG so every run checks the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn between(&mut self, low: usize, high_inclusive: usize) -> usize {
        low + self.below(high_inclusive - low + 1)
    }

    fn string_from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const LOWER_DIGITS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A canonical (lower-case ASCII) email: `local@label.label.tld`.
fn random_email(rng: &mut Rng) -> String {
    let local_alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789._+-";
    let mut local = rng.string_from(LOWER_DIGITS, 1);
    let rest = rng.between(0, 20);
    local.push_str(&rng.string_from(local_alphabet, rest));
    let labels = rng.between(1, 2);
    let mut domain = String::new();
    for _ in 0..labels {
        let len = rng.between(1, 12);
        domain.push_str(&rng.string_from(LOWER_DIGITS, len));
        domain.push('.');
    }
    let tld_len = rng.between(2, 6);
    domain.push_str(&rng.string_from(b"abcdefghijklmnopqrstuvwxyz", tld_len));
    format!("{local}@{domain}")
}

/// 16 to 64 printable ASCII characters, symbols and spaces included.
fn random_password(rng: &mut Rng) -> String {
    let printable: Vec<u8> = (0x20..=0x7e).collect();
    let len = rng.between(16, 64);
    rng.string_from(&printable, len)
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(0x00a4_c076_2026_1129);
    (0..CASES)
        .map(|i| Case {
            // The last case is the password-only variant.
            email: (i + 1 < CASES).then(|| random_email(&mut rng)),
            password: random_password(&mut rng),
            // Mostly small slots, one at the largest slot every implementation accepts.
            slot: if i == 2 {
                MAX_SLOT
            } else {
                rng.between(0, 3) as u32
            },
        })
        .collect()
}

/// tests/tools, with its node_modules installed (by scripts/test, not by this test).
fn node_tools() -> PathBuf {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    assert!(
        tools.join("node_modules/arc76").is_dir() && tools.join("node_modules/ethers").is_dir(),
        "tests/tools/node_modules is missing: run scripts/test, which installs it \
         (or `npm ci --prefix tests/tools`)"
    );
    tools
}

fn run_node(tools: &Path, cases: &[Case]) -> Vec<Value> {
    let request: Vec<Value> = cases
        .iter()
        .map(|c| json!({ "email": c.email, "password": c.password, "slot": c.slot }))
        .collect();
    let mut child = Command::new("node")
        .arg(tools.join("arc76_derive.js"))
        .current_dir(tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be on PATH to run the ARC-76 cross-check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&request).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "arc76_derive.js failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

struct Ours {
    seed_hex: String,
    accounts: Arc76Accounts,
    mnemonic: String,
}

fn derive_ours(case: &Case) -> Ours {
    let password = SecretString::from(case.password.as_str());
    let seed = derive_seed(case.email.as_deref(), &password, case.slot).unwrap();
    Ours {
        seed_hex: hex_of(&seed[..]),
        accounts: Arc76Accounts::from_seed(&seed).unwrap(),
        mnemonic: seed_to_mnemonic(&seed).to_string(),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn matches_the_arc76_npm_package_algosdk_and_ethers() {
    let tools = node_tools();
    let cases = cases();
    let started = Instant::now();

    // Node and our derivations run side by side: node in its own process, ours on threads.
    let (theirs, ours) = std::thread::scope(|scope| {
        let node = scope.spawn(|| run_node(&tools, &cases));
        let ours: Vec<_> = cases
            .iter()
            .map(|case| scope.spawn(move || derive_ours(case)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect();
        (node.join().unwrap(), ours)
    });
    eprintln!(
        "{} cases cross-checked in {:?}",
        cases.len(),
        started.elapsed()
    );

    assert_eq!(theirs.len(), cases.len());
    for ((case, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        let label = format!("email {:?}, slot {}", case.email, case.slot);
        assert_eq!(
            ours.seed_hex,
            theirs["seed"].as_str().unwrap(),
            "seed, {label}"
        );
        assert_eq!(
            ours.accounts.algorand_address,
            theirs["algorand_address"].as_str().unwrap(),
            "Algorand address, {label}"
        );
        assert_eq!(
            ours.accounts.evm_address,
            theirs["evm_address"].as_str().unwrap(),
            "EVM address, {label}"
        );
        let their_mnemonic = theirs["algorand_mnemonic"].as_str().unwrap();
        assert_eq!(ours.mnemonic, their_mnemonic, "mnemonic, {label}");
        assert_eq!(
            hex_of(&mnemonic_to_seed(their_mnemonic).unwrap()[..]),
            ours.seed_hex,
            "mnemonic back to seed, {label}"
        );
    }
}

#[test]
fn generated_inputs_are_valid_and_varied() {
    let cases = cases();
    assert_eq!(cases.len(), CASES);
    assert!(cases.iter().any(|c| c.email.is_none()));
    assert!(cases.iter().any(|c| c.password.contains(' ')));
    for case in &cases {
        assert!((16..=64).contains(&case.password.len()));
        if let Some(email) = &case.email {
            assert!(
                email.is_ascii() && *email == email.trim().to_lowercase(),
                "{email}"
            );
            assert_eq!(email.matches('@').count(), 1, "{email}");
        }
    }
}
