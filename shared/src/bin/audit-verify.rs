//! `audit-verify <export-file> <manifest.json>`: checks an audit export against its manifest
//! offline (no configuration, no AWS). Exit 0 when it verifies, 1 when it does not (the first
//! problem on stderr as `<file>:<line>: <reason>`), 2 for usage errors and unreadable files.

use std::process::ExitCode;
use walletless::audit::{ExportManifest, ProblemReason, verify_export};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, manifest] = args.as_slice() else {
        eprintln!("usage: audit-verify <export-file> <manifest.json>");
        return ExitCode::from(2);
    };
    let manifest: ExportManifest = match std::fs::read(manifest)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(manifest) => manifest,
        Err(error) => {
            eprintln!("{manifest}: cannot read the manifest: {error}");
            return ExitCode::from(2);
        }
    };
    let opened = match std::fs::File::open(file) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("{file}: cannot open: {error}");
            return ExitCode::from(2);
        }
    };
    match verify_export(opened, &manifest) {
        Ok(verified) => {
            let summary = verified.summary;
            let sequences = match (summary.first_sequence, summary.last_sequence) {
                (Some(first), Some(last)) => format!(", sequences {first}..{last}"),
                _ => String::new(),
            };
            println!(
                "ok: {} events{sequences}, sha256 {}",
                summary.count, summary.sha256
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            match problem.line {
                Some(line) => eprintln!("{file}:{line}: {}", problem.reason),
                None => eprintln!("{file}: {}", problem.reason),
            }
            if matches!(problem.reason, ProblemReason::Unreadable(_)) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
