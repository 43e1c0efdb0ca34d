//! Webhooks: a user's subscriptions to their own deployment events, and signed, durable,
//! retried deliveries.
//!
//! - A subscription is a URL and event types (`deployment.<status>`), in the user's
//!   partition; its secret (`whsec_…`, shown once) is stored sealed by the key vault.
//! - Every saved deployment transition is an event with a stable id
//!   (`evt_<deployment>_<timeline index>`). For each of the owner's matching subscriptions a
//!   delivery record (keyed by the event id) and a pending-index entry are written in the same
//!   records transaction as the transition, so an event exists exactly when its transition
//!   does; then a `webhook.deliver` step is enqueued on the webhook queue (its own, so a flood
//!   of deliveries never delays a deployment step). A lost enqueue is found by the sweep.
//! - A delivery POSTs the event JSON with `Webhook-Id`, `Webhook-Timestamp` and
//!   `Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. Every attempt is
//!   logged on the delivery; a non-2xx answer or no answer is retried with exponential backoff
//!   ([`MAX_ATTEMPTS`] attempts in all), each retry a fresh queue message.
//! - Target rule (AWS mode): https only, and the host must resolve to public addresses only
//!   (no private, loopback, link-local, shared or reserved ranges), checked when subscribing
//!   and again before every attempt. The local server allows any http(s) target, so a
//!   developer can receive on localhost.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;

use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::audit::{self, Origin, Subject, types};
use crate::chains::http::{ClientOptions, NodeHttp, Outgoing, RetryPolicy};
use crate::crypto::envelope::{self, Envelope};
use crate::deployments::service::DeploymentView;
use crate::deployments::state::Status;
use crate::deployments::store::Deployment;
use crate::ports::records::now_ms;
use crate::ports::records::{
    Change, Expect, NewRecord, Order, Query, RecordKey, RecordsError, Write, now_unix,
};
use crate::ports::{EncryptionContext, StepMessage};
use crate::steps::{StepError, StepHandler, StepRunner, backoff};

/// The step kind of one delivery attempt.
pub const DELIVER_STEP: &str = "webhook.deliver";
/// Attempts per delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 6;
/// The wait before the second attempt; each later one doubles (10 s, 20 s, … 160 s).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(10);
/// How long a receiver has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long resolving a target's host may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Subscriptions per user: each matching one adds two writes to a transition's records
/// transaction, which holds at most 25.
pub const MAX_SUBSCRIPTIONS: usize = 10;
const MAX_URL_BYTES: usize = 2_048;
const SECRET_PURPOSE: &str = "webhook-secret";

/// Which targets a deployment may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetPolicy {
    /// https to public addresses only (AWS mode).
    PublicHttpsOnly,
    /// Any http(s) URL (the local server).
    AnyForLocalDevelopment,
}

/// The event types a subscription may ask for.
pub fn event_types() -> Vec<String> {
    Status::ALL
        .iter()
        .map(|status| format!("deployment.{}", status.as_str()))
        .collect()
}

/// A subscription as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    id: String,
    url: String,
    event_types: Vec<String>,
    secret: Envelope,
    created_at_ms: i64,
}

/// A subscription as the API shows it (never the secret, except once at creation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookSubscription)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub created_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Stored> for Subscription {
    fn from(stored: &Stored) -> Self {
        Self {
            id: stored.id.clone(),
            url: stored.url.clone(),
            event_types: stored.event_types.clone(),
            created_at_ms: stored.created_at_ms,
            secret: None,
        }
    }
}

fn partition(user_id: &str) -> String {
    format!("user#{user_id}#webhooks")
}

fn deliveries_partition(webhook_id: &str) -> String {
    format!("webhook#{webhook_id}#deliveries")
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::WebhookNotFound)
}

fn url_refused(why: impl Into<String>) -> ApiError {
    let why = why.into();
    ApiError::new(ErrorCode::WebhookUrlNotAllowed)
        .with_message(format!("This webhook URL is not allowed: {why}."))
        .with_details(json!({ "reason": why }))
}

/// Whether an address is one the public internet routes to this address's owner.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                // 100.64.0.0/10 shared address space (carrier NAT), 198.18.0.0/15 benchmarking,
                // 240.0.0.0/4 reserved.
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

