//! One typed async function per Tauri command (see `src-tauri/src/commands`).
//!
//! Every call goes through `window.__TAURI__.core.invoke` (`app.withGlobalTauri`). A command's
//! error arrives as `{kind, message}` and is parsed into `CommandError`; anything else that
//! rejects (a missing command, a denied permission, no Tauri at all) becomes `ErrorKind::Internal`
//! with a readable message. Nothing here unwraps.

use keyway_api::Role;
use keyway_api::auth::{AuditEntry, Page};
use keyway_api::credentials::CredentialSettings;
use keyway_api::credentials::{
    AgentView, CreateServiceAccount, CreatedServiceAccount, CredentialView, MintEnrollment, MintPat, MintedSecret,
    RotateServiceToken, ServiceAccountView,
};
use keyway_api::desktop::{
    AdminSettings, AppStatus, AuditQuery, CommandError, ConnectServer, Copied, ErrorKind, Exported, LocalHubInfo,
    LocalHubSetup, ProfileChoice, Route,
};
use keyway_api::reviews::{Decide, ReviewQuery, ReviewRequest, ReviewSettings};
use keyway_api::clients::{RegisteredClient, ResourceView};
use keyway_api::scim::{CreatedScimToken, ScimTokenView};
use keyway_api::users::{CreateUser, CreatedUser, Ended, Group, SessionSettings, SessionView, UserView};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], catch)]
    async fn invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

pub type IpcResult<T> = Result<T, CommandError>;

/// Where the app stands: which page to show.
pub async fn app_status() -> IpcResult<AppStatus> {
    call("app_status", NoArgs {}).await
}

/// Whether the hub embedded in the app already has its owner account.
pub async fn local_hub_info() -> IpcResult<LocalHubInfo> {
    call("local_hub_info", NoArgs {}).await
}

/// Creates the owner account (first run) and starts the embedded hub.
pub async fn setup_local_hub(setup: &LocalHubSetup) -> IpcResult<AppStatus> {
    #[derive(Serialize)]
    struct Args<'a> {
        setup: &'a LocalHubSetup,
    }
    call("setup_local_hub", Args { setup }).await
}

/// "Try Keyway without an account": starts the learning hub and signs in to it.
pub async fn learning_start() -> IpcResult<AppStatus> {
    call("learning_start", NoArgs {}).await
}

/// "Leave learning mode": stops and erases the learning hub, back to Setup.
pub async fn learning_leave() -> IpcResult<AppStatus> {
    call("learning_leave", NoArgs {}).await
}

/// Checks the server and makes it the current profile.
pub async fn connect_server(args: &ConnectServer) -> IpcResult<AppStatus> {
    #[derive(Serialize)]
    struct Args<'a> {
        args: &'a ConnectServer,
    }
    call("connect_server", Args { args }).await
}

/// Opens the browser and waits until signed in, cancelled or timed out.
pub async fn login_start() -> IpcResult<AppStatus> {
    call("login_start", NoArgs {}).await
}

/// Cancels a pending `login_start`, which then fails with `ErrorKind::Cancelled`.
pub async fn login_cancel() -> IpcResult<()> {
    call("login_cancel", NoArgs {}).await
}

pub async fn logout() -> IpcResult<AppStatus> {
    call("logout", NoArgs {}).await
}

/// Removes the current profile, back to Setup.
pub async fn forget_profile() -> IpcResult<AppStatus> {
    call("forget_profile", NoArgs {}).await
}

/// Every profile, for the switcher.
pub async fn profiles_list() -> IpcResult<Vec<ProfileChoice>> {
    call("profiles_list", NoArgs {}).await
}

/// Switches to another profile.
pub async fn profile_use(name: &str) -> IpcResult<AppStatus> {
    call("profile_use", Name { name }).await
}

/// Signs a profile out, deletes its keychain entries and forgets it.
pub async fn profile_remove(name: &str) -> IpcResult<AppStatus> {
    call("profile_remove", Name { name }).await
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct NoArgs {}

async fn call<T: DeserializeOwned>(cmd: &str, args: impl Serialize) -> IpcResult<T> {
    let args = serde_wasm_bindgen::to_value(&args)
        .map_err(|e| internal(format!("Could not send the request “{cmd}”: {e}")))?;
    let value = invoke(cmd, args).await.map_err(|e| rejected(cmd, e))?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| internal(format!("The app's answer to “{cmd}” was not understood: {e}")))
}

fn rejected(cmd: &str, error: JsValue) -> CommandError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<CommandError>(error.clone()) {
        return error;
    }
    let detail = error
        .as_string()
        .or_else(|| error.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{error:?}"));
    internal(format!("The app could not run “{cmd}”: {detail}"))
}

fn internal(message: String) -> CommandError {
    CommandError { kind: ErrorKind::Internal, message }
}

// ---- navigation (keyway:// links)

/// The page a `keyway://` link that started the app asked for, once.
pub async fn take_route() -> IpcResult<Option<Route>> {
    call("take_route", NoArgs {}).await
}

