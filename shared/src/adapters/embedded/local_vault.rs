//! `LocalKeyVault`: the key vault port on a master key file, for local runs without KMS.
//!
//! The master key is 32 random bytes created on first run (mode 0600) and never leaves this
//! process. Wrapped data keys and direct ciphertexts share one versioned format,
//! `b"WLV1" || nonce(12) || AES-256-GCM(ciphertext || tag)`, with the encryption context's
//! canonical bytes as associated data, so a ciphertext only opens under the exact same
//! context, like KMS.
//!
//! The key file helpers here are shared with the directory archive's link key.

use crate::crypto::envelope::{NONCE_LEN, aes_gcm_open, aes_gcm_seal, check_direct_plaintext_len};
use crate::ports::key_vault::{DataKey, EncryptionContext, KeyVault, VaultError, VaultResult};
use async_trait::async_trait;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, ExposeSecretMut as _, SecretBox, SecretSlice};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The prefix of every ciphertext this vault produces; a new format gets a new prefix.
pub const CIPHERTEXT_PREFIX: &[u8; 4] = b"WLV1";

/// Length of a key file: one AES-256 key.
pub const KEY_FILE_LEN: usize = 32;

const TAG_LEN: usize = 16;

/// A vault whose master key is a local file.
pub struct LocalKeyVault {
    master_key: SecretBox<[u8; KEY_FILE_LEN]>,
    path: PathBuf,
}

impl fmt::Debug for LocalKeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyVault")
            .field("path", &self.path)
            .field("master_key", &"[redacted]")
            .finish()
    }
}

impl LocalKeyVault {
    /// Load the master key at `path`, creating it (and its directory) on first run.
    ///
    /// Blocking file IO: call it at startup, or from `spawn_blocking`. A key file of the wrong
    /// length or one that group or others may access is refused with
    /// [`VaultError::Invalid`]: it is either not ours or already exposed.
    pub fn open_or_create(path: &Path) -> VaultResult<Self> {
        let master_key = open_or_create_key_file(path).map_err(|error| match error {
            KeyFileError::Io { .. } => VaultError::Internal(error.to_string()),
            _ => VaultError::Invalid(error.to_string()),
        })?;
        Ok(LocalKeyVault {
            master_key,
            path: path.to_path_buf(),
        })
    }

    fn wrap(&self, plaintext: &[u8], context: &EncryptionContext) -> VaultResult<Vec<u8>> {
        let (nonce, sealed) = aes_gcm_seal(
            self.master_key.expose_secret(),
            plaintext,
            &context.canonical_bytes(),
        )?;
        let mut out = Vec::with_capacity(CIPHERTEXT_PREFIX.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(CIPHERTEXT_PREFIX);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

#[async_trait]
impl KeyVault for LocalKeyVault {
    async fn generate_data_key(&self, context: &EncryptionContext) -> VaultResult<DataKey> {
        let plaintext = SecretBox::init_with_mut(|key: &mut [u8; 32]| {
            rand::rngs::OsRng.fill_bytes(key);
        });
        let wrapped = self.wrap(plaintext.expose_secret(), context)?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> VaultResult<Vec<u8>> {
        check_direct_plaintext_len(plaintext.len())?;
        self.wrap(plaintext, context)
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> VaultResult<SecretSlice<u8>> {
        let body = ciphertext
            .strip_prefix(CIPHERTEXT_PREFIX.as_slice())
            .filter(|body| body.len() >= NONCE_LEN + TAG_LEN)
            .ok_or(VaultError::DecryptionFailed)?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::DecryptionFailed)?;
        aes_gcm_open(
            self.master_key.expose_secret(),
            nonce,
            sealed,
            &context.canonical_bytes(),
        )
    }

    /// Healthy while the key file still holds the loaded key: a deleted or replaced file
    /// would lose every secret at the next restart, so it is reported now.
    async fn health(&self) -> VaultResult<()> {
        let path = self.path.clone();
        let on_disk = tokio::task::spawn_blocking(move || read_key_file(&path))
            .await
            .map_err(|error| VaultError::Internal(format!("health check task failed: {error}")))?;
        match on_disk {
            Ok(key) if key.expose_secret() == self.master_key.expose_secret() => Ok(()),
            Ok(_) => Err(VaultError::Internal(format!(
                "master key file {} was replaced since it was loaded",
                self.path.display()
            ))),
            Err(error) => Err(VaultError::Unavailable(format!(
                "master key file unusable: {error}"
            ))),
        }
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyFileError {
    #[error("key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("key file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error(
        "key file {path} may be accessed by group or others (mode {mode:03o}); \
         if it was never exposed, run `chmod 600` on it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("key file {path} must hold exactly {KEY_FILE_LEN} bytes")]
    WrongLength { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read the 32-byte key at `path`, or create a random one there if there is none.
///
/// Creation writes a private temporary file and hard-links it into place, which fails if
/// the name exists: of two processes starting at once, one key wins, the other process
/// reads it, and nobody ever sees a half-written file.
pub(crate) fn open_or_create_key_file(
    path: &Path,
) -> Result<SecretBox<[u8; KEY_FILE_LEN]>, KeyFileError> {
    match read_key_file(path) {
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        existing => return existing,
    }
    let key = SecretBox::init_with_mut(|key: &mut [u8; KEY_FILE_LEN]| {
        rand::rngs::OsRng.fill_bytes(key);
    });
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
        .map_err(io_error(directory))?;
    let temporary = directory.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|name| name.to_string_lossy())
            .unwrap_or_default(),
        ulid::Ulid::new()
    ));
    let linked = write_private_file(&temporary, key.expose_secret())
        .and_then(|()| fs::hard_link(&temporary, path));
    // The temporary name is only a staging name: drop it whether or not the link won.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            sync_directory(directory).map_err(io_error(directory))?;
            Ok(key)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(error) => Err(io_error(path)(error)),
    }
}

/// Read an existing key file, checking it is a private regular file of the right length.
pub(crate) fn read_key_file(path: &Path) -> Result<SecretBox<[u8; KEY_FILE_LEN]>, KeyFileError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    // Checked on the open handle, so the file cannot be swapped between check and read.
    let metadata = file.metadata().map_err(io_error(path))?;
    if !metadata.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let wrong_length = || KeyFileError::WrongLength {
        path: path.to_path_buf(),
    };
    if metadata.len() != KEY_FILE_LEN as u64 {
        return Err(wrong_length());
    }
    let mut key = SecretBox::new(Box::new([0u8; KEY_FILE_LEN]));
    file.read_exact(key.expose_secret_mut())
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => wrong_length(),
            _ => io_error(path)(error),
        })?;
    let mut probe = [0u8; 1];
    if file.read(&mut probe).map_err(io_error(path))? != 0 {
        return Err(wrong_length());
    }
    Ok(key)
}

/// Create `path` (which must not exist) readable by its owner only, and flush it to disk.
pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = create_private_file(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Create `path`, which must not exist, for writing, readable by its owner only.
pub(crate) fn create_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Make a rename or link in `directory` durable.
pub(crate) fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn context() -> EncryptionContext {
        EncryptionContext::for_user("u1", "test")
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_a_private_key_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state/master.key");
        LocalKeyVault::open_or_create(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::metadata(&path).unwrap().len(), KEY_FILE_LEN as u64);
        assert_eq!(mode_of(path.parent().unwrap()) & 0o077, 0);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["master.key"]);
    }

