//! Credentials: list, mint, rotate and revoke PATs, enrollment tokens and service accounts.
//! New secrets pass through to the window once (it shows them and forgets them); the app keeps
//! none of them. The user_admin token these need is fetched by keyway-client when the person
//! acts, and lives five minutes.

use keyway_api::credentials::{
    AgentView, CreateServiceAccount, CreatedServiceAccount, CredentialView, MintEnrollment, MintPat, MintedSecret,
    RotateServiceToken, ServiceAccountView,
};
use tauri::State;

use crate::error::CommandResult;
use crate::state::DesktopState;

#[tauri::command]
pub async fn credentials_list(state: State<'_, DesktopState>, all: bool) -> CommandResult<Vec<CredentialView>> {
    Ok(state.signed_in_client().await?.list_credentials(all).await?)
}

#[tauri::command]
pub async fn credentials_mint_pat(state: State<'_, DesktopState>, req: MintPat) -> CommandResult<MintedSecret> {
    Ok(state.signed_in_client().await?.mint_pat(&req).await?)
}

#[tauri::command]
pub async fn credentials_mint_enrollment(
    state: State<'_, DesktopState>,
    req: MintEnrollment,
) -> CommandResult<MintedSecret> {
    Ok(state.signed_in_client().await?.mint_enrollment(&req).await?)
}

#[tauri::command]
pub async fn credentials_revoke(state: State<'_, DesktopState>, id: String) -> CommandResult<CredentialView> {
    Ok(state.signed_in_client().await?.revoke_credential(&id).await?)
}

#[tauri::command]
pub async fn credentials_rotate(state: State<'_, DesktopState>, id: String) -> CommandResult<MintedSecret> {
    Ok(state.signed_in_client().await?.rotate_credential(&id).await?)
}

#[tauri::command]
pub async fn agents_list(state: State<'_, DesktopState>) -> CommandResult<Vec<AgentView>> {
    Ok(state.signed_in_client().await?.list_agents(false).await?)
}

#[tauri::command]
pub async fn service_accounts_list(state: State<'_, DesktopState>) -> CommandResult<Vec<ServiceAccountView>> {
    Ok(state.signed_in_client().await?.list_service_accounts().await?)
}

#[tauri::command]
pub async fn service_account_create(
    state: State<'_, DesktopState>,
    req: CreateServiceAccount,
) -> CommandResult<CreatedServiceAccount> {
    Ok(state.signed_in_client().await?.create_service_account(&req).await?)
}

#[tauri::command]
pub async fn service_account_rotate(
    state: State<'_, DesktopState>,
    id: String,
    req: RotateServiceToken,
) -> CommandResult<MintedSecret> {
    Ok(state.signed_in_client().await?.rotate_service_account(&id, &req).await?)
}

#[tauri::command]
pub async fn service_account_revoke(state: State<'_, DesktopState>, id: String) -> CommandResult<ServiceAccountView> {
    Ok(state.signed_in_client().await?.revoke_service_account(&id).await?)
}
