//! Rate limits: every route has a budget of requests per window (by default 100 a minute;
//! sign-up, sign-in and the other password routes much less, see [`ROUTE_SHARES`]), counted
//! per signed-in user on [`Auth::User`](super::routes::Auth::User) routes and per source
//! address on public ones and on user routes called without a valid token. Each subject has
//! one budget per route. The router checks it after authentication and before anything else
//! runs: over the budget the answer is 429 `RATE_LIMIT_EXCEEDED` with `Retry-After`, and the
//! handler does not run. Every counted answer carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
//!
//! **Algorithm**: the sliding window counter (Cloudflare's): counts of the current fixed
//! window and of the one before, the previous one weighted by the part of it still inside
//! the sliding window. Two integers per subject and route whatever the limit, where a sliding
//! log would store a timestamp per request. The estimate assumes the previous window's
//! requests were spread evenly, so a burst at its very end weighs less than it should; no
//! fixed window ever admits more than the limit, so the worst case is twice the limit within
//! one window's length straddling a boundary, as with fixed windows at their worst.
//!
//! **Storage**: one counter per subject, route and fixed window in the records store's
//! counters (partition `user#<id>#rate-limits` or `address#<ip>#rate-limits`, key
//! `<route id>#<window start in Unix ms>`), so every Lambda instance shares the counts. A
//! request reads the previous and the current window's counters and is refused at once if
//! the budget is spent, so refusals write nothing. Otherwise it adds one to the current
//! window's counter: the value that addition returns is the request's place in its window,
//! and it is admitted when that place still fits the budget. Additions are atomic (DynamoDB
//! `ADD`; one SQLite transaction), so concurrent requests never over-admit a fixed window
//! (50 simultaneous requests against a budget of 20 admit exactly 20) and never wait on one
//! another to retry, however many share one budget. A request refused after its addition (it
//! raced others for the last places) takes the addition back, so refusals never count and a
//! client that keeps calling a spent budget does not push its own reset further away. (Until
//! it is taken back it still counts: a request racing with refusals may be refused while a
//! place is free.) Near a window boundary a request that read the old window may add to it
//! after the new window's first requests read it as the previous one, so the sliding
//! estimate can be a few requests low there; no fixed window ever exceeds the budget. A
//! counter expires two windows after its window opened, when it no longer counts as the
//! previous window either.
//!
//! **Outage**: when the records store cannot be read or written, the request proceeds
//! without rate-limit headers and a warning is logged: the handlers need the same store and
//! answer 503 themselves if it is really down, and a counter's outage alone should not take
//! the API down. API Gateway's throttling (the SAM template) still caps the total rate.

use std::net::{IpAddr, Ipv6Addr};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;

use super::errors::{ApiError, ErrorCode};
use crate::config::RateLimits;
use crate::ports::records::now_ms;
use crate::ports::{RecordKey, RecordStore, RecordsError};

pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Routes whose budget is not the default, as a percentage of it (so that one setting scales
/// them all): the routes that check a password or mint tokens, which an attacker would call
/// to guess passwords or create accounts in bulk. With the default 100 a minute: register 10,
/// login 20, refresh 30, change-password and key-export 10 (key exports also have their own
/// 3 an hour).
pub static ROUTE_SHARES: &[(&str, u64)] = &[
    ("register", 10),
    ("login", 20),
    ("refresh", 30),
    ("change-password", 10),
    ("key-export", 10),
];

/// Requests per window on the route with this id, given the default.
pub fn route_limit(route_id: &str, default_limit: u32) -> u64 {
    let default_limit = u64::from(default_limit);
    ROUTE_SHARES
        .iter()
        .find(|(id, _)| *id == route_id)
        .map_or(default_limit, |(_, percent)| {
            (default_limit * percent).div_ceil(100).max(1)
        })
}

/// Whose budget a request spends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    User(String),
    /// A source address as [`address_key`] writes it, or `unknown`.
    Address(String),
}

impl Subject {
    /// The caller's address, when the request came with one (API Gateway's source IP, the
    /// socket's peer); requests without one share the `unknown` budget.
    pub fn address(ip: Option<IpAddr>) -> Self {
        Self::Address(ip.map_or_else(|| "unknown".to_string(), address_key))
    }

