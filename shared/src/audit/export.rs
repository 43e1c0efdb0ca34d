//! Export files of an audit chain (JSON Lines or CSV) and their manifest, specified in
//! `docs/audit-chain.md` ("Exports"). The encoder streams: the export job feeds it events page
//! by page and ships the bytes as they come; it hashes and counts what it produced so that the
//! manifest can vouch for the whole file. [`super::verify_export`] checks a file against its
//! manifest offline.

use super::canonical::to_canonical_bytes;
use super::event::{AuditEvent, Subject};
use super::store::AuditFilter;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// The `manifest_version` this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The CSV header row: the columns in order.
pub const CSV_COLUMNS: [&str; 14] = [
    "position",
    "sequence",
    "at_ms",
    "at",
    "tenant",
    "actor",
    "event_type",
    "subject_kind",
    "subject_id",
    "request_id",
    "correlation_id",
    "payload",
    "previous_hash",
    "hash",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// JSON Lines: one event per line.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The object key of the manifest stored next to the export file `file_key`.
pub fn manifest_key(file_key: &str) -> String {
    format!("{file_key}.manifest.json")
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// `AuditFilter` matches a whole subject: a kind without an id (or the reverse) is not a
    /// filter it can express.
    #[error("a subject filter needs both a kind and an id")]
    IncompleteSubject,
    #[error("event {sequence} cannot be exported: {reason}")]
    Unencodable { sequence: u64, reason: String },
    /// Files are in chain order, so the verifier can check links between neighbours.
    #[error("event {sequence} after event {previous}: exports are written in chain order")]
    OutOfOrder { previous: u64, sequence: u64 },
    #[error("event {sequence} is of tenant {found:?} in an export of tenant {expected:?}")]
    MixedTenants {
        sequence: u64,
        expected: String,
        found: String,
    },
}

/// The filters of an export as recorded in its manifest (same meaning as [`AuditFilter`]:
/// every given criterion must match; times are inclusive Unix milliseconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFilters {
    pub event_type: Option<String>,
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl ExportFilters {
    /// Only a time range (or nothing): the export is a contiguous run of the chain.
    pub fn is_contiguous(&self) -> bool {
        self.event_type.is_none() && self.subject_kind.is_none() && self.subject_id.is_none()
    }

    /// No filter at all: the export is the whole chain from sequence 1.
    pub fn is_everything(&self) -> bool {
        self.is_contiguous() && self.from_ms.is_none() && self.to_ms.is_none()
    }
}

impl From<&AuditFilter> for ExportFilters {
    fn from(filter: &AuditFilter) -> Self {
        let (subject_kind, subject_id) = match &filter.subject {
            Some(Subject { kind, id }) => (Some(kind.clone()), Some(id.clone())),
            None => (None, None),
        };
        Self {
            event_type: filter.event_type.clone(),
            subject_kind,
            subject_id,
            from_ms: filter.from_ms,
            to_ms: filter.to_ms,
        }
    }
}

/// The store's filter for these: the one definition of which events an export selects.
impl TryFrom<&ExportFilters> for AuditFilter {
    type Error = ExportError;

    fn try_from(filters: &ExportFilters) -> Result<Self, ExportError> {
        let subject = match (&filters.subject_kind, &filters.subject_id) {
            (Some(kind), Some(id)) => Some(Subject::new(kind.as_str(), id.as_str())),
            (None, None) => None,
            _ => return Err(ExportError::IncompleteSubject),
        };
        Ok(Self {
            event_type: filters.event_type.clone(),
            subject,
            from_ms: filters.from_ms,
            to_ms: filters.to_ms,
        })
    }
}

/// What an export file holds, as the encoder counted it (or the verifier recounted it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportSummary {
    pub count: u64,
    pub first_sequence: Option<u64>,
    pub first_hash: Option<String>,
    pub last_sequence: Option<u64>,
    pub last_hash: Option<String>,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    pub bytes: u64,
}

