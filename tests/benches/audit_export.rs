//! Audit exports of 10,000 and 100,000 events on the embedded adapters (SQLite records,
//! directory archive), in JSON Lines and CSV: how long `run_export` takes and how much heap it
//! needs at its peak, then the same for the offline `verify_export` of the downloaded file.
//!
//! Run: `cargo bench -p walletless-tests --bench audit_export` (optimised build; once built,
//! well under a minute, most of it filling the chains).
//!
//! Each export gets its own tenant, filled beforehand with N deployment transitions written
//! 24 to a records transaction (the port allows 25 writes), so every file holds exactly N
//! events. Heap is counted by a global allocator over `System`: "peak" is the most bytes
//! allocated at once during the call, above what was allocated when it started. SQLite
//! allocates with its own `malloc`, outside that count; VmHWM (the process's resident peak,
//! reset before each call where the kernel allows it) covers it, and everything else the
//! process keeps. The claim checked: the export's heap peak does not grow with N (a page of
//! events and one upload part), so it is about the same at both sizes.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use peak_alloc::PeakAlloc;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use walletless::app::App;
use walletless::audit::exports::{self, ExportStatus};
use walletless::audit::store::MAX_LIST_LIMIT;
use walletless::audit::verify_export::verify_export;
use walletless::audit::{
    AuditFilter, ExportFilters, ExportFormat, NewAuditEvent, Origin, Subject, types,
};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const SIZES: [u64; 2] = [10_000, 100_000];
const FORMATS: [ExportFormat; 2] = [ExportFormat::Json, ExportFormat::Csv];
/// One short of the records port's 25 writes per transaction.
const EVENTS_PER_TRANSACTION: usize = 24;
const MIB: f64 = 1024.0 * 1024.0;

/// The statuses a deployment goes through, with the reason its pipeline records.
const HAPPY_PATH: [(Option<&str>, &str, &str); 6] = [
    (None, "queued", "accepted"),
    (Some("queued"), "submitted", "submitted"),
    (Some("submitted"), "pending", "broadcast to 3 nodes"),
    (Some("pending"), "confirmed", "confirmed after 2 blocks"),
    (Some("confirmed"), "indexed", "indexed"),
    (Some("indexed"), "completed", "completed"),
];

/// The `deployment.transition` events of deployment number `n` of `tenant`, as the pipeline
/// writes them. Every tenth fails while pending with a node's message; some correlation ids
/// are client-supplied text that CSV must neutralise (`-`, `=`) and quote.
fn deployment_transitions(tenant: &str, n: u64) -> Vec<NewAuditEvent> {
    let deployment_id = ulid::Ulid::new().to_string();
    let draft_id = ulid::Ulid::new().to_string();
    let (standard, network, evm) = match n % 3 {
        0 => ("erc20-mintable", "evm-devnet", true),
        1 => ("asa-fungible", "algorand-devnet", false),
        _ => ("security-token", "algorand-devnet", false),
    };
    let transaction_id = |step: usize| {
        let digest = Sha256::digest(format!("{deployment_id}/{step}"));
        if evm {
            format!("0x{}", hex::encode(digest))
        } else {
            hex::encode_upper(&digest[..26])
        }
    };
    let correlation_id = match n % 7 {
        0 => format!("-rollout-{n}"),
        1 => format!("=HYPERLINK(\"https://ops.example/{n}\", \"run {n}\")"),
        _ => format!("corr-{}", ulid::Ulid::new()),
    };
    let fails = n % 10 == 9;
    let steps = if fails { 4 } else { HAPPY_PATH.len() };
    (0..steps)
        .map(|step| {
            let (from, to, reason) = HAPPY_PATH[step];
            let failed_here = fails && step == 3;
            let (to, reason, error_code, retryable) = if failed_here {
                (
                    "failed",
                    "node said \"nonce too low\", gave up after 3 attempts",
                    Some("chain_rejected"),
                    Some(false),
                )
            } else {
                (to, reason, None, None)
            };
            let transaction_ids: Vec<String> = match step {
                0 | 1 => Vec::new(),
                _ => vec![transaction_id(1), transaction_id(step)],
            };
            let actor = if step == 0 {
                format!("user:{tenant}")
            } else {
                "system:pipeline".to_owned()
            };
            let mut event = NewAuditEvent::new(
                actor,
                types::DEPLOYMENT_TRANSITION,
                Subject::new("deployment", &deployment_id),
            )
            .with_correlation_id(&correlation_id)
            .with_payload(json!({
                "from": from,
                "to": to,
                "reason": reason,
                "attempt": if failed_here { 3 } else { 1 },
                "transaction_ids": transaction_ids,
                "error_code": error_code,
                "retryable": retryable,
                "draft_id": draft_id,
                "draft_version": 1 + n % 4,
                "standard": standard,
                "network": network,
            }));
            if step == 0 {
                event = event.with_request_id(format!("req-{}", ulid::Ulid::new()));
            }
            event
        })
        .collect()
}

