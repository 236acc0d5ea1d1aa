//! The device authorization grant's person side as JSON (RFC 8628 §3.3 without the browser):
//! `POST /oauth/device/lookup` shows a pending device sign-in (which client asks, for what,
//! from where and when) and `POST /oauth/device/approve` / `…/deny` decide it, each with the
//! user code in the body and the bearer JWT of a person's sign-in. The CLI (`keyway device`) and
//! the desktop's "Approve a device" dialog call these; the hub's page (`device_page.rs`) does the
//! same for a browser. Wrong codes count against the person and the address on both.

use axum::Json;
use axum::extract::State;
use keyway_api::clients::{DeviceDecided, DeviceRequest, DeviceUserCode};
use keyway_api::codes;
use serde_json::json;

use super::device_page::{too_many_wrong_codes, wrong_code};
use crate::accounts::live;
use crate::audit::Audit;
use crate::error::Error;
use crate::http::Body;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::secret::normalize_user_code;
use crate::state::AppState;
use crate::store::{DeviceRecord, Store, UserRecord};
use crate::throttle::ClientIp;

/// What a wrong, expired or already answered code gets: the hub does not say which.
const NO_SUCH_CODE: &str =
    "No device sign-in is waiting for this code: it is mistyped, it has expired, or it was already answered";

/// `POST /oauth/device/lookup`: the pending device sign-in of a user code.
pub(crate) async fn lookup<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    ClientIp(ip): ClientIp,
    body: Result<Body<Json<DeviceUserCode>>, Error>,
) -> Result<Json<DeviceRequest>, Error> {
    let user = person(&state, &p).await?;
    let Body(Json(body)) = body?;
    let device = pending(&state, &user, ip, &body.user_code).await?;
    let client_name =
        super::clients::find(&state, &device.client_id).await?.map_or(device.client_id.clone(), |c| c.name);
    Ok(Json(DeviceRequest {
        user_code: device.user_code,
        client_id: device.client_id,
        client_name,
        scope: device.scope,
        resource: device.resource,
        address: device.address,
        created_at: device.created_at,
        expires_at: device.expires_at,
    }))
}

/// `POST /oauth/device/approve`: the device signs in as the caller.
pub(crate) async fn approve<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    ClientIp(ip): ClientIp,
    body: Result<Body<Json<DeviceUserCode>>, Error>,
) -> Result<Json<DeviceDecided>, Error> {
    decide(&state, &p, ip, body, true).await.map(Json)
}

/// `POST /oauth/device/deny`: the device's polls get `access_denied`.
pub(crate) async fn deny<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    ClientIp(ip): ClientIp,
    body: Result<Body<Json<DeviceUserCode>>, Error>,
) -> Result<Json<DeviceDecided>, Error> {
    decide(&state, &p, ip, body, false).await.map(Json)
}

/// The caller, a live person.
async fn person<S: Store>(state: &AppState<S>, p: &Principal) -> Result<UserRecord, Error> {
    p.require(Rule::Devices)?;
    let user = live(state, &p.id).await?;
    if !user.is_active() {
        return Err(Error::forbidden(codes::USER_DISABLED, "This account is disabled"));
    }
    Ok(user)
}

/// The pending device sign-in of `typed`, counting a miss against the person and the address.
async fn pending<S: Store>(
    state: &AppState<S>,
    user: &UserRecord,
    ip: std::net::IpAddr,
    typed: &str,
) -> Result<DeviceRecord, Error> {
    if too_many_wrong_codes(state, &user.id, ip).await? {
        return Err(Error::rate_limited("Too many wrong device codes were typed: wait a few minutes", 60));
    }
    let found = match normalize_user_code(typed) {
        Some(code) => state.store.device_by_user_code(&code, state.now()).await?,
        None => None,
    };
    match found {
        Some(device) => Ok(device),
        None => {
            wrong_code(state, &user.id, ip).await?;
            tracing::info!(user = %user.id, "device code lookup: wrong or expired user code");
            Err(Error::missing(NO_SUCH_CODE))
        }
    }
}

async fn decide<S: Store>(
    state: &AppState<S>,
    p: &Principal,
    ip: std::net::IpAddr,
    body: Result<Body<Json<DeviceUserCode>>, Error>,
    approve: bool,
) -> Result<DeviceDecided, Error> {
    let user = person(state, p).await?;
    let Body(Json(body)) = body?;
    // The device's session is the caller's sign-in: it ends when that one would.
    let now = state.now();
    let family = match &p.sid {
        Some(sid) => state.store.family(sid).await?.filter(|f| f.revoked_at.is_none() && f.user_id == user.id),
        None => None,
    };
    let Some(family) = family else {
        return Err(Error::forbidden(
            codes::PRINCIPAL_NOT_ALLOWED,
            "Approving a device needs the token of a sign-in (keyway login), not one exchanged from a credential",
        ));
    };
    let device = pending(state, &user, ip, &body.user_code).await?;
    let action = if approve { "device.approve" } else { "device.deny" };
    let event = Audit::by(p, now, action)
        .target("client", &device.client_id)
        .detail(json!({ "scope": device.scope, "resource": device.resource, "address": device.address }))
        .event();
    if !state.store.decide_device(&device.user_code, approve, &user.id, family.auth_time, now, &event).await? {
        return Err(Error::missing(NO_SUCH_CODE));
    }
    tracing::info!(user = %user.id, client = %device.client_id, approve, "device authorization decided");
    Ok(DeviceDecided { user_code: device.user_code, client_id: device.client_id, approved: approve })
}
