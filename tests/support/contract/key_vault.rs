//! The key vault contract: what every `KeyVault` adapter must do, through the trait only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use secrecy::ExposeSecret as _;
use std::collections::HashSet;
use std::sync::Arc;
use walletless::crypto::envelope::{self, Envelope};
use walletless::ports::key_vault::{EncryptionContext, KeyVault, MAX_DIRECT_PLAINTEXT, VaultError};

fn context() -> EncryptionContext {
    EncryptionContext::for_user("user-1", "mnemonic")
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, VaultError>, what: &str) {
    match result {
        Err(VaultError::DecryptionFailed) => {}
        other => panic!("{what}: expected DecryptionFailed, got {other:?}"),
    }
}

/// A wrapped data key decrypts, with the same context, to the same plaintext key.
pub async fn data_key_round_trip(vault: Arc<dyn KeyVault>) {
    let data_key = vault.generate_data_key(&context()).await.unwrap();
    assert_eq!(data_key.plaintext.expose_secret().len(), 32);
    assert!(!data_key.wrapped.is_empty());
    assert_ne!(
        data_key.wrapped.as_slice(),
        data_key.plaintext.expose_secret().as_slice(),
        "the wrapped key must not be the key"
    );
    let unwrapped = vault.decrypt(&data_key.wrapped, &context()).await.unwrap();
    assert_eq!(
        unwrapped.expose_secret(),
        data_key.plaintext.expose_secret().as_slice()
    );
}

/// A data key bound to an empty context decrypts only with an empty context.
pub async fn empty_context_is_a_context_too(vault: Arc<dyn KeyVault>) {
    let empty = EncryptionContext::new();
    let data_key = vault.generate_data_key(&empty).await.unwrap();
    let unwrapped = vault.decrypt(&data_key.wrapped, &empty).await.unwrap();
    assert_eq!(
        unwrapped.expose_secret(),
        data_key.plaintext.expose_secret().as_slice()
    );
    assert_refused(
        vault.decrypt(&data_key.wrapped, &context()).await,
        "empty context, decrypted with a non-empty one",
    );
}

/// Decryption needs exactly the pairs of encryption: another value, a missing pair or an
/// extra pair are all refused, for wrapped data keys and direct ciphertexts alike.
pub async fn context_must_match_exactly(vault: Arc<dyn KeyVault>) {
    let wrapped = vault.generate_data_key(&context()).await.unwrap().wrapped;
    let direct = vault.encrypt(b"small secret", &context()).await.unwrap();
    let others = [
        (
            "other user",
            EncryptionContext::for_user("user-2", "mnemonic"),
        ),
        (
            "other purpose",
            EncryptionContext::for_user("user-1", "totp"),
        ),
        (
            "missing pair",
            EncryptionContext::new().with("user", "user-1"),
        ),
        ("extra pair", context().with("tenant", "t1")),
        ("no context", EncryptionContext::new()),
        (
            "swapped key and value",
            EncryptionContext::new()
                .with("user-1", "user")
                .with("purpose", "mnemonic"),
        ),
    ];
    for (what, other) in &others {
        assert_refused(
            vault.decrypt(&wrapped, other).await,
            &format!("data key, {what}"),
        );
        assert_refused(
            vault.decrypt(&direct, other).await,
            &format!("direct, {what}"),
        );
    }
}

/// Any flipped byte (start, middle, end) or a truncation makes the ciphertext useless.
pub async fn tampered_ciphertext_is_refused(vault: Arc<dyn KeyVault>) {
    for ciphertext in [
        vault.generate_data_key(&context()).await.unwrap().wrapped,
        vault.encrypt(b"small secret", &context()).await.unwrap(),
    ] {
        for index in [0, ciphertext.len() / 2, ciphertext.len() - 1] {
            let mut tampered = ciphertext.clone();
            tampered[index] ^= 0x01;
            assert_refused(
                vault.decrypt(&tampered, &context()).await,
                &format!("byte {index} flipped"),
            );
        }
        let truncated = &ciphertext[..ciphertext.len() - 1];
        assert_refused(vault.decrypt(truncated, &context()).await, "truncated");
    }
}

/// Bytes the vault never produced are refused, not an internal error.
pub async fn garbage_is_refused(vault: Arc<dyn KeyVault>) {
    for garbage in [&b""[..], b"x", &[0u8; 200], b"not a ciphertext at all"] {
        assert_refused(
            vault.decrypt(garbage, &context()).await,
            &format!("{} garbage bytes", garbage.len()),
        );
    }
}

