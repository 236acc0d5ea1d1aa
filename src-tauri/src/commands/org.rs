//! The organisation: users and groups, my sign-ins, the admin settings and the audit log. Each
//! command is one call of keyway-client, which fetches the `user_admin` token a change needs;
//! the hub decides who may do what, so a refusal arrives here as the hub's own message.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Page};
use keyway_api::clients::{CreateResource, RegisteredClient, ResourceView};
use keyway_api::credentials::CredentialSettings;
use keyway_api::desktop::{AdminSettings, AppStatus, AuditQuery, Exported};
use keyway_api::reviews::ReviewSettings;
use keyway_api::scim::{CreatedScimToken, ScimTokenView};
use keyway_api::users::{CreateUser, CreatedUser, Ended, Group, SessionSettings, SessionView, UserView};
use keyway_client::SecretString;
use keyway_client::audit::{AuditFilter, ExportFormat};
use tauri::{AppHandle, Manager, State};

use crate::error::{CommandResult, internal, invalid_input};
use crate::state::DesktopState;

// ---- users and groups

#[tauri::command]
pub async fn users_list(state: State<'_, DesktopState>, search: String) -> CommandResult<Vec<UserView>> {
    let search = search.trim();
    Ok(state.signed_in_client().await?.list_users((!search.is_empty()).then_some(search), false).await?)
}

#[tauri::command]
pub async fn user_create(state: State<'_, DesktopState>, req: CreateUser) -> CommandResult<CreatedUser> {
    let CreateUser { username, roles, password } = req;
    let password = password.filter(|p| !p.is_empty()).map(SecretString::from);
    Ok(state.signed_in_client().await?.create_user(username.trim(), roles, password.as_ref()).await?)
}

#[tauri::command]
pub async fn user_disable(state: State<'_, DesktopState>, id: String) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.disable_user(&id).await?)
}

#[tauri::command]
pub async fn user_enable(state: State<'_, DesktopState>, id: String) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.enable_user(&id).await?)
}

#[tauri::command]
pub async fn user_delete(state: State<'_, DesktopState>, id: String) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.delete_user(&id).await?)
}

#[tauri::command]
pub async fn user_set_roles(state: State<'_, DesktopState>, id: String, roles: Vec<Role>) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.set_user_roles(&id, roles).await?)
}

/// A new one-time set-password code for the person (shown once by the window).
#[tauri::command]
pub async fn user_reset_password(state: State<'_, DesktopState>, id: String) -> CommandResult<CreatedUser> {
    Ok(state.signed_in_client().await?.reset_password(&id, None).await?)
}

/// Ends every sign-in of the person and revokes what was exchanged from them.
#[tauri::command]
pub async fn user_force_logout(state: State<'_, DesktopState>, id: String) -> CommandResult<Ended> {
    Ok(state.signed_in_client().await?.force_logout(&id).await?)
}

#[tauri::command]
pub async fn groups_list(state: State<'_, DesktopState>) -> CommandResult<Vec<Group>> {
    Ok(state.signed_in_client().await?.groups().await?)
}

#[tauri::command]
pub async fn group_add(state: State<'_, DesktopState>, role: Role, user_id: String) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.add_to_group(role, &user_id).await?)
}

#[tauri::command]
pub async fn group_remove(state: State<'_, DesktopState>, role: Role, user_id: String) -> CommandResult<UserView> {
    Ok(state.signed_in_client().await?.remove_from_group(role, &user_id).await?)
}

// ---- SCIM provisioning tokens

// ---- agents and MCP clients: registered clients and resources

#[tauri::command]
pub async fn clients_list(state: State<'_, DesktopState>) -> CommandResult<Vec<RegisteredClient>> {
    Ok(state.signed_in_client().await?.registered_clients().await?)
}

#[tauri::command]
pub async fn client_revoke(state: State<'_, DesktopState>, id: String) -> CommandResult<RegisteredClient> {
    Ok(state.signed_in_client().await?.revoke_client(&id).await?)
}

#[tauri::command]
pub async fn resources_list(state: State<'_, DesktopState>) -> CommandResult<Vec<ResourceView>> {
    Ok(state.signed_in_client().await?.resources().await?)
}

#[tauri::command]
pub async fn resource_create(
    state: State<'_, DesktopState>,
    uri: String,
    name: String,
    scopes: String,
) -> CommandResult<ResourceView> {
    let scopes = scopes.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let resource = CreateResource { uri: uri.trim().to_owned(), name: name.trim().to_owned(), scopes };
    Ok(state.signed_in_client().await?.create_resource(&resource).await?)
}

#[tauri::command]
pub async fn resource_delete(state: State<'_, DesktopState>, id: String) -> CommandResult<ResourceView> {
    Ok(state.signed_in_client().await?.delete_resource(&id).await?)
}

#[tauri::command]
pub async fn scim_tokens_list(state: State<'_, DesktopState>) -> CommandResult<Vec<ScimTokenView>> {
    Ok(state.signed_in_client().await?.scim_tokens().await?)
}

/// A new SCIM token; its secret passes through to the window once.
#[tauri::command]
pub async fn scim_token_create(state: State<'_, DesktopState>, label: String) -> CommandResult<CreatedScimToken> {
    let label = label.trim();
    Ok(state.signed_in_client().await?.create_scim_token((!label.is_empty()).then_some(label)).await?)
}

