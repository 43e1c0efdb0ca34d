//! The account flows: register, sign in, refresh, sign out, profile, password change and key
//! export, over the records store and the key vault.
//!
//! Records: `user#<id>/profile` (the profile, the Argon2id hash, the seed envelope, the
//! failed sign-in count), `email#<canonical email>/user` (the unique index, created in the
//! same transaction as the profile) and token families (see [`super::tokens`]). Every flow
//! that changes something, and every sign-in attempt on a known account, is an event in the
//! user's audit chain, written with the change it records.

use std::sync::OnceLock;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AccountError;
use super::arc76;
use super::mnemonic;
use super::password;
use super::tokens;
use crate::app::App;
use crate::audit::{self, Origin, Subject, types};
use crate::crypto::envelope::{self, Envelope};
use crate::ports::EncryptionContext;
use crate::ports::records::{
    Change, Expect, NewRecord, Record, RecordKey, RecordsError, Write, now_unix,
};

/// Failed sign-ins in a row that lock the account.
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(30 * 60);
/// Key exports allowed per user per window.
pub const KEY_EXPORTS_PER_WINDOW: u64 = 3;
pub const KEY_EXPORT_WINDOW: Duration = Duration::from_secs(3600);
const SEED_PURPOSE: &str = "arc76-seed";

/// What the profile record holds.
#[derive(Clone, Serialize, Deserialize)]
struct StoredUser {
    email: String,
    display_name: Option<String>,
    algorand_address: String,
    evm_address: String,
    password_hash: String,
    seed: Envelope,
    created_at: i64,
    #[serde(default)]
    failed_logins: u32,
    #[serde(default)]
    locked_until: Option<i64>,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("email", &self.email)
            .field("algorand_address", &self.algorand_address)
            .finish_non_exhaustive()
    }
}

/// What a user sees of their account.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub algorand_address: String,
    pub evm_address: String,
    pub created_at: String,
}

/// A signed-in session's tokens.
#[derive(Debug)]
pub struct Session {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
}

/// The user's own keys, for taking custody.
#[derive(Debug)]
pub struct ExportedKeys {
    pub algorand_address: String,
    pub algorand_mnemonic: SecretString,
    pub evm_address: String,
    pub evm_private_key: SecretString,
}

fn profile_key(user_id: &str) -> RecordKey {
    RecordKey::new(format!("user#{user_id}"), "profile")
}

fn email_key(email: &str) -> RecordKey {
    RecordKey::new(format!("email#{email}"), "user")
}

/// Trimmed and lower-cased; ASCII only, because public ARC-76 implementations disagree on
/// the bytes of non-ASCII emails and every user must be able to recover their accounts with
/// any of them.
pub fn canonical_email(raw: &str) -> Result<String, AccountError> {
    let invalid = |reason: &str| AccountError::InvalidField {
        field: "email",
        reason: reason.into(),
    };
    let email = raw.trim().to_ascii_lowercase();
    if !email.is_ascii() {
        return Err(invalid(
            "must be ASCII: ARC-76 implementations disagree on other characters",
        ));
    }
    if email.len() > 254 {
        return Err(invalid("must be at most 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("must look like name@example.com"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let domain_ok = domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !domain.contains("..")
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !local_ok || !domain_ok {
        return Err(invalid("must look like name@example.com"));
    }
    Ok(email)
}

fn clean_display_name(raw: Option<&str>) -> Result<Option<String>, AccountError> {
    let Some(name) = raw.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AccountError::InvalidField {
            field: "displayName",
            reason: "must be at most 100 characters, without control characters".into(),
        });
    }
    Ok(Some(name.to_string()))
}

/// The strings an attacker who knows the user would try first.
fn known_strings<'a>(email: &'a str, display_name: Option<&'a str>) -> Vec<&'a str> {
    let mut known = vec![email];
    if let Some((local, domain)) = email.split_once('@') {
        known.push(local);
        known.push(domain);
        known.extend(
            local
                .split(['.', '_', '-', '+'])
                .filter(|part| part.len() > 2),
        );
    }
    known.extend(display_name);
    known
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AccountError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AccountError::Internal(format!("blocking task failed: {e}")))
}