    /// The key of the counter of this subject's requests to the route in the fixed window
    /// that opened at `window_start_ms`.
    fn counter_key(&self, route_id: &str, window_start_ms: i64) -> RecordKey {
        let partition = match self {
            Subject::User(user_id) => format!("user#{user_id}#rate-limits"),
            Subject::Address(address) => format!("address#{address}#rate-limits"),
        };
        RecordKey::new(partition, format!("{route_id}#{window_start_ms}"))
    }
}

/// The budget an address counts in: an IPv4 address itself (IPv4-mapped IPv6 addresses
/// included), or the /64 of an IPv6 one, since one subscriber usually holds a whole /64 and
/// could otherwise switch addresses at will.
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

/// The counts of one budget: the fixed window opened at `window_start_ms` (Unix ms, a
/// multiple of the window length) and the one before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub window_start_ms: i64,
    pub current: u64,
    pub previous: u64,
}

impl Counts {
    /// These counts as of `now_ms`, moved on to the window that `now_ms` is in. Counts from
    /// a window that has not begun here yet (another instance's clock is ahead) are kept as
    /// they are.
    pub fn at(stored: Option<Self>, window_ms: i64, now_ms: i64) -> Self {
        let start = now_ms - now_ms.rem_euclid(window_ms);
        match stored {
            Some(counts) if counts.window_start_ms >= start => counts,
            Some(counts) if counts.window_start_ms == start - window_ms => Self {
                window_start_ms: start,
                current: 0,
                previous: counts.current,
            },
            _ => Self {
                window_start_ms: start,
                current: 0,
                previous: 0,
            },
        }
    }
}

/// Whether a request may run, and what its rate-limit headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub admitted: bool,
    pub limit: u64,
    /// Requests that would still be admitted now (after this one, if it was).
    pub remaining: u64,
    /// Milliseconds until one more request would be admitted than now (0 when the whole
    /// budget is free); for a refused request, until it would be admitted.
    pub reset_ms: i64,
    pub window_seconds: u32,
}

impl Decision {
    /// [`Self::reset_ms`] in whole seconds, rounded up: waiting that long is always enough.
    pub fn reset_seconds(&self) -> i64 {
        (self.reset_ms.max(0) + 999) / 1000
    }

    /// Set `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (LIMIT_HEADER, self.limit.to_string()),
            (REMAINING_HEADER, self.remaining.to_string()),
            (RESET_HEADER, self.reset_seconds().to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }

    /// The 429 of a refused request (the router turns `retry_after_s` into `Retry-After`).
    pub fn exceeded(&self) -> ApiError {
        ApiError::new(ErrorCode::RateLimitExceeded).with_details(json!({
            "retry_after_s": self.reset_seconds().max(1),
            "limit": self.limit,
            "window_s": self.window_seconds,
        }))
    }
}

/// Decide a request at `now_ms` against `limit` requests per `window_ms` with the stored
/// counts; also returns the counts to store if it is admitted.
pub fn decide(
    stored: Option<Counts>,
    limit: u64,
    window_ms: i64,
    now_ms: i64,
) -> (Decision, Counts) {
    let window_ms = window_ms.max(1);
    let counts = Counts::at(stored, window_ms, now_ms);
    let window = i128::from(window_ms);
    // Negative when the counts' window has not begun here yet (see `Counts::at`): they then
    // count in full, and the wait for a slot includes the time until that window opens.
    let elapsed = i128::from(now_ms) - i128::from(counts.window_start_ms);
    let capacity = i128::from(limit) * window;
    // Requests in the sliding window, times the window length (exact integer arithmetic).
    let used = |counts: &Counts| {
        i128::from(counts.previous) * (window - elapsed.clamp(0, window))
            + i128::from(counts.current) * window
    };
    let admitted = used(&counts) + window <= capacity;
    let after = if admitted {
        Counts {
            current: counts.current.saturating_add(1),
            ..counts
        }
    } else {
        counts
    };
    let remaining = u64::try_from((capacity - used(&after)).max(0) / window).unwrap_or(0);
    let reset_ms = until_next_slot(&after, capacity, window, elapsed, remaining);
    let decision = Decision {
        admitted,
        limit,
        remaining,
        reset_ms: i64::try_from(reset_ms).unwrap_or(i64::MAX),
        window_seconds: u32::try_from(window_ms / 1000).unwrap_or(u32::MAX),
    };
    (decision, after)
}

