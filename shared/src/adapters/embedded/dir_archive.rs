//! `DirArchive`: the archive port on a local directory, with HMAC-signed expiring links that
//! the local server checks with [`DirArchive::verify_link`] before serving
//! `GET /v1/archive/{key}`.
//!
//! Layout: the object at key `a/b/c.json` is the file `root/a/b/c.json~object`. The `~`
//! cannot occur in a key, so object files never collide with the directories of longer keys
//! (`a` and `a/b` can both exist) nor with staging files (`c.json~object~staging-<ulid>`).
//! Each file is `b"WLA1\n"`, a one-line JSON header with the content type, then the body, and
//! it is written to a staging file and renamed into place: a reader sees the old object or the
//! new one, content type and body together, never a mix or half of either. A streamed upload
//! grows its staging file a part at a time, so only the rename on `finish` makes it visible.

use crate::adapters::embedded::local_vault::{
    KEY_FILE_LEN, KeyFileError, create_private_file, open_or_create_key_file, sync_directory,
};
use crate::ports::archive::{
    Archive, ArchiveError, ArchiveResult, ArchiveUpload, ArchivedObject, PartBuffer,
    validate_link_lifetime, validate_object_key,
};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret as _, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead as _, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// The first bytes of every stored object file; a new layout gets a new magic.
const OBJECT_MAGIC: &[u8] = b"WLA1\n";
/// Appended to the last key segment to name an object's file.
const OBJECT_SUFFIX: &str = "~object";
/// Appended (with a ulid) to the last key segment to name a staging file.
const STAGING_SUFFIX: &str = "~staging-";
/// Longest content type accepted (S3 has no lower limit worth matching).
const MAX_CONTENT_TYPE_LEN: usize = 255;

type HmacSha256 = Hmac<Sha256>;

/// Why a download link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the download link has expired")]
    Expired,
    #[error("the download link's signature is not valid")]
    BadSignature,
}

/// A stored object opened at its body (see [`DirArchive::open_object`]).
#[derive(Debug)]
pub struct OpenObject {
    pub content_type: String,
    /// The object's file, positioned at the first byte of the body.
    pub body: File,
    /// The body's length in bytes.
    pub length: u64,
}

/// The header line of a stored object.
#[derive(Serialize, Deserialize)]
struct ObjectHeader {
    content_type: String,
}

/// An archive in a local directory.
pub struct DirArchive {
    root: PathBuf,
    link_key: SecretBox<[u8; KEY_FILE_LEN]>,
    public_base_url: Url,
}

impl fmt::Debug for DirArchive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirArchive")
            .field("root", &self.root)
            .field("link_key", &"[redacted]")
            .field("public_base_url", &self.public_base_url.as_str())
            .finish()
    }
}

impl DirArchive {
    /// Open the archive at `root` (created if missing), with the link signing key at
    /// `link_key_path` (a random key created on first run, mode 0600, like the master key).
    /// Links point at `public_base_url`, where the local server listens.
    ///
    /// Blocking file IO: call it at startup, or from `spawn_blocking`.
    pub fn open(root: &Path, link_key_path: &Path, public_base_url: Url) -> ArchiveResult<Self> {
        if public_base_url.cannot_be_a_base()
            || !matches!(public_base_url.scheme(), "http" | "https")
            || public_base_url.query().is_some()
            || public_base_url.fragment().is_some()
        {
            return Err(ArchiveError::Invalid(format!(
                "archive public base URL {public_base_url} must be an http(s) URL without \
                 query or fragment"
            )));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|error| {
                ArchiveError::Internal(format!("archive directory {}: {error}", root.display()))
            })?;
        let link_key = open_or_create_key_file(link_key_path).map_err(|error| match error {
            KeyFileError::Io { .. } => ArchiveError::Internal(error.to_string()),
            _ => ArchiveError::Invalid(error.to_string()),
        })?;
        Ok(DirArchive {
            root: root.to_path_buf(),
            link_key,
            public_base_url,
        })
    }

