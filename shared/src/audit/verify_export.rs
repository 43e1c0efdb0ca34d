//! Offline verification of an export file against its manifest (`docs/audit-chain.md`,
//! "Exports"): streams the file once, line by line, and names the first line that is wrong.

use super::canonical::to_canonical_bytes;
use super::chain::{BreakReason, ChainChecker, Continuity};
use super::event::{AuditEvent, Subject};
use super::export::{
    CSV_COLUMNS, ExportFormat, ExportManifest, ExportSummary, MANIFEST_VERSION, rfc3339_ms,
    unneutralise,
};
use super::store::AuditFilter;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Cursor, Read, SeekFrom};

/// A line (a CSV row, which may span lines) longer than this is refused, so memory stays
/// bounded whatever the file holds. Stored events are far smaller (a record is at most 400 KB).
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// What a file that verified holds, recounted from the file itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedExport {
    pub summary: ExportSummary,
}

/// The first thing wrong with an export file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportProblem {
    /// 1-based physical line of the file where it is wrong (a CSV row spanning several lines
    /// is named by its first; the CSV header is line 1); `None` when it concerns the whole file.
    pub line: Option<u64>,
    pub reason: ProblemReason,
}

impl std::error::Error for ExportProblem {}

impl std::fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProblemReason {
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("the manifest cannot be verified against: {0}")]
    BadManifest(String),
    #[error("line is longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error("line does not end with {expected}")]
    MissingLineEnd { expected: &'static str },
    #[error("the CSV header row is missing")]
    MissingHeader,
    #[error("not the CSV header row of an audit export")]
    BadHeader,
    #[error("not one CSV row: {0}")]
    BadRow(String),
    #[error("{found} cells where {expected} were expected")]
    CellCount { expected: usize, found: usize },
    #[error("cell {column}: {problem}")]
    BadCell {
        column: &'static str,
        problem: String,
    },
    #[error("not an audit event: {0}")]
    NotAnEvent(String),
    #[error("event of tenant {found:?} in an export of tenant {expected:?}")]
    WrongTenant { expected: String, found: String },
    #[error("{0}")]
    Chain(BreakReason),
    #[error(
        "the line says it is event {found} of the file, but it is event {expected}: a line before it was removed, added or moved"
    )]
    WrongPosition { expected: u64, found: u64 },
    #[error("event {sequence} is outside the export's filters")]
    OutsideFilters { sequence: u64 },
    #[error("more events than the {listed} the manifest lists")]
    TooManyEvents { listed: u64 },
    #[error("event {sequence} is not the manifest's first event ({expected})")]
    NotManifestFirst { sequence: u64, expected: String },
    #[error("event {sequence} is not the manifest's last event ({expected})")]
    NotManifestLast { sequence: u64, expected: String },
    #[error(
        "the file ends {}, but the manifest's last event is sequence {expected}: events are missing at the end",
        after.map_or_else(|| "without any event".to_owned(), |s| format!("after sequence {s}"))
    )]
    MissingTail { after: Option<u64>, expected: u64 },
    #[error("the file holds {found} events but the manifest lists {listed}: an event is missing")]
    CountMismatch { listed: u64, found: u64 },
    #[error("the file's SHA-256 is {found} but the manifest's is {expected}")]
    DigestMismatch { expected: String, found: String },
    #[error("the file is {found} bytes but the manifest says {expected}")]
    LengthMismatch { expected: u64, found: u64 },
}

/// Verifies that `file` is the export `manifest` describes (see `docs/audit-chain.md`).
pub fn verify_export(
    file: impl Read,
    manifest: &ExportManifest,
) -> Result<VerifiedExport, ExportProblem> {
    verify_export_with(file, manifest, |_| {})
}