/// Checks `text` against `policy`, resolving the host when it must be public.
pub async fn check_target(text: &str, policy: TargetPolicy) -> Result<Url, ApiError> {
    if text.len() > MAX_URL_BYTES {
        return Err(ApiError::malformed(
            "url",
            format!("at most {MAX_URL_BYTES} bytes"),
        ));
    }
    let url = Url::parse(text).map_err(|_| ApiError::malformed("url", "not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(url_refused("it carries credentials"));
    }
    let Some(host) = url.host_str() else {
        return Err(ApiError::malformed("url", "no host"));
    };
    match (url.scheme(), policy) {
        ("https", _) | ("http", TargetPolicy::AnyForLocalDevelopment) => {}
        (scheme, TargetPolicy::PublicHttpsOnly) => {
            return Err(url_refused(format!("{scheme} is not https")));
        }
        (scheme, _) => return Err(url_refused(format!("{scheme} is not http or https"))),
    }
    if policy == TargetPolicy::PublicHttpsOnly {
        let port = url.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let lookup = tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port)));
        let addresses: Vec<IpAddr> = lookup
            .await
            .map_err(|_| url_refused(format!("{host} did not resolve in time")))?
            .map_err(|_| url_refused(format!("{host} does not resolve")))?
            .map(|address| address.ip())
            .collect();
        if addresses.is_empty() {
            return Err(url_refused(format!("{host} does not resolve")));
        }
        if let Some(private) = addresses.iter().find(|ip| !is_public(**ip)) {
            return Err(url_refused(format!(
                "{host} resolves to {private}, not a public address"
            )));
        }
    }
    Ok(url)
}

fn check_event_types(types: &[String]) -> Result<Vec<String>, ApiError> {
    let known = event_types();
    if types.is_empty() {
        return Err(ApiError::malformed(
            "event_types",
            "at least one event type",
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for event_type in types {
        if !known.contains(event_type) {
            return Err(ApiError::malformed(
                "event_types",
                format!("{event_type} is not one of {}", known.join(", ")),
            ));
        }
        if !chosen.contains(event_type) {
            chosen.push(event_type.clone());
        }
    }
    Ok(chosen)
}

/// Subscribes the user; the answer carries the secret, the only time it is shown.
pub async fn subscribe(
    app: &App,
    user_id: &str,
    url: &str,
    event_types: &[String],
    origin: &Origin,
) -> Result<Subscription, ApiError> {
    let url = check_target(url, app.webhook_targets()).await?;
    let event_types = check_event_types(event_types)?;
    let existing = list_stored(app, user_id).await?;
    if existing.len() >= MAX_SUBSCRIPTIONS {
        return Err(ApiError::malformed(
            "url",
            format!("at most {MAX_SUBSCRIPTIONS} subscriptions per user"),
        ));
    }
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let id = ulid::Ulid::new().to_string();
    let sealed = envelope::seal(
        app.key_vault(),
        secret.as_bytes(),
        &EncryptionContext::for_user(user_id, SECRET_PURPOSE),
    )
    .await?;
    let stored = Stored {
        id: id.clone(),
        url: url.to_string(),
        event_types,
        secret: sealed,
        created_at_ms: now_ms(),
    };
    let body = serde_json::to_value(&stored)
        .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))?;
    let event = origin.event(
        types::WEBHOOK_SUBSCRIBED,
        Subject::new("webhook", &id),
        json!({ "url": stored.url, "event_types": stored.event_types }),
    );
    let create = Write::Create(NewRecord::new(
        RecordKey::new(partition(user_id), &id),
        body,
    ));
    audit::transact(app.records(), user_id, vec![create], vec![event]).await?;
    tracing::info!(webhook_id = %id, "webhook subscribed");
    let mut shown = Subscription::from(&stored);
    shown.secret = Some(secret);
    Ok(shown)
}

async fn list_stored(app: &App, user_id: &str) -> Result<Vec<Stored>, ApiError> {
    let mut query = Query::partition(partition(user_id));
    query.limit = 100;
    first_page(app, &query).await
}

/// The bodies of the first page of `query`, read as `T`.
async fn first_page<T: serde::de::DeserializeOwned>(
    app: &App,
    query: &Query,
) -> Result<Vec<T>, ApiError> {
    let page = app.records().query(query).await?;
    page.records
        .iter()
        .map(|record| {
            serde_json::from_value(record.body.clone())
                .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))
        })
        .collect()
}