    /// Check a link made by [`Archive::download_url`]: the signature first (so nothing is
    /// said about links we never made), then the expiry.
    pub fn verify_link(&self, key: &str, expires: i64, signature: &str) -> Result<(), LinkError> {
        let signature = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.link_mac(key, expires)
            .map_err(|_| LinkError::BadSignature)?
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        let now = unix_now().map_err(|_| LinkError::Expired)?;
        if now.as_secs() >= u64::try_from(expires).unwrap_or(0) {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// HMAC-SHA256 over `key + "\n" + expires`; the newline keeps the two apart.
    fn link_mac(&self, key: &str, expires: i64) -> Result<HmacSha256, hmac::digest::InvalidLength> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.link_key.expose_secret())?;
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Ok(mac)
    }

    /// The object at `key`, opened for reading in pieces: for downloads of objects too big
    /// to hold (audit exports), where [`Archive::get`] would read the whole body at once.
    pub async fn open_object(&self, key: &str) -> ArchiveResult<OpenObject> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        let key = key.to_owned();
        blocking(move || open_object_file(&key, &path)).await
    }

    /// Where the object at `key` lives (the key is validated by the caller).
    fn object_path(&self, key: &str) -> PathBuf {
        let mut path = self.root.join(key);
        let mut file_name = path.file_name().unwrap_or_default().to_os_string();
        file_name.push(OBJECT_SUFFIX);
        path.set_file_name(file_name);
        path
    }
}

/// Content types both archive adapters accept: 1 to 255 visible ASCII characters or spaces
/// (what an HTTP header value can carry unchanged).
pub(crate) fn validate_content_type(content_type: &str) -> ArchiveResult<()> {
    if content_type.is_empty()
        || content_type.len() > MAX_CONTENT_TYPE_LEN
        || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(ArchiveError::Invalid(format!(
            "content type {content_type:?} must be 1 to {MAX_CONTENT_TYPE_LEN} printable ASCII \
             characters"
        )));
    }
    Ok(())
}

/// Links last at least as long as asked: a fractional second is rounded up.
pub(crate) fn link_lifetime_in_whole_seconds(lifetime: Duration) -> Duration {
    let whole = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    Duration::from_secs(whole)
}

fn unix_now() -> ArchiveResult<Duration> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ArchiveError::Internal("the system clock is before 1970".into()))
}

fn io_failure(what: &str, path: &Path) -> impl FnOnce(io::Error) -> ArchiveError {
    let context = format!("{what} {}", path.display());
    move |error| match error.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::ResourceBusy => {
            ArchiveError::Unavailable(format!("{context}: {error}"))
        }
        _ => ArchiveError::Internal(format!("{context}: {error}")),
    }
}

/// Run file work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ArchiveResult<T> + Send + 'static,
) -> ArchiveResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ArchiveError::Internal(format!("archive file task failed: {error}")))?
}

fn write_object(path: &Path, body: &[u8], content_type: &str) -> ArchiveResult<()> {
    let mut staging = StagingFile::create(path, content_type)?;
    staging.append(body)?;
    staging.publish()
}

/// An object being written beside its file, under a name no reader opens. Dropped before it
/// is published or discarded, it removes itself, so a failed or abandoned write leaves nothing.
#[derive(Debug)]
struct StagingFile {
    file: File,
    path: PathBuf,
    object_path: PathBuf,
    /// Set once renamed into place or removed: nothing left to clean up.
    settled: bool,
}

impl StagingFile {
    /// A private staging file for the object at `object_path` (creating the directories above
    /// it), already holding the magic and the header.
    fn create(object_path: &Path, content_type: &str) -> ArchiveResult<Self> {
        let directory = parent_of(object_path)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(io_failure("creating archive directory", directory))?;
        let header = serde_json::to_vec(&ObjectHeader {
            content_type: content_type.to_owned(),
        })
        .map_err(|error| ArchiveError::Internal(format!("object header: {error}")))?;
        let mut staging_name = object_path.file_name().unwrap_or_default().to_os_string();
        staging_name.push(format!("{STAGING_SUFFIX}{}", ulid::Ulid::new()));
        let path = object_path.with_file_name(staging_name);
        let file = create_private_file(&path)
            .map_err(io_failure("creating archive staging file", &path))?;
        let mut staging = StagingFile {
            file,
            path,
            object_path: object_path.to_path_buf(),
            settled: false,
        };
        let mut preamble = Vec::with_capacity(OBJECT_MAGIC.len() + header.len() + 1);
        preamble.extend_from_slice(OBJECT_MAGIC);
        preamble.extend_from_slice(&header);
        preamble.push(b'\n');
        staging.append(&preamble)?;
        Ok(staging)
    }

