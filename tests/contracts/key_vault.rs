//! The key vault contract on both families: `embedded::<case>` runs on a `LocalKeyVault`
//! in a fresh tempdir, `aws::<case>` on a `KmsKeyVault` over a fresh key in moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use walletless_tests::contract::key_vault as contract;

/// One test per contract case, each on fresh adapters from the enclosing module's `fresh()`,
/// which returns the adapter and a guard that keeps its resources alive.
macro_rules! key_vault_contract {
    () => {
        key_vault_contract! {
            single: [
                data_key_round_trip,
                empty_context_is_a_context_too,
                context_must_match_exactly,
                tampered_ciphertext_is_refused,
                garbage_is_refused,
                encrypt_decrypt_round_trip,
                direct_encrypt_size_limits,
                encryption_is_randomised,
                data_keys_differ,
                envelope_seal_open,
                health_ok,
            ],
            pair: [other_vaults_ciphertext_is_refused],
        }
    };
    (single: [$($case:ident),* $(,)?], pair: [$($pair:ident),* $(,)?] $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (vault, _guard) = fresh().await;
                super::contract::$case(vault).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $pair() {
                let (vault, _guard) = fresh().await;
                let (other, _other_guard) = fresh().await;
                super::contract::$pair(vault, other).await;
            }
        )*
    };
}

mod embedded {
    use std::sync::Arc;
    use walletless::adapters::embedded::local_vault::LocalKeyVault;
    use walletless::ports::KeyVault;

    async fn fresh() -> (Arc<dyn KeyVault>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalKeyVault::open_or_create(&dir.path().join("master.key")).unwrap();
        (Arc::new(vault), dir)
    }

    key_vault_contract!();
}

mod aws {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    use secrecy::ExposeSecret as _;
    use std::sync::Arc;
    use walletless::adapters::aws::kms::{KEY_SPEC, KEY_USAGE, KmsKeyVault};
    use walletless::ports::{EncryptionContext, KeyVault, VaultError};
    use walletless_tests::aws::{emulator_config, unique_name};

    async fn client() -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&emulator_config().await)
    }

    /// A new key as the template provisions it; returns (key id, key ARN).
    async fn create_key(client: &aws_sdk_kms::Client) -> (String, String) {
        let output = client
            .create_key()
            .key_spec(KeySpec::from(KEY_SPEC))
            .key_usage(KeyUsageType::from(KEY_USAGE))
            .description("walletless contract test")
            .send()
            .await
            .unwrap();
        let metadata = output.key_metadata().unwrap();
        (
            metadata.key_id().to_owned(),
            metadata.arn().unwrap().to_owned(),
        )
    }

    /// The vault is configured with an alias, as a deployment would.
    async fn fresh() -> (Arc<dyn KeyVault>, ()) {
        let client = client().await;
        let (key_id, _) = create_key(&client).await;
        let alias = format!("alias/{}", unique_name("walletless-test"));
        client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(key_id)
            .send()
            .await
            .unwrap();
        (Arc::new(KmsKeyVault::new(client, alias)), ())
    }

    key_vault_contract!();

    #[tokio::test]
    async fn key_id_and_arn_work_as_well_as_an_alias() {
        let client = client().await;
        let (key_id, arn) = create_key(&client).await;
        let context = EncryptionContext::for_user("u1", "p");
        for id in [key_id, arn] {
            let vault = KmsKeyVault::new(client.clone(), id.clone());
            vault.health().await.unwrap();
            let data_key = vault.generate_data_key(&context).await.unwrap();
            let unwrapped = vault.decrypt(&data_key.wrapped, &context).await.unwrap();
            assert_eq!(
                unwrapped.expose_secret(),
                data_key.plaintext.expose_secret().as_slice(),
                "{id}"
            );
        }
    }

    #[tokio::test]
    async fn a_disabled_key_is_unavailable_and_named() {
        let client = client().await;
        let (key_id, _) = create_key(&client).await;
        let vault = KmsKeyVault::new(client.clone(), key_id.clone());
        client.disable_key().key_id(&key_id).send().await.unwrap();
        let error = vault.health().await.unwrap_err();
        assert!(
            matches!(&error, VaultError::Unavailable(message) if message.contains(&key_id)),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn a_missing_key_is_unavailable_and_named() {
        let missing = "alias/walletless-never-created";
        let vault = KmsKeyVault::new(client().await, missing);
        let context = EncryptionContext::new();
        let health = vault.health().await.unwrap_err();
        let generate = vault.generate_data_key(&context).await.unwrap_err();
        for error in [health, generate] {
            assert!(
                matches!(&error, VaultError::Unavailable(message) if message.contains(missing)),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_signing_key_is_refused_by_health() {
        let client = client().await;
        let output = client
            .create_key()
            .key_spec(KeySpec::EccSecgP256K1)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap();
        let key_id = output.key_metadata().unwrap().key_id().to_owned();
        let error = KmsKeyVault::new(client, key_id).health().await.unwrap_err();
        assert!(matches!(error, VaultError::Invalid(_)), "{error:?}");
    }
}