async fn new_session(app: &App, user_id: &str) -> Result<Session, AccountError> {
    let now = now_unix();
    let key = app
        .signing_keys()
        .get(app.records(), app.key_vault())
        .await?;
    Ok(Session {
        access_token: tokens::issue_access_token(key, user_id, now)?,
        refresh_token: tokens::start_family(app.records(), user_id, now).await?,
    })
}

fn profile_of(user_id: &str, user: &StoredUser) -> Profile {
    Profile {
        user_id: user_id.to_string(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        algorand_address: user.algorand_address.clone(),
        evm_address: user.evm_address.clone(),
        created_at: super::error::rfc3339(user.created_at),
    }
}

fn decode_user(record: &Record) -> Result<StoredUser, AccountError> {
    serde_json::from_value(record.body.clone())
        .map_err(|e| AccountError::Internal(format!("user record is malformed: {e}")))
}

fn encode_user(user: &StoredUser) -> Result<Value, AccountError> {
    serde_json::to_value(user).map_err(|e| AccountError::Internal(e.to_string()))
}

async fn load_user(app: &App, user_id: &str) -> Result<(Record, StoredUser), AccountError> {
    let record = app
        .records()
        .get(&profile_key(user_id))
        .await?
        .ok_or(AccountError::Unauthorized)?;
    let user = decode_user(&record)?;
    Ok((record, user))
}

/// Register: derive the ARC-76 accounts, seal the seed, and create the user, all or nothing.
pub async fn register(
    app: &App,
    email: &str,
    password: SecretString,
    display_name: Option<&str>,
    origin: &Origin,
) -> Result<(Profile, Session), AccountError> {
    let email = canonical_email(email)?;
    let display_name = clean_display_name(display_name)?;
    password::check_strength(
        password.expose_secret(),
        &known_strings(&email, display_name.as_deref()),
    )
    .map_err(AccountError::WeakPassword)?;
    if app.records().get(&email_key(&email)).await?.is_some() {
        return Err(AccountError::UserAlreadyExists);
    }
    // Fail before anything is written if the vault is down: tokens need the signing key.
    let signing_key = app
        .signing_keys()
        .get(app.records(), app.key_vault())
        .await?;

    let user_id = ulid::Ulid::new().to_string();
    let (derived, password_hash) = {
        let (email, for_seed, for_hash) = (email.clone(), password.clone(), password.clone());
        let derive = blocking(move || {
            let seed = arc76::derive_seed(Some(&email), &for_seed, 0)?;
            let accounts = arc76::Arc76Accounts::from_seed(&seed)?;
            Ok::<_, arc76::Arc76Error>((seed, accounts))
        });
        let hash = blocking(move || password::hash(&for_hash));
        tokio::try_join!(derive, hash)?
    };
    let (seed, accounts) = derived.map_err(|e| AccountError::InvalidField {
        field: "password",
        reason: e.to_string(),
    })?;
    let password_hash = password_hash.map_err(|e| AccountError::Internal(e.to_string()))?;
    let sealed = envelope::seal(
        app.key_vault(),
        seed.as_ref(),
        &EncryptionContext::for_user(&user_id, SEED_PURPOSE),
    )
    .await?;
    drop(seed);

    let user = StoredUser {
        email: email.clone(),
        display_name,
        algorand_address: accounts.algorand_address,
        evm_address: accounts.evm_address,
        password_hash,
        seed: sealed,
        created_at: now_unix(),
        failed_logins: 0,
        locked_until: None,
    };
    // The access token is signed before anything is written, and the first refresh token is
    // written with the account: a registration either happens whole, session included, or
    // not at all (a retry after a 503 must not find a half-registered account).
    let now = now_unix();
    let access_token = tokens::issue_access_token(signing_key, &user_id, now)?;
    let (refresh_token, session_writes) = tokens::new_family(&user_id, now);
    let registered = origin.as_actor(Origin::user(&user_id)).event(
        types::USER_REGISTERED,
        user_subject(&user_id),
        json!({
            "algorand_address": user.algorand_address,
            "evm_address": user.evm_address,
        }),
    );
    let mut writes = vec![
        Write::Create(NewRecord::new(
            email_key(&email),
            json!({ "user_id": user_id }),
        )),
        Write::Create(NewRecord::new(profile_key(&user_id), encode_user(&user)?)),
    ];
    writes.extend(session_writes);
    let written = audit::transact(app.records(), &user_id, writes, vec![registered]).await;
    match written {
        Ok(_) => {}
        Err(RecordsError::TransactionConflict { index: 0, .. }) => {
            return Err(AccountError::UserAlreadyExists);
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(user_id = %user_id, "user registered");
    let session = Session {
        access_token,
        refresh_token,
    };
    Ok((profile_of(&user_id, &user), session))
}

/// A hash of a random password with the same parameters, verified against when the email is
/// unknown, so that unknown email and wrong password take about the same time.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let random = SecretString::from(ulid::Ulid::new().to_string());
            password::hash(&random).ok()
        })
        .as_deref()
}