/// What `GET /v1/audit/exports/{id}` shows and what is stored next to the file as
/// `<file>.manifest.json` (see [`manifest_key`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportManifest {
    /// [`MANIFEST_VERSION`].
    pub manifest_version: u32,
    pub export_id: String,
    pub tenant: String,
    pub format: ExportFormat,
    pub filters: ExportFilters,
    pub created_at_ms: i64,
    /// Object key of the export file.
    pub file: String,
    #[serde(flatten)]
    pub summary: ExportSummary,
}

/// Streaming encoder of one export file.
#[derive(Debug)]
pub struct ExportEncoder {
    format: ExportFormat,
    hasher: Sha256,
    count: u64,
    bytes: u64,
    first: Option<(u64, String)>,
    last: Option<(u64, String)>,
    tenant: Option<String>,
}

impl ExportEncoder {
    pub fn new(format: ExportFormat) -> Self {
        Self {
            format,
            hasher: Sha256::new(),
            count: 0,
            bytes: 0,
            first: None,
            last: None,
            tenant: None,
        }
    }

    /// Appends the bytes for `event` (and, before the first event for CSV, the header row) to
    /// `out`. Events must come in chain order and from one tenant; on error nothing is
    /// appended.
    pub fn encode(&mut self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), ExportError> {
        if let Some((previous, _)) = self.last.as_ref().filter(|(s, _)| event.sequence <= *s) {
            return Err(ExportError::OutOfOrder {
                previous: *previous,
                sequence: event.sequence,
            });
        }
        if let Some(tenant) = self.tenant.as_ref().filter(|t| **t != event.tenant) {
            return Err(ExportError::MixedTenants {
                sequence: event.sequence,
                expected: tenant.clone(),
                found: event.tenant.clone(),
            });
        }
        let unencodable = |reason: String| ExportError::Unencodable {
            sequence: event.sequence,
            reason,
        };
        let position = self.count + 1;
        let bytes = match self.format {
            ExportFormat::Json => {
                let line = JsonLine { position, event };
                let mut line = serde_json::to_vec(&line).map_err(|e| unencodable(e.to_string()))?;
                line.push(b'\n');
                line
            }
            ExportFormat::Csv => {
                let cells = csv_cells(position, event).map_err(unencodable)?;
                let mut bytes = Vec::new();
                // The header goes before the first event (or alone, in `finish`).
                if self.count == 0 {
                    bytes = csv_row(&CSV_COLUMNS).map_err(unencodable)?;
                }
                bytes.extend(csv_row(&cells).map_err(unencodable)?);
                bytes
            }
        };
        self.emit(&bytes, out);
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((event.sequence, event.hash.clone()));
            self.tenant = Some(event.tenant.clone());
        }
        self.last = Some((event.sequence, event.hash.clone()));
        Ok(())
    }

    /// Call once at the end: appends any trailing bytes (the CSV header when there were no
    /// events) to `out` and returns the summary of the whole file.
    pub fn finish(mut self, out: &mut Vec<u8>) -> ExportSummary {
        if self.format == ExportFormat::Csv && self.count == 0 {
            // Writing fixed ASCII names into a Vec cannot fail; the fallback is the same bytes.
            let header = csv_row(&CSV_COLUMNS)
                .unwrap_or_else(|_| format!("{}\r\n", CSV_COLUMNS.join(",")).into_bytes());
            self.emit(&header, out);
        }
        let (first_sequence, first_hash) = self.first.unzip();
        let (last_sequence, last_hash) = self.last.unzip();
        ExportSummary {
            count: self.count,
            first_sequence,
            first_hash,
            last_sequence,
            last_hash,
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
        }
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.hasher.update(bytes);
        self.bytes += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        out.extend_from_slice(bytes);
    }
}

/// A JSON line: the event's 1-based position in the file, then the event's own fields. The
/// position is not part of the chain; it lets the verifier name a line removed from an export
/// whose neighbours are not consecutive in the chain (one filtered by type or subject).
#[derive(Serialize)]
struct JsonLine<'a> {
    position: u64,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

/// One CSV row: RFC 4180, quoted only where needed, CRLF-terminated.
fn csv_row<S: AsRef<[u8]>>(cells: &[S]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(&mut bytes);
    writer.write_record(cells).map_err(|e| e.to_string())?;
    writer.flush().map_err(|e| e.to_string())?;
    drop(writer);
    Ok(bytes)
}

