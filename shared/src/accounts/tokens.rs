//! Access and refresh tokens.
//!
//! Access tokens are short-lived HS256 JWTs. Their signing key is 32 random bytes made by the
//! key vault as a data key (KMS in AWS, the master key file locally) and stored only wrapped,
//! in the records store; each process unwraps it once and keeps it in memory. The first
//! process to need it creates it with a conditional write, so all instances share one key.
//!
//! Refresh tokens are opaque random strings, stored only as their SHA-256. Each belongs to a
//! family (one sign-in); every use rotates it (the old one is marked rotated, a new one is
//! issued in the same transaction), and presenting a rotated token again revokes the whole
//! family, since only a thief or a replay can do that.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::AccountError;
use crate::ports::records::{Change, Expect, NewRecord, Query, RecordKey, RecordsError, Write};
use crate::ports::{EncryptionContext, KeyVault, RecordStore};

pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
const ISSUER: &str = "walletless";
const AUDIENCE: &str = "walletless-api";
const SIGNING_KEY_ID: &str = "jwt-hs256-v1";

/// The access token's claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// The signing key, unwrapped once per process.
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// Per-process cache of the signing key (a failed load is not cached, so it is retried).
#[derive(Debug, Default)]
pub struct SigningKeyCache(OnceCell<SigningKey>);

fn signing_key_record() -> RecordKey {
    RecordKey::new("system#signing-keys", SIGNING_KEY_ID)
}

fn signing_key_context() -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "access-token-signing")
        .with("key", SIGNING_KEY_ID)
}

impl SigningKeyCache {
    /// The shared signing key: loaded from the records store and unwrapped by the vault, or
    /// created by the first process that finds none.
    pub async fn get(
        &self,
        records: &dyn RecordStore,
        vault: &dyn KeyVault,
    ) -> Result<&SigningKey, AccountError> {
        self.0
            .get_or_try_init(|| async {
                let wrapped = match records.get(&signing_key_record()).await? {
                    Some(record) => wrapped_key_of(&record.body)?,
                    None => {
                        let data_key = vault.generate_data_key(&signing_key_context()).await?;
                        let body = json!({ "wrapped_key": STANDARD.encode(&data_key.wrapped) });
                        match records
                            .create(NewRecord::new(signing_key_record(), body))
                            .await
                        {
                            Ok(_) => data_key.wrapped,
                            // Another instance created it first: use theirs.
                            Err(RecordsError::ConditionFailed { .. }) => {
                                let record =
                                    records.get(&signing_key_record()).await?.ok_or_else(|| {
                                        AccountError::Internal("signing key vanished".into())
                                    })?;
                                wrapped_key_of(&record.body)?
                            }
                            Err(error) => return Err(error.into()),
                        }
                    }
                };
                let secret = vault.decrypt(&wrapped, &signing_key_context()).await?;
                Ok(SigningKey {
                    encoding: EncodingKey::from_secret(secret.expose_secret()),
                    decoding: DecodingKey::from_secret(secret.expose_secret()),
                })
            })
            .await
    }
}

fn wrapped_key_of(body: &serde_json::Value) -> Result<Vec<u8>, AccountError> {
    body["wrapped_key"]
        .as_str()
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or_else(|| AccountError::Internal("stored signing key is malformed".into()))
}

/// A signed access token for `user_id`, valid for [`ACCESS_TOKEN_LIFETIME`].
pub fn issue_access_token(
    key: &SigningKey,
    user_id: &str,
    now: i64,
) -> Result<SecretString, AccountError> {
    let claims = Claims {
        sub: user_id.to_string(),
        iat: now,
        exp: now + ACCESS_TOKEN_LIFETIME.as_secs() as i64,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(SIGNING_KEY_ID.into());
    jsonwebtoken::encode(&header, &claims, &key.encoding)
        .map(SecretString::from)
        .map_err(|e| AccountError::Internal(format!("cannot sign access token: {e}")))
}

/// The user id of a valid access token (signature, algorithm, issuer, audience, expiry).
pub fn verify_access_token(key: &SigningKey, token: &str) -> Result<String, AccountError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = 5;
    jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map(|data| data.claims.sub)
        .map_err(|_| AccountError::Unauthorized)
}

