//! Choosing where to sign in: the embedded hub or a server.

use keyway_api::desktop::{AppStatus, ConnectServer, LocalHubInfo, LocalHubSetup};
use tauri::State;

use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
pub async fn local_hub_info(state: State<'_, AppState>) -> CommandResult<LocalHubInfo> {
    Ok(LocalHubInfo { initialized: state.local_hub_initialized().await? })
}

#[tauri::command]
pub async fn setup_local_hub(state: State<'_, AppState>, setup: LocalHubSetup) -> CommandResult<AppStatus> {
    state.setup_local_hub(&setup).await
}

#[tauri::command]
pub async fn connect_server(state: State<'_, AppState>, args: ConnectServer) -> CommandResult<AppStatus> {
    state.connect_server(&args.url).await
}

#[tauri::command]
pub async fn forget_profile(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    state.forget_profile().await
}