    fn append(&mut self, bytes: &[u8]) -> ArchiveResult<()> {
        self.file
            .write_all(bytes)
            .map_err(io_failure("writing archive object", &self.object_path))
    }

    /// Make the object durable, then visible in one step: fsync, rename over the object's
    /// file, sync the directory.
    fn publish(mut self) -> ArchiveResult<()> {
        self.file
            .sync_all()
            .and_then(|()| fs::rename(&self.path, &self.object_path))
            .map_err(io_failure("writing archive object", &self.object_path))?;
        self.settled = true;
        let directory = parent_of(&self.object_path)?;
        sync_directory(directory).map_err(io_failure("syncing archive directory", directory))
    }

    /// Remove the staging file, saying so when that fails.
    fn discard(mut self) -> ArchiveResult<()> {
        self.settled = true;
        fs::remove_file(&self.path).map_err(io_failure("removing archive staging file", &self.path))
    }
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        if !self.settled {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn parent_of(path: &Path) -> ArchiveResult<&Path> {
    path.parent()
        .ok_or_else(|| ArchiveError::Internal(format!("{} has no parent", path.display())))
}

/// A streamed upload into a staging file, renamed into place by `finish`.
#[derive(Debug)]
struct DirUpload {
    key: String,
    /// `None` once spent: after a failed write, whose staging file is already removed.
    staging: Option<StagingFile>,
    buffer: PartBuffer,
}

impl DirUpload {
    fn spent(&self) -> ArchiveError {
        ArchiveError::Internal(format!(
            "the upload of {} failed earlier and holds nothing",
            self.key
        ))
    }

    /// Append a part to the staging file off the executor. On failure the staging file is
    /// dropped, and so removed, in the blocking task.
    async fn append(&mut self, part: Vec<u8>) -> ArchiveResult<()> {
        let mut staging = self.staging.take().ok_or_else(|| self.spent())?;
        let staging = blocking(move || {
            staging.append(&part)?;
            Ok(staging)
        })
        .await?;
        self.staging = Some(staging);
        Ok(())
    }
}

#[async_trait]
impl ArchiveUpload for DirUpload {
    async fn write(&mut self, bytes: &[u8]) -> ArchiveResult<()> {
        if self.staging.is_none() {
            return Err(self.spent());
        }
        let mut input = bytes;
        while let Some(part) = self.buffer.fill(&mut input) {
            self.append(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> ArchiveResult<u64> {
        let mut staging = self.staging.take().ok_or_else(|| self.spent())?;
        let rest = self.buffer.take_rest();
        blocking(move || {
            staging.append(&rest)?;
            staging.publish()
        })
        .await?;
        Ok(self.buffer.total())
    }

    async fn abort(mut self: Box<Self>) -> ArchiveResult<()> {
        match self.staging.take() {
            Some(staging) => blocking(move || staging.discard()).await,
            None => Ok(()),
        }
    }
}

impl Drop for DirUpload {
    /// An upload dropped without `finish` or `abort` removes its staging file too, off the
    /// executor when there is one.
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn_blocking(move || drop(staging));
                }
                Err(_) => drop(staging),
            }
        }
    }
}

/// Opens the object file at `path` past its magic and header lines.
fn open_object_file(key: &str, path: &Path) -> ArchiveResult<OpenObject> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(ArchiveError::NotFound(key.to_owned()));
        }
        Err(error) => return Err(io_failure("opening archive object", path)(error)),
    };
    let corrupt =
        || ArchiveError::Internal(format!("archive object {} is corrupt", path.display()));
    let reading = |error| io_failure("reading archive object", path)(error);
    // The magic line and the header line: far less than this (the content type is at most
    // 255 characters, a few of which JSON writes as two), so a file without a header line
    // is refused without reading it all.
    let longest_preamble = 4096;
    let mut preamble = Vec::new();
    let mut reader = io::BufReader::new(&file).take(longest_preamble);
    for _ in 0..2 {
        reader.read_until(b'\n', &mut preamble).map_err(reading)?;
    }
    let header_line = preamble
        .strip_prefix(OBJECT_MAGIC)
        .and_then(|rest| rest.strip_suffix(b"\n"))
        .ok_or_else(corrupt)?;
    let header: ObjectHeader = serde_json::from_slice(header_line).map_err(|_| corrupt())?;
    let body_start = u64::try_from(preamble.len()).map_err(|_| corrupt())?;
    let length = file
        .metadata()
        .map_err(reading)?
        .len()
        .checked_sub(body_start)
        .ok_or_else(corrupt)?;
    file.seek(SeekFrom::Start(body_start)).map_err(reading)?;
    Ok(OpenObject {
        content_type: header.content_type,
        body: file,
        length,
    })
}