pub async fn list(app: &App, user_id: &str) -> Result<Vec<Subscription>, ApiError> {
    Ok(list_stored(app, user_id)
        .await?
        .iter()
        .map(Subscription::from)
        .collect())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    id.parse::<ulid::Ulid>()
        .map(|_| ())
        .map_err(|_| not_found())
}

pub async fn unsubscribe(
    app: &App,
    user_id: &str,
    webhook_id: &str,
    origin: &Origin,
) -> Result<(), ApiError> {
    check_id(webhook_id)?;
    let delete = Write::Delete {
        key: RecordKey::new(partition(user_id), webhook_id),
        expect: Expect::exists(),
    };
    let event = origin.event(
        types::WEBHOOK_UNSUBSCRIBED,
        Subject::new("webhook", webhook_id),
        json!({}),
    );
    match audit::transact(app.records(), user_id, vec![delete], vec![event]).await {
        Ok(_) => Ok(()),
        Err(RecordsError::TransactionConflict { .. }) => Err(not_found()),
        Err(error) => Err(error.into()),
    }
}

/// One attempt of a delivery.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryAttempt)]
pub struct Attempt {
    pub at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A delivery of one event to one subscription.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub deployment_id: String,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: Vec<Attempt>,
    pub created_at_ms: i64,
    /// The event as sent (the same bytes every attempt).
    pub event: Value,
}

/// The deliveries of one of the user's subscriptions, newest events first.
pub async fn deliveries(
    app: &App,
    user_id: &str,
    webhook_id: &str,
) -> Result<Vec<Delivery>, ApiError> {
    check_id(webhook_id)?;
    app.records()
        .get(&RecordKey::new(partition(user_id), webhook_id))
        .await?
        .ok_or_else(not_found)?;
    let mut query = Query::partition(deliveries_partition(webhook_id));
    query.order = Order::Descending;
    query.limit = 100;
    first_page(app, &query).await
}

/// The stable id of the event of timeline entry `index` of `deployment`.
pub fn event_id(deployment_id: &str, index: usize) -> String {
    format!("evt_{deployment_id}_{index:03}")
}

/// A delivery recorded with a transition, to be enqueued once the transition is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announced {
    user_id: String,
    webhook_id: String,
    event_id: String,
}

/// The writes that announce the timeline entries of `deployment` from `first` on to the
/// owner's matching subscriptions: a delivery record per event and subscription, and its entry
/// in the pending index. The caller puts them in the same records transaction as the
/// transition itself, so an event exists exactly when its transition does; then it calls
/// [`enqueue_announced`]. A lost enqueue is found by [`resume_pending`].
pub async fn announcements(
    app: &App,
    deployment: &Deployment,
    first: usize,
) -> Result<(Vec<Write>, Vec<Announced>), RecordsError> {
    let mut writes = Vec::new();
    let mut announced = Vec::new();
    if deployment.timeline.len() <= first {
        return Ok((writes, announced));
    }
    let subscriptions = list_stored(app, &deployment.user_id)
        .await
        .map_err(|error| RecordsError::Unavailable(error.message))?;
    for (index, entry) in deployment.timeline.iter().enumerate().skip(first) {
        let event_type = format!("deployment.{}", entry.to.as_str());
        let event_id = event_id(&deployment.id, index);
        let event = json!({
            "id": event_id,
            "type": event_type,
            "created_at_ms": entry.at_ms,
            "data": { "deployment": DeploymentView::from(deployment), "transition": entry },
        });
        for subscription in subscriptions
            .iter()
            .filter(|subscription| subscription.event_types.contains(&event_type))
        {
            let delivery = Delivery {
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                deployment_id: deployment.id.clone(),
                status: "pending".into(),
                attempts: Vec::new(),
                created_at_ms: now_ms(),
                event: event.clone(),
            };
            let body = serde_json::to_value(&delivery)
                .map_err(|error| RecordsError::Internal(error.to_string()))?;
            writes.push(Write::Create(NewRecord::new(
                RecordKey::new(deliveries_partition(&subscription.id), &event_id),
                body,
            )));
            let pending = Announced {
                user_id: deployment.user_id.clone(),
                webhook_id: subscription.id.clone(),
                event_id: event_id.clone(),
            };
            writes.push(Write::Create(NewRecord::new(
                pending_key(&pending.webhook_id, &pending.event_id),
                json!({ "user_id": pending.user_id, "since_ms": now_ms() }),
            )));
            announced.push(pending);
        }
    }
    Ok((writes, announced))
}

