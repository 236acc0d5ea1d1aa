//! Keyway desktop: a Tauri 2 shell. The Leptos UI (../ui) talks to it over IPC with the types in
//! `keyway_api::desktop`; the work is done by keyway-client and, for "Use a local hub", by an
//! embedded keyway-hub.
//!
//! - `commands/`: one thin adapter per IPC command.
//! - `state`: configuration, keychain, session and embedded hub, behind one async mutex.
//! - `local_hub`: the embedded hub's life cycle and port.
//! - `opener`: opens the sign-in page (honours `BROWSER`).

mod commands;
mod error;
mod local_hub;
mod opener;
mod state;

use tauri::Manager;

use crate::state::AppState;

pub fn run() {
    init_tracing();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let data_dir = app.path().app_data_dir()?;
            app.manage(AppState::new(data_dir));
            // Start the embedded hub now rather than on the first command; commands wait for it.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = handle.state::<AppState>().prepare().await {
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
            commands::setup::local_hub_info,
            commands::setup::setup_local_hub,
            commands::setup::connect_server,
            commands::setup::forget_profile,
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