/// Milliseconds until the budget has `remaining + 1` free slots, if no request is admitted in
/// between. The use falls linearly as the previous window's weight fades, then as the current
/// one's does once it has become the previous; it is continuous at the boundary.
fn until_next_slot(
    counts: &Counts,
    capacity: i128,
    window: i128,
    elapsed: i128,
    remaining: u64,
) -> i128 {
    let target = capacity - (i128::from(remaining) + 1) * window;
    let (previous, current) = (i128::from(counts.previous), i128::from(counts.current));
    let in_window = elapsed.clamp(0, window);
    if target < 0 || previous * (window - in_window) + current * window <= target {
        return 0;
    }
    if current * window <= target {
        // Within this window; `previous` > 0, else the use would already be at the target.
        let at = window - (target - current * window) / previous;
        (at - elapsed).max(0)
    } else {
        // In the next window, where this window's count fades; `current` > 0 here.
        let at = window - target / current;
        window - elapsed + at
    }
}

/// The limits of one process, applied to the records store.
#[derive(Clone, Copy, Debug)]
pub struct RateLimiter {
    settings: RateLimits,
}

impl RateLimiter {
    pub fn new(settings: RateLimits) -> Self {
        Self { settings }
    }

    /// Spend one request of `subject`'s budget on the route: `None` when limits are off,
    /// else whether it may run. Store errors are returned for the caller to decide (the
    /// router lets the request through).
    pub async fn check(
        &self,
        records: &dyn RecordStore,
        route_id: &str,
        subject: &Subject,
    ) -> Result<Option<Decision>, RecordsError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let limit = route_limit(route_id, self.settings.default_limit);
        let window_ms = i64::from(self.settings.window_seconds.max(1)) * 1000;
        let now = now_ms();
        let window_start_ms = now - now.rem_euclid(window_ms);
        let previous_key = subject.counter_key(route_id, window_start_ms - window_ms);
        let current_key = subject.counter_key(route_id, window_start_ms);
        let (previous, current) = tokio::try_join!(
            records.read_counter(&previous_key),
            records.read_counter(&current_key)
        )?;
        let previous = previous.unwrap_or(0);
        let counts = |current: i64| Counts {
            window_start_ms,
            // Never negative but for a foreign write.
            current: u64::try_from(current).unwrap_or(0),
            previous: u64::try_from(previous).unwrap_or(0),
        };
        // A spent budget is refused on a reading alone: refusals, the bulk of an abusive
        // client's traffic, then write nothing.
        let (decision, _) = decide(Some(counts(current.unwrap_or(0))), limit, window_ms, now);
        if !decision.admitted {
            return Ok(Some(decision));
        }
        // Expires when this window has passed as the previous one too (Unix seconds, up).
        let expires_at = (window_start_ms + 2 * window_ms + 999) / 1000;
        let place = records.add_to_counter(&current_key, 1, expires_at).await?;
        // The requests of this window before this one decide, whatever the reading said.
        let (decision, _) = decide(Some(counts(place.saturating_sub(1))), limit, window_ms, now);
        if !decision.admitted {
            // A refusal does not count (see the module documentation). Failing to take it
            // back only leaves the budget one request fuller until the window passes.
            if let Err(error) = records.add_to_counter(&current_key, -1, expires_at).await {
                tracing::warn!(route = route_id, %error, "rate-limit counter: a refusal stays counted");
            }
        }
        Ok(Some(decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes::{LOCAL_ROUTES, ROUTES};
    use proptest::prelude::*;

    const MINUTE_MS: i64 = 60_000;

    #[test]
    fn every_route_in_the_table_exists_once() {
        let mut seen = std::collections::HashSet::new();
        for (id, percent) in ROUTE_SHARES {
            assert!(
                ROUTES
                    .iter()
                    .chain(LOCAL_ROUTES)
                    .any(|route| route.id == *id),
                "{id} is not a route"
            );
            assert!(seen.insert(*id), "{id} is listed twice");
            assert!((1..=100).contains(percent), "{id}: {percent}%");
        }
    }

    #[test]
    fn password_routes_get_their_share_of_the_default() {
        assert_eq!(route_limit("health", 100), 100);
        assert_eq!(route_limit("get-metadata", 100), 100);
        assert_eq!(route_limit("register", 100), 10);
        assert_eq!(route_limit("login", 100), 20);
        assert_eq!(route_limit("refresh", 100), 30);
        assert_eq!(route_limit("register", 100_000), 10_000);
        // A tiny default still leaves every route one request.
        assert_eq!(route_limit("register", 1), 1);
        assert_eq!(route_limit("login", 7), 2);
    }

    #[test]
    fn addresses_are_canonical_and_ipv6_counts_by_its_64() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_eq!(
            Subject::address(None),
            Subject::Address("unknown".to_string())
        );
    }

    #[test]
    fn a_full_window_is_refused_until_a_slot_frees() {
        let start = 100 * MINUTE_MS;
        let mut counts = None;
        for n in 1..=3 {
            let (decision, after) = decide(counts, 3, MINUTE_MS, start + n);
            assert!(decision.admitted);
            assert_eq!(decision.remaining, 3 - n as u64);
            counts = Some(after);
        }
        let (refused, _) = decide(counts, 3, MINUTE_MS, start + 10);
        assert!(!refused.admitted);
        assert_eq!(refused.remaining, 0);
        // Three in this window: a slot frees when they weigh at most two, a third of the way
        // into the next window.
        assert_eq!(refused.reset_ms, MINUTE_MS - 10 + MINUTE_MS / 3);
        assert_eq!(refused.reset_seconds(), 80);
        let error = refused.exceeded();
        assert_eq!(error.code, ErrorCode::RateLimitExceeded);
        assert_eq!(error.details.unwrap()["retry_after_s"], 80);
    }

    #[test]
    fn the_previous_window_weighs_by_what_is_left_of_it() {
        let start = 100 * MINUTE_MS;
        let full = Counts {
            window_start_ms: start - MINUTE_MS,
            current: 10,
            previous: 0,
        };
        // Just after the boundary the ten still count in full: a fixed window would admit.
        let (early, _) = decide(Some(full), 10, MINUTE_MS, start + 1);
        assert!(!early.admitted);
        // Halfway, they weigh five.
        let (half, _) = decide(Some(full), 10, MINUTE_MS, start + MINUTE_MS / 2);
        assert!(half.admitted);
        assert_eq!(half.remaining, 4);
        // Two windows later they are gone.
        let (later, after) = decide(Some(full), 10, MINUTE_MS, start + MINUTE_MS + 5);
        assert!(later.admitted);
        assert_eq!(later.remaining, 9);
        assert_eq!((after.current, after.previous), (1, 0));
    }

    #[test]
    fn counts_from_a_clock_ahead_are_kept() {
        let start = 100 * MINUTE_MS;
        let ahead = Counts {
            window_start_ms: start + MINUTE_MS,
            current: 2,
            previous: 0,
        };
        let (decision, after) = decide(Some(ahead), 2, MINUTE_MS, start + MINUTE_MS - 500);
        assert!(!decision.admitted);
        assert_eq!(after, ahead);
        // The wait includes the half second until that window opens here.
        assert_eq!(decision.reset_ms, 500 + MINUTE_MS + MINUTE_MS / 2);
    }

    proptest! {
        /// A budget driven by requests at random times: the remaining count stays within the
        /// limit, no fixed window admits more than the limit, the reset is within two windows,
        /// and a refused request waiting exactly its reset is admitted, one millisecond less
        /// is not.
        #[test]
        fn window_arithmetic_holds(
            limit in 1u64..50,
            window_s in 1i64..120,
            gaps in prop::collection::vec(0i64..5_000, 1..150),
        ) {
            let window_ms = window_s * 1000;
            let mut now = 1_700_000_000_000i64;
            let mut counts = None;
            for gap in gaps {
                now += gap;
                let (decision, after) = decide(counts, limit, window_ms, now);
                prop_assert!(decision.remaining <= limit);
                prop_assert!(after.current <= limit);
                prop_assert!(decision.reset_ms >= 0);
                prop_assert!(decision.reset_ms <= 2 * window_ms);
                if decision.remaining == 0 {
                    prop_assert!(decision.reset_ms > 0);
                }
                if decision.admitted {
                    prop_assert_eq!(after.current, Counts::at(counts, window_ms, now).current + 1);
                } else {
                    prop_assert_eq!(decision.remaining, 0);
                    let wait = decision.reset_ms;
                    prop_assert!(wait > 0);
                    prop_assert!(decide(Some(after), limit, window_ms, now + wait).0.admitted);
                    prop_assert!(!decide(Some(after), limit, window_ms, now + wait - 1).0.admitted);
                    prop_assert!(
                        decide(Some(after), limit, window_ms, now + decision.reset_seconds() * 1000)
                            .0
                            .admitted
                    );
                }
                counts = Some(after);
            }
        }

        /// The reset of an admitted request is when one more slot is free than now.
        #[test]
        fn reset_is_when_the_next_slot_frees(
            limit in 1u64..50,
            window_s in 1i64..120,
            previous in 0u64..60,
            current in 0u64..60,
            offset in 0i64..120_000,
        ) {
            let window_ms = window_s * 1000;
            let start = 1_700_000_000_000i64 / window_ms * window_ms;
            let now = start + offset % window_ms;
            let stored = Counts { window_start_ms: start, current: current.min(limit), previous };
            let (decision, after) = decide(Some(stored), limit, window_ms, now);
            let remaining_at = |t: i64| {
                // What a decision at `t` would see as free before spending anything.
                let (probe, _) = decide(Some(after), limit, window_ms, t);
                if probe.admitted { probe.remaining + 1 } else { 0 }
            };
            prop_assert_eq!(remaining_at(now), decision.remaining);
            if decision.remaining < limit {
                prop_assert!(remaining_at(now + decision.reset_ms) > decision.remaining);
                prop_assert!(remaining_at(now + decision.reset_ms - 1) <= decision.remaining);
            } else {
                prop_assert_eq!(decision.reset_ms, 0);
            }
        }
    }

    #[tokio::test]
    async fn refusals_do_not_count() {
        use crate::adapters::embedded::sqlite_records::SqliteRecords;
        let dir = tempfile::tempdir().unwrap();
        let records = SqliteRecords::open(&dir.path().join("records.sqlite3")).unwrap();
        let limiter = RateLimiter::new(RateLimits {
            enabled: true,
            default_limit: 2,
            window_seconds: 3600,
        });
        let subject = Subject::User("01TESTUSER".into());
        let mut admitted = 0;
        for _ in 0..7 {
            let decision = limiter
                .check(&records, "me", &subject)
                .await
                .unwrap()
                .unwrap();
            admitted += u32::from(decision.admitted);
        }
        assert_eq!(admitted, 2);
        let now = now_ms();
        let window_start = now - now.rem_euclid(3_600_000);
        let counted = records
            .read_counter(&subject.counter_key("me", window_start))
            .await
            .unwrap();
        assert_eq!(counted, Some(2), "only the admitted requests count");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_never_over_admit() {
        use crate::adapters::embedded::sqlite_records::SqliteRecords;
        let dir = tempfile::tempdir().unwrap();
        let records: std::sync::Arc<dyn RecordStore> =
            std::sync::Arc::new(SqliteRecords::open(&dir.path().join("records.sqlite3")).unwrap());
        let limiter = RateLimiter::new(RateLimits {
            enabled: true,
            default_limit: 20,
            window_seconds: 3600,
        });
        let subject = Subject::User("01TESTUSER".into());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (records, subject) = (records.clone(), subject.clone());
                tokio::spawn(async move {
                    limiter
                        .check(records.as_ref(), "me", &subject)
                        .await
                        .unwrap()
                        .unwrap()
                })
            })
            .collect();
        let mut admitted = 0;
        for task in tasks {
            if task.await.unwrap().admitted {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 20);
        // Another subject and another route have budgets of their own.
        let other = Subject::Address("203.0.113.7".into());
        for (route, subject) in [("me", &other), ("list-drafts", &subject)] {
            let decision = limiter.check(records.as_ref(), route, subject).await;
            assert!(decision.unwrap().unwrap().admitted, "{route}");
        }
        let disabled = RateLimiter::new(RateLimits::disabled());
        assert_eq!(
            disabled
                .check(records.as_ref(), "me", &subject)
                .await
                .unwrap(),
            None
        );
    }
}