/// A message the shell kept for the UI before it was listening (a refused callback, …), once.
pub async fn take_notice() -> IpcResult<Option<String>> {
    call("take_notice", NoArgs {}).await
}

// ---- credentials

pub async fn credentials_list(all: bool) -> IpcResult<Vec<CredentialView>> {
    #[derive(Serialize)]
    struct Args {
        all: bool,
    }
    call("credentials_list", Args { all }).await
}

pub async fn credentials_mint_pat(req: &MintPat) -> IpcResult<MintedSecret> {
    call("credentials_mint_pat", Req { req }).await
}

pub async fn credentials_mint_enrollment(req: &MintEnrollment) -> IpcResult<MintedSecret> {
    call("credentials_mint_enrollment", Req { req }).await
}

pub async fn credentials_revoke(id: &str) -> IpcResult<CredentialView> {
    call("credentials_revoke", Id { id }).await
}

pub async fn credentials_rotate(id: &str) -> IpcResult<MintedSecret> {
    call("credentials_rotate", Id { id }).await
}

pub async fn agents_list() -> IpcResult<Vec<AgentView>> {
    call("agents_list", NoArgs {}).await
}

pub async fn service_accounts_list() -> IpcResult<Vec<ServiceAccountView>> {
    call("service_accounts_list", NoArgs {}).await
}

pub async fn service_account_create(req: &CreateServiceAccount) -> IpcResult<CreatedServiceAccount> {
    call("service_account_create", Req { req }).await
}

pub async fn service_account_rotate(id: &str, req: &RotateServiceToken) -> IpcResult<MintedSecret> {
    #[derive(Serialize)]
    struct Args<'a> {
        id: &'a str,
        req: &'a RotateServiceToken,
    }
    call("service_account_rotate", Args { id, req }).await
}

pub async fn service_account_revoke(id: &str) -> IpcResult<ServiceAccountView> {
    call("service_account_revoke", Id { id }).await
}

/// Puts a secret on the clipboard, marked so clipboard history skips it, cleared later.
pub async fn copy_secret(secret: &str) -> IpcResult<Copied> {
    #[derive(Serialize)]
    struct Args<'a> {
        secret: &'a str,
    }
    call("copy_secret", Args { secret }).await
}

// ---- reviews

pub async fn reviews_list(query: &ReviewQuery) -> IpcResult<Page<ReviewRequest>> {
    #[derive(Serialize)]
    struct Args<'a> {
        query: &'a ReviewQuery,
    }
    call("reviews_list", Args { query }).await
}

pub async fn review_get(id: &str) -> IpcResult<ReviewRequest> {
    call("review_get", Id { id }).await
}

pub async fn review_decide(id: &str, decide: &Decide) -> IpcResult<ReviewRequest> {
    #[derive(Serialize)]
    struct Args<'a> {
        id: &'a str,
        decide: &'a Decide,
    }
    call("review_decide", Args { id, decide }).await
}

/// Starts forwarding the hub's live review events as `EVENT_REVIEW` (idempotent).
pub async fn reviews_subscribe() -> IpcResult<()> {
    call("reviews_subscribe", NoArgs {}).await
}

// ---- the organisation

pub async fn users_list(search: &str) -> IpcResult<Vec<UserView>> {
    #[derive(Serialize)]
    struct Args<'a> {
        search: &'a str,
    }
    call("users_list", Args { search }).await
}

pub async fn user_create(req: &CreateUser) -> IpcResult<CreatedUser> {
    call("user_create", Req { req }).await
}

pub async fn user_disable(id: &str) -> IpcResult<UserView> {
    call("user_disable", Id { id }).await
}

pub async fn user_enable(id: &str) -> IpcResult<UserView> {
    call("user_enable", Id { id }).await
}

pub async fn user_delete(id: &str) -> IpcResult<UserView> {
    call("user_delete", Id { id }).await
}

pub async fn user_set_roles(id: &str, roles: &[Role]) -> IpcResult<UserView> {
    #[derive(Serialize)]
    struct Args<'a> {
        id: &'a str,
        roles: &'a [Role],
    }
    call("user_set_roles", Args { id, roles }).await
}

/// A new one-time set-password code for the person, shown once.
pub async fn user_reset_password(id: &str) -> IpcResult<CreatedUser> {
    call("user_reset_password", Id { id }).await
}

pub async fn user_force_logout(id: &str) -> IpcResult<Ended> {
    call("user_force_logout", Id { id }).await
}

pub async fn groups_list() -> IpcResult<Vec<Group>> {
    call("groups_list", NoArgs {}).await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Member<'a> {
    role: Role,
    user_id: &'a str,
}

pub async fn group_add(role: Role, user_id: &str) -> IpcResult<UserView> {
    call("group_add", Member { role, user_id }).await
}

pub async fn group_remove(role: Role, user_id: &str) -> IpcResult<UserView> {
    call("group_remove", Member { role, user_id }).await
}

pub async fn clients_list() -> IpcResult<Vec<RegisteredClient>> {
    call("clients_list", NoArgs {}).await
}

pub async fn client_revoke(id: &str) -> IpcResult<RegisteredClient> {
    call("client_revoke", Id { id }).await
}