/// A new opaque refresh token and the hash under which it is stored.
fn new_refresh_token() -> (SecretString, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("wlr_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = refresh_token_hash(&token);
    (SecretString::from(token), hash)
}

fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn refresh_token_key(hash: &str) -> RecordKey {
    RecordKey::new(format!("refresh-token#{hash}"), "token")
}

fn families_partition(user_id: &str) -> String {
    format!("user#{user_id}#token-families")
}

fn family_key(user_id: &str, family_id: &str) -> RecordKey {
    RecordKey::new(families_partition(user_id), family_id)
}

const ACTIVE: &str = "active";
const ROTATED: &str = "rotated";
const REVOKED: &str = "revoked";

/// Start a new family (a sign-in) and return its first refresh token.
pub async fn start_family(
    records: &dyn RecordStore,
    user_id: &str,
    now: i64,
) -> Result<SecretString, AccountError> {
    let (token, writes) = new_family(user_id, now);
    records.transact(writes).await?;
    Ok(token)
}

/// A new family's first refresh token and the writes that store it, for a caller that
/// commits them with its own (registration: the account and its first sign-in together).
pub fn new_family(user_id: &str, now: i64) -> (SecretString, Vec<Write>) {
    let family_id = ulid::Ulid::new().to_string();
    let expires_at = now + REFRESH_TOKEN_LIFETIME.as_secs() as i64;
    let (token, hash) = new_refresh_token();
    let writes = vec![
        Write::Create(
            NewRecord::new(
                family_key(user_id, &family_id),
                json!({ "created_at": now }),
            )
            .with_state(ACTIVE)
            .expiring_at(expires_at),
        ),
        Write::Create(
            NewRecord::new(
                refresh_token_key(&hash),
                json!({ "user_id": user_id, "family_id": family_id, "issued_at": now }),
            )
            .with_state(ACTIVE)
            .expiring_at(expires_at),
        ),
    ];
    (token, writes)
}

/// Exchange a refresh token for the user id and a new refresh token of the same family.
/// A rotated token presented again revokes its family ([`AccountError::RefreshTokenReused`]).
pub async fn rotate(
    records: &dyn RecordStore,
    presented: &SecretString,
    now: i64,
) -> Result<(String, SecretString), AccountError> {
    let old_key = refresh_token_key(&refresh_token_hash(presented.expose_secret()));
    let Some(old) = records.get(&old_key).await? else {
        return Err(AccountError::InvalidRefreshToken);
    };
    let (Some(user_id), Some(family_id)) = (
        old.body["user_id"].as_str().map(str::to_string),
        old.body["family_id"].as_str().map(str::to_string),
    ) else {
        return Err(AccountError::Internal(
            "refresh token record is malformed".into(),
        ));
    };
    let family = family_key(&user_id, &family_id);
    if old.state.as_deref() == Some(ROTATED) {
        revoke_family(records, &family, "reuse").await?;
        return Err(AccountError::RefreshTokenReused);
    }
    let expires_at = now + REFRESH_TOKEN_LIFETIME.as_secs() as i64;
    let (token, hash) = new_refresh_token();
    let outcome = records
        .transact(vec![
            Write::Update {
                key: old_key.clone(),
                expect: Expect::version(old.version).and_state(ACTIVE),
                change: Change {
                    state: Some(ROTATED.into()),
                    body: old.body.clone(),
                    expires_at: old.expires_at,
                },
            },
            Write::Check {
                key: family.clone(),
                expect: Expect::state(ACTIVE),
            },
            Write::Create(
                NewRecord::new(
                    refresh_token_key(&hash),
                    json!({ "user_id": user_id, "family_id": family_id, "issued_at": now }),
                )
                .with_state(ACTIVE)
                .expiring_at(expires_at),
            ),
        ])
        .await;
    match outcome {
        Ok(()) => Ok((user_id, token)),
        // The family was revoked (logout, password change, earlier reuse).
        Err(RecordsError::TransactionConflict { index: 1, .. }) => {
            Err(AccountError::InvalidRefreshToken)
        }
        // Someone rotated this token between our read and write: a concurrent second use.
        Err(RecordsError::TransactionConflict { index: 0, .. }) => {
            revoke_family(records, &family, "reuse").await?;
            Err(AccountError::RefreshTokenReused)
        }
        Err(error) => Err(error.into()),
    }
}

/// Revoke one family; revoking a revoked or expired family is a no-op.
async fn revoke_family(
    records: &dyn RecordStore,
    family: &RecordKey,
    reason: &str,
) -> Result<(), AccountError> {
    let Some(current) = records.get(family).await? else {
        return Ok(());
    };
    if current.state.as_deref() == Some(REVOKED) {
        return Ok(());
    }
    let mut body = current.body.clone();
    body["revoked_reason"] = json!(reason);
    match records
        .update(
            family,
            Expect::version(current.version),
            Change {
                state: Some(REVOKED.into()),
                body,
                expires_at: current.expires_at,
            },
        )
        .await
    {
        Ok(_) => Ok(()),
        // Changed under us: whatever happened, retrying finds it revoked or revokes it.
        Err(RecordsError::ConditionFailed { .. }) => {
            Box::pin(revoke_family(records, family, reason)).await
        }
        Err(error) => Err(error.into()),
    }
}

/// Revoke every refresh token family of a user (logout, password change).
pub async fn revoke_all(
    records: &dyn RecordStore,
    user_id: &str,
    reason: &str,
) -> Result<(), AccountError> {
    let mut query = Query::partition(families_partition(user_id));
    loop {
        let page = records.query(&query).await?;
        for family in page.records {
            if family.state.as_deref() == Some(ACTIVE) {
                revoke_family(records, &family.key, reason).await?;
            }
        }
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey {
            encoding: EncodingKey::from_secret(&[7u8; 32]),
            decoding: DecodingKey::from_secret(&[7u8; 32]),
        }
    }

    #[test]
    fn access_tokens_verify_until_they_expire() {
        let now = crate::ports::records::now_unix();
        let token = issue_access_token(&key(), "user-1", now).unwrap();
        assert_eq!(
            verify_access_token(&key(), token.expose_secret()).unwrap(),
            "user-1"
        );
        let old = issue_access_token(&key(), "user-1", now - 3600).unwrap();
        assert!(verify_access_token(&key(), old.expose_secret()).is_err());
    }

    #[test]
    fn tokens_signed_with_another_key_or_tampered_are_refused() {
        let now = crate::ports::records::now_unix();
        let other = SigningKey {
            encoding: EncodingKey::from_secret(&[8u8; 32]),
            decoding: DecodingKey::from_secret(&[8u8; 32]),
        };
        let token = issue_access_token(&other, "user-1", now).unwrap();
        assert!(verify_access_token(&key(), token.expose_secret()).is_err());
        // An unsigned token claiming another user.
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(format!(
                r#"{{"sub":"admin","iat":{now},"exp":{},"iss":"walletless","aud":"walletless-api"}}"#,
                now + 60
            ))
        );
        assert!(verify_access_token(&key(), &unsigned).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_only_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with("wlr_"));
        assert_eq!(hash_a, refresh_token_hash(a.expose_secret()));
        assert!(!hash_a.contains(a.expose_secret()));
    }
}