struct Fill {
    elapsed: Duration,
    mean_payload_bytes: f64,
}

/// Appends `count` transitions to `tenant`'s chain, [`EVENTS_PER_TRANSACTION`] per
/// transaction.
async fn fill(app: &App, tenant: &str, count: u64) -> anyhow::Result<Fill> {
    let started = Instant::now();
    let mut events = (0..).flat_map(|n| deployment_transitions(tenant, n));
    let (mut written, mut payload_bytes) = (0u64, 0usize);
    while written < count {
        let take = usize::try_from(count - written)?.min(EVENTS_PER_TRANSACTION);
        let batch: Vec<NewAuditEvent> = events.by_ref().take(take).collect();
        payload_bytes += batch
            .iter()
            .map(|event| event.payload.to_string().len())
            .sum::<usize>();
        walletless::audit::transact(app.records(), tenant, Vec::new(), batch).await?;
        written += u64::try_from(take)?;
    }
    Ok(Fill {
        elapsed: started.elapsed(),
        mean_payload_bytes: payload_bytes as f64 / count as f64,
    })
}

/// Resets the kernel's resident-set peak (VmHWM) to the current RSS; false where that is not
/// allowed (the figure then covers the whole run so far).
fn reset_resident_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `Vm*` line of /proc/self/status, in bytes.
fn vm_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `work` and returns its result with its time and heap peak above the heap at its start.
async fn measured<T>(work: impl Future<Output = T>) -> (T, Duration, usize) {
    let baseline = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let started = Instant::now();
    let result = work.await;
    let elapsed = started.elapsed();
    (result, elapsed, HEAP.peak_usage().saturating_sub(baseline))
}

struct Row {
    events: u64,
    format: ExportFormat,
    fill: Fill,
    page_heap: usize,
    export: Duration,
    export_heap: usize,
    export_resident_peak: Option<u64>,
    file_bytes: u64,
    download_heap: usize,
    verify: Duration,
    verify_heap: usize,
}

async fn bench_one(app: &App, events: u64, format: ExportFormat) -> anyhow::Result<Row> {
    let tenant = ulid::Ulid::new().to_string();
    let fill = fill(app, &tenant, events).await?;
    // What one page of the export's reading costs: the stored records and their events.
    let (page, _, page_heap) = measured(walletless::audit::list(
        app.records(),
        &tenant,
        &AuditFilter::default(),
        None,
        MAX_LIST_LIMIT,
    ))
    .await;
    ensure!(page?.events.len() == usize::try_from(events.min(MAX_LIST_LIMIT.into()))?);

    let requested = exports::request(
        app,
        &tenant,
        format,
        ExportFilters::default(),
        &Origin::user(&tenant),
    )
    .await?;
    let export_id = requested.export.id;
    ensure!(
        requested.export.up_to_sequence == Some(events),
        "the export ends at {:?}, not at the last filled event",
        requested.export.up_to_sequence
    );
    let resident_reset = reset_resident_peak();
    let (result, export, export_heap) =
        measured(exports::run_export(app, &tenant, &export_id)).await;
    result?;
    let export_resident_peak = vm_status("VmHWM:").filter(|_| resident_reset);

    let done = exports::get(app, &tenant, &export_id).await?.export;
    ensure!(
        done.status == ExportStatus::Completed,
        "export {export_id} ended {:?}: {:?}",
        done.status,
        done.error
    );
    let manifest = done.manifest.context("a completed export has a manifest")?;
    ensure!(
        manifest.summary.count == events,
        "the manifest lists {} events, not {events}",
        manifest.summary.count
    );
    let (downloaded, _, download_heap) = measured(app.archive().get(&manifest.file)).await;
    let file = downloaded?.body;
    ensure!(
        u64::try_from(file.len())? == manifest.summary.bytes,
        "the stored file is {} bytes, the manifest says {}",
        file.len(),
        manifest.summary.bytes
    );
    let (verified, verify, verify_heap) =
        measured(async { verify_export(file.as_slice(), &manifest) }).await;
    let verified =
        verified.map_err(|problem| anyhow::anyhow!("export does not verify: {problem}"))?;
    ensure!(
        verified.summary == manifest.summary,
        "verified {:?}, manifest {:?}",
        verified.summary,
        manifest.summary
    );
    ensure!(verified.summary.count == events);
    if format == ExportFormat::Csv {
        // The awkward cells were really written neutralised and quoted, and read back.
        let text = String::from_utf8_lossy(&file);
        for written in [",'-rollout-", ",\"'=HYPERLINK(\"\"https://ops.example/"] {
            ensure!(text.contains(written), "no cell {written:?} in the CSV");
        }
    }

    Ok(Row {
        events,
        format,
        fill,
        page_heap,
        export,
        export_heap,
        export_resident_peak,
        file_bytes: manifest.summary.bytes,
        download_heap,
        verify,
        verify_heap,
    })
}

