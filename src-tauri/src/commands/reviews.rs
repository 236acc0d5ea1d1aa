//! The approval queue: list, read, decide, and the live feed (`crate::live`).

use keyway_api::auth::Page;
use keyway_api::reviews::{Decide, ReviewQuery, ReviewRequest};
use tauri::{AppHandle, State};

use crate::error::CommandResult;
use crate::live::ReviewFeed;
use crate::state::DesktopState;

#[tauri::command]
pub async fn reviews_list(state: State<'_, DesktopState>, query: ReviewQuery) -> CommandResult<Page<ReviewRequest>> {
    Ok(state.signed_in_client().await?.list_reviews(&query).await?)
}

#[tauri::command]
pub async fn review_get(state: State<'_, DesktopState>, id: String) -> CommandResult<ReviewRequest> {
    Ok(state.signed_in_client().await?.get_review(&id).await?)
}

#[tauri::command]
pub async fn review_decide(state: State<'_, DesktopState>, id: String, decide: Decide) -> CommandResult<ReviewRequest> {
    Ok(state.signed_in_client().await?.decide_review(&id, &decide).await?)
}

/// Starts forwarding live review events to the window (once per signed-in client).
#[tauri::command]
pub async fn reviews_subscribe(
    app: AppHandle,
    state: State<'_, DesktopState>,
    feed: State<'_, ReviewFeed>,
) -> CommandResult<()> {
    let client = state.signed_in_client().await?;
    feed.start(app, client);
    Ok(())
}
