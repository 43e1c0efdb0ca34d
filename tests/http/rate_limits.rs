//! Rate limits through HTTP on both adapter families: the `X-RateLimit-*` headers on every
//! answer of a route, 429 `RATE_LIMIT_EXCEEDED` with `Retry-After` past the limit (and the
//! handler not run), the sliding window admitting again as time passes, budgets per user,
//! per address and per route, counts shared by two servers over one store, concurrent
//! requests never over-admitted, the API Gateway source address under Lambda, and a failing
//! counter letting requests through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use walletless::app::App;
use walletless::config::{RateLimits, vars};
use walletless_tests::aws::{OneRequestAtATime, aws_env, fresh_services};
use walletless_tests::family::{Family, PASSWORD, TestEnv, unique_email};
use walletless_tests::server::TestServer;

/// `X-RateLimit-Limit`, `-Remaining` and `-Reset` of an answer, which must have them.
fn quota(headers: &HeaderMap) -> [u64; 3] {
    let number = |name: &str| -> u64 {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{name} is not a whole number: {e}"))
    };
    [
        number("x-ratelimit-limit"),
        number("x-ratelimit-remaining"),
        number("x-ratelimit-reset"),
    ]
}

fn has_no_quota(headers: &HeaderMap) -> bool {
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .iter()
    .all(|name| headers.get(*name).is_none())
}

/// A 429 as the catalogue says, whose `Retry-After`, `X-RateLimit-Reset` and
/// `details.retry_after_s` agree; returns that wait in seconds.
fn assert_exceeded(status: StatusCode, headers: &HeaderMap, body: &Value, limit: u64) -> u64 {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED", "{body}");
    assert_eq!(body["error"]["retryable"], true);
    assert_eq!(body["error"]["details"]["limit"], limit);
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(body["error"]["details"]["retry_after_s"], retry_after);
    assert_eq!(quota(headers), [limit, 0, retry_after]);
    retry_after
}

/// POST with headers kept.
async fn post(
    env: &TestEnv,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    env.call("POST", path, token, Some(&body), None).await
}

fn token(session: &Value) -> String {
    session["access_token"].as_str().unwrap().to_string()
}

// ------------------------------------------------------------------------------ the cases

/// The default budget is 50 here (register gets 10% of it): every answer of a route says
/// what is left of the budget it counted in, whatever its status.
const FIFTY: &[(&str, &str)] = &[(vars::RATE_LIMIT_PER_MINUTE, "50")];