/// Sign in: verify the password hash (no re-derivation), with lockout after
/// [`MAX_FAILED_LOGINS`] failures in a row.
pub async fn login(
    app: &App,
    email: &str,
    password: SecretString,
    origin: &Origin,
) -> Result<(Profile, Session), AccountError> {
    let email = canonical_email(email).map_err(|_| AccountError::InvalidCredentials)?;
    let user_id = match app.records().get(&email_key(&email)).await? {
        Some(index) => index.body["user_id"].as_str().map(str::to_string),
        None => None,
    };
    let Some(user_id) = user_id else {
        blocking(move || decoy_hash().map(|decoy| password::verify(&password, decoy))).await?;
        return Err(AccountError::InvalidCredentials);
    };
    let (record, user) = match load_user(app, &user_id).await {
        Ok(found) => found,
        Err(AccountError::Unauthorized) => return Err(AccountError::InvalidCredentials),
        Err(error) => return Err(error),
    };
    let origin = origin.as_actor(Origin::user(&user_id));
    let now = now_unix();
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        let refused = origin.event(
            types::LOGIN_FAILED,
            user_subject(&user_id),
            json!({ "locked": true, "locked_until": until }),
        );
        audit::append(app.records(), &user_id, refused).await?;
        return Err(AccountError::AccountLocked { until });
    }
    let stored_hash = user.password_hash.clone();
    let matches = blocking(move || password::verify(&password, &stored_hash))
        .await?
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    if !matches {
        return Err(record_failed_login(app, &user_id, record, user, now, &origin).await);
    }
    // The session, its event and (when failures were counted) their reset: one transaction.
    let key = app
        .signing_keys()
        .get(app.records(), app.key_vault())
        .await?;
    let (refresh_token, session_writes) = tokens::new_family(&user_id, now);
    let succeeded = origin.event(types::LOGIN_SUCCEEDED, user_subject(&user_id), json!({}));
    if user.failed_logins > 0 || user.locked_until.is_some() {
        let mut reset = user.clone();
        reset.failed_logins = 0;
        reset.locked_until = None;
        let mut writes = vec![profile_update(&user_id, &record, &reset)?];
        writes.extend(session_writes.iter().cloned());
        match audit::transact(app.records(), &user_id, writes, vec![succeeded.clone()]).await {
            Ok(_) => {}
            // A concurrent change (another failure) wins the reset: the count is advisory
            // for a success. The session and its event are written all the same.
            Err(RecordsError::TransactionConflict { index: 0, .. }) => {
                audit::transact(app.records(), &user_id, session_writes, vec![succeeded]).await?;
            }
            Err(error) => return Err(error.into()),
        }
    } else {
        audit::transact(app.records(), &user_id, session_writes, vec![succeeded]).await?;
    }
    tracing::info!(user_id = %user_id, "user signed in");
    let session = Session {
        access_token: tokens::issue_access_token(key, &user_id, now)?,
        refresh_token,
    };
    Ok((profile_of(&user_id, &user), session))
}

