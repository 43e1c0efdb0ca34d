//! Account routes: register, login, refresh, logout, me, change-password, key-export.
//!
//! Request and response fields are snake_case (`displayName` is accepted as an alias).
//! Secrets arrive as `SecretString` and leave only in the response body; nothing here logs
//! them.

use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::service::{self, Profile, Session};
use crate::accounts::tokens::ACCESS_TOKEN_LIFETIME;
use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    email: String,
    password: SecretString,
    #[serde(default, alias = "displayName")]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordRequest {
    current_password: SecretString,
    new_password: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyExportRequest {
    password: SecretString,
}

fn session_json(session: &Session) -> serde_json::Value {
    json!({
        "token_type": "Bearer",
        "access_token": session.access_token.expose_secret(),
        "expires_in": ACCESS_TOKEN_LIFETIME.as_secs(),
        "refresh_token": session.refresh_token.expose_secret(),
    })
}

fn signed_in(
    status: StatusCode,
    profile: &Profile,
    session: &Session,
) -> Result<ApiResponse, ApiError> {
    let mut body = session_json(session);
    body["user_id"] = json!(profile.user_id);
    body["algorand_address"] = json!(profile.algorand_address);
    body["evm_address"] = json!(profile.evm_address);
    body["user"] = serde_json::to_value(profile).unwrap_or_default();
    ApiResponse::json(status, &body)
}

pub async fn register(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let input: RegisterRequest = request.json()?;
    let (profile, session) = service::register(
        &app,
        &input.email,
        input.password,
        input.display_name.as_deref(),
        &request.anonymous_origin(),
    )
    .await?;
    signed_in(StatusCode::CREATED, &profile, &session)
}

pub async fn login(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let input: LoginRequest = request.json()?;
    let (profile, session) = service::login(
        &app,
        &input.email,
        input.password,
        &request.anonymous_origin(),
    )
    .await?;
    signed_in(StatusCode::OK, &profile, &session)
}

pub async fn refresh(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let input: RefreshRequest = request.json()?;
    let session = service::refresh(&app, input.refresh_token).await?;
    ApiResponse::ok(&session_json(&session))
}

pub async fn logout(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    service::logout(&app, request.user()?, &request.origin()?).await?;
    ApiResponse::ok(&json!({ "signed_out": true }))
}

pub async fn me(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&service::profile(&app, request.user()?).await?)
}

pub async fn change_password(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let input: ChangePasswordRequest = request.json()?;
    let session = service::change_password(
        &app,
        request.user()?,
        input.current_password,
        input.new_password,
        &request.origin()?,
    )
    .await?;
    let mut body = session_json(&session);
    body["note"] = json!(
        "Your accounts are unchanged. ARC-76 derivation with the new password now gives \
         other addresses: recover these accounts with the key export, not by re-deriving."
    );
    ApiResponse::ok(&body)
}

pub async fn key_export(app: App, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let input: KeyExportRequest = request.json()?;
    let keys =
        service::export_keys(&app, request.user()?, input.password, &request.origin()?).await?;
    ApiResponse::ok(&json!({
        "algorand_address": keys.algorand_address,
        "algorand_mnemonic": keys.algorand_mnemonic.expose_secret(),
        "evm_address": keys.evm_address,
        "evm_private_key": keys.evm_private_key.expose_secret(),
        "warning": "Anyone with these can move your assets. Store them offline; they are not shown in logs and cannot be revoked.",
    }))
}
