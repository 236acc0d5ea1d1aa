//! Where the app stands, signing in through the browser, signing out.

use keyway_api::desktop::{AppStatus, Route};
use keyway_client::RedirectStyle;
use tauri::{AppHandle, State};

use crate::error::CommandResult;
use crate::incoming::Mailbox;
use crate::opener::browser_opener;
use crate::state::DesktopState;

#[tauri::command]
pub async fn app_status(state: State<'_, DesktopState>) -> CommandResult<AppStatus> {
    state.status().await
}

/// Long-running: resolves when signed in, cancelled (`login_cancel`) or timed out. After a
/// sign-in through the deep link the UI is also sent to the session page (the browser, not the
/// app, had the person's attention).
#[tauri::command]
pub async fn login_start(app: AppHandle, state: State<'_, DesktopState>) -> CommandResult<AppStatus> {
    let (status, style) = state.login(Some(browser_opener(app.clone()))).await?;
    if style == RedirectStyle::DeepLink {
        crate::incoming::navigate(&app, Route::Session);
    }
    Ok(status)
}

/// The page a link asked for before the UI was listening (once; afterwards links arrive as
/// `EVENT_NAVIGATE`).
#[tauri::command]
pub fn take_route(mailbox: State<'_, Mailbox>) -> Option<Route> {
    mailbox.take_route()
}

/// A message (refused sign-in answer, link not understood) from before the UI was listening.
#[tauri::command]
pub fn take_notice(mailbox: State<'_, Mailbox>) -> Option<String> {
    mailbox.take_notice()
}

#[tauri::command]
pub fn login_cancel(state: State<'_, DesktopState>) -> CommandResult<()> {
    state.cancel_login();
    Ok(())
}

#[tauri::command]
pub async fn logout(
    state: State<'_, DesktopState>,
    feed: State<'_, crate::live::ReviewFeed>,
) -> CommandResult<AppStatus> {
    feed.stop();
    state.logout().await
}
