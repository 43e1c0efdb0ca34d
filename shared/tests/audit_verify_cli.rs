//! The `audit-verify` command on files the library exported: exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use walletless::audit::{
    AuditEvent, ExportEncoder, ExportFilters, ExportFormat, ExportManifest, GENESIS_HASH, Subject,
};

const TENANT: &str = "01HZX3T5Q8J9V2K7M4N6P0R1S2";

fn chain(length: u64) -> Vec<AuditEvent> {
    let mut events: Vec<AuditEvent> = Vec::new();
    for sequence in 1..=length {
        let mut event = AuditEvent {
            tenant: TENANT.into(),
            sequence,
            at_ms: 1_717_171_717_000 + i64::try_from(sequence).unwrap(),
            actor: "=user:u".into(),
            event_type: "draft.changed".into(),
            subject: Subject::new("draft", "d1"),
            request_id: Some(format!("req-{sequence}")),
            correlation_id: None,
            payload: json!({ "n": sequence, "note": "-x" }),
            previous_hash: events
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), |e| e.hash.clone()),
            hash: String::new(),
        };
        event.hash = event.compute_hash().unwrap();
        events.push(event);
    }
    events
}

/// Writes the export of `events` and its manifest into `dir`; returns their paths.
fn write_export(dir: &Path, format: ExportFormat, events: &[AuditEvent]) -> (String, String) {
    let mut encoder = ExportEncoder::new(format);
    let mut file = Vec::new();
    for event in events {
        encoder.encode(event, &mut file).unwrap();
    }
    let summary = encoder.finish(&mut file);
    let name = format!("export.{}", format.extension());
    let manifest = ExportManifest {
        manifest_version: 1,
        export_id: "01J0EXPORT".into(),
        tenant: TENANT.into(),
        format,
        filters: ExportFilters::default(),
        created_at_ms: 1_717_171_800_000,
        file: format!("exports/{TENANT}/{name}"),
        summary,
    };
    let file_path = dir.join(&name);
    let manifest_path = dir.join(format!("{name}.manifest.json"));
    std::fs::write(&file_path, file).unwrap();
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    (
        file_path.to_str().unwrap().to_owned(),
        manifest_path.to_str().unwrap().to_owned(),
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn an_intact_export_verifies_and_a_changed_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for format in [ExportFormat::Json, ExportFormat::Csv] {
        let (file, manifest) = write_export(dir.path(), format, &chain(4));
        let output = run(&[&file, &manifest]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert!(
            stdout.starts_with("ok: 4 events, sequences 1..4, sha256 "),
            "{stdout}"
        );
        let manifest_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        let sha256 = manifest_json["sha256"].as_str().unwrap();
        assert_eq!(
            stdout.trim_end(),
            format!("ok: 4 events, sequences 1..4, sha256 {sha256}")
        );

        // Event 3's payload changed: line 3 of the JSON file, line 4 of the CSV (its header is
        // line 1).
        let original = std::fs::read_to_string(&file).unwrap();
        let (from, to) = match format {
            ExportFormat::Json => ("\"n\":3", "\"n\":30"),
            ExportFormat::Csv => ("\"\"n\"\":3", "\"\"n\"\":30"),
        };
        assert_eq!(original.matches(from).count(), 1);
        std::fs::write(&file, original.replacen(from, to, 1)).unwrap();
        let output = run(&[&file, &manifest]);
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty());
        let line = if format == ExportFormat::Json { 3 } else { 4 };
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with(&format!("{file}:{line}: stored hash ")),
            "{stderr}"
        );
    }
}

#[test]
fn an_empty_export_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (file, manifest) = write_export(dir.path(), ExportFormat::Csv, &[]);
    let output = run(&[&file, &manifest]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("ok: 0 events, sha256 "));
}

#[test]
fn a_truncated_file_is_named_after_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let (file, manifest) = write_export(dir.path(), ExportFormat::Json, &chain(3));
    let original = std::fs::read_to_string(&file).unwrap();
    let two_lines: String = original.split_inclusive('\n').take(2).collect();
    std::fs::write(&file, two_lines).unwrap();
    let output = run(&[&file, &manifest]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!("{file}:3: the file ends after sequence 2")),
        "{stderr}"
    );
}

#[test]
fn usage_errors_and_unreadable_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (file, manifest) = write_export(dir.path(), ExportFormat::Json, &chain(1));
    let missing = dir.path().join("missing").to_str().unwrap().to_owned();
    for args in [
        vec![],
        vec![file.as_str()],
        vec![file.as_str(), manifest.as_str(), "extra"],
        vec![missing.as_str(), manifest.as_str()],
        vec![file.as_str(), missing.as_str()],
        // The export is no manifest.
        vec![manifest.as_str(), file.as_str()],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
