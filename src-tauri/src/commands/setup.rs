//! Choosing where to sign in: the embedded hub or a server.

use keyway_api::desktop::{AppStatus, ConnectServer, LocalHubInfo, LocalHubSetup, ProfileChoice};
use tauri::State;

use crate::error::CommandResult;
use crate::state::DesktopState;

#[tauri::command]
pub async fn local_hub_info(state: State<'_, DesktopState>) -> CommandResult<LocalHubInfo> {
    Ok(LocalHubInfo { initialized: state.local_hub_initialized().await? })
}

#[tauri::command]
pub async fn setup_local_hub(state: State<'_, DesktopState>, setup: LocalHubSetup) -> CommandResult<AppStatus> {
    state.setup_local_hub(&setup).await
}

/// "Try Keyway without an account": a learning-mode hub of its own, signed in at once (its
/// authorization answers without a form, so the app takes the request there itself).
#[tauri::command]
pub async fn learning_start(state: State<'_, DesktopState>) -> CommandResult<AppStatus> {
    state.start_learning().await?;
    let (status, _) = state.login(None).await?;
    Ok(status)
}

/// "Leave learning mode": the learning hub stopped and erased, back to set-up.
#[tauri::command]
pub async fn learning_leave(
    state: State<'_, DesktopState>,
    feed: State<'_, crate::live::ReviewFeed>,
) -> CommandResult<AppStatus> {
    feed.stop();
    state.leave_learning().await
}

#[tauri::command]
pub async fn connect_server(state: State<'_, DesktopState>, args: ConnectServer) -> CommandResult<AppStatus> {
    state.connect_server(&args.url).await
}

#[tauri::command]
pub async fn forget_profile(state: State<'_, DesktopState>) -> CommandResult<AppStatus> {
    state.forget_profile().await
}

#[tauri::command]
pub async fn profiles_list(state: State<'_, DesktopState>) -> CommandResult<Vec<ProfileChoice>> {
    state.profiles().await
}

#[tauri::command]
pub async fn profile_use(state: State<'_, DesktopState>, name: String) -> CommandResult<AppStatus> {
    state.use_profile(&name).await
}

#[tauri::command]
pub async fn profile_remove(state: State<'_, DesktopState>, name: String) -> CommandResult<AppStatus> {
    state.remove_profile(&name).await
}
