//! The project's Algorand contracts (contracts/algorand): the committed artifacts are exactly
//! what the pinned puyapy makes of the sources, the contracts' unit tests (algorand-python-testing)
//! pass, and the ARC-56 specs offer ARC-200 with the selectors of the reference.
//!
//! It installs nothing: scripts/test creates .venv-puya first (see
//! `ensure_algorand_contract_tools` in scripts/tools/algorand_contracts.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use walletless::chains::algorand::abi::{ARC200_EVENTS, ARC200_METHODS, method_selector};

const CONTRACTS: [&str; 2] = ["Arc200", "SecurityToken"];

/// The methods ARC-200 marks read-only (ARC-22: callable through simulate).
const ARC200_READONLY: [&str; 6] = [
    "arc200_name",
    "arc200_symbol",
    "arc200_decimals",
    "arc200_totalSupply",
    "arc200_balanceOf",
    "arc200_allowance",
];

/// An app's approval and clear programs together, without extra pages.
const MAX_PROGRAM_BYTES_WITHOUT_EXTRA_PAGES: usize = 2048;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn algorand_dir() -> PathBuf {
    workspace_root().join("contracts/algorand")
}

/// .venv-puya's Python (3.12, with puyapy and algorand-python-testing).
fn puya_python() -> PathBuf {
    let python = workspace_root().join(".venv-puya/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test, which installs the Algorand contract tools \
         (ensure_algorand_contract_tools in scripts/tools/algorand_contracts.sh)",
        python.display()
    );
    python
}

/// Runs .venv-puya's Python in contracts/algorand, without writing bytecode caches there.
fn run_python(what: &str, args: &[&str]) -> Output {
    let started = Instant::now();
    let output = Command::new(puya_python())
        .args(args)
        .current_dir(algorand_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    eprintln!(
        "{what} took {:.2} s\n{}{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn arc56(contract: &str) -> Value {
    let path = algorand_dir().join(format!("artifacts/{contract}.arc56.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn artifact_bytes(file: &str) -> Vec<u8> {
    let path = algorand_dir().join("artifacts").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// ARC-4 selector in hex.
fn selector(signature: &str) -> String {
    hex::encode(method_selector(signature))
}

fn arg_types(entry: &Value) -> String {
    entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg["type"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(",")
}

/// `name(args)returns` of every method of an ARC-56 spec, with its read-only flag.
fn method_signatures(spec: &Value) -> Vec<(String, bool)> {
    spec["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| {
            let signature = format!(
                "{}({}){}",
                method["name"].as_str().unwrap(),
                arg_types(method),
                method["returns"]["type"].as_str().unwrap()
            );
            (signature, method["readonly"].as_bool().unwrap_or(false))
        })
        .collect()
}

/// `name(args)` of every event of an ARC-56 spec.
fn event_signatures(spec: &Value) -> Vec<String> {
    spec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| format!("{}({})", event["name"].as_str().unwrap(), arg_types(event)))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn committed_artifacts_are_what_puyapy_compiles_from_the_sources() {
    let output = run_python("build.py --check", &["build.py", "--check"]);
    assert!(
        output.status.success(),
        "contracts/algorand/artifacts differ from a fresh compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn contract_unit_tests_pass() {
    let output = run_python("pytest", &["-m", "pytest", "-q"]);
    assert!(
        output.status.success(),
        "the contract unit tests failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn arc56_specs_offer_arc200_methods_with_the_reference_selectors() {
    for contract in CONTRACTS {
        let spec = arc56(contract);
        let methods = method_signatures(&spec);
        let approval = artifact_bytes(&format!("{contract}.approval.bin"));
        for (signature, reference) in ARC200_METHODS {
            let (_, readonly) = methods
                .iter()
                .find(|(offered, _)| offered == signature)
                .unwrap_or_else(|| panic!("{contract} lacks {signature}; it offers {methods:?}"));
            assert_eq!(selector(signature), reference, "{contract}: {signature}");
            let name = signature.split('(').next().unwrap();
            assert_eq!(
                *readonly,
                ARC200_READONLY.contains(&name),
                "{contract}: read-only flag of {signature}"
            );
            // The router matches on the selector: it must be in the compiled program.
            let bytes = hex::decode(reference).unwrap();
            assert!(
                contains(&approval, &bytes),
                "{contract}.approval.bin does not route {reference} ({signature})"
            );
        }
    }
}

#[test]
fn arc56_specs_declare_the_arc200_events_with_the_reference_selectors() {
    for contract in CONTRACTS {
        let spec = arc56(contract);
        let events = event_signatures(&spec);
        let approval = artifact_bytes(&format!("{contract}.approval.bin"));
        for (signature, reference) in ARC200_EVENTS {
            assert!(
                events.iter().any(|event| event == signature),
                "{contract} does not declare {signature}; it declares {events:?}"
            );
            assert_eq!(selector(signature), reference, "{contract}: {signature}");
            assert!(
                contains(&approval, &hex::decode(reference).unwrap()),
                "{contract}.approval.bin never logs {reference} ({signature})"
            );
        }
    }
}

#[test]
fn arc56_bytecode_is_the_committed_bin_and_needs_no_extra_pages() {
    for contract in CONTRACTS {
        let spec = arc56(contract);
        let mut total = 0;
        for program in ["approval", "clear"] {
            let bin = artifact_bytes(&format!("{contract}.{program}.bin"));
            let embedded = STANDARD
                .decode(spec["byteCode"][program].as_str().unwrap())
                .unwrap();
            assert_eq!(
                embedded, bin,
                "{contract}: arc56 byteCode.{program} vs .bin"
            );
            // The first byte of an AVM program is its version.
            assert_eq!(bin[0], 10, "{contract}.{program}.bin targets AVM 10");
            total += bin.len();
        }
        assert!(
            total <= MAX_PROGRAM_BYTES_WITHOUT_EXTRA_PAGES,
            "{contract}: programs take {total} bytes; deployment must now request extra pages \
             (and contracts/algorand/README.md's funding figures change)"
        );
        let compiler = &spec["compilerInfo"];
        assert_eq!(compiler["compiler"], "puya", "{contract}: compiler");
    }
}