/// [`verify_export`], handing each event to `on_event` once it has passed every check of
/// its line (the file as a whole is only vouched for when the call returns `Ok`).
pub fn verify_export_with(
    file: impl Read,
    manifest: &ExportManifest,
    mut on_event: impl FnMut(&AuditEvent),
) -> Result<VerifiedExport, ExportProblem> {
    let whole_file = |reason| ExportProblem { line: None, reason };
    let selected =
        check_manifest(manifest).map_err(|e| whole_file(ProblemReason::BadManifest(e)))?;
    let format = manifest.format;
    let mut lines = Lines::new(file, format);
    let mut row = Vec::new();
    let mut csv_rows = CsvRows::new();
    let mut record = csv::StringRecord::new();
    if format == ExportFormat::Csv {
        let at = |reason| ExportProblem {
            line: Some(1),
            reason,
        };
        if lines.next(&mut row)?.is_none() {
            return Err(at(ProblemReason::MissingHeader));
        }
        csv_rows.read(&row, &mut record).map_err(at)?;
        if !record.iter().eq(CSV_COLUMNS) {
            return Err(at(ProblemReason::BadHeader));
        }
    }
    let filters = &manifest.filters;
    let mut checker = ChainChecker::new(if filters.is_everything() {
        Continuity::FromGenesis
    } else if filters.is_contiguous() {
        Continuity::Run
    } else {
        Continuity::Sparse
    });
    let mut count = 0u64;
    let mut first: Option<(u64, String)> = None;
    let mut last: Option<(u64, String)> = None;
    while let Some(line) = lines.next(&mut row)? {
        let at = |reason| ExportProblem {
            line: Some(line),
            reason,
        };
        let (position, event) = match format {
            ExportFormat::Json => json_event(&row),
            ExportFormat::Csv => csv_rows
                .read(&row, &mut record)
                .and_then(|()| csv_event(&record)),
        }
        .map_err(at)?;
        if event.tenant != manifest.tenant {
            return Err(at(ProblemReason::WrongTenant {
                expected: manifest.tenant.clone(),
                found: event.tenant,
            }));
        }
        checker
            .check(&event)
            .map_err(|reason| at(ProblemReason::Chain(reason)))?;
        // After the chain checks, which say more where neighbours are consecutive; where they
        // are not (type and subject filters), this is what names a removed line.
        if position != count + 1 {
            return Err(at(ProblemReason::WrongPosition {
                expected: count + 1,
                found: position,
            }));
        }
        if !selected.matches(&event) {
            return Err(at(ProblemReason::OutsideFilters {
                sequence: event.sequence,
            }));
        }
        check_against_manifest(&event, count, manifest).map_err(at)?;
        count += 1;
        if first.is_none() {
            first = Some((event.sequence, event.hash.clone()));
        }
        on_event(&event);
        last = Some((event.sequence, event.hash));
    }
    let end = lines.next_line;
    let (sha256, bytes) = lines.finish();
    let (first_sequence, first_hash) = first.unzip();
    let (last_sequence, last_hash) = last.unzip();
    let summary = ExportSummary {
        count,
        first_sequence,
        first_hash,
        last_sequence,
        last_hash,
        sha256,
        bytes,
    };
    let listed = &manifest.summary;
    if let Some(expected) = listed.last_sequence {
        if (summary.last_sequence, &summary.last_hash) != (Some(expected), &listed.last_hash) {
            return Err(ExportProblem {
                line: Some(end),
                reason: ProblemReason::MissingTail {
                    after: summary.last_sequence,
                    expected,
                },
            });
        }
    }
    if summary.count != listed.count {
        return Err(whole_file(ProblemReason::CountMismatch {
            listed: listed.count,
            found: summary.count,
        }));
    }
    if summary.sha256 != listed.sha256 {
        return Err(whole_file(ProblemReason::DigestMismatch {
            expected: listed.sha256.clone(),
            found: summary.sha256,
        }));
    }
    if summary.bytes != listed.bytes {
        return Err(whole_file(ProblemReason::LengthMismatch {
            expected: listed.bytes,
            found: summary.bytes,
        }));
    }
    Ok(VerifiedExport { summary })
}

/// Checks what the verifier relies on in the manifest; returns the filter its events must match.
fn check_manifest(manifest: &ExportManifest) -> Result<AuditFilter, String> {
    if manifest.manifest_version != MANIFEST_VERSION {
        return Err(format!(
            "manifest version {} (this verifier reads {MANIFEST_VERSION})",
            manifest.manifest_version
        ));
    }
    let selected = AuditFilter::try_from(&manifest.filters)
        .map_err(|_| "its subject filter has a kind or an id but not both".to_owned())?;
    let summary = &manifest.summary;
    let bounds_given = [
        summary.first_sequence.is_some(),
        summary.first_hash.is_some(),
        summary.last_sequence.is_some(),
        summary.last_hash.is_some(),
    ];
    if bounds_given
        .iter()
        .any(|given| *given != (summary.count > 0))
    {
        return Err("its first and last events do not agree with its count".into());
    }
    Ok(selected)
}

/// The checks of one event against the manifest's count and bounds, so that an extra or a
/// missing event at either end is named at its line. `before` events have passed already.
fn check_against_manifest(
    event: &AuditEvent,
    before: u64,
    manifest: &ExportManifest,
) -> Result<(), ProblemReason> {
    let listed = &manifest.summary;
    if before >= listed.count {
        return Err(ProblemReason::TooManyEvents {
            listed: listed.count,
        });
    }
    let describe = |sequence: Option<u64>, hash: &Option<String>| {
        format!(
            "sequence {}, hash {}",
            sequence.unwrap_or_default(),
            hash.as_deref().unwrap_or_default()
        )
    };
    if before == 0
        && (Some(event.sequence) != listed.first_sequence
            || Some(&event.hash) != listed.first_hash.as_ref())
    {
        return Err(ProblemReason::NotManifestFirst {
            sequence: event.sequence,
            expected: describe(listed.first_sequence, &listed.first_hash),
        });
    }
    let past_last = listed
        .last_sequence
        .is_none_or(|last| event.sequence > last);
    let forged_last = Some(event.sequence) == listed.last_sequence
        && Some(&event.hash) != listed.last_hash.as_ref();
    if past_last || forged_last {
        return Err(ProblemReason::NotManifestLast {
            sequence: event.sequence,
            expected: describe(listed.last_sequence, &listed.last_hash),
        });
    }
    Ok(())
}