/// Enqueues the first attempt of each announced delivery; a failure is logged (the pending
/// index keeps the delivery, and [`resume_pending`] enqueues it later).
pub async fn enqueue_announced(app: &App, announced: &[Announced]) {
    for delivery in announced {
        if let Err(error) = enqueue(
            app,
            &delivery.user_id,
            &delivery.webhook_id,
            &delivery.event_id,
            Duration::ZERO,
        )
        .await
        {
            tracing::warn!(
                webhook_id = %delivery.webhook_id,
                event_id = %delivery.event_id,
                message = %error.message,
                "webhook delivery not enqueued; the sweep will"
            );
        }
    }
}

/// Deliveries still pending, for the sweep: one record per delivery until it is delivered or
/// failed for good.
const PENDING_PARTITION: &str = "webhooks#pending";

fn pending_key(webhook_id: &str, event_id: &str) -> RecordKey {
    RecordKey::new(PENDING_PARTITION, format!("{webhook_id}#{event_id}"))
}

/// How long a pending delivery may go without an attempt before the sweep enqueues it again:
/// longer than the longest wait between two attempts.
pub const DELIVERY_STALL: Duration = Duration::from_secs(5 * 60);

/// Enqueues again every pending delivery with no attempt for [`DELIVERY_STALL`] (its message
/// was lost), as of `now_ms`; returns how many.
pub async fn resume_pending(app: &App, now_ms: i64) -> Result<usize, RecordsError> {
    let stall_ms = i64::try_from(DELIVERY_STALL.as_millis()).unwrap_or(i64::MAX);
    let mut query = Query::partition(PENDING_PARTITION);
    let mut resumed = 0;
    loop {
        let page = app.records().query(&query).await?;
        for entry in &page.records {
            let (Some(user_id), Some((webhook_id, event_id))) = (
                entry.body["user_id"].as_str(),
                entry.key.sort.split_once('#'),
            ) else {
                continue;
            };
            let delivery_key = RecordKey::new(deliveries_partition(webhook_id), event_id);
            let last_activity = match app.records().get(&delivery_key).await? {
                Some(record) => {
                    let delivery: Delivery = serde_json::from_value(record.body)
                        .map_err(|error| RecordsError::Internal(error.to_string()))?;
                    if delivery.status != "pending" {
                        clear_pending(app, webhook_id, event_id).await;
                        continue;
                    }
                    delivery
                        .attempts
                        .last()
                        .map_or(delivery.created_at_ms, |attempt| attempt.at_ms)
                }
                None => {
                    clear_pending(app, webhook_id, event_id).await;
                    continue;
                }
            };
            if now_ms.saturating_sub(last_activity) >= stall_ms {
                enqueue(app, user_id, webhook_id, event_id, Duration::ZERO)
                    .await
                    .map_err(|error| RecordsError::Unavailable(error.message))?;
                resumed += 1;
            }
        }
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(resumed)
}

async fn clear_pending(app: &App, webhook_id: &str, event_id: &str) {
    match app
        .records()
        .delete(&pending_key(webhook_id, event_id), Expect::exists())
        .await
    {
        Ok(()) | Err(RecordsError::ConditionFailed { .. }) => {}
        Err(error) => tracing::warn!(%error, "pending webhook delivery not cleared"),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DeliverPayload {
    user_id: String,
    webhook_id: String,
    event_id: String,
}

async fn enqueue(
    app: &App,
    user_id: &str,
    webhook_id: &str,
    event_id: &str,
    delay: Duration,
) -> Result<(), ApiError> {
    let payload = json!(DeliverPayload {
        user_id: user_id.into(),
        webhook_id: webhook_id.into(),
        event_id: event_id.into(),
    });
    app.webhook_queue()
        .enqueue(&StepMessage::new(DELIVER_STEP, payload), delay)
        .await?;
    Ok(())
}

/// `v1=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`: what receivers
/// recompute to check that a delivery is ours and unaltered.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Registers the delivery step.
pub fn register(runner: StepRunner) -> StepRunner {
    runner.with(DELIVER_STEP, std::sync::Arc::new(DeliverStep))
}

struct DeliverStep;

#[async_trait]
impl StepHandler for DeliverStep {
    async fn run(&self, app: &App, payload: &Value) -> Result<(), StepError> {
        let Ok(payload) = serde_json::from_value::<DeliverPayload>(payload.clone()) else {
            tracing::error!(%payload, "malformed webhook delivery; dropped");
            return Ok(());
        };
        deliver(app, &payload)
            .await
            .map_err(|error| StepError::Retry {
                reason: error.message,
                after: backoff(1),
            })
    }
}

async fn deliver(app: &App, payload: &DeliverPayload) -> Result<(), ApiError> {
    let subscription_key = RecordKey::new(partition(&payload.user_id), &payload.webhook_id);
    let Some(record) = app.records().get(&subscription_key).await? else {
        return Ok(()); // unsubscribed
    };
    let subscription: Stored = serde_json::from_value(record.body)
        .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))?;
    let delivery_key = RecordKey::new(deliveries_partition(&payload.webhook_id), &payload.event_id);
    let Some(record) = app.records().get(&delivery_key).await? else {
        return Ok(());
    };
    let mut delivery: Delivery = serde_json::from_value(record.body)
        .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))?;
    if delivery.status != "pending" {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let outcome = attempt(app, &payload.user_id, &subscription, &delivery).await;
    let attempt = Attempt {
        at_ms: now_ms(),
        status_code: outcome.as_ref().ok().copied(),
        error: outcome.as_ref().err().cloned(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let delivered = matches!(outcome, Ok(code) if (200..300).contains(&code));
    delivery.attempts.push(attempt);
    let attempts = u32::try_from(delivery.attempts.len()).unwrap_or(u32::MAX);
    delivery.status = if delivered {
        "delivered".into()
    } else if attempts >= MAX_ATTEMPTS {
        "failed".into()
    } else {
        "pending".into()
    };
    tracing::info!(
        webhook_id = %payload.webhook_id,
        event_id = %payload.event_id,
        attempt = attempts,
        status = %delivery.status,
        "webhook delivery attempt"
    );
    let body = serde_json::to_value(&delivery)
        .map_err(|error| ApiError::from(RecordsError::Internal(error.to_string())))?;
    let update = Write::Update {
        key: delivery_key,
        expect: Expect::version(record.version),
        change: Change {
            state: None,
            body,
            expires_at: None,
        },
    };
    // The final outcome of a delivery is in the audit chain, written with it.
    let outcome = match delivery.status.as_str() {
        "delivered" => Some(types::WEBHOOK_DELIVERED),
        "failed" => Some(types::WEBHOOK_DELIVERY_FAILED),
        _ => None,
    };
    let events = outcome
        .map(|event_type| {
            Origin::system("webhooks").event(
                event_type,
                Subject::new("webhook", &payload.webhook_id),
                json!({
                    "event_id": payload.event_id,
                    "event_type": delivery.event_type,
                    "deployment_id": delivery.deployment_id,
                    "attempts": attempts,
                    "last_status_code": delivery.attempts.last().and_then(|a| a.status_code),
                }),
            )
        })
        .into_iter()
        .collect();
    match audit::transact(app.records(), &payload.user_id, vec![update], events).await {
        Ok(_) => {}
        // Another delivery of this message recorded its attempt first.
        Err(RecordsError::TransactionConflict { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    }
    if delivery.status == "pending" {
        let delay = FIRST_RETRY_DELAY.saturating_mul(2u32.saturating_pow(attempts - 1));
        enqueue(
            app,
            &payload.user_id,
            &payload.webhook_id,
            &payload.event_id,
            delay,
        )
        .await?;
    } else {
        clear_pending(app, &payload.webhook_id, &payload.event_id).await;
    }
    Ok(())
}

/// The HTTP client of deliveries, built once per process: attempts share its connection pool.
fn delivery_client() -> Result<&'static NodeHttp, String> {
    static CLIENT: std::sync::OnceLock<Result<NodeHttp, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            NodeHttp::new(
                "webhook",
                "webhook",
                ClientOptions {
                    connect_timeout: Duration::from_secs(5),
                    request_timeout: DELIVERY_TIMEOUT,
                    retry: RetryPolicy::default().single(),
                },
            )
            .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One POST of the event: the receiver's status code, or why there was none.
async fn attempt(
    app: &App,
    user_id: &str,
    subscription: &Stored,
    delivery: &Delivery,
) -> Result<u16, String> {
    let url = check_target(&subscription.url, app.webhook_targets())
        .await
        .map_err(|error| error.message)?;
    let secret = envelope::open(
        app.key_vault(),
        &subscription.secret,
        &EncryptionContext::for_user(user_id, SECRET_PURPOSE),
    )
    .await
    .map_err(|error| format!("the secret cannot be opened: {error}"))?;
    let body = delivery.event.to_string();
    let timestamp = now_unix();
    let signed = signature(secret.expose_secret(), timestamp, body.as_bytes());
    let client = delivery_client()?;
    let request = Outgoing {
        method: http::Method::POST,
        url: &url,
        body: Some(crate::chains::http::Body {
            content_type: "application/json",
            bytes: bytes::Bytes::from(body),
        }),
        accept: None,
        headers: vec![
            ("webhook-id", delivery.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signed),
        ],
        any_status: true,
    };
    match client
        .send(
            &request,
            "POST webhook",
            RetryPolicy::default().single(),
            DELIVERY_TIMEOUT,
        )
        .await
    {
        Ok(reply) => Ok(reply.status.as_u16()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "52.94.236.248", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn targets_follow_the_policy() {
        let strict = TargetPolicy::PublicHttpsOnly;
        let local = TargetPolicy::AnyForLocalDevelopment;
        for (url, code) in [
            ("http://1.1.1.1/hook", ErrorCode::WebhookUrlNotAllowed),
            ("https://127.0.0.1/hook", ErrorCode::WebhookUrlNotAllowed),
            ("https://10.0.0.1/hook", ErrorCode::WebhookUrlNotAllowed),
            ("https://[::1]/hook", ErrorCode::WebhookUrlNotAllowed),
            (
                "https://user:pw@1.1.1.1/hook",
                ErrorCode::WebhookUrlNotAllowed,
            ),
            ("ftp://1.1.1.1/hook", ErrorCode::WebhookUrlNotAllowed),
            ("not a url", ErrorCode::MalformedRequest),
        ] {
            assert_eq!(
                check_target(url, strict).await.unwrap_err().code,
                code,
                "{url}"
            );
        }
        assert!(check_target("https://1.1.1.1/hook", strict).await.is_ok());
        assert!(check_target("http://127.0.0.1:9/hook", local).await.is_ok());
        assert_eq!(
            check_target("ftp://127.0.0.1/hook", local)
                .await
                .unwrap_err()
                .code,
            ErrorCode::WebhookUrlNotAllowed
        );
    }

    #[test]
    fn event_types_are_checked_and_deduplicated() {
        assert_eq!(
            check_event_types(&["deployment.completed".into(), "deployment.completed".into()])
                .unwrap(),
            ["deployment.completed"]
        );
        assert!(check_event_types(&[]).is_err());
        assert!(check_event_types(&["deployment.done".into()]).is_err());
        assert_eq!(event_types().len(), 8);
        assert_eq!(event_id("01ABC", 7), "evt_01ABC_007");
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let one = signature(b"secret", 1_700_000_000, b"{}");
        assert!(one.starts_with("v1=") && one.len() == 3 + 64, "{one}");
        assert_ne!(one, signature(b"secret", 1_700_000_001, b"{}"));
        assert_ne!(one, signature(b"secret", 1_700_000_000, b"{ }"));
        assert_ne!(one, signature(b"other", 1_700_000_000, b"{}"));
    }
}