/// The 14 cells of the CSV row of `event` at `position` in the file, neutralised.
fn csv_cells(position: u64, event: &AuditEvent) -> Result<[String; 14], String> {
    let at = rfc3339_ms(event.at_ms)
        .ok_or_else(|| format!("time {} has no RFC 3339 form", event.at_ms))?;
    let id = |name: &str, value: &Option<String>| match value.as_deref() {
        // An empty cell means null, so an empty id could not be read back.
        Some("") => Err(format!("{name} is empty")),
        other => Ok(other.unwrap_or_default().to_owned()),
    };
    let payload = to_canonical_bytes(&event.payload).map_err(|e| e.to_string())?;
    let payload = String::from_utf8(payload).map_err(|e| e.to_string())?;
    Ok([
        position.to_string(),
        event.sequence.to_string(),
        event.at_ms.to_string(),
        at,
        event.tenant.clone(),
        event.actor.clone(),
        event.event_type.clone(),
        event.subject.kind.clone(),
        event.subject.id.clone(),
        id("request_id", &event.request_id)?,
        id("correlation_id", &event.correlation_id)?,
        payload,
        event.previous_hash.clone(),
        event.hash.clone(),
    ]
    .map(neutralise))
}

const AT_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// `at_ms` as RFC 3339 UTC with milliseconds, e.g. `2024-05-31T16:08:37.171Z`; `None` outside
/// the years 0000–9999 that RFC 3339 can write.
pub fn rfc3339_ms(at_ms: i64) -> Option<String> {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).ok()?;
    if !(0..=9999).contains(&time.year()) {
        return None;
    }
    time.format(AT_FORMAT).ok()
}

