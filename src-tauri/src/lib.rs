//! Keyway desktop: a Tauri 2 shell. The Leptos UI (../ui) talks to it over IPC with the types in
//! `keyway_api::desktop`; the work is done by keyway-client and, for "Use a local hub", by an
//! embedded keyway-hub.
//!
//! - `commands/`: one thin adapter per IPC command.
//! - `state`: configuration, keychain, session and embedded hub, behind one async mutex.
//! - `local_hub`: the embedded hub's life cycle and port.
//! - `opener`: opens the sign-in page (honours `BROWSER`).
//! - `clipboard`: copies secrets so that clipboard history skips them, and clears them later.
//! - `live`: forwards the hub's live review events to the window, and notifies.
//! - `links` (keyway-client's): what an incoming URL is (sign-in answer, page link, not
//!   understood); pure.
//! - `incoming`: acting on it (deliver, navigate, notice) and the UI's start-up mailbox.
//!
//! One instance per desktop session: a second launch (e.g. the OS opening a `keyway://` link or
//! the browser's deep-link sign-in answer) hands its URL to the running app over D-Bus and exits
//! (tauri-plugin-single-instance with tauri-plugin-deep-link). The window's size and position
//! are remembered (tauri-plugin-window-state).

mod clipboard;
mod commands;
mod error;
pub mod first_paint;
mod incoming;
mod live;
mod local_hub;
mod opener;
pub mod rendering;
mod state;
mod window_state;

pub use keyway_client::links;
use tauri::Manager;
use tauri_plugin_deep_link::DeepLinkExt;

use crate::state::DesktopState;

pub fn run() {
    init_tracing();
    let builder = tauri::Builder::default()
        // First: a second launch must hand over its URL and exit before anything else starts.
        // With the `deep-link` feature it passes the URL to the deep-link plugin, whose event
        // `incoming::handle` receives; this callback only raises the window.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| incoming::focus_main(app)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_opener::init());
    let result = first_paint::watch(builder)
        .on_page_load(first_paint::on_page_load)
        .on_window_event(window_state::on_window_event)
        .setup(|app| {
            let data_dir = app.path().app_data_dir()?;
            app.manage(DesktopState::new(data_dir));
            app.manage(clipboard::Clipboard::default());
            app.manage(live::ReviewFeed::default());
            app.manage(incoming::Mailbox::default());
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                incoming::handle(&handle, event.urls().into_iter().map(String::from));
            });
            // The URL this launch was started with, if any (read by the plugin from argv).
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                incoming::handle(app.handle(), urls.into_iter().map(String::from));
            }
            // Start the embedded hub now rather than on the first command; commands wait for it.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = handle.state::<DesktopState>().prepare().await {
                    tracing::warn!(%error, "start-up preparation failed; the window will show it");
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::session::app_status,
            commands::session::login_start,
            commands::session::login_cancel,
            commands::session::logout,
            commands::session::take_route,
            commands::session::take_notice,
            commands::setup::local_hub_info,
            commands::setup::setup_local_hub,
            commands::setup::learning_start,
            commands::setup::learning_leave,
            commands::setup::connect_server,
            commands::setup::forget_profile,
            commands::setup::profiles_list,
            commands::setup::profile_use,
            commands::setup::profile_remove,
            commands::credentials::credentials_list,
            commands::credentials::credentials_mint_pat,
            commands::credentials::credentials_mint_enrollment,
            commands::credentials::credentials_revoke,
            commands::credentials::credentials_rotate,
            commands::credentials::agents_list,
            commands::credentials::service_accounts_list,
            commands::credentials::service_account_create,
            commands::credentials::service_account_rotate,
            commands::credentials::service_account_revoke,
            commands::clipboard::copy_secret,
            commands::reviews::reviews_list,
            commands::reviews::review_get,
            commands::reviews::review_decide,
            commands::reviews::reviews_subscribe,
            commands::org::users_list,
            commands::org::user_create,
            commands::org::user_disable,
            commands::org::user_enable,
            commands::org::user_delete,
            commands::org::user_set_roles,
            commands::org::user_reset_password,
            commands::org::user_force_logout,
            commands::org::groups_list,
            commands::org::group_add,
            commands::org::group_remove,
            commands::org::sessions_mine,
            commands::org::session_end,
            commands::org::sessions_end_all,
            commands::org::admin_settings,
            commands::org::settings_set_credentials,
            commands::org::settings_set_reviews,
            commands::org::settings_set_sessions,
            commands::org::audit_page,
            commands::org::audit_export,
            commands::org::clients_list,
            commands::org::client_revoke,
            commands::org::resources_list,
            commands::org::resource_create,
            commands::org::resource_delete,
            commands::org::scim_tokens_list,
            commands::org::scim_token_create,
            commands::org::scim_token_revoke,
            commands::device::device_lookup,
            commands::device::device_approve,
            commands::device::device_deny,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(error) = result {
        tracing::error!(%error, "the app stopped with an error");
        std::process::exit(1);
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default level.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
