//! Sign-in throttling: failed passwords are counted per account, per client address and per
//! pending request, in the database (so every hub of one database counts the same). Past a few
//! failures each further one locks the key for a growing delay; at the limit it is locked until
//! its 15-minute window ends. A locked key is answered `429` with `Retry-After` before any
//! password is hashed.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::audit::{self, Audit};
use crate::error::Error;
use crate::net::{Peer, client_ip};
use crate::oauth::login_page::{error_page, internal_error_page};
use crate::secret::TokenHash;
use crate::state::AppState;
use crate::store::{Store, ThrottleRecord};

/// The counting window.
pub(crate) const WINDOW_SECS: i64 = 15 * 60;
/// Longest growing delay between failures before the limit.
const MAX_DELAY_SECS: i64 = 60;
/// Failures of one pending sign-in request before it is used up.
pub(crate) const REQUEST_FAILURES: u32 = 5;

/// How one kind of key is throttled: `free` failures pass without delay, each further one
/// locks for 1, 2, 4… seconds, and the `limit`-th locks until the window ends.
struct Rule {
    kind: &'static str,
    free: u32,
    limit: u32,
}

/// At most 10 wrong passwords per account in 15 minutes.
const ACCOUNT: Rule = Rule { kind: "account", free: 3, limit: 10 };
/// An address guessing across accounts (or many people behind one NAT) gets more room.
const ADDRESS: Rule = Rule { kind: "address", free: 20, limit: 30 };

impl Rule {
    fn lock_until(&self, rec: &ThrottleRecord, now: i64) -> Option<i64> {
        if rec.failures >= self.limit {
            return Some(rec.window_start.saturating_add(WINDOW_SECS));
        }
        let over = rec.failures.checked_sub(self.free + 1)?;
        Some(now + (1i64 << over.min(6)).min(MAX_DELAY_SECS))
    }
}

/// Extractor: the client's address (see [`client_ip`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<AppState<S>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<ClientIp, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<Peer>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
        Ok(ClientIp(client_ip(peer, &parts.headers, &state.settings.trusted_proxies)))
    }
}

/// The keys one sign-in attempt is counted under.
pub(crate) struct Attempt {
    account: String,
    address: String,
    request: String,
    ip: IpAddr,
}

impl Attempt {
    /// The account is keyed by the hash of the typed name (case-insensitive, like user names),
    /// so a password typed into the name field is not stored.
    pub(crate) fn new(username: &str, ip: IpAddr, request_id: &str) -> Attempt {
        let hex =
            |value: &str| -> String { TokenHash::of(value).as_bytes().iter().map(|b| format!("{b:02x}")).collect() };
        Attempt {
            account: format!("account:{}", hex(&username.to_lowercase())),
            address: format!("address:{ip}"),
            request: format!("request:{}", hex(request_id)),
            ip,
        }
    }

    /// Seconds to wait when the account or the address is locked now.
    pub(crate) async fn locked<S: Store>(&self, state: &AppState<S>) -> Result<Option<u64>, Error> {
        let now = state.now();
        let mut wait = 0i64;
        for key in [&self.account, &self.address] {
            if let Some(rec) = state.store.throttle(key).await? {
                wait = wait.max(rec.locked_until - now);
            }
        }
        Ok((wait > 0).then(|| u64::try_from(wait).unwrap_or(1)))
    }

    /// Counts a wrong password; locks (and audits the lockout) past the rules. Returns true
    /// when the pending request is used up.
    pub(crate) async fn failed<S: Store>(&self, state: &AppState<S>, user_id: Option<&str>) -> Result<bool, Error> {
        let now = state.now();
        for (rule, key) in [(&ACCOUNT, &self.account), (&ADDRESS, &self.address)] {
            let rec = state.store.throttle_fail(key, now, WINDOW_SECS).await?;
            let Some(until) = rule.lock_until(&rec, now) else { continue };
            state.store.throttle_lock(key, until).await?;
            if rec.failures == rule.limit {
                tracing::warn!(kind = rule.kind, until, "sign-in locked after too many wrong passwords");
                let mut event = Audit::by_hub(now, "login.locked").outcome("locked");
                let mut detail = json!({ "kind": rule.kind, "failures": rec.failures, "until": until });
                if rule.kind == "address" {
                    detail["address"] = json!(self.ip.to_string());
                } else {
                    event = event.target_opt("user", user_id);
                }
                audit::record(&state.store, event.detail(detail)).await?;
            }
        }
        let request = state.store.throttle_fail(&self.request, now, WINDOW_SECS).await?;
        Ok(request.failures >= REQUEST_FAILURES)
    }

    /// The right password: the account's count starts again, the request's is done with.
    pub(crate) async fn succeeded<S: Store>(&self, state: &AppState<S>) -> Result<(), Error> {
        state.store.throttle_clear(&self.account).await?;
        state.store.throttle_clear(&self.request).await?;
        Ok(())
    }

    /// Forgets the request's count (it was used up).
    pub(crate) async fn forget_request<S: Store>(&self, state: &AppState<S>) -> Result<(), Error> {
        Ok(state.store.throttle_clear(&self.request).await?)
    }
}

/// Counts one use of `key` in the window; `Err(rate_limited)` past `limit`.
pub(crate) async fn count<S: Store>(state: &AppState<S>, key: &str, limit: u32, what: &str) -> Result<(), Error> {
    let now = state.now();
    let rec = state.store.throttle_fail(key, now, WINDOW_SECS).await?;
    if rec.failures > limit {
        let wait = u64::try_from(rec.window_start + WINDOW_SECS - now).unwrap_or(1);
        return Err(Error::rate_limited(format!("too many {what} from this address; try again later"), wait));
    }
    Ok(())
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

/// The sign-in form's `429`: how long to wait.
pub(crate) fn locked_page(secs: u64) -> Response {
    let wait = if secs < 120 { format!("{secs} seconds") } else { format!("{} minutes", secs.div_ceil(60)) };
    let message = format!("Too many wrong passwords. Wait {wait}, then try again.");
    with_retry_after(error_page(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", &message), secs)
}

/// The pending request was used up by wrong passwords.
pub(crate) fn used_up_page() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Too many wrong passwords",
        "This sign-in request has had too many wrong passwords. Go back to the application and start signing in again.",
    )
}

/// A sign-in that failed with an error: a busy hub says when to come back; anything else is
/// the generic page.
pub(crate) fn error_response(err: Error) -> Response {
    match err {
        Error::Later { status, retry_after, message, .. } => {
            with_retry_after(error_page(status, "The hub is busy", &message), retry_after)
        }
        other => internal_error_page(other),
    }
}

/// Deletes counters whose window and lock are over.
pub(crate) async fn purge<S: Store>(store: &S, now: i64) -> Result<u64, Error> {
    Ok(store.throttle_purge(now - WINDOW_SECS, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_lock_until_the_window_ends() {
        let at = |failures| ThrottleRecord { failures, window_start: 1000, locked_until: 0 };
        let now = 1100;
        let waits: Vec<Option<i64>> = (1..=10).map(|n| ACCOUNT.lock_until(&at(n), now).map(|u| u - now)).collect();
        assert_eq!(waits, vec![None, None, None, Some(1), Some(2), Some(4), Some(8), Some(16), Some(32), Some(800)]);
        assert_eq!(ADDRESS.lock_until(&at(40), now), Some(1000 + WINDOW_SECS));
        assert_eq!(ADDRESS.lock_until(&at(29), now), Some(now + MAX_DELAY_SECS));
    }
}
