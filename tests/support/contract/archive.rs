//! The archive contract: what every `Archive` adapter must do, through the trait only.
//!
//! Download links are followed by a [`LinkProbe`], because what "following a link" means
//! depends on the family: an HTTP GET for S3, the local server's checks for the directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use walletless::ports::archive::{
    Archive, ArchiveError, ArchiveUpload, ArchivedObject, MAX_LINK_LIFETIME, UPLOAD_PART_BYTES,
    validate_object_key,
};

/// Follows download links the way an anonymous client would.
pub trait LinkProbe: Send + Sync {
    /// The body behind `url`, or why it was refused.
    fn download<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>>;

    /// How long, from now, the link itself says it stays valid.
    fn stated_lifetime(&self, url: &str) -> Duration;
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, ArchiveError>, what: &str) {
    assert!(
        matches!(result, Err(ArchiveError::Invalid(_))),
        "{what}: expected Invalid, got {result:?}"
    );
}

fn every_byte_value() -> Vec<u8> {
    (0..=255u8).cycle().take(3000).collect()
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: Result<T, ArchiveError>, what: &str) {
    assert!(
        matches!(result, Err(ArchiveError::NotFound(_))),
        "{what}: expected NotFound, got {result:?}"
    );
}

/// Keys that could escape the archive or mean two things.
fn invalid_keys() -> Vec<String> {
    [
        "",
        "/absolute",
        "a//b",
        "../escape",
        "a/../../b",
        "./a",
        "trailing/",
        "space here",
        "back\\slash",
        "tilde~object",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["a".repeat(513)])
    .collect()
}

/// Content types that are not header-safe.
const INVALID_CONTENT_TYPES: [&str; 3] = ["", "text/plain\r\nX-Injected: 1", "t\u{e9}xt/plain"];

/// What was put comes back, body and content type, including an empty body.
pub async fn put_get_round_trip(archive: Arc<dyn Archive>) {
    let body = every_byte_value();
    archive
        .put(
            "exports/user-1/audit.jsonl",
            body.clone(),
            "application/x-ndjson",
        )
        .await
        .unwrap();
    let object = archive.get("exports/user-1/audit.jsonl").await.unwrap();
    assert_eq!(
        object,
        ArchivedObject {
            content_type: "application/x-ndjson".into(),
            body
        }
    );
    archive
        .put("empty.txt", Vec::new(), "text/plain; charset=utf-8")
        .await
        .unwrap();
    let empty = archive.get("empty.txt").await.unwrap();
    assert_eq!(empty.body, b"");
    assert_eq!(empty.content_type, "text/plain; charset=utf-8");
}

