//! Sign-in sessions (token families): their lifetimes, which admins set and every refresh
//! checks, and how a person sees them. No HTTP here: the routes are in `crate::api::sessions`.

use keyway_api::codes;
use keyway_api::users::{MAX_SESSION_SECS, MIN_SESSION_SECS, SessionSettings, SessionView};

use crate::clients::ClientRegistry;
use crate::clock::secs;
use crate::error::Error;
use crate::state::AppState;
use crate::store::{Family, Store};

/// The lifetimes in force: the admins' setting, else the hub's configured session lifetime
/// for both (a sign-in then ends only at its absolute end).
pub(crate) async fn limits<S: Store>(state: &AppState<S>) -> Result<SessionSettings, Error> {
    if let Some(set) = state.store.session_settings().await? {
        return Ok(set);
    }
    let configured = u64::try_from(secs(state.settings.session_lifetime)).unwrap_or(MAX_SESSION_SECS);
    Ok(SessionSettings { absolute_secs: configured, idle_secs: configured })
}

/// `MIN_SESSION_SECS ≤ idle ≤ absolute ≤ MAX_SESSION_SECS`.
pub(crate) fn validate(s: &SessionSettings) -> Result<(), Error> {
    if !(MIN_SESSION_SECS..=MAX_SESSION_SECS).contains(&s.absolute_secs) {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("absolute_secs must be between {MIN_SESSION_SECS} and {MAX_SESSION_SECS}"),
        ));
    }
    if s.idle_secs < MIN_SESSION_SECS || s.idle_secs > s.absolute_secs {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("idle_secs must be between {MIN_SESSION_SECS} and absolute_secs"),
        ));
    }
    Ok(())
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// When the family ends at the latest under `limits` (its stored end, or sooner if the
/// absolute lifetime was shortened since).
pub(crate) fn end_of(family: &Family, limits: &SessionSettings) -> i64 {
    family.expires_at.min(family.auth_time.saturating_add(as_i64(limits.absolute_secs)))
}

/// Why a refresh of `family` is refused now (`None`: it may go on).
pub(crate) fn ended(family: &Family, limits: &SessionSettings, now: i64) -> Option<&'static str> {
    let idle_since = family.last_used_at.unwrap_or(family.created_at);
    if now >= end_of(family, limits) {
        Some("the session has reached its absolute lifetime; sign in again")
    } else if now >= idle_since.saturating_add(as_i64(limits.idle_secs)) {
        Some("the session was idle too long; sign in again")
    } else {
        None
    }
}

pub(crate) fn view(
    family: &Family,
    clients: &ClientRegistry,
    limits: &SessionSettings,
    sid: Option<&str>,
) -> SessionView {
    SessionView {
        id: family.id.clone(),
        client_id: family.client_id.clone(),
        client_name: clients.get(&family.client_id).map_or_else(|| family.client_id.clone(), |c| c.name.clone()),
        created_at: family.created_at,
        last_used_at: family.last_used_at,
        address: family.address.clone(),
        expires_at: end_of(family, limits),
        current: sid == Some(family.id.as_str()),
    }
}