fn read_object(key: &str, path: &Path) -> ArchiveResult<ArchivedObject> {
    let mut object = open_object_file(key, path)?;
    let mut body = Vec::with_capacity(usize::try_from(object.length).unwrap_or(0));
    object
        .body
        .read_to_end(&mut body)
        .map_err(io_failure("reading archive object", path))?;
    Ok(ArchivedObject {
        content_type: object.content_type,
        body,
    })
}

#[async_trait]
impl Archive for DirArchive {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> ArchiveResult<()> {
        validate_object_key(key)?;
        validate_content_type(content_type)?;
        let path = self.object_path(key);
        let content_type = content_type.to_owned();
        blocking(move || write_object(&path, &body, &content_type)).await
    }

    async fn get(&self, key: &str) -> ArchiveResult<ArchivedObject> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        let key = key.to_owned();
        blocking(move || read_object(&key, &path)).await
    }

    /// `{public_base_url}/v1/archive/{key}?expires={unix seconds}&signature={hex HMAC}`.
    async fn download_url(&self, key: &str, lifetime: Duration) -> ArchiveResult<String> {
        validate_object_key(key)?;
        validate_link_lifetime(lifetime)?;
        let deadline = unix_now()? + link_lifetime_in_whole_seconds(lifetime);
        let expires = i64::try_from(deadline.as_secs() + u64::from(deadline.subsec_nanos() > 0))
            .map_err(|_| ArchiveError::Internal("link expiry out of range".into()))?;
        let mac = self
            .link_mac(key, expires)
            .map_err(|error| ArchiveError::Internal(format!("link signing key: {error}")))?;
        let signature = hex::encode(mac.finalize().into_bytes());
        let mut url = self.public_base_url.clone();
        url.path_segments_mut()
            .map_err(|()| ArchiveError::Internal("public base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(["v1", "archive"])
            .extend(key.split('/'));
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature);
        Ok(url.into())
    }

    /// Healthy while the root directory is there.
    async fn health(&self) -> ArchiveResult<()> {
        let root = self.root.clone();
        blocking(move || match fs::metadata(&root) {
            Ok(metadata) if metadata.is_dir() => Ok(()),
            Ok(_) => Err(ArchiveError::Unavailable(format!(
                "archive root {} is not a directory",
                root.display()
            ))),
            Err(error) => Err(ArchiveError::Unavailable(format!(
                "archive root {}: {error}",
                root.display()
            ))),
        })
        .await
    }

    async fn start_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> ArchiveResult<Box<dyn ArchiveUpload>> {
        validate_object_key(key)?;
        validate_content_type(content_type)?;
        let path = self.object_path(key);
        let content_type = content_type.to_owned();
        let staging = blocking(move || StagingFile::create(&path, &content_type)).await?;
        Ok(Box::new(DirUpload {
            key: key.to_owned(),
            staging: Some(staging),
            buffer: PartBuffer::default(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn archive(dir: &Path) -> DirArchive {
        DirArchive::open(
            &dir.join("archive"),
            &dir.join("link.key"),
            Url::parse("http://127.0.0.1:8080/").unwrap(),
        )
        .unwrap()
    }

    fn query(url: &str) -> (String, i64, String) {
        let url = Url::parse(url).unwrap();
        let key = url.path().strip_prefix("/v1/archive/").unwrap().to_owned();
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        (
            key,
            pairs["expires"].parse().unwrap(),
            pairs["signature"].clone(),
        )
    }

    #[tokio::test]
    async fn links_have_the_documented_shape_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        let before = unix_now().unwrap().as_secs() as i64;
        let url = archive
            .download_url("exports/u1/a=b.csv", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:8080/v1/archive/exports/u1/a=b.csv?expires="),
            "{url}"
        );
        let (key, expires, signature) = query(&url);
        assert_eq!(key, "exports/u1/a=b.csv");
        assert!((before + 60..=before + 62).contains(&expires), "{expires}");
        assert_eq!(signature.len(), 64);
        archive.verify_link(&key, expires, &signature).unwrap();
    }

    #[tokio::test]
    async fn a_base_url_with_a_path_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let archive = DirArchive::open(
            &dir.path().join("a"),
            &dir.path().join("k"),
            Url::parse("https://example.test/local").unwrap(),
        )
        .unwrap();
        let url = archive
            .download_url("x", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            url.starts_with("https://example.test/local/v1/archive/x?"),
            "{url}"
        );
    }

    #[test]
    fn unusable_base_urls_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for base in [
            "mailto:a@b.c",
            "ftp://host/",
            "http://host/?q=1",
            "http://host/#f",
        ] {
            let result = DirArchive::open(
                &dir.path().join("a"),
                &dir.path().join("k"),
                Url::parse(base).unwrap(),
            );
            assert!(matches!(result, Err(ArchiveError::Invalid(_))), "{base}");
        }
    }

    #[tokio::test]
    async fn tampered_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        let url = archive
            .download_url("a/b", Duration::from_secs(60))
            .await
            .unwrap();
        let (key, expires, signature) = query(&url);
        let mut flipped = signature.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        for (key, expires, signature) in [
            ("a/c", expires, signature.as_str()),
            (key.as_str(), expires + 1, signature.as_str()),
            (key.as_str(), expires, flipped.as_str()),
            (key.as_str(), expires, &signature[..62]),
            (key.as_str(), expires, "not hex"),
            (key.as_str(), expires, ""),
        ] {
            assert_eq!(
                archive.verify_link(key, expires, signature),
                Err(LinkError::BadSignature),
                "{key} {expires} {signature}"
            );
        }
    }

    #[tokio::test]
    async fn expired_links_are_refused_after_the_signature_check() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        let now = unix_now().unwrap().as_secs() as i64;
        for expires in [now, now - 1, 0, -5] {
            let signature = hex::encode(
                archive
                    .link_mac("k", expires)
                    .unwrap()
                    .finalize()
                    .into_bytes(),
            );
            assert_eq!(
                archive.verify_link("k", expires, &signature),
                Err(LinkError::Expired)
            );
        }
        let future = now + 30;
        let signature = hex::encode(
            archive
                .link_mac("k", future)
                .unwrap()
                .finalize()
                .into_bytes(),
        );
        assert_eq!(archive.verify_link("k", future, &signature), Ok(()));
    }

    #[tokio::test]
    async fn links_from_another_archive_key_are_refused() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (first, second) = (archive(one.path()), archive(two.path()));
        let url = first
            .download_url("k", Duration::from_secs(60))
            .await
            .unwrap();
        let (key, expires, signature) = query(&url);
        assert_eq!(
            second.verify_link(&key, expires, &signature),
            Err(LinkError::BadSignature)
        );
    }

    #[tokio::test]
    async fn objects_open_at_their_body_for_reading_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        // A body with line breaks of its own, and one as long as several read buffers.
        let body: Vec<u8> = (0..100_000u32)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        archive
            .put(
                "tenants/t/audit-exports/e.jsonl",
                body.clone(),
                "application/x-ndjson",
            )
            .await
            .unwrap();
        let mut opened = archive
            .open_object("tenants/t/audit-exports/e.jsonl")
            .await
            .unwrap();
        assert_eq!(opened.content_type, "application/x-ndjson");
        assert_eq!(opened.length, u64::try_from(body.len()).unwrap());
        let mut read = Vec::new();
        opened.body.read_to_end(&mut read).unwrap();
        assert_eq!(read, body);

        archive
            .put("empty", Vec::new(), "text/plain")
            .await
            .unwrap();
        assert_eq!(archive.open_object("empty").await.unwrap().length, 0);
        assert!(matches!(
            archive.open_object("missing").await,
            Err(ArchiveError::NotFound(_))
        ));
        // A file that is not an object (no header line) is reported, not served.
        fs::write(archive.object_path("broken"), b"WLA1\nno header").unwrap();
        assert!(matches!(
            archive.open_object("broken").await,
            Err(ArchiveError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn link_key_is_private_and_stable_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let url = archive(dir.path())
            .download_url("k", Duration::from_secs(60))
            .await
            .unwrap();
        let mode = fs::metadata(dir.path().join("link.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (key, expires, signature) = query(&url);
        archive(dir.path())
            .verify_link(&key, expires, &signature)
            .unwrap();
    }

    #[test]
    fn a_world_readable_link_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        archive(dir.path());
        let key_path = dir.path().join("link.key");
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
        let result = DirArchive::open(
            &dir.path().join("archive"),
            &key_path,
            Url::parse("http://127.0.0.1/").unwrap(),
        );
        assert!(matches!(result, Err(ArchiveError::Invalid(m)) if m.contains("group or others")));
    }

    #[tokio::test]
    async fn objects_and_longer_keys_coexist_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        archive.put("a", b"1".to_vec(), "text/plain").await.unwrap();
        archive
            .put("a/b", b"2".to_vec(), "text/plain")
            .await
            .unwrap();
        archive.put("a/b", b"3".to_vec(), "text/csv").await.unwrap();
        assert_eq!(archive.get("a").await.unwrap().body, b"1");
        assert_eq!(archive.get("a/b").await.unwrap().body, b"3");
        let mut names: Vec<_> = fs::read_dir(dir.path().join("archive/a"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["b~object"]);
        let on_disk = fs::read(dir.path().join("archive/a/b~object")).unwrap();
        assert_eq!(on_disk, b"WLA1\n{\"content_type\":\"text/csv\"}\n3");
    }

    #[tokio::test]
    async fn a_corrupt_object_is_an_internal_error() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        fs::write(dir.path().join("archive/bad~object"), b"garbage").unwrap();
        assert!(matches!(
            archive.get("bad").await,
            Err(ArchiveError::Internal(_))
        ));
    }

    #[test]
    fn content_types_must_be_printable_ascii() {
        for good in ["text/csv", "application/json; charset=utf-8"] {
            assert!(validate_content_type(good).is_ok(), "{good}");
        }
        let long = "a".repeat(256);
        for bad in ["", "text/\ncsv", "t\u{e9}xt", long.as_str()] {
            assert!(validate_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lifetimes_round_up_to_whole_seconds() {
        let round = link_lifetime_in_whole_seconds;
        assert_eq!(round(Duration::from_millis(1)), Duration::from_secs(1));
        assert_eq!(round(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(round(Duration::from_millis(5001)), Duration::from_secs(6));
    }

    #[tokio::test]
    async fn health_notices_a_missing_root() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        archive.health().await.unwrap();
        fs::remove_dir_all(dir.path().join("archive")).unwrap();
        assert!(matches!(
            archive.health().await,
            Err(ArchiveError::Unavailable(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_link_key() {
        let dir = tempfile::tempdir().unwrap();
        let archive = archive(dir.path());
        let debug = format!("{archive:?}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains(&hex::encode(archive.link_key.expose_secret())));
        assert!(!debug.contains(&format!("{:?}", archive.link_key.expose_secret())));
    }
}
