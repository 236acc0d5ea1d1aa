//! Where the app stands, signing in through the browser, signing out.

use keyway_api::desktop::AppStatus;
use tauri::{AppHandle, State};

use crate::error::CommandResult;
use crate::opener::browser_opener;
use crate::state::AppState;

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    state.status().await
}

/// Long-running: resolves when signed in, cancelled (`login_cancel`) or timed out.
#[tauri::command]
pub async fn login_start(app: AppHandle, state: State<'_, AppState>) -> CommandResult<AppStatus> {
    state.login(browser_opener(app)).await
}

#[tauri::command]
pub fn login_cancel(state: State<'_, AppState>) -> CommandResult<()> {
    state.cancel_login();
    Ok(())
}

#[tauri::command]
pub async fn logout(state: State<'_, AppState>, live: State<'_, crate::live::Live>) -> CommandResult<AppStatus> {
    live.stop();
    state.logout().await
}