pub async fn resources_list() -> IpcResult<Vec<ResourceView>> {
    call("resources_list", NoArgs {}).await
}

/// Registers a resource; `scopes` is space or comma separated.
pub async fn resource_create(uri: &str, name: &str, scopes: &str) -> IpcResult<ResourceView> {
    #[derive(Serialize)]
    struct Args<'a> {
        uri: &'a str,
        name: &'a str,
        scopes: &'a str,
    }
    call("resource_create", Args { uri, name, scopes }).await
}

pub async fn resource_delete(id: &str) -> IpcResult<ResourceView> {
    call("resource_delete", Id { id }).await
}

pub async fn scim_tokens_list() -> IpcResult<Vec<ScimTokenView>> {
    call("scim_tokens_list", NoArgs {}).await
}

/// A new SCIM token for the IdP named `label`; its secret is shown once.
pub async fn scim_token_create(label: &str) -> IpcResult<CreatedScimToken> {
    #[derive(Serialize)]
    struct Args<'a> {
        label: &'a str,
    }
    call("scim_token_create", Args { label }).await
}

pub async fn scim_token_revoke(id: &str) -> IpcResult<ScimTokenView> {
    call("scim_token_revoke", Id { id }).await
}

pub async fn sessions_mine() -> IpcResult<Vec<SessionView>> {
    call("sessions_mine", NoArgs {}).await
}

pub async fn session_end(id: &str) -> IpcResult<Ended> {
    call("session_end", Id { id }).await
}

/// Ends every sign-in of mine, this one too: the app is signed out after it.
pub async fn sessions_end_all() -> IpcResult<AppStatus> {
    call("sessions_end_all", NoArgs {}).await
}

pub async fn admin_settings() -> IpcResult<AdminSettings> {
    call("admin_settings", NoArgs {}).await
}

#[derive(Serialize)]
struct Settings<'a, T> {
    settings: &'a T,
}

pub async fn settings_set_credentials(settings: &CredentialSettings) -> IpcResult<CredentialSettings> {
    call("settings_set_credentials", Settings { settings }).await
}

pub async fn settings_set_reviews(settings: &ReviewSettings) -> IpcResult<ReviewSettings> {
    call("settings_set_reviews", Settings { settings }).await
}

pub async fn settings_set_sessions(settings: &SessionSettings) -> IpcResult<SessionSettings> {
    call("settings_set_sessions", Settings { settings }).await
}

pub async fn audit_page(query: &AuditQuery, cursor: Option<&str>) -> IpcResult<Page<AuditEntry>> {
    #[derive(Serialize)]
    struct Args<'a> {
        query: &'a AuditQuery,
        cursor: Option<&'a str>,
    }
    call("audit_page", Args { query, cursor }).await
}

/// Writes the rows `query` selects to a new private file in Downloads (`jsonl` or `csv`).
pub async fn audit_export(query: &AuditQuery, format: &str) -> IpcResult<Exported> {
    #[derive(Serialize)]
    struct Args<'a> {
        query: &'a AuditQuery,
        format: &'a str,
    }
    call("audit_export", Args { query, format }).await
}

#[derive(Serialize)]
struct Req<'a, T> {
    req: &'a T,
}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

// ---- events

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(event: &str, handler: &Closure<dyn FnMut(JsValue)>) -> Result<JsValue, JsValue>;
}

/// Calls `handler` with each payload of the Tauri event `name` for as long as the UI lives.
/// Payloads that do not parse as `T` are reported on the console and skipped.
pub async fn listen<T: DeserializeOwned + 'static>(name: &'static str, mut handler: impl FnMut(T) + 'static) {
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload = js_sys::Reflect::get(&event, &"payload".into()).unwrap_or(JsValue::NULL);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(value) => handler(value),
            Err(e) => web_sys_log(&format!("ignored a malformed “{name}” event: {e}")),
        }
    });
    if let Err(e) = tauri_listen(name, &closure).await {
        web_sys_log(&format!("could not listen to “{name}”: {e:?}"));
    }
    // The listener lives as long as the window.
    closure.forget();
}

fn web_sys_log(message: &str) {
    js_sys::Reflect::get(&js_sys::global(), &"console".into()).ok().and_then(|console| {
        let warn = js_sys::Reflect::get(&console, &"warn".into()).ok()?;
        warn.dyn_ref::<js_sys::Function>()?.call1(&console, &message.into()).ok()
    });
}

#[derive(Serialize)]
struct Code<'a> {
    code: &'a str,
}

/// Which client asks to sign in with this user code, from where and when (reads only).
pub async fn device_lookup(code: &str) -> IpcResult<keyway_api::clients::DeviceRequest> {
    call("device_lookup", Code { code }).await
}

/// Signs the device of this user code in as me.
pub async fn device_approve(code: &str) -> IpcResult<keyway_api::clients::DeviceDecided> {
    call("device_approve", Code { code }).await
}

pub async fn device_deny(code: &str) -> IpcResult<keyway_api::clients::DeviceDecided> {
    call("device_deny", Code { code }).await
}