/// Reads the file as physical lines, joining the lines of a CSV row whose quoted cell holds a
/// line break, and hashes every byte it reads.
struct Lines<R> {
    input: BufReader<Hashing<R>>,
    csv: bool,
    /// The physical line number the next row starts on.
    next_line: u64,
}

impl<R: Read> Lines<R> {
    fn new(file: R, format: ExportFormat) -> Self {
        Self {
            input: BufReader::new(Hashing {
                inner: file,
                hasher: Sha256::new(),
                bytes: 0,
            }),
            csv: format == ExportFormat::Csv,
            next_line: 1,
        }
    }

    /// Reads the next row into `row` (line end included) and returns its first line number,
    /// or `None` at the end of the file.
    fn next(&mut self, row: &mut Vec<u8>) -> Result<Option<u64>, ExportProblem> {
        row.clear();
        let start = self.next_line;
        let at = |reason| ExportProblem {
            line: Some(start),
            reason,
        };
        // RFC 4180 doubles quotes inside quoted cells, so toggling on every quote byte tracks
        // whether a line break is inside a cell.
        let mut in_quotes = false;
        loop {
            let chunk = self
                .input
                .fill_buf()
                .map_err(|e| at(ProblemReason::Unreadable(e.to_string())))?;
            if chunk.is_empty() {
                return Ok((!row.is_empty()).then_some(start));
            }
            let mut taken = chunk.len();
            let mut row_ends = false;
            for (index, byte) in chunk.iter().enumerate() {
                match byte {
                    b'"' if self.csv => in_quotes = !in_quotes,
                    b'\n' => {
                        self.next_line += 1;
                        if !in_quotes {
                            taken = index + 1;
                            row_ends = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if row.len() + taken > MAX_LINE_BYTES {
                return Err(at(ProblemReason::TooLong {
                    limit: MAX_LINE_BYTES,
                }));
            }
            row.extend_from_slice(&chunk[..taken]);
            self.input.consume(taken);
            if row_ends {
                return Ok(Some(start));
            }
        }
    }

    /// The SHA-256 and length of everything read; call after `next` returned `None`.
    fn finish(self) -> (String, u64) {
        let hashing = self.input.into_inner();
        (hex::encode(hashing.hasher.finalize()), hashing.bytes)
    }
}

struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        let data = buf.get(..read).unwrap_or_default();
        self.hasher.update(data);
        self.bytes += u64::try_from(read).unwrap_or(u64::MAX);
        Ok(read)
    }
}

/// A JSON line: its position, then exactly the eleven fields of an event, nothing missing,
/// unknown or repeated.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    position: u64,
    tenant: String,
    sequence: u64,
    at_ms: i64,
    actor: String,
    event_type: String,
    subject: JsonSubject,
    #[serde(deserialize_with = "required_nullable")]
    request_id: Option<String>,
    #[serde(deserialize_with = "required_nullable")]
    correlation_id: Option<String>,
    payload: Value,
    previous_hash: String,
    hash: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonSubject {
    kind: String,
    id: String,
}

/// A field that may be `null` but not absent (serde lets an absent `Option` be `None`
/// unless it has its own deserializer).
fn required_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::deserialize(d)
}

/// The position and the event of a JSON line.
fn json_event(line: &[u8]) -> Result<(u64, AuditEvent), ProblemReason> {
    let body = line
        .strip_suffix(b"\n")
        .filter(|body| !body.ends_with(b"\r"))
        .ok_or(ProblemReason::MissingLineEnd {
            expected: "a single LF",
        })?;
    let parsed: JsonEvent =
        serde_json::from_slice(body).map_err(|e| ProblemReason::NotAnEvent(e.to_string()))?;
    let event = AuditEvent {
        tenant: parsed.tenant,
        sequence: parsed.sequence,
        at_ms: parsed.at_ms,
        actor: parsed.actor,
        event_type: parsed.event_type,
        subject: Subject::new(parsed.subject.kind, parsed.subject.id),
        request_id: parsed.request_id,
        correlation_id: parsed.correlation_id,
        payload: parsed.payload,
        previous_hash: parsed.previous_hash,
        hash: parsed.hash,
    };
    Ok((parsed.position, event))
}

/// Reads single CSV rows with one CSV reader, rewound before each row: building a reader per
/// row would cost more than all the other checks of the row together.
struct CsvRows {
    reader: csv::Reader<Cursor<Vec<u8>>>,
    extra: csv::StringRecord,
}

impl CsvRows {
    fn new() -> Self {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(Vec::new()));
        // Headers already set, so rewinding never reads a row to take as headers.
        reader.set_byte_headers(csv::ByteRecord::new());
        Self {
            reader,
            extra: csv::StringRecord::new(),
        }
    }