/// Whether a cell must be prefixed with `'`: spreadsheets run cells starting with `= + - @`,
/// tab or carriage return as formulas, and `'` itself is prefixed so that stripping one
/// leading `'` is an exact inverse.
fn needs_prefix(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

pub(super) fn neutralise(cell: String) -> String {
    if needs_prefix(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The inverse of [`neutralise`], refusing any cell it cannot have written.
pub(super) fn unneutralise(cell: &str) -> Result<&str, &'static str> {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_prefix(rest) => Ok(rest),
        Some(_) => Err("starts with a quote that neutralises nothing"),
        None if needs_prefix(cell) => Err("starts with a formula character without the quote"),
        None => Ok(cell),
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::audit::event::{GENESIS_HASH, NewAuditEvent};
    use serde_json::json;

    pub(in crate::audit) const TENANT: &str = "01HZX3T5Q8J9V2K7M4N6P0R1S2";

    /// A real chain of `new` events from sequence 1, `at_ms` from -5 upwards.
    pub(in crate::audit) fn chain_of(new: Vec<NewAuditEvent>) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for (index, new) in new.into_iter().enumerate() {
            let previous = events
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), |e| e.hash.clone());
            let index = i64::try_from(index).unwrap();
            let sequence = u64::try_from(events.len()).unwrap() + 1;
            let at_ms = if index == 0 {
                -5
            } else {
                1_717_171_717_000 + index
            };
            events.push(new.into_event(TENANT, sequence, at_ms, previous).unwrap());
        }
        events
    }

    /// Six events with awkward content: formula characters, a leading quote, a line break
    /// inside a cell, null and present ids, a marker `m<sequence>x` in every payload.
    pub(in crate::audit) fn sample_chain() -> Vec<AuditEvent> {
        let new = |actor: &str, event_type: &str, kind: &str, id: &str, n: u64| {
            NewAuditEvent::new(actor, event_type, Subject::new(kind, id))
                .with_payload(json!({ "marker": format!("m{n}x"), "n": n, "note": "-1" }))
        };
        chain_of(vec![
            new("user:u1", "draft.created", "draft", "d1", 1).with_request_id("req-1"),
            new("@admin", "draft.changed", "draft", "d1", 2).with_correlation_id("=cmd|x"),
            new(
                "system:s",
                "deployment.transition",
                "deployment",
                "line one\r\nline two",
                3,
            ),
            new("'quoted", "draft.changed", "draft", "d2", 4)
                .with_request_id("+1")
                .with_correlation_id("c, \"q\""),
            new(
                "\tuser:t",
                "deployment.transition",
                "deployment",
                "dep-1",
                5,
            ),
            new("user:u1", "draft.changed", "draft", "-d1", 6).with_payload(json!(-7)),
        ])
    }

    /// The file, one chunk per line (the CSV header is its own chunk), and the summary.
    pub(in crate::audit) fn encode_chunks(
        format: ExportFormat,
        events: &[AuditEvent],
    ) -> (Vec<Vec<u8>>, ExportSummary) {
        let mut encoder = ExportEncoder::new(format);
        let mut chunks = Vec::new();
        for event in events {
            let mut out = Vec::new();
            encoder.encode(event, &mut out).unwrap();
            if format == ExportFormat::Csv && chunks.is_empty() {
                let header_end = out.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                chunks.push(out[..header_end].to_vec());
                out.drain(..header_end);
            }
            chunks.push(out);
        }
        let mut tail = Vec::new();
        let summary = encoder.finish(&mut tail);
        if !tail.is_empty() {
            chunks.push(tail);
        }
        (chunks, summary)
    }

    pub(in crate::audit) fn manifest(
        format: ExportFormat,
        filters: ExportFilters,
        summary: ExportSummary,
    ) -> ExportManifest {
        ExportManifest {
            manifest_version: MANIFEST_VERSION,
            export_id: "01J0EXPORT".into(),
            tenant: TENANT.into(),
            format,
            filters,
            created_at_ms: 1_717_171_800_000,
            file: format!("exports/{TENANT}/01J0EXPORT.{}", format.extension()),
            summary,
        }
    }

    fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn json_lines_are_the_position_then_the_serialised_event() {
        let events = sample_chain();
        let (chunks, summary) = encode_chunks(ExportFormat::Json, &events);
        assert_eq!(chunks.len(), events.len());
        for (index, (chunk, event)) in chunks.iter().zip(&events).enumerate() {
            let fields = serde_json::to_string(event).unwrap();
            let expected = format!("{{\"position\":{},{}\n", index + 1, &fields[1..]);
            assert_eq!(String::from_utf8(chunk.clone()).unwrap(), expected);
        }
        let file = chunks.concat();
        assert_eq!(summary.count, 6);
        assert_eq!(summary.first_sequence, Some(1));
        assert_eq!(summary.first_hash.as_deref(), Some(events[0].hash.as_str()));
        assert_eq!(summary.last_sequence, Some(6));
        assert_eq!(summary.last_hash.as_deref(), Some(events[5].hash.as_str()));
        assert_eq!(summary.bytes, u64::try_from(file.len()).unwrap());
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&file)));
    }

    #[test]
    fn csv_has_the_header_then_one_neutralised_row_per_event() {
        let events = sample_chain();
        let (chunks, summary) = encode_chunks(ExportFormat::Csv, &events);
        let file = chunks.concat();
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(text.starts_with(
            "position,sequence,at_ms,at,tenant,actor,event_type,subject_kind,subject_id,request_id,\
             correlation_id,payload,previous_hash,hash\r\n"
        ));
        assert!(text.ends_with("\r\n"));
        let rows = csv_rows(&file);
        assert_eq!(rows.len(), 7);
        let first = &rows[1];
        for (index, row) in rows.iter().enumerate().skip(1) {
            assert_eq!(row[0], index.to_string(), "position");
        }
        assert_eq!(first[1], "1");
        assert_eq!(first[2], "'-5");
        assert_eq!(first[3], "1969-12-31T23:59:59.995Z");
        assert_eq!(first[4], TENANT);
        assert_eq!(first[9], "req-1");
        assert_eq!(first[10], "", "a null id is an empty cell");
        assert_eq!(first[11], r#"{"marker":"m1x","n":1,"note":"-1"}"#);
        assert_eq!(first[12], GENESIS_HASH);
        assert_eq!(first[13], events[0].hash);
        assert_eq!(rows[2][5], "'@admin");
        assert_eq!(rows[2][10], "'=cmd|x");
        assert_eq!(rows[3][8], "line one\r\nline two");
        assert_eq!(rows[4][5], "''quoted");
        assert_eq!(rows[4][9], "'+1");
        assert_eq!(rows[4][10], "c, \"q\"");
        assert_eq!(rows[5][5], "'\tuser:t");
        assert_eq!(rows[6][8], "'-d1");
        assert_eq!(rows[6][11], "'-7");
        assert_eq!(rows[2][3], "2024-05-31T16:08:37.001Z");
        // Quoting only where needed.
        assert!(text.contains(",req-1,,\"{\"\"marker\"\":\"\"m1x\"\","));
        assert!(text.contains(",\"line one\r\nline two\","));
        assert_eq!(summary.count, 6);
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&file)));
    }

    #[test]
    fn empty_exports_are_an_empty_file_or_a_lone_header() {
        let (chunks, summary) = encode_chunks(ExportFormat::Json, &[]);
        assert!(chunks.is_empty());
        assert_eq!(
            summary,
            ExportSummary {
                count: 0,
                first_sequence: None,
                first_hash: None,
                last_sequence: None,
                last_hash: None,
                sha256: hex::encode(Sha256::digest(b"")),
                bytes: 0,
            }
        );
        let (chunks, summary) = encode_chunks(ExportFormat::Csv, &[]);
        let header = format!("{}\r\n", CSV_COLUMNS.join(","));
        assert_eq!(chunks.concat(), header.as_bytes());
        assert_eq!(summary.count, 0);
        assert_eq!(summary.bytes, u64::try_from(header.len()).unwrap());
        assert_eq!(
            summary.sha256,
            hex::encode(Sha256::digest(header.as_bytes()))
        );
    }

    #[test]
    fn refused_events_leave_the_output_untouched() {
        let events = sample_chain();
        for format in [ExportFormat::Json, ExportFormat::Csv] {
            let mut encoder = ExportEncoder::new(format);
            let mut out = Vec::new();
            encoder.encode(&events[1], &mut out).unwrap();
            let written = out.clone();
            assert_eq!(
                encoder.encode(&events[0], &mut out),
                Err(ExportError::OutOfOrder {
                    previous: 2,
                    sequence: 1
                })
            );
            let other = AuditEvent {
                tenant: "other".into(),
                ..events[2].clone()
            };
            assert!(matches!(
                encoder.encode(&other, &mut out),
                Err(ExportError::MixedTenants { .. })
            ));
            assert_eq!(out, written);
            assert_eq!(encoder.finish(&mut out).count, 1);
        }
        let mut encoder = ExportEncoder::new(ExportFormat::Csv);
        let mut out = Vec::new();
        let empty_id = AuditEvent {
            request_id: Some(String::new()),
            ..events[0].clone()
        };
        let float = AuditEvent {
            payload: json!({ "price": 1.5 }),
            ..events[0].clone()
        };
        let year_10000 = AuditEvent {
            at_ms: 253_402_300_800_000,
            ..events[0].clone()
        };
        for bad in [empty_id, float, year_10000] {
            assert!(matches!(
                encoder.encode(&bad, &mut out),
                Err(ExportError::Unencodable { sequence: 1, .. })
            ));
        }
        assert!(out.is_empty(), "not even the header");
        assert_eq!(encoder.finish(&mut out).count, 0);
        assert_eq!(out, format!("{}\r\n", CSV_COLUMNS.join(",")).as_bytes());
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_ms(1_717_171_717_171).unwrap(),
            "2024-05-31T16:08:37.171Z"
        );
        assert_eq!(rfc3339_ms(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_ms(-62_167_219_200_000).unwrap(),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(rfc3339_ms(-62_167_219_200_001), None);
        assert_eq!(
            rfc3339_ms(253_402_300_799_999).unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(rfc3339_ms(i64::MAX), None);
    }

    #[test]
    fn every_dangerous_first_character_and_a_leading_quote_are_prefixed_reversibly() {
        for cell in [
            "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'x", "'", "''", "=",
        ] {
            let written = neutralise(cell.to_owned());
            assert_eq!(written, format!("'{cell}"));
            assert_eq!(unneutralise(&written), Ok(cell));
        }
        for cell in ["", "a=1", " =1", "1", "\"=1\"", "\n=1", "é"] {
            assert_eq!(neutralise(cell.to_owned()), cell);
            assert_eq!(unneutralise(cell), Ok(cell));
        }
        assert!(
            unneutralise("=1").is_err(),
            "a bare formula was not written by us"
        );
        assert!(
            unneutralise("'abc").is_err(),
            "nor a quote before a harmless cell"
        );
    }

    #[test]
    fn filters_convert_both_ways_and_say_what_the_export_covers() {
        let filter = AuditFilter {
            event_type: Some("draft.changed".into()),
            subject: Some(Subject::new("draft", "d1")),
            from_ms: Some(1),
            to_ms: Some(2),
        };
        let filters = ExportFilters::from(&filter);
        assert_eq!(filters.subject_kind.as_deref(), Some("draft"));
        assert_eq!(filters.subject_id.as_deref(), Some("d1"));
        assert_eq!(AuditFilter::try_from(&filters), Ok(filter));
        for half in [
            ExportFilters {
                subject_kind: Some("draft".into()),
                ..ExportFilters::default()
            },
            ExportFilters {
                subject_id: Some("d1".into()),
                ..ExportFilters::default()
            },
        ] {
            assert_eq!(
                AuditFilter::try_from(&half),
                Err(ExportError::IncompleteSubject)
            );
        }
        assert!(!filters.is_contiguous() && !filters.is_everything());
        let time_only = ExportFilters {
            from_ms: Some(1),
            ..ExportFilters::default()
        };
        assert!(time_only.is_contiguous() && !time_only.is_everything());
        let type_only = ExportFilters {
            event_type: Some("x".into()),
            ..ExportFilters::default()
        };
        assert!(!type_only.is_contiguous());
        assert!(ExportFilters::default().is_everything());
        assert!(ExportFilters::default().is_contiguous());
    }

    #[test]
    fn filters_select_through_the_store_filter() {
        let events = sample_chain();
        let filters = ExportFilters {
            event_type: Some("draft.changed".into()),
            subject_kind: Some("draft".into()),
            subject_id: Some("d1".into()),
            from_ms: None,
            to_ms: None,
        };
        let filter = AuditFilter::try_from(&filters).unwrap();
        let matched: Vec<u64> = events
            .iter()
            .filter(|e| filter.matches(e))
            .map(|e| e.sequence)
            .collect();
        assert_eq!(matched, [2]);
        let range = ExportFilters {
            from_ms: Some(1_717_171_717_002),
            to_ms: Some(1_717_171_717_003),
            ..ExportFilters::default()
        };
        let range = AuditFilter::try_from(&range).unwrap();
        let matched: Vec<u64> = events
            .iter()
            .filter(|e| range.matches(e))
            .map(|e| e.sequence)
            .collect();
        assert_eq!(matched, [3, 4]);
    }

    #[test]
    fn the_manifest_is_flat_json_with_lowercase_format_names() {
        let (_, summary) = encode_chunks(ExportFormat::Csv, &sample_chain());
        let manifest = manifest(ExportFormat::Csv, ExportFilters::default(), summary);
        let value = serde_json::to_value(&manifest).unwrap();
        assert_eq!(value["manifest_version"], 1);
        assert_eq!(value["format"], "csv");
        assert_eq!(value["count"], 6);
        assert_eq!(value["first_sequence"], 1);
        assert_eq!(value["filters"]["event_type"], serde_json::Value::Null);
        assert!(value.get("summary").is_none());
        let back: ExportManifest = serde_json::from_value(value).unwrap();
        assert_eq!(back, manifest);
        assert_eq!(
            manifest_key(&manifest.file),
            format!("{}.manifest.json", manifest.file)
        );
        assert_eq!(ExportFormat::Json.extension(), "jsonl");
        assert_eq!(ExportFormat::Json.content_type(), "application/x-ndjson");
        assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
    }
}