#[tauri::command]
pub async fn scim_token_revoke(state: State<'_, DesktopState>, id: String) -> CommandResult<ScimTokenView> {
    Ok(state.signed_in_client().await?.revoke_scim_token(&id).await?)
}

// ---- my sign-ins

#[tauri::command]
pub async fn sessions_mine(state: State<'_, DesktopState>) -> CommandResult<Vec<SessionView>> {
    Ok(state.signed_in_client().await?.my_sessions().await?)
}

/// Ends one of my other sign-ins (this one ends with `logout`).
#[tauri::command]
pub async fn session_end(state: State<'_, DesktopState>, id: String) -> CommandResult<Ended> {
    Ok(state.signed_in_client().await?.end_session(&id).await?)
}

/// Ends all my sign-ins, this one too, and so signs the app out.
#[tauri::command]
pub async fn sessions_end_all(state: State<'_, DesktopState>) -> CommandResult<AppStatus> {
    state.signed_in_client().await?.end_all_sessions().await?;
    state.logout().await
}

// ---- settings

#[tauri::command]
pub async fn admin_settings(state: State<'_, DesktopState>) -> CommandResult<AdminSettings> {
    let client = state.signed_in_client().await?;
    let (credentials, reviews, sessions) =
        tokio::try_join!(client.credential_settings(), client.review_settings(), client.session_settings())?;
    Ok(AdminSettings { credentials, reviews, sessions })
}

#[tauri::command]
pub async fn settings_set_credentials(
    state: State<'_, DesktopState>,
    settings: CredentialSettings,
) -> CommandResult<CredentialSettings> {
    Ok(state.signed_in_client().await?.set_credential_settings(&settings).await?)
}

#[tauri::command]
pub async fn settings_set_reviews(
    state: State<'_, DesktopState>,
    settings: ReviewSettings,
) -> CommandResult<ReviewSettings> {
    Ok(state.signed_in_client().await?.set_review_settings(&settings).await?)
}

#[tauri::command]
pub async fn settings_set_sessions(
    state: State<'_, DesktopState>,
    settings: SessionSettings,
) -> CommandResult<SessionSettings> {
    Ok(state.signed_in_client().await?.set_session_settings(&settings).await?)
}

// ---- audit

#[tauri::command]
pub async fn audit_page(
    state: State<'_, DesktopState>,
    query: AuditQuery,
    cursor: Option<String>,
) -> CommandResult<Page<AuditEntry>> {
    Ok(state.signed_in_client().await?.audit_page(&filter(&query), cursor.as_deref()).await?)
}

/// Writes every row the query selects to a new file in the Downloads folder, readable by the
/// person only (the log names people and addresses).
#[tauri::command]
pub async fn audit_export(
    app: AppHandle,
    state: State<'_, DesktopState>,
    query: AuditQuery,
    format: String,
) -> CommandResult<Exported> {
    let format = ExportFormat::parse(&format).ok_or_else(|| invalid_input("Export as JSON Lines or CSV."))?;
    let client = state.signed_in_client().await?;
    let dir = export_dir(&app)?;
    let stamp = keyway_client::audit::format_time(keyway_client::now()).replace([':', ' '], "-");
    let ext = if format == ExportFormat::Csv { "csv" } else { "jsonl" };
    let (path, file) = create_private(&dir, &format!("keyway-audit-{stamp}"), ext)?;
    let mut out = std::io::BufWriter::new(file);
    let written = client.audit_export(&filter(&query), format, &mut out).await;
    let flushed = out.flush();
    match (written, flushed) {
        (Ok(rows), Ok(())) => Ok(Exported { path: path.display().to_string(), rows }),
        (Err(error), _) => {
            let _ = std::fs::remove_file(&path);
            Err(error.into())
        }
        (Ok(_), Err(error)) => {
            let _ = std::fs::remove_file(&path);
            Err(internal(format!("Could not write {}: {error}", path.display())))
        }
    }
}

fn filter(q: &AuditQuery) -> AuditFilter {
    let given = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    AuditFilter {
        actor: given(&q.actor),
        action: given(&q.action),
        outcome: given(&q.outcome),
        since: q.since,
        until: q.until,
    }
}

/// The person's Downloads folder, or `~/Downloads` where the desktop names none.
fn export_dir(app: &AppHandle) -> CommandResult<PathBuf> {
    let dir = match app.path().download_dir() {
        Ok(dir) => dir,
        Err(_) => {
            app.path().home_dir().map_err(|e| internal(format!("No home folder to export to: {e}")))?.join("Downloads")
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| internal(format!("Could not create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// A new file `<stem>.<ext>` (or `<stem>-2.<ext>`, …) in `dir`, mode 0600, never an existing one.
fn create_private(dir: &Path, stem: &str, ext: &str) -> CommandResult<(PathBuf, std::fs::File)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    for n in 1..100 {
        let name = if n == 1 { format!("{stem}.{ext}") } else { format!("{stem}-{n}.{ext}") };
        let path = dir.join(name);
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(internal(format!("Could not create {}: {e}", path.display()))),
        }
    }
    Err(internal(format!("Too many exports named {stem} in {}", dir.display())))
}