    /// The cells of the one row that `line` (a row from [`Lines`]) must be.
    fn read(&mut self, line: &[u8], row: &mut csv::StringRecord) -> Result<(), ProblemReason> {
        if !line.ends_with(b"\r\n") {
            return Err(ProblemReason::MissingLineEnd { expected: "CRLF" });
        }
        let bad = |e: csv::Error| ProblemReason::BadRow(e.to_string());
        let input = self.reader.get_mut().get_mut();
        input.clear();
        input.extend_from_slice(line);
        self.reader
            .seek_raw(SeekFrom::Start(0), csv::Position::new())
            .map_err(bad)?;
        if !self.reader.read_record(row).map_err(bad)? {
            return Err(ProblemReason::BadRow("empty line".into()));
        }
        if self.reader.read_record(&mut self.extra).map_err(bad)? {
            return Err(ProblemReason::BadRow("more than one row".into()));
        }
        Ok(())
    }
}

/// The position and the event of a CSV row.
fn csv_event(record: &csv::StringRecord) -> Result<(u64, AuditEvent), ProblemReason> {
    let wrong_count = || ProblemReason::CellCount {
        expected: CSV_COLUMNS.len(),
        found: record.len(),
    };
    if record.len() != CSV_COLUMNS.len() {
        return Err(wrong_count());
    }
    let mut cells = Vec::with_capacity(CSV_COLUMNS.len());
    for (column, raw) in CSV_COLUMNS.into_iter().zip(record.iter()) {
        cells.push(unneutralise(raw).map_err(|problem| ProblemReason::BadCell {
            column,
            problem: problem.into(),
        })?);
    }
    let [
        position,
        sequence,
        at_ms,
        at,
        tenant,
        actor,
        event_type,
        subject_kind,
        subject_id,
        request_id,
        correlation_id,
        payload,
        previous_hash,
        hash,
    ] = <[&str; 14]>::try_from(cells).map_err(|_| wrong_count())?;
    let bad = |column: &'static str, problem: String| ProblemReason::BadCell { column, problem };
    let position: u64 = integer(position).map_err(|e| bad("position", e))?;
    let sequence: u64 = integer(sequence).map_err(|e| bad("sequence", e))?;
    let at_ms: i64 = integer(at_ms).map_err(|e| bad("at_ms", e))?;
    if rfc3339_ms(at_ms).as_deref() != Some(at) {
        return Err(bad("at", format!("does not agree with at_ms {at_ms}")));
    }
    let payload_text = payload;
    let payload: Value =
        serde_json::from_str(payload_text).map_err(|e| bad("payload", e.to_string()))?;
    let canonical = to_canonical_bytes(&payload).map_err(|e| bad("payload", e.to_string()))?;
    if canonical != payload_text.as_bytes() {
        return Err(bad("payload", "not in canonical form".into()));
    }
    // Ids are never empty strings (appends refuse them), so an empty cell is null.
    let id = |cell: &str| (!cell.is_empty()).then(|| cell.to_owned());
    let event = AuditEvent {
        tenant: tenant.to_owned(),
        sequence,
        at_ms,
        actor: actor.to_owned(),
        event_type: event_type.to_owned(),
        subject: Subject::new(subject_kind, subject_id),
        request_id: id(request_id),
        correlation_id: id(correlation_id),
        payload,
        previous_hash: previous_hash.to_owned(),
        hash: hash.to_owned(),
    };
    Ok((position, event))
}

