//! The "Approve a device" dialog (RFC 8628): look a device's sign-in up by its user code, then
//! approve or deny it as the signed-in person. The dialog approves only on a click; these
//! commands are the hub calls behind it (`POST /oauth/device/lookup`, `…/approve`, `…/deny`).

use keyway_api::clients::{DeviceDecided, DeviceRequest};
use tauri::State;

use crate::error::CommandResult;
use crate::state::DesktopState;

/// Which client asks, from where and when. Reads only.
#[tauri::command]
pub async fn device_lookup(state: State<'_, DesktopState>, code: String) -> CommandResult<DeviceRequest> {
    Ok(state.signed_in_client().await?.lookup_device(&code).await?)
}

#[tauri::command]
pub async fn device_approve(state: State<'_, DesktopState>, code: String) -> CommandResult<DeviceDecided> {
    Ok(state.signed_in_client().await?.approve_device(&code).await?)
}

#[tauri::command]
pub async fn device_deny(state: State<'_, DesktopState>, code: String) -> CommandResult<DeviceDecided> {
    Ok(state.signed_in_client().await?.deny_device(&code).await?)
}