async fn every_answer_of_a_route_carries_the_headers(env: &TestEnv) {
    let (status, headers, _) = env.get("/v1/networks", None).await;
    assert_eq!(status, StatusCode::OK);
    let [limit, remaining, reset] = quota(&headers);
    assert_eq!((limit, remaining), (50, 49));
    // Until the one request has faded from the sliding window: the rest of this minute and
    // the next one at most.
    assert!((1..=120).contains(&reset), "{reset}");
    let (_, headers, _) = env.get("/v1/networks", None).await;
    assert_eq!(quota(&headers)[1], 48);

    let (status, headers, session) = post(
        env,
        "/v1/auth/register",
        None,
        json!({ "email": unique_email("headers"), "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(&quota(&headers)[..2], &[5, 4]);
    let access = token(&session);

    // A refused token counts against the address's budget of the route...
    let (status, headers, _) = env.get("/v1/me", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(&quota(&headers)[..2], &[50, 49]);
    let (status, headers, _) = env.get("/v1/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(quota(&headers)[1], 48);
    // ...a signed-in user's request against the user's own.
    let (status, headers, _) = env.get("/v1/me", Some(&access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quota(&headers)[1], 49);
    // 4xx answers of the handler count too.
    let (status, headers, _) = env
        .get("/v1/drafts/01ARZ3NDEKTSV4RRFFQ69G5FAV", Some(&access))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(&quota(&headers)[..2], &[50, 49]);
    let (status, headers, _) = post(env, "/v1/drafts/validate", Some(&access), json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(&quota(&headers)[..2], &[50, 49]);
    // A path that is no route counts nowhere.
    let (status, headers, _) = env.get("/v1/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(has_no_quota(&headers), "{headers:?}");
}

/// Default 10: one registration and two sign-ins per address per minute.
const TEN: &[(&str, &str)] = &[(vars::RATE_LIMIT_PER_MINUTE, "10")];

async fn past_the_limit_the_answer_is_429_and_nothing_runs(env: &TestEnv) {
    let email = unique_email("limited");
    let (status, headers, session) = post(
        env,
        "/v1/auth/register",
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(&quota(&headers)[..2], &[1, 0]);
    let (status, headers, body) = post(
        env,
        "/v1/auth/register",
        None,
        json!({ "email": unique_email("second"), "password": PASSWORD }),
    )
    .await;
    assert_exceeded(status, &headers, &body, 1);

    // Sign-in: 2 a minute per address, well below the default of the other routes.
    let wrong = json!({ "email": email, "password": "not the password at all, no" });
    for remaining in [1, 0] {
        let (status, headers, body) = post(env, "/v1/auth/login", None, wrong.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(&quota(&headers)[..2], &[2, remaining]);
    }
    for _ in 0..5 {
        let (status, headers, body) = post(env, "/v1/auth/login", None, wrong.clone()).await;
        assert_exceeded(status, &headers, &body, 2);
    }
    // The right password waits its turn too: the budget is the address's, not the account's.
    let right = json!({ "email": email, "password": PASSWORD });
    let (status, headers, body) = post(env, "/v1/auth/login", None, right).await;
    assert_exceeded(status, &headers, &body, 2);

    // The refused sign-ins never ran: two failures in the audit trail, and no lockout (five
    // failures would have locked the account).
    let (status, _, events) = env
        .get(
            "/v1/audit/events?event_type=user.login_failed",
            Some(&token(&session)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    assert_eq!(events["events"].as_array().unwrap().len(), 2, "{events}");
    let (status, _, profile) = env.get("/v1/me", Some(&token(&session))).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
}

/// Default 20: two registrations per address, twenty requests per user and route.
const TWENTY: &[(&str, &str)] = &[(vars::RATE_LIMIT_PER_MINUTE, "20")];

async fn each_user_and_route_has_its_own_budget(env: &TestEnv) {
    let ada = token(&env.new_user().await);
    let bob = token(&env.new_user().await);
    for remaining in (0..20).rev() {
        let (status, headers, _) = env.get("/v1/me", Some(&ada)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&quota(&headers)[..2], &[20, remaining]);
    }
    let (status, headers, body) = env.get("/v1/me", Some(&ada)).await;
    assert_exceeded(status, &headers, &body, 20);

    let (status, headers, _) = env.get("/v1/me", Some(&bob)).await;
    assert_eq!(status, StatusCode::OK, "another user is not affected");
    assert_eq!(quota(&headers)[1], 19);
    let (status, headers, _) = env.get("/v1/drafts", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK, "another route is not affected");
    assert_eq!(quota(&headers)[1], 19);
    let (status, headers, _) = env.get("/v1/me", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the address is not affected"
    );
    assert_eq!(quota(&headers)[1], 19);
}

/// Three requests per two-second window.
const THREE_PER_TWO_SECONDS: &[(&str, &str)] = &[
    (vars::RATE_LIMIT_PER_MINUTE, "3"),
    (vars::RATE_LIMIT_WINDOW_SECONDS, "2"),
];

async fn the_sliding_window_admits_again_after_the_reset(env: &TestEnv) {
    for remaining in [2, 1, 0] {
        let (status, headers, _) = env.get("/v1/networks", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&quota(&headers)[..2], &[3, remaining]);
    }
    let (status, headers, body) = env.get("/v1/networks", None).await;
    let retry_after = assert_exceeded(status, &headers, &body, 3);
    // Three in the window: the next slot frees once they weigh two, a third of a window after
    // it ends, so within two windows.
    assert!(retry_after <= 4, "{retry_after}");
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (status, headers, _) = env.get("/v1/networks", None).await;
    assert_eq!(status, StatusCode::OK, "{headers:?}");
    assert_eq!(quota(&headers)[0], 3);
}

/// Six requests a minute, counted by two servers over one store.
const SIX: &[(&str, &str)] = &[(vars::RATE_LIMIT_PER_MINUTE, "6")];

async fn two_servers_over_one_store_share_the_counts(env: &TestEnv) {
    let mut vars: Vec<(&str, String)> = match &env.family {
        Family::Embedded(dir) => vec![
            (vars::BACKEND, "embedded".to_string()),
            (vars::DATA_DIR, dir.path().display().to_string()),
        ],
        Family::Aws(resources) => aws_env(resources),
    };
    vars.extend(SIX.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = TestServer::start(&pairs).await.unwrap();
    let client = reqwest::Client::new();
    let get_from = |base: &str| {
        let request = client.get(format!("{base}/v1/networks"));
        async move {
            let response = request.send().await.unwrap();
            let (status, headers) = (response.status(), response.headers().clone());
            let body: Value = response.json().await.unwrap();
            (status, headers, body)
        }
    };
    let mut expected_remaining = 6;
    for base in [&env.server.base_url, &other.base_url] {
        for _ in 0..3 {
            expected_remaining -= 1;
            let (status, headers, _) = get_from(base).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(quota(&headers)[1], expected_remaining, "{base}");
        }
    }
    for base in [&env.server.base_url, &other.base_url] {
        let (status, headers, body) = get_from(base).await;
        assert_exceeded(status, &headers, &body, 6);
    }
    other.stop().await.unwrap();
}

/// Fifty simultaneous requests against a budget of twenty (per hour, so that no window
/// boundary falls within the burst): exactly twenty run.
async fn concurrent_requests_admit_exactly_the_limit(env: &TestEnv) {
    let requests = (0..50).map(|_| env.get("/v1/networks", None));
    let answers = futures::future::join_all(requests).await;
    let mut remaining = Vec::new();
    let mut refused = 0;
    for (status, headers, body) in &answers {
        if *status == StatusCode::OK {
            remaining.push(quota(headers)[1]);
        } else {
            assert_exceeded(*status, headers, body, 20);
            refused += 1;
        }
    }
    assert_eq!((remaining.len(), refused), (20, 30));
    // Each admission saw the one before it: one of each count left.
    remaining.sort_unstable();
    assert_eq!(remaining, (0..20).collect::<Vec<u64>>());
}

const TWENTY_AN_HOUR: &[(&str, &str)] = &[
    (vars::RATE_LIMIT_PER_MINUTE, "20"),
    (vars::RATE_LIMIT_WINDOW_SECONDS, "3600"),
];

/// The client cannot choose its address: `X-Forwarded-For` changes nothing.
async fn forwarded_for_headers_are_ignored(env: &TestEnv) {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = client
            .get(env.server.url("/v1/networks"))
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .header("forwarded", format!("for=198.51.100.{n}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}

const TWO: &[(&str, &str)] = &[(vars::RATE_LIMIT_PER_MINUTE, "2")];

macro_rules! on_both_families_with {
    ($($case:ident: $env:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let env = walletless_tests::family::TestEnv::embedded_with(super::$env).await;
                    super::$case(&env).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let env = walletless_tests::family::TestEnv::aws_with(super::$env).await;
                    super::$case(&env).await;
                }
            )*
        }
    };
}

on_both_families_with!(
    every_answer_of_a_route_carries_the_headers: FIFTY,
    past_the_limit_the_answer_is_429_and_nothing_runs: TEN,
    each_user_and_route_has_its_own_budget: TWENTY,
    the_sliding_window_admits_again_after_the_reset: THREE_PER_TWO_SECONDS,
    two_servers_over_one_store_share_the_counts: SIX,
    forwarded_for_headers_are_ignored: TWO,
);

// --------------------------------------------------------------- one family, or no server

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_concurrent_requests_admit_exactly_the_limit() {
    concurrent_requests_admit_exactly_the_limit(&TestEnv::embedded_with(TWENTY_AN_HOUR).await)
        .await;
}

/// moto applies a conditional write in two unlocked steps, so truly simultaneous writes can
/// both pass there where DynamoDB's cannot (see the `idempotency` suite): the store sees one
/// request at a time, while the fifty still race through the router and the limiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_concurrent_requests_admit_exactly_the_limit() {
    let (resources, _, mut services) = fresh_services().await;
    services.records = Arc::new(OneRequestAtATime::new(services.records.clone()));
    let limits = RateLimits {
        enabled: true,
        default_limit: 20,
        window_seconds: 3600,
    };
    let server = TestServer::serve_app_with_rate_limits(App::new(services), limits)
        .await
        .unwrap();
    let env = TestEnv::around(server, Family::Aws(resources));
    concurrent_requests_admit_exactly_the_limit(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_switched_off_count_nothing() {
    let env = TestEnv::embedded_with(&[
        (vars::RATE_LIMITS_ENABLED, "false"),
        (vars::RATE_LIMIT_PER_MINUTE, "1"),
    ])
    .await;
    for _ in 0..3 {
        let (status, headers, _) = env.get("/v1/networks", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(has_no_quota(&headers), "{headers:?}");
    }
}

/// A records store that fails every access to rate-limit counters and serves the rest.
#[derive(Debug)]
struct CountersDown(Arc<dyn walletless::ports::RecordStore>);

mod counters_down {
    use walletless::ports::records::RecordsResult;
    use walletless::ports::{
        Change, Expect, NewRecord, Page, Query, Record, RecordKey, RecordStore, RecordsError, Write,
    };

    use super::CountersDown;

    fn check(key: &RecordKey) -> RecordsResult<()> {
        if key.partition.ends_with("#rate-limits") {
            return Err(RecordsError::Unavailable("injected counter outage".into()));
        }
        Ok(())
    }

    #[async_trait::async_trait]
    impl RecordStore for CountersDown {
        async fn get(&self, key: &RecordKey) -> RecordsResult<Option<Record>> {
            check(key)?;
            self.0.get(key).await
        }
        async fn create(&self, record: NewRecord) -> RecordsResult<Record> {
            check(&record.key)?;
            self.0.create(record).await
        }
        async fn update(
            &self,
            key: &RecordKey,
            expect: Expect,
            change: Change,
        ) -> RecordsResult<Record> {
            check(key)?;
            self.0.update(key, expect, change).await
        }
        async fn delete(&self, key: &RecordKey, expect: Expect) -> RecordsResult<()> {
            check(key)?;
            self.0.delete(key, expect).await
        }
        async fn query(&self, query: &Query) -> RecordsResult<Page> {
            self.0.query(query).await
        }
        async fn transact(&self, writes: Vec<Write>) -> RecordsResult<()> {
            self.0.transact(writes).await
        }
        async fn add_to_counter(
            &self,
            key: &RecordKey,
            delta: i64,
            expires_at: i64,
        ) -> RecordsResult<i64> {
            check(key)?;
            self.0.add_to_counter(key, delta, expires_at).await
        }
        async fn read_counter(&self, key: &RecordKey) -> RecordsResult<Option<i64>> {
            check(key)?;
            self.0.read_counter(key).await
        }
        async fn health(&self) -> RecordsResult<()> {
            self.0.health().await
        }
    }
}

/// When the counters cannot be read, requests proceed (without rate-limit headers): a
/// limiter outage does not take the API down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_counter_outage_lets_requests_through() {
    let (resources, _, mut services) = fresh_services().await;
    services.records = Arc::new(CountersDown(services.records.clone()));
    let limits = RateLimits {
        enabled: true,
        default_limit: 1,
        window_seconds: 60,
    };
    let server = TestServer::serve_app_with_rate_limits(App::new(services), limits)
        .await
        .unwrap();
    let env = TestEnv::around(server, Family::Aws(resources));
    for _ in 0..3 {
        let (status, headers, _) = env.get("/v1/networks", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(has_no_quota(&headers), "{headers:?}");
    }
    let user = env.new_user().await;
    let (status, _, _) = env.get("/v1/me", Some(&token(&user))).await;
    assert_eq!(status, StatusCode::OK);
}

/// Under Lambda the address is API Gateway's `requestContext.http.sourceIp` (the samples'
/// 203.0.113.7): two of its requests run, the third is refused, whatever `X-Forwarded-For`
/// says; another source address has a budget of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_requests_count_by_api_gateway_source_address() {
    use walletless::api::{router, routes};

    let dir = tempfile::tempdir().unwrap();
    let config = walletless::config::Config::from_vars(&Default::default()).unwrap();
    let app = App::open_embedded(dir.path(), "http://127.0.0.1:1".parse().unwrap(), &config)
        .await
        .unwrap()
        .app;
    let limits = RateLimits {
        enabled: true,
        default_limit: 2,
        window_seconds: 3600,
    };
    let service = router(app, [routes::find("list-networks").unwrap()], limits);
    let sample_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/list-networks.json");
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(sample_path).unwrap()).unwrap();
    let invoke = |source_ip: &str, forwarded_for: Option<&str>| {
        let mut event = sample.clone();
        event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
        if let Some(forwarded) = forwarded_for {
            event["headers"]["x-forwarded-for"] = json!(forwarded);
        }
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let request = request.map(|body| axum::body::Body::from(body.to_vec()));
        let service = service.clone();
        async move {
            let response = walletless::api::service::call(&service, request).await;
            let remaining = response
                .headers()
                .get("x-ratelimit-remaining")
                .map(|value| value.to_str().unwrap().to_string());
            (response.status().as_u16(), remaining)
        }
    };
    assert_eq!(sample["requestContext"]["http"]["sourceIp"], "203.0.113.7");
    assert_eq!(invoke("203.0.113.7", None).await, (200, Some("1".into())));
    assert_eq!(invoke("203.0.113.7", None).await, (200, Some("0".into())));
    assert_eq!(
        invoke("203.0.113.7", Some("198.51.100.9")).await,
        (429, Some("0".into()))
    );
    assert_eq!(invoke("198.51.100.9", None).await, (200, Some("1".into())));
}