/// Replaces the profile read at `current`, with the audit events of the change.
async fn save_user(
    app: &App,
    user_id: &str,
    current: &Record,
    user: &StoredUser,
    events: Vec<audit::NewAuditEvent>,
) -> Result<(), AccountError> {
    let update = profile_update(user_id, current, user)?;
    match audit::transact(app.records(), user_id, vec![update], events).await {
        Ok(_) => Ok(()),
        // The profile changed since it was read: the same as a failed conditional update.
        Err(RecordsError::TransactionConflict { key, .. }) => {
            Err(RecordsError::ConditionFailed { key }.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// The write that replaces the profile read at `current` with `user`.
fn profile_update(
    user_id: &str,
    current: &Record,
    user: &StoredUser,
) -> Result<Write, AccountError> {
    Ok(Write::Update {
        key: profile_key(user_id),
        expect: Expect::version(current.version),
        change: Change {
            state: current.state.clone(),
            body: encode_user(user)?,
            expires_at: None,
        },
    })
}

/// Account events are about the user's own account.
fn user_subject(user_id: &str) -> Subject {
    Subject::new("user", user_id)
}

/// Count a failure (retrying on concurrent failures) and lock at the limit.
async fn record_failed_login(
    app: &App,
    user_id: &str,
    mut record: Record,
    mut user: StoredUser,
    now: i64,
    origin: &Origin,
) -> AccountError {
    for _ in 0..5 {
        let mut next = user.clone();
        next.failed_logins = user.failed_logins + 1;
        let locks = next.failed_logins >= MAX_FAILED_LOGINS;
        let mut events = vec![origin.event(
            types::LOGIN_FAILED,
            user_subject(user_id),
            json!({ "locked": false, "failures_in_a_row": next.failed_logins }),
        )];
        if locks {
            next.failed_logins = 0;
            let until = now + LOCKOUT.as_secs() as i64;
            next.locked_until = Some(until);
            events.push(origin.event(
                types::LOCKED_OUT,
                user_subject(user_id),
                json!({ "locked_until": until, "after_failures": MAX_FAILED_LOGINS }),
            ));
        }
        match save_user(app, user_id, &record, &next, events).await {
            Ok(()) => {
                tracing::warn!(user_id = %user_id, locked = locks, "sign-in failed");
                return match next.locked_until {
                    Some(until) if locks => AccountError::AccountLocked { until },
                    _ => AccountError::InvalidCredentials,
                };
            }
            Err(AccountError::Records(RecordsError::ConditionFailed { .. })) => {
                match load_user(app, user_id).await {
                    Ok((fresh_record, fresh_user)) => {
                        record = fresh_record;
                        user = fresh_user;
                    }
                    Err(error) => return error,
                }
            }
            Err(error) => return error,
        }
    }
    AccountError::InvalidCredentials
}

/// Exchange a refresh token for new tokens (rotation with reuse detection).
pub async fn refresh(app: &App, refresh_token: SecretString) -> Result<Session, AccountError> {
    let now = now_unix();
    let key = app
        .signing_keys()
        .get(app.records(), app.key_vault())
        .await?;
    let (user_id, refresh_token) = tokens::rotate(app.records(), &refresh_token, now).await?;
    Ok(Session {
        access_token: tokens::issue_access_token(key, &user_id, now)?,
        refresh_token,
    })
}

/// Sign out everywhere: every refresh token of the user stops working.
pub async fn logout(app: &App, user_id: &str, origin: &Origin) -> Result<(), AccountError> {
    tokens::revoke_all(app.records(), user_id, "logout").await?;
    let event = origin.event(types::LOGGED_OUT, user_subject(user_id), json!({}));
    audit::append(app.records(), user_id, event).await?;
    Ok(())
}

pub async fn profile(app: &App, user_id: &str) -> Result<Profile, AccountError> {
    let (_, user) = load_user(app, user_id).await?;
    Ok(profile_of(user_id, &user))
}

/// The user id of a valid access token.
pub async fn authenticate(app: &App, access_token: &str) -> Result<String, AccountError> {
    let key = app
        .signing_keys()
        .get(app.records(), app.key_vault())
        .await?;
    tokens::verify_access_token(key, access_token)
}

async fn verify_password_of(user: &StoredUser, password: SecretString) -> Result<(), AccountError> {
    let stored_hash = user.password_hash.clone();
    let matches = blocking(move || password::verify(&password, &stored_hash))
        .await?
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    if matches {
        Ok(())
    } else {
        Err(AccountError::InvalidCredentials)
    }
}

/// Change the password. The accounts stay the same (the seed is kept); every refresh token
/// is revoked and a new session starts.
pub async fn change_password(
    app: &App,
    user_id: &str,
    current_password: SecretString,
    new_password: SecretString,
    origin: &Origin,
) -> Result<Session, AccountError> {
    let (record, user) = load_user(app, user_id).await?;
    verify_password_of(&user, current_password).await?;
    password::check_strength(
        new_password.expose_secret(),
        &known_strings(&user.email, user.display_name.as_deref()),
    )
    .map_err(AccountError::WeakPassword)?;
    let new_hash = blocking(move || password::hash(&new_password))
        .await?
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    let mut changed = user.clone();
    changed.password_hash = new_hash;
    let event = origin.event(types::PASSWORD_CHANGED, user_subject(user_id), json!({}));
    save_user(app, user_id, &record, &changed, vec![event])
        .await
        .map_err(|error| match error {
            // Changed concurrently (e.g. a failed sign-in): the caller can simply retry.
            AccountError::Records(RecordsError::ConditionFailed { .. }) => AccountError::Records(
                RecordsError::Unavailable("the account changed concurrently".into()),
            ),
            other => other,
        })?;
    tokens::revoke_all(app.records(), user_id, "password-change").await?;
    tracing::info!(user_id = %user_id, "password changed");
    new_session(app, user_id).await
}

/// Fixed-window limit on key exports, on the records store's atomic counters: concurrent
/// exports cannot overshoot, and a refused one takes its count back, so refusals do not use
/// the allowance.
async fn take_export_allowance(app: &App, user_id: &str) -> Result<(), AccountError> {
    let now = now_unix();
    let window = KEY_EXPORT_WINDOW.as_secs() as i64;
    let window_start = now - now.rem_euclid(window);
    let window_end = window_start + window;
    let key = RecordKey::new(
        format!("user#{user_id}#key-exports"),
        window_start.to_string(),
    );
    let used = app.records().add_to_counter(&key, 1, window_end).await?;
    if used <= KEY_EXPORTS_PER_WINDOW as i64 {
        return Ok(());
    }
    if let Err(error) = app.records().add_to_counter(&key, -1, window_end).await {
        tracing::warn!(%error, "key export counter: a refusal stays counted");
    }
    Err(AccountError::RateLimited {
        retry_after_s: window_end - now,
    })
}

/// Give the user their keys after re-checking the password. Rate-limited, recorded as a
/// security event, never logged.
pub async fn export_keys(
    app: &App,
    user_id: &str,
    password: SecretString,
    origin: &Origin,
) -> Result<ExportedKeys, AccountError> {
    let (_, user) = load_user(app, user_id).await?;
    verify_password_of(&user, password).await?;
    // The seed first: an export the key vault cannot serve must not use up an allowance.
    let seed = open_seed(app, user_id, &user).await?;
    take_export_allowance(app, user_id).await?;
    let keys = ExportedKeys {
        algorand_address: user.algorand_address.clone(),
        algorand_mnemonic: SecretString::from(mnemonic::seed_to_mnemonic(&seed).to_string()),
        evm_address: user.evm_address.clone(),
        evm_private_key: SecretString::from(arc76::evm_private_key_hex(&seed).to_string()),
    };
    // Recorded before the keys leave: an export that cannot be recorded does not happen.
    let event = origin.event(
        types::KEY_EXPORTED,
        user_subject(user_id),
        json!({
            "algorand_address": keys.algorand_address,
            "evm_address": keys.evm_address,
        }),
    );
    audit::append(app.records(), user_id, event).await?;
    tracing::info!(user_id = %user_id, "keys exported");
    Ok(keys)
}

/// The user's ARC-76 seed, opened through the key vault to sign for `subject` (e.g. a
/// deployment) with `purpose` (e.g. "stage 2 of attempt 1"), recorded in the audit chain
/// before it is returned. Callers sign at once and drop it: the seed zeroizes itself.
pub async fn open_signing_seed(
    app: &App,
    user_id: &str,
    subject: Subject,
    purpose: &str,
    origin: &Origin,
) -> Result<SigningSeed, AccountError> {
    let (_, user) = load_user(app, user_id).await?;
    let seed = open_seed(app, user_id, &user).await?;
    let event = origin.event(
        types::KEY_DECRYPTED_FOR_SIGNING,
        subject,
        json!({ "purpose": purpose }),
    );
    audit::append(app.records(), user_id, event).await?;
    Ok(SigningSeed(seed))
}

/// An opened ARC-76 seed: the user's ed25519 (Algorand) and secp256k1 (EVM) private key.
/// Zeroized on drop; its Debug shows nothing.
pub struct SigningSeed(zeroize::Zeroizing<[u8; 32]>);

impl SigningSeed {
    /// The Algorand signing key (zeroizes itself on drop).
    pub fn algorand_key(&self) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&self.0)
    }

    /// The EVM signing key (zeroizes itself on drop).
    pub fn evm_key(&self) -> Result<k256::ecdsa::SigningKey, AccountError> {
        k256::ecdsa::SigningKey::from_slice(&self.0[..])
            .map_err(|_| AccountError::Internal("the seed is not a secp256k1 key".into()))
    }
}

impl std::fmt::Debug for SigningSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSeed(..)")
    }
}

async fn open_seed(
    app: &App,
    user_id: &str,
    user: &StoredUser,
) -> Result<zeroize::Zeroizing<[u8; 32]>, AccountError> {
    let seed = envelope::open(
        app.key_vault(),
        &user.seed,
        &EncryptionContext::for_user(user_id, SEED_PURPOSE),
    )
    .await?;
    let seed: [u8; 32] = seed
        .expose_secret()
        .try_into()
        .map_err(|_| AccountError::Internal("stored seed has the wrong length".into()))?;
    Ok(zeroize::Zeroizing::new(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_ascii() {
        assert_eq!(
            canonical_email("  Alice.Smith@Example.COM ").unwrap(),
            "alice.smith@example.com"
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "al ice@example.com",
            "alice@exa_mple.com",
            "alice@.example.com",
            "jos\u{e9}@example.com",
        ] {
            assert!(canonical_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_users_own_strings_are_known_to_the_attacker() {
        let known = known_strings("mary.poppins@example.com", Some("Mary"));
        for part in [
            "mary.poppins@example.com",
            "mary.poppins",
            "example.com",
            "poppins",
            "Mary",
        ] {
            assert!(known.contains(&part), "{part}");
        }
    }
}
