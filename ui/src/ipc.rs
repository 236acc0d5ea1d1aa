//! One typed async function per Tauri command (see `src-tauri/src/commands`).
//!
//! Every call goes through `window.__TAURI__.core.invoke` (`app.withGlobalTauri`). A command's
//! error arrives as `{kind, message}` and is parsed into `CommandError`; anything else that
//! rejects (a missing command, a denied permission, no Tauri at all) becomes `ErrorKind::Internal`
//! with a readable message. Nothing here unwraps.

use keyway_api::desktop::{AppStatus, CommandError, ConnectServer, ErrorKind, LocalHubInfo, LocalHubSetup};
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
