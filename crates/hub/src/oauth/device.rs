//! Device authorization (RFC 8628): `POST /oauth/device_authorization` gives a device a device
//! code to poll with and a short user code for a person to approve at `/device`
//! (`device_page.rs`); the token endpoint's `device_code` grant (`token.rs`) answers the polls. Everything
//! lives in the store, so any hub of one database answers any step.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keyway_api::clients::DeviceAuthorization;

use super::resource;
use super::token::client_of;
use crate::error::Error;
use crate::http::{Body, Params, no_store};
use crate::secret::{DeviceCode, user_code};
use crate::state::AppState;
use crate::store::{DeviceRecord, DeviceStatus, Store};
use crate::throttle::{ClientIp, count};

/// How long a device code lives.
pub(crate) const DEVICE_TTL_SECS: i64 = 600;
/// The least interval between two polls, at first.
pub(crate) const DEVICE_INTERVAL_SECS: i64 = 5;
/// Device authorizations one client address may start in [`LIMIT_WINDOW_SECS`].
const STARTS_PER_ADDRESS: u32 = 30;
pub(crate) const LIMIT_WINDOW_SECS: i64 = crate::throttle::WINDOW_SECS;

/// `POST /oauth/device_authorization` (RFC 8628 §3.1).
pub(crate) async fn device_authorization<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    Body(params): Body<Params>,
) -> Result<Response, Error> {
    params.reject_duplicates()?;
    let client = client_of(&state, &params).await?;
    let target = resource::target(&state, params.get("resource")).await?;
    let scope = resource::scope_for(&target, params.get("scope"))?;
    let resource = target.audience;
    count(&state, &format!("device-start:{ip}"), STARTS_PER_ADDRESS, "device sign-ins").await?;
    let now = state.now();
    let device_code = DeviceCode::generate();
    let mut record = DeviceRecord {
        device_code_hash: device_code.hash(),
        user_code: String::new(),
        client_id: client.id.clone(),
        scope,
        resource,
        address: (!ip.is_unspecified()).then(|| ip.to_string()),
        created_at: now,
        expires_at: now + DEVICE_TTL_SECS,
        interval_secs: DEVICE_INTERVAL_SECS,
        last_polled_at: None,
        status: DeviceStatus::Pending,
        user_id: None,
        auth_time: None,
        decided_at: None,
    };
    // A live user code is unique; a taken one is drawn again.
    let mut stored = false;
    for _ in 0..8 {
        record.user_code = user_code();
        if state.store.insert_device(&record).await? {
            stored = true;
            break;
        }
    }
    if !stored {
        return Err(Error::unavailable("no free user code could be drawn; try again", 1));
    }
    tracing::info!(client = %client.id, "device authorization started");
    let verification_uri = state.endpoint("/device");
    let body = DeviceAuthorization {
        device_code: device_code.expose().to_owned(),
        verification_uri_complete: format!("{verification_uri}?user_code={}", record.user_code),
        user_code: record.user_code,
        verification_uri,
        expires_in: u64::try_from(DEVICE_TTL_SECS).unwrap_or(0),
        interval: u64::try_from(DEVICE_INTERVAL_SECS).unwrap_or(5),
    };
    Ok(no_store(Json(body).into_response()))
}