/// Direct encryption round trips at its limits: 1 byte and [`MAX_DIRECT_PLAINTEXT`].
pub async fn encrypt_decrypt_round_trip(vault: Arc<dyn KeyVault>) {
    for plaintext in [
        b"x".to_vec(),
        b"an api secret".to_vec(),
        (0..MAX_DIRECT_PLAINTEXT).map(|i| i as u8).collect(),
    ] {
        let ciphertext = vault.encrypt(&plaintext, &context()).await.unwrap();
        if plaintext.len() >= 8 {
            let head = &plaintext[..8];
            assert!(
                !ciphertext.windows(8).any(|window| window == head),
                "the plaintext shows through"
            );
        }
        let decrypted = vault.decrypt(&ciphertext, &context()).await.unwrap();
        assert_eq!(decrypted.expose_secret(), plaintext.as_slice());
    }
}

/// Direct encryption refuses what KMS refuses (empty or over the limit) as `Invalid`.
pub async fn direct_encrypt_size_limits(vault: Arc<dyn KeyVault>) {
    for len in [0, MAX_DIRECT_PLAINTEXT + 1, 3 * MAX_DIRECT_PLAINTEXT] {
        let result = vault.encrypt(&vec![7u8; len], &context()).await;
        assert!(
            matches!(result, Err(VaultError::Invalid(_))),
            "{len} bytes: {result:?}"
        );
    }
}

/// Encrypting the same plaintext twice gives two different ciphertexts (random nonces).
pub async fn encryption_is_randomised(vault: Arc<dyn KeyVault>) {
    let a = vault.encrypt(b"same", &context()).await.unwrap();
    let b = vault.encrypt(b"same", &context()).await.unwrap();
    assert_ne!(a, b);
}

/// Every data key is new: many at once, all keys and wrapped keys distinct.
pub async fn data_keys_differ(vault: Arc<dyn KeyVault>) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let vault = Arc::clone(&vault);
            tokio::spawn(async move { vault.generate_data_key(&context()).await.unwrap() })
        })
        .collect();
    let mut keys = HashSet::new();
    let mut wrapped = HashSet::new();
    for task in tasks {
        let data_key = task.await.unwrap();
        keys.insert(data_key.plaintext.expose_secret().to_vec());
        wrapped.insert(data_key.wrapped);
    }
    assert_eq!(keys.len(), 8);
    assert_eq!(wrapped.len(), 8);
}

/// Envelopes seal and open through the adapter, survive their JSON form, and stay bound to
/// their context.
pub async fn envelope_seal_open(vault: Arc<dyn KeyVault>) {
    let secret = b"abandon abandon abandon ... about".repeat(200);
    let sealed = envelope::seal(&*vault, &secret, &context()).await.unwrap();
    let stored = serde_json::to_string(&sealed).unwrap();
    let loaded: Envelope = serde_json::from_str(&stored).unwrap();
    let opened = envelope::open(&*vault, &loaded, &context()).await.unwrap();
    assert_eq!(opened.expose_secret(), secret.as_slice());
    let other = EncryptionContext::for_user("user-2", "mnemonic");
    assert_refused(
        envelope::open(&*vault, &loaded, &other).await,
        "envelope with another context",
    );
    let second = envelope::seal(&*vault, &secret, &context()).await.unwrap();
    assert_ne!(second, sealed, "each envelope has its own data key");
}

/// A ciphertext from another vault (another master key) is refused.
pub async fn other_vaults_ciphertext_is_refused(
    vault: Arc<dyn KeyVault>,
    other: Arc<dyn KeyVault>,
) {
    let wrapped = other.generate_data_key(&context()).await.unwrap().wrapped;
    assert_refused(
        vault.decrypt(&wrapped, &context()).await,
        "another vault's data key",
    );
    let direct = other.encrypt(b"secret", &context()).await.unwrap();
    assert_refused(
        vault.decrypt(&direct, &context()).await,
        "another vault's ciphertext",
    );
    let sealed = envelope::seal(&*other, b"secret", &context())
        .await
        .unwrap();
    assert_refused(
        envelope::open(&*vault, &sealed, &context()).await,
        "another vault's envelope",
    );
}

pub async fn health_ok(vault: Arc<dyn KeyVault>) {
    vault.health().await.unwrap();
}