/// An integer in the one spelling the encoder writes (no `+`, no leading zeros).
fn integer<T: std::str::FromStr + ToString>(cell: &str) -> Result<T, String> {
    match cell.parse::<T>() {
        Ok(value) if value.to_string() == cell => Ok(value),
        _ => Err(format!(
            "{cell:?} is not an integer as the exporter writes it"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::audit::event::NewAuditEvent;
    use crate::audit::export::tests::{TENANT, chain_of, encode_chunks, manifest, sample_chain};
    use crate::audit::export::{ExportEncoder, ExportFilters};
    use proptest::prelude::*;
    use serde_json::json;

    const FORMATS: [ExportFormat; 2] = [ExportFormat::Json, ExportFormat::Csv];

    /// Encodes `events` (already selected by `filters`) and returns the file's lines with the
    /// manifest of the untouched file.
    fn export(
        format: ExportFormat,
        filters: ExportFilters,
        events: &[AuditEvent],
    ) -> (Vec<Vec<u8>>, ExportManifest) {
        let (chunks, summary) = encode_chunks(format, events);
        (chunks, manifest(format, filters, summary))
    }

    /// The physical line each chunk starts on.
    fn start_lines(chunks: &[Vec<u8>]) -> Vec<u64> {
        let mut line = 1;
        chunks
            .iter()
            .map(|chunk| {
                let start = line;
                line += u64::try_from(chunk.iter().filter(|b| **b == b'\n').count()).unwrap();
                start
            })
            .collect()
    }

    fn verified_events(
        file: &[u8],
        manifest: &ExportManifest,
    ) -> Result<(VerifiedExport, Vec<AuditEvent>), ExportProblem> {
        let mut events = Vec::new();
        let verified = verify_export_with(file, manifest, |e| events.push(e.clone()))?;
        Ok((verified, events))
    }

    fn problem(file: &[u8], manifest: &ExportManifest) -> ExportProblem {
        match verify_export(file, manifest) {
            Ok(verified) => panic!("verified: {verified:?}"),
            Err(problem) => problem,
        }
    }

    fn replace_once(chunk: &[u8], from: &str, to: &str) -> Vec<u8> {
        let text = String::from_utf8(chunk.to_vec()).unwrap();
        assert!(text.contains(from), "{from:?} not in {text:?}");
        text.replacen(from, to, 1).into_bytes()
    }

    fn flip_first_char(hash: &str) -> String {
        let flipped = if hash.starts_with('0') { "1" } else { "0" };
        format!("{flipped}{}", &hash[1..])
    }

    #[test]
    fn both_formats_round_trip_exactly() {
        let events = sample_chain();
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &events);
            let (verified, read) = verified_events(&chunks.concat(), &manifest).unwrap();
            assert_eq!(read, events, "{format:?}");
            assert_eq!(verified.summary, manifest.summary);
        }
    }

    #[test]
    fn filtered_exports_verify_with_their_gaps() {
        let events = sample_chain();
        let by_type = ExportFilters {
            event_type: Some("draft.changed".into()),
            ..ExportFilters::default()
        };
        let by_subject = ExportFilters {
            subject_kind: Some("deployment".into()),
            subject_id: Some("dep-1".into()),
            ..ExportFilters::default()
        };
        let by_time = ExportFilters {
            from_ms: Some(1_717_171_717_002),
            to_ms: Some(1_717_171_717_004),
            ..ExportFilters::default()
        };
        for filters in [by_type, by_subject, by_time] {
            let selected: Vec<AuditEvent> = events
                .iter()
                .filter(|e| AuditFilter::try_from(&filters).unwrap().matches(e))
                .cloned()
                .collect();
            assert!(!selected.is_empty() && selected.len() < events.len());
            for format in FORMATS {
                let (chunks, manifest) = export(format, filters.clone(), &selected);
                let (verified, read) = verified_events(&chunks.concat(), &manifest).unwrap();
                assert_eq!(read, selected);
                assert_eq!(verified.summary, manifest.summary);
            }
        }
    }

    #[test]
    fn empty_exports_verify() {
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &[]);
            let verified = verify_export(chunks.concat().as_slice(), &manifest).unwrap();
            assert_eq!(verified.summary.count, 0);
            assert_eq!(verified.summary, manifest.summary);
        }
        let (_, manifest) = export(ExportFormat::Csv, ExportFilters::default(), &[]);
        assert_eq!(
            problem(b"", &manifest),
            ExportProblem {
                line: Some(1),
                reason: ProblemReason::MissingHeader
            }
        );
    }

    /// Every kind of change, on every line, is named at that line.
    #[test]
    fn a_changed_line_is_named() {
        let events = sample_chain();
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &events);
            let lines = start_lines(&chunks);
            let offset = usize::from(format == ExportFormat::Csv);
            let mut changes: Vec<(usize, &str, Vec<u8>)> = Vec::new();
            if format == ExportFormat::Csv {
                changes.push((0, "header", replace_once(&chunks[0], "actor", "Actor")));
            }
            for (index, event) in events.iter().enumerate() {
                let k = index + offset;
                let chunk = &chunks[k];
                let n = event.sequence;
                let (sequence_from, sequence_to) = match format {
                    ExportFormat::Json => (
                        format!("\"sequence\":{n},"),
                        format!("\"sequence\":{},", n + 10),
                    ),
                    // The position cell comes first and equals the sequence here.
                    ExportFormat::Csv => (format!(",{n},"), format!(",{},", n + 10)),
                };
                let position = index + 1;
                let (position_from, position_to) = match format {
                    ExportFormat::Json => (
                        format!("{{\"position\":{position},"),
                        format!("{{\"position\":{},", position + 1),
                    ),
                    ExportFormat::Csv => (format!("{position},"), format!("{},", position + 1)),
                };
                let (payload_from, payload_to) = if event.payload == json!(-7) {
                    ("-7".to_owned(), "-8".to_owned())
                } else {
                    (format!("m{n}x"), format!("m{n}y"))
                };
                changes.extend([
                    (
                        k,
                        "payload",
                        replace_once(chunk, &payload_from, &payload_to),
                    ),
                    (
                        k,
                        "hash",
                        replace_once(chunk, &event.hash, &flip_first_char(&event.hash)),
                    ),
                    (
                        k,
                        "previous hash",
                        replace_once(
                            chunk,
                            &event.previous_hash,
                            &flip_first_char(&event.previous_hash),
                        ),
                    ),
                    (
                        k,
                        "sequence",
                        replace_once(chunk, &sequence_from, &sequence_to),
                    ),
                    (k, "tenant", replace_once(chunk, TENANT, "01OTHERTENANT")),
                    (
                        k,
                        "position",
                        replace_once(chunk, &position_from, &position_to),
                    ),
                ]);
            }
            for (k, what, changed) in changes {
                let mut file = chunks.clone();
                file[k] = changed;
                let found = problem(&file.concat(), &manifest);
                assert_eq!(
                    found.line,
                    Some(lines[k]),
                    "{format:?} {what} of line {}: {found}",
                    lines[k]
                );
            }
        }
    }

    #[test]
    fn a_removed_line_is_named_where_the_next_one_now_sits() {
        let events = sample_chain();
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &events);
            let lines = start_lines(&chunks);
            for (k, line) in lines.iter().enumerate() {
                let mut file = chunks.clone();
                file.remove(k);
                let found = problem(&file.concat(), &manifest);
                // The removed line started where the next one (or the end) now is.
                assert_eq!(
                    found.line,
                    Some(*line),
                    "{format:?} without line {}: {found}",
                    line
                );
            }
            let mut file = chunks.clone();
            file.pop();
            let found = problem(&file.concat(), &manifest);
            assert!(
                matches!(
                    found.reason,
                    ProblemReason::MissingTail {
                        after: Some(5),
                        expected: 6
                    }
                ),
                "{found}"
            );
        }
    }

    #[test]
    fn swapped_lines_are_named_at_the_first_of_them() {
        let events = sample_chain();
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &events);
            let lines = start_lines(&chunks);
            for (k, line) in lines.iter().enumerate().take(chunks.len() - 1) {
                let mut file = chunks.clone();
                file.swap(k, k + 1);
                let found = problem(&file.concat(), &manifest);
                assert_eq!(
                    found.line,
                    Some(*line),
                    "{format:?} swapped at line {}: {found}",
                    line
                );
            }
        }
    }

    #[test]
    fn a_rehashed_forgery_is_caught_by_the_next_link_or_the_manifest() {
        let events = sample_chain();
        for format in FORMATS {
            let (chunks, manifest) = export(format, ExportFilters::default(), &events);
            let offset = usize::from(format == ExportFormat::Csv);
            let line_of = |index: usize| Some(start_lines(&chunks)[index + offset]);
            let mut forged = events.clone();
            forged[2].payload = json!({ "forged": true });
            forged[2].hash = forged[2].compute_hash().unwrap();
            let (chunks, _) = encode_chunks(format, &forged);
            let found = problem(&chunks.concat(), &manifest);
            assert_eq!(found.line, line_of(3), "{found}");
            assert_eq!(found.reason, ProblemReason::Chain(BreakReason::BrokenLink));
            let mut forged = events.clone();
            forged[5].payload = json!({ "forged": true });
            forged[5].hash = forged[5].compute_hash().unwrap();
            let (chunks, _) = encode_chunks(format, &forged);
            let found = problem(&chunks.concat(), &manifest);
            assert_eq!(found.line, line_of(5), "{found}");
            assert!(matches!(
                found.reason,
                ProblemReason::NotManifestLast { sequence: 6, .. }
            ));
        }
    }

    #[test]
    fn extra_events_are_named_at_their_line() {
        let events = sample_chain();
        for format in FORMATS {
            let (_, manifest) = export(format, ExportFilters::default(), &events[..5]);
            let (chunks, _) = encode_chunks(format, &events);
            let found = problem(&chunks.concat(), &manifest);
            let offset = usize::from(format == ExportFormat::Csv);
            assert_eq!(found.line, Some(start_lines(&chunks)[5 + offset]));
            assert_eq!(found.reason, ProblemReason::TooManyEvents { listed: 5 });
        }
    }

    /// Outside the contiguous case neighbours are rarely consecutive in the chain, so a
    /// removed line leaves no gap in the sequences: the positions name it, and swapped lines.
    #[test]
    fn filtered_exports_name_removed_and_swapped_lines() {
        let events = sample_chain();
        let filters = ExportFilters {
            event_type: Some("draft.changed".into()),
            ..ExportFilters::default()
        };
        let selected: Vec<AuditEvent> = events
            .iter()
            .filter(|e| AuditFilter::try_from(&filters).unwrap().matches(e))
            .cloned()
            .collect();
        assert_eq!(selected.len(), 3);
        for format in FORMATS {
            let (chunks, manifest) = export(format, filters.clone(), &selected);
            let lines = start_lines(&chunks);
            let offset = usize::from(format == ExportFormat::Csv);
            let without = |k: usize| {
                let mut file = chunks.clone();
                file.remove(k);
                problem(&file.concat(), &manifest)
            };
            assert_eq!(
                without(offset).reason,
                ProblemReason::WrongPosition {
                    expected: 1,
                    found: 2
                }
            );
            assert_eq!(
                without(offset + 1),
                ExportProblem {
                    line: Some(lines[offset + 1]),
                    reason: ProblemReason::WrongPosition {
                        expected: 2,
                        found: 3
                    }
                },
                "{format:?}"
            );
            assert!(matches!(
                without(offset + 2),
                ExportProblem {
                    reason: ProblemReason::MissingTail { .. },
                    ..
                }
            ));
            for (k, line) in lines.iter().enumerate().skip(offset) {
                assert_eq!(without(k).line, Some(*line), "{format:?} without {k}");
            }
            let mut swapped = chunks.clone();
            swapped.swap(offset + 1, offset + 2);
            let found = problem(&swapped.concat(), &manifest);
            assert_eq!(found.line, Some(lines[offset + 1]), "{format:?}: {found}");
        }
        let (_, manifest) = export(ExportFormat::Json, filters, &selected);
        // An event the filters do not select.
        let mut encoder = ExportEncoder::new(ExportFormat::Json);
        let mut file = Vec::new();
        encoder.encode(&events[0], &mut file).unwrap();
        let found = problem(&file, &manifest);
        assert_eq!(found.line, Some(1));
        assert_eq!(found.reason, ProblemReason::OutsideFilters { sequence: 1 });
    }

    #[test]
    fn a_run_that_does_not_start_at_one_is_no_whole_chain() {
        let events = sample_chain();
        let (chunks, mut manifest) =
            export(ExportFormat::Json, ExportFilters::default(), &events[2..]);
        let found = problem(&chunks.concat(), &manifest);
        assert_eq!(found.line, Some(1));
        assert_eq!(
            found.reason,
            ProblemReason::Chain(BreakReason::SequenceGap {
                expected: 1,
                found: 3
            })
        );
        manifest.filters.from_ms = Some(0);
        assert!(verify_export(chunks.concat().as_slice(), &manifest).is_ok());
    }

    #[test]
    fn bytes_that_do_not_change_an_event_are_caught_by_the_digest() {
        let events = sample_chain();
        let (chunks, manifest) = export(ExportFormat::Json, ExportFilters::default(), &events);
        let mut file = chunks.clone();
        file[1] = replace_once(&file[1], "\"sequence\":2,", "\"sequence\": 2,");
        let found = problem(&file.concat(), &manifest);
        assert_eq!(found.line, None);
        assert!(matches!(found.reason, ProblemReason::DigestMismatch { .. }));
        let (chunks, manifest) = export(ExportFormat::Csv, ExportFilters::default(), &events);
        let mut file = chunks.clone();
        file[1] = replace_once(&file[1], ",req-1,", ",\"req-1\",");
        let found = problem(&file.concat(), &manifest);
        assert_eq!(found.line, None);
        assert!(matches!(found.reason, ProblemReason::DigestMismatch { .. }));
        let mut wrong_length = manifest.clone();
        wrong_length.summary.bytes += 1;
        assert_eq!(
            problem(&chunks.concat(), &wrong_length).reason,
            ProblemReason::LengthMismatch {
                expected: manifest.summary.bytes + 1,
                found: manifest.summary.bytes
            }
        );
    }

    #[test]
    fn json_lines_must_hold_a_position_and_exactly_the_eleven_fields() {
        let events = sample_chain();
        let (chunks, manifest) = export(ExportFormat::Json, ExportFilters::default(), &events);
        let line = String::from_utf8(chunks[0].clone()).unwrap();
        let cases = [
            line.replacen("\"correlation_id\":null,", "", 1),
            line.replacen("\"hash\":", "\"extra\":1,\"hash\":", 1),
            line.replacen("\"tenant\":", "\"actor\":\"x\",\"tenant\":", 1),
            line.replacen("\"id\":\"d1\"", "\"id\":\"d1\",\"x\":1", 1),
            line.replacen("\"sequence\":1", "\"sequence\":\"1\"", 1),
            line.replacen("\"position\":1,", "", 1),
            line.replacen("\"position\":1", "\"position\":-1", 1),
            line.trim_end().to_owned(),
            format!("{}\r\n", line.trim_end()),
            "\n".to_owned(),
        ];
        for case in cases {
            assert_ne!(case, line);
            let mut file = chunks.clone();
            file[0] = case.clone().into_bytes();
            let found = problem(&file.concat(), &manifest);
            assert_eq!(found.line, Some(1), "{case:?}: {found}");
            assert!(
                matches!(
                    found.reason,
                    ProblemReason::NotAnEvent(_) | ProblemReason::MissingLineEnd { .. }
                ),
                "{case:?}: {found}"
            );
        }
    }

    #[test]
    fn csv_rows_must_be_as_the_exporter_writes_them() {
        let events = sample_chain();
        let (chunks, manifest) = export(ExportFormat::Csv, ExportFilters::default(), &events);
        let row = String::from_utf8(chunks[1].clone()).unwrap();
        let hash = &events[0].hash;
        let cases = [
            (row.replacen("1,'-5,", "1,-5,", 1), "at_ms"),
            (row.replacen("1,'-5,", "+1,'-5,", 1), "sequence"),
            (row.replacen("1,'-5,", "01,'-5,", 1), "sequence"),
            (row.replacen("1,1,", "01,1,", 1), "position"),
            (row.replacen(".995Z", ".996Z", 1), "at"),
            (row.replacen("user:u1", "'user:u1", 1), "actor"),
            (row.replacen("\"\"n\"\":1", "\"\"n\"\": 1", 1), "payload"),
            (row.replacen("{", "{\"\"n\"\":1,", 1), "payload"),
        ];
        for (case, column) in cases {
            assert_ne!(case, row);
            let mut file = chunks.clone();
            file[1] = case.clone().into_bytes();
            let found = problem(&file.concat(), &manifest);
            assert_eq!(found.line, Some(2), "{case:?}: {found}");
            assert!(
                matches!(found.reason, ProblemReason::BadCell { column: c, .. } if c == column),
                "{case:?}: {found}"
            );
        }
        let mut file = chunks.clone();
        file[1] = row.replacen(&format!(",{hash}"), "", 1).into_bytes();
        assert_eq!(
            problem(&file.concat(), &manifest).reason,
            ProblemReason::CellCount {
                expected: 14,
                found: 13
            }
        );
        file[1] = row.replacen("\r\n", "\n", 1).into_bytes();
        assert_eq!(
            problem(&file.concat(), &manifest),
            ExportProblem {
                line: Some(2),
                reason: ProblemReason::MissingLineEnd { expected: "CRLF" }
            }
        );
        file[1] = b"\r\n".to_vec();
        assert!(matches!(
            problem(&file.concat(), &manifest),
            ExportProblem {
                line: Some(2),
                reason: ProblemReason::BadRow(_)
            }
        ));
        // A stray quote joins the rows up to the next one: named at the row it starts.
        file[1] = row.replacen("user:u1", "user\"u1", 1).into_bytes();
        assert_eq!(problem(&file.concat(), &manifest).line, Some(2));
    }

    #[test]
    fn a_line_without_end_is_refused_before_memory_grows() {
        let (_, manifest) = export(
            ExportFormat::Json,
            ExportFilters::default(),
            &sample_chain(),
        );
        let huge = vec![b'x'; MAX_LINE_BYTES + 10];
        assert_eq!(
            problem(&huge, &manifest),
            ExportProblem {
                line: Some(1),
                reason: ProblemReason::TooLong {
                    limit: MAX_LINE_BYTES
                }
            }
        );
    }

    #[test]
    fn manifests_that_cannot_be_checked_against_are_refused() {
        let (chunks, manifest) = export(
            ExportFormat::Json,
            ExportFilters::default(),
            &sample_chain(),
        );
        let file = chunks.concat();
        let mut newer = manifest.clone();
        newer.manifest_version = 2;
        let mut half_subject = manifest.clone();
        half_subject.filters.subject_kind = Some("draft".into());
        let mut no_bounds = manifest.clone();
        no_bounds.summary.last_hash = None;
        for bad in [newer, half_subject, no_bounds] {
            let found = problem(&file, &bad);
            assert_eq!(found.line, None);
            assert!(
                matches!(found.reason, ProblemReason::BadManifest(_)),
                "{found}"
            );
        }
        let mut other_tenant = manifest.clone();
        other_tenant.tenant = "other".into();
        assert_eq!(
            problem(&file, &other_tenant),
            ExportProblem {
                line: Some(1),
                reason: ProblemReason::WrongTenant {
                    expected: "other".into(),
                    found: TENANT.into()
                }
            }
        );
    }

    #[test]
    fn problems_read_as_line_and_reason() {
        let problem = ExportProblem {
            line: Some(7),
            reason: ProblemReason::Chain(BreakReason::BrokenLink),
        };
        assert_eq!(
            problem.to_string(),
            "line 7: previous hash does not match the hash of the event before it"
        );
        let whole = ExportProblem {
            line: None,
            reason: ProblemReason::CountMismatch {
                listed: 3,
                found: 2,
            },
        };
        assert_eq!(
            whole.to_string(),
            "the file holds 2 events but the manifest lists 3: an event is missing"
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        let dangerous = prop::sample::select(vec!['=', '+', '-', '@', '\t', '\r', '\'', '"']);
        prop_oneof![
            any::<String>(),
            (dangerous, any::<String>()).prop_map(|(first, rest)| format!("{first}{rest}")),
        ]
    }

    proptest! {
        #[test]
        fn csv_cells_never_start_like_a_formula_and_round_trip(
            actor in any_text(),
            subject_id in any_text(),
            note in any_text(),
            list in prop::collection::vec(any_text(), 0..3),
            request_id in prop::option::of(any_text().prop_filter("ids are never empty", |s| !s.is_empty())),
        ) {
            let mut first = NewAuditEvent::new(actor.clone(), "t", Subject::new("k", subject_id.clone()))
                .with_payload(json!({ "note": note, "list": list }));
            first.request_id = request_id;
            let second = NewAuditEvent::new(note.clone(), "t", Subject::new(actor, subject_id))
                .with_payload(json!(note));
            let events = chain_of(vec![first, second]);
            for format in FORMATS {
                let (chunks, manifest) = export(format, ExportFilters::default(), &events);
                let file = chunks.concat();
                if format == ExportFormat::Csv {
                    let mut reader = csv::ReaderBuilder::new().from_reader(file.as_slice());
                    for record in reader.records() {
                        for cell in record.unwrap().iter() {
                            prop_assert!(
                                !matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')),
                                "{cell:?}"
                            );
                        }
                    }
                }
                let (_, read) = verified_events(&file, &manifest).unwrap();
                prop_assert_eq!(&read, &events);
            }
        }
    }
}