    #[tokio::test]
    async fn reopening_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = LocalKeyVault::open_or_create(&path).unwrap();
        let ciphertext = first.encrypt(b"hello", &context()).await.unwrap();
        let second = LocalKeyVault::open_or_create(&path).unwrap();
        let plaintext = second.decrypt(&ciphertext, &context()).await.unwrap();
        assert_eq!(plaintext.expose_secret(), b"hello");
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        LocalKeyVault::open_or_create(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let error = LocalKeyVault::open_or_create(&path).unwrap_err();
            let VaultError::Invalid(message) = error else {
                panic!("mode {mode:o} gave {error:?}");
            };
            assert!(message.contains("group or others"), "{message}");
            assert!(message.contains("master.key"), "{message}");
        }
    }

    #[test]
    fn refuses_a_key_file_of_the_wrong_length() {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in [("empty", 0), ("short", 31), ("long", 33)] {
            let path = dir.path().join(name);
            write_private_file(&path, &vec![1u8; len]).unwrap();
            let error = LocalKeyVault::open_or_create(&path).unwrap_err();
            assert!(
                matches!(&error, VaultError::Invalid(message) if message.contains("exactly 32")),
                "{name}: {error:?}"
            );
        }
    }

    #[test]
    fn refuses_a_directory_as_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = LocalKeyVault::open_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, VaultError::Invalid(_)), "{error:?}");
    }

    #[test]
    fn concurrent_first_runs_end_with_the_same_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = Arc::new(dir.path().join("master.key"));
            let starting_line = Arc::new(Barrier::new(4));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let path = Arc::clone(&path);
                    let starting_line = Arc::clone(&starting_line);
                    std::thread::spawn(move || {
                        starting_line.wait();
                        LocalKeyVault::open_or_create(&path).unwrap()
                    })
                })
                .collect();
            let vaults: Vec<LocalKeyVault> =
                threads.into_iter().map(|t| t.join().unwrap()).collect();
            let on_disk = read_key_file(&path).unwrap();
            for vault in &vaults {
                assert_eq!(vault.master_key.expose_secret(), on_disk.expose_secret());
            }
            let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(names.len(), 1, "staging files left behind");
        }
    }

    #[tokio::test]
    async fn decrypt_refuses_foreign_formats() {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalKeyVault::open_or_create(&dir.path().join("k")).unwrap();
        let good = vault.encrypt(b"x", &context()).await.unwrap();
        assert_eq!(&good[..4], CIPHERTEXT_PREFIX);
        let mut other_version = good.clone();
        other_version[3] = b'2';
        let short = good[..CIPHERTEXT_PREFIX.len() + NONCE_LEN + TAG_LEN - 1].to_vec();
        for bad in [Vec::new(), b"WLV1".to_vec(), short, other_version] {
            let result = vault.decrypt(&bad, &context()).await;
            assert!(matches!(result, Err(VaultError::DecryptionFailed)));
        }
    }

    #[tokio::test]
    async fn health_notices_a_missing_or_replaced_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let vault = LocalKeyVault::open_or_create(&path).unwrap();
        vault.health().await.unwrap();
        fs::remove_file(&path).unwrap();
        let missing = vault.health().await.unwrap_err();
        assert!(matches!(missing, VaultError::Unavailable(_)), "{missing:?}");
        LocalKeyVault::open_or_create(&path).unwrap();
        let replaced = vault.health().await.unwrap_err();
        assert!(matches!(replaced, VaultError::Internal(_)), "{replaced:?}");
    }

    #[test]
    fn debug_output_hides_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalKeyVault::open_or_create(&dir.path().join("k")).unwrap();
        let debug = format!("{vault:?}");
        let key = vault.master_key.expose_secret();
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains(&format!("{key:?}")), "{debug}");
        assert!(!debug.contains(&hex::encode(key)), "{debug}");
    }
}