fn format_name(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Json => "jsonl",
        ExportFormat::Csv => "csv",
    }
}

fn print_row(row: &Row) {
    let per_second = |elapsed: Duration| row.events as f64 / elapsed.as_secs_f64();
    let mib = |bytes: usize| bytes as f64 / MIB;
    let resident = row.export_resident_peak.map_or_else(
        || "n/a".to_owned(),
        |bytes| format!("{:.1}", bytes as f64 / MIB),
    );
    println!(
        "{:>7} {:<5} | {:>6.2} s {:>7.0}/s | {:>6.2} s {:>7.0}/s {:>6.1} {:>6.1} {:>6} | {:>6.1} | {:>6.2} s {:>7.0}/s {:>6.2}",
        row.events,
        format_name(row.format),
        row.fill.elapsed.as_secs_f64(),
        per_second(row.fill.elapsed),
        row.export.as_secs_f64(),
        per_second(row.export),
        row.file_bytes as f64 / MIB,
        mib(row.export_heap),
        resident,
        mib(row.download_heap),
        row.verify.as_secs_f64(),
        per_second(row.verify),
        mib(row.verify_heap),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = walletless::config::Config::from_vars(&Default::default())?;
    let app = App::open_embedded(dir.path(), "http://127.0.0.1:1".parse()?, &config)
        .await?
        .app;

    println!(
        "{:13} | {:^19} | {:^40} | {:^6} | {:^26}",
        "", "fill", "run_export", "get", "verify_export"
    );
    println!(
        "{:>7} {:<5} | {:>8} {:>9} | {:>8} {:>9} {:>6} {:>6} {:>6} | {:>6} | {:>8} {:>9} {:>6}",
        "events",
        "fmt",
        "time",
        "rate",
        "time",
        "rate",
        "file",
        "heap",
        "VmHWM",
        "heap",
        "time",
        "rate",
        "heap"
    );
    let mut rows = Vec::new();
    for events in SIZES {
        for format in FORMATS {
            let row = bench_one(&app, events, format).await?;
            print_row(&row);
            rows.push(row);
        }
    }
    let largest_page = rows.iter().map(|row| row.page_heap).max().unwrap_or(0);
    let mean_payload = rows
        .iter()
        .map(|row| row.fill.mean_payload_bytes)
        .sum::<f64>()
        / rows.len() as f64;
    println!(
        "MiB throughout. file: the export file; heap: peak heap above the call's start; VmHWM: \
         the process's resident peak during the export; get: the download, whole, from the archive.\n\
         One page of {MAX_LIST_LIMIT} events from audit::list: {:.1} MiB of heap at most. \
         Payloads: {mean_payload:.0} bytes on average; {EVENTS_PER_TRANSACTION} events per fill \
         transaction. VmHWM at the end: {}.",
        largest_page as f64 / MIB,
        vm_status("VmHWM:").map_or_else(
            || "n/a".to_owned(),
            |bytes| format!("{:.1} MiB", bytes as f64 / MIB)
        )
    );

    for format in FORMATS {
        let heap_at = |events: u64| {
            rows.iter()
                .find(|row| row.events == events && row.format == format)
                .map(|row| row.export_heap as f64)
        };
        let (Some(small), Some(large)) = (heap_at(SIZES[0]), heap_at(SIZES[1])) else {
            continue;
        };
        let ratio = large / small;
        // Ten times the events: a bounded export stays well under twice the heap.
        let verdict = if ratio < 1.5 {
            "bounded"
        } else {
            "NOT bounded"
        };
        println!(
            "{}: export heap peak {:.1} MiB at {} events, {:.1} MiB at {} ({ratio:.2}x): {verdict}",
            format_name(format),
            small / MIB,
            SIZES[0],
            large / MIB,
            SIZES[1],
        );
    }
    Ok(())
}