/// A few megabytes go through unchanged.
pub async fn large_object_round_trip(archive: Arc<dyn Archive>) {
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    archive
        .put("big/blob.bin", body.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(archive.get("big/blob.bin").await.unwrap().body, body);
}

/// A second put replaces body and content type.
pub async fn overwrite_replaces_the_object(archive: Arc<dyn Archive>) {
    archive
        .put("k/v.json", b"{\"v\":1}".to_vec(), "application/json")
        .await
        .unwrap();
    archive
        .put("k/v.json", b"v,2".to_vec(), "text/csv")
        .await
        .unwrap();
    let object = archive.get("k/v.json").await.unwrap();
    assert_eq!(object.body, b"v,2");
    assert_eq!(object.content_type, "text/csv");
}

/// Reading a key never written is `NotFound`, also when longer keys share its prefix.
pub async fn missing_object_is_not_found(archive: Arc<dyn Archive>) {
    let result = archive.get("never/written").await;
    assert!(
        matches!(&result, Err(ArchiveError::NotFound(key)) if key == "never/written"),
        "{result:?}"
    );
    archive
        .put("parent/child", b"x".to_vec(), "text/plain")
        .await
        .unwrap();
    let result = archive.get("parent").await;
    assert!(
        matches!(result, Err(ArchiveError::NotFound(_))),
        "{result:?}"
    );
}

/// `a`, `a/b` and `a/b/c` are three independent objects.
pub async fn keys_that_prefix_each_other_coexist(archive: Arc<dyn Archive>) {
    for key in ["a/b", "a", "a/b/c"] {
        archive
            .put(key, key.as_bytes().to_vec(), "text/plain")
            .await
            .unwrap();
    }
    for key in ["a", "a/b", "a/b/c"] {
        assert_eq!(archive.get(key).await.unwrap().body, key.as_bytes());
    }
}

/// Keys that could escape the archive or mean two things are refused everywhere.
pub async fn invalid_keys_are_refused(archive: Arc<dyn Archive>) {
    for key in &invalid_keys() {
        assert!(validate_object_key(key).is_err(), "{key:?} is valid");
        assert_invalid(archive.put(key, b"x".to_vec(), "text/plain").await, key);
        assert_invalid(archive.get(key).await, key);
        assert_invalid(
            archive.download_url(key, Duration::from_secs(60)).await,
            key,
        );
    }
}

/// Content types must be header-safe: non-empty printable ASCII.
pub async fn invalid_content_types_are_refused(archive: Arc<dyn Archive>) {
    for content_type in INVALID_CONTENT_TYPES {
        assert_invalid(
            archive.put("k", b"x".to_vec(), content_type).await,
            content_type,
        );
    }
    assert!(matches!(
        archive.get("k").await,
        Err(ArchiveError::NotFound(_))
    ));
}

/// Links live between 1 second and 7 days.
pub async fn link_lifetime_is_bounded(archive: Arc<dyn Archive>) {
    archive.put("k", b"x".to_vec(), "text/plain").await.unwrap();
    for lifetime in [Duration::ZERO, MAX_LINK_LIFETIME + Duration::from_secs(1)] {
        assert_invalid(
            archive.download_url("k", lifetime).await,
            &format!("{lifetime:?}"),
        );
    }
    archive.download_url("k", MAX_LINK_LIFETIME).await.unwrap();
}

/// Racing overwrites never let a reader see one write's content type with another's body,
/// or half a body.
pub async fn concurrent_overwrites_are_atomic(archive: Arc<dyn Archive>) {
    const LEN: usize = 256 * 1024;
    let version = |letter: u8| (format!("text/x-{}", letter as char), vec![letter; LEN]);
    let (content_type, body) = version(b'a');
    archive.put("race", body, &content_type).await.unwrap();
    let writers: Vec<_> = [b'a', b'b', b'c']
        .into_iter()
        .map(|letter| {
            let archive = Arc::clone(&archive);
            tokio::spawn(async move {
                for _ in 0..5 {
                    let (content_type, body) = version(letter);
                    archive.put("race", body, &content_type).await.unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let archive = Arc::clone(&archive);
            tokio::spawn(async move {
                for _ in 0..10 {
                    let object = archive.get("race").await.unwrap();
                    let letter = *object.content_type.as_bytes().last().unwrap();
                    assert_eq!(
                        (object.content_type.as_str(), object.body.len()),
                        (version(letter).0.as_str(), LEN)
                    );
                    assert!(object.body.iter().all(|&b| b == letter), "mixed body");
                }
            })
        })
        .collect();
    for task in writers.into_iter().chain(readers) {
        task.await.unwrap();
    }
}

pub async fn health_ok(archive: Arc<dyn Archive>) {
    archive.health().await.unwrap();
}

/// A download link fetches the object's bytes, without credentials.
pub async fn download_link_fetches_the_object(archive: Arc<dyn Archive>, probe: &dyn LinkProbe) {
    let body = every_byte_value();
    archive
        .put("exports/user-1/report.csv", body.clone(), "text/csv")
        .await
        .unwrap();
    let url = archive
        .download_url("exports/user-1/report.csv", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(probe.download(&url).await.unwrap(), body);
}

/// A link to a key with no object fetches nothing.
pub async fn download_link_to_a_missing_object_fails(
    archive: Arc<dyn Archive>,
    probe: &dyn LinkProbe,
) {
    let url = archive
        .download_url("no/such/object", Duration::from_secs(300))
        .await
        .unwrap();
    let result = probe.download(&url).await;
    assert!(result.is_err(), "downloaded {result:?}");
}

/// The link carries its own expiry, matching the lifetime asked for.
pub async fn download_link_states_its_lifetime(archive: Arc<dyn Archive>, probe: &dyn LinkProbe) {
    archive.put("k", b"x".to_vec(), "text/plain").await.unwrap();
    for seconds in [1, 90, 3600, MAX_LINK_LIFETIME.as_secs()] {
        let lifetime = Duration::from_secs(seconds);
        let url = archive.download_url("k", lifetime).await.unwrap();
        let stated = probe.stated_lifetime(&url);
        // Whole seconds: the stated expiry may round up, and a second may tick meanwhile.
        assert!(
            stated + Duration::from_secs(1) >= lifetime
                && stated <= lifetime + Duration::from_secs(2),
            "asked {lifetime:?}, link says {stated:?}: {url}"
        );
    }
}

/// The byte at `offset` of a streamed test object: differs between nearby parts and offsets,
/// so a lost, repeated or reordered piece shows.
fn streamed_byte(offset: usize) -> u8 {
    ((offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

fn streamed_bytes(range: std::ops::Range<usize>) -> Vec<u8> {
    range.map(streamed_byte).collect()
}

#[track_caller]
fn assert_streamed_body(body: &[u8], len: usize) {
    assert_eq!(body.len(), len, "body length");
    if let Some(offset) = (0..len).find(|&offset| body[offset] != streamed_byte(offset)) {
        panic!("body differs from what was written at byte {offset}");
    }
}

/// Write `streamed_bytes(0..len)` in pieces of the given sizes, cycled; the last is cut short.
async fn write_in_pieces(upload: &mut dyn ArchiveUpload, len: usize, piece_sizes: &[usize]) {
    let mut written = 0;
    for &size in piece_sizes.iter().cycle() {
        if written == len {
            break;
        }
        let end = len.min(written + size);
        upload.write(&streamed_bytes(written..end)).await.unwrap();
        written = end;
    }
}

/// An object written in many uneven pieces, some smaller and one larger than a part, across
/// several parts, reads back byte for byte with its content type.
pub async fn streamed_upload_round_trip(archive: Arc<dyn Archive>) {
    let len = 2 * UPLOAD_PART_BYTES + 12_345;
    let mut upload = archive
        .start_upload("exports/user-1/audit.jsonl", "application/x-ndjson")
        .await
        .unwrap();
    let pieces = [
        0,
        1,
        4_093,
        65_536,
        (1 << 20) + 17,
        UPLOAD_PART_BYTES + 3,
        2_999_999,
    ];
    write_in_pieces(&mut *upload, len, &pieces).await;
    assert_eq!(upload.finish().await.unwrap(), len as u64);
    let object = archive.get("exports/user-1/audit.jsonl").await.unwrap();
    assert_eq!(object.content_type, "application/x-ndjson");
    assert_streamed_body(&object.body, len);
}

/// Until `finish`, a key shows what it showed before: nothing, or the old object, even after
/// whole parts were sent.
pub async fn streamed_upload_is_invisible_until_finished(archive: Arc<dyn Archive>) {
    archive
        .put("report.csv", b"old".to_vec(), "text/plain")
        .await
        .unwrap();
    let mut replacing = archive
        .start_upload("report.csv", "text/csv")
        .await
        .unwrap();
    let mut creating = archive
        .start_upload("new/report.csv", "text/csv")
        .await
        .unwrap();
    let len = UPLOAD_PART_BYTES + 1;
    write_in_pieces(&mut *replacing, len, &[UPLOAD_PART_BYTES / 3]).await;
    creating.write(b"a,b\n").await.unwrap();

    let before = archive.get("report.csv").await.unwrap();
    assert_eq!(
        before,
        ArchivedObject {
            content_type: "text/plain".into(),
            body: b"old".to_vec()
        }
    );
    assert_not_found(archive.get("new/report.csv").await, "before finish");

    assert_eq!(creating.finish().await.unwrap(), 4);
    assert_eq!(archive.get("new/report.csv").await.unwrap().body, b"a,b\n");
    assert_eq!(replacing.finish().await.unwrap(), len as u64);
    let after = archive.get("report.csv").await.unwrap();
    assert_eq!(after.content_type, "text/csv");
    assert_streamed_body(&after.body, len);
}

/// An aborted upload leaves no object, also after whole parts were sent, and leaves an
/// existing object as it was.
pub async fn aborted_upload_leaves_nothing(archive: Arc<dyn Archive>) {
    let mut upload = archive
        .start_upload("aborted.bin", "application/octet-stream")
        .await
        .unwrap();
    write_in_pieces(
        &mut *upload,
        UPLOAD_PART_BYTES + 1,
        &[UPLOAD_PART_BYTES + 1],
    )
    .await;
    upload.abort().await.unwrap();
    assert_not_found(archive.get("aborted.bin").await, "after abort");

    archive
        .put("kept.txt", b"old".to_vec(), "text/plain")
        .await
        .unwrap();
    let mut upload = archive.start_upload("kept.txt", "text/csv").await.unwrap();
    upload.write(b"new").await.unwrap();
    upload.abort().await.unwrap();
    let kept = archive.get("kept.txt").await.unwrap();
    assert_eq!(
        (kept.content_type.as_str(), kept.body.as_slice()),
        ("text/plain", &b"old"[..])
    );
}

/// Finishing an upload nothing was written to stores an empty object, also over an
/// existing one.
pub async fn empty_streamed_upload_is_an_empty_object(archive: Arc<dyn Archive>) {
    let upload = archive
        .start_upload("empty.jsonl", "application/x-ndjson")
        .await
        .unwrap();
    assert_eq!(upload.finish().await.unwrap(), 0);
    let empty = archive.get("empty.jsonl").await.unwrap();
    assert_eq!(
        empty,
        ArchivedObject {
            content_type: "application/x-ndjson".into(),
            body: Vec::new()
        }
    );

    archive
        .put("was-full.txt", b"full".to_vec(), "text/plain")
        .await
        .unwrap();
    let mut upload = archive
        .start_upload("was-full.txt", "text/csv")
        .await
        .unwrap();
    upload.write(b"").await.unwrap();
    assert_eq!(upload.finish().await.unwrap(), 0);
    let emptied = archive.get("was-full.txt").await.unwrap();
    assert_eq!(
        (emptied.content_type.as_str(), emptied.body.len()),
        ("text/csv", 0)
    );
}

/// `start_upload` checks key and content type like `put`, before anything is stored.
pub async fn start_upload_refuses_invalid_keys_and_content_types(archive: Arc<dyn Archive>) {
    for key in &invalid_keys() {
        assert_invalid(archive.start_upload(key, "text/plain").await, key);
    }
    for content_type in INVALID_CONTENT_TYPES {
        assert_invalid(archive.start_upload("k", content_type).await, content_type);
    }
    assert_not_found(archive.get("k").await, "after refused uploads");
}
