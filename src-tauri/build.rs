//! Reads the top-level `tauri.conf.json` and declares the app's own commands, so that each one
//! gets an `allow-<command>` permission and is callable only when a capability grants it.

use std::path::Path;

/// Shown when the app is built before the UI: the build still succeeds (so `cargo check
/// --workspace` needs no trunk), and the window says what to do.
const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keyway</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem; color: #18202b">
<h1 style="font-size: 1.3rem">The Keyway UI has not been built</h1>
<p>Run <code>trunk build --release</code> in <code>ui/</code> (or <code>cargo xtask run</code>),
then build <code>keyway-desktop</code> again.</p>
</body></html>
"#;

fn main() {
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        println!("cargo:warning=ui/dist is missing: embedding a placeholder page (build the UI with trunk)");
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(dist.join("index.html"), PLACEHOLDER).expect("write ui/dist/index.html");
    }
    const COMMANDS: &[&str] = &[
        "app_status",
        "local_hub_info",
        "setup_local_hub",
        "learning_start",
        "learning_leave",
        "connect_server",
        "login_start",
        "login_cancel",
        "logout",
        "forget_profile",
        "profiles_list",
        "profile_use",
        "profile_remove",
        "take_route",
        "take_notice",
        "credentials_list",
        "credentials_mint_pat",
        "credentials_mint_enrollment",
        "credentials_revoke",
        "credentials_rotate",
        "users_list",
        "user_create",
        "user_disable",
        "user_enable",
        "user_delete",
        "user_set_roles",
        "user_reset_password",
        "user_force_logout",
        "groups_list",
        "group_add",
        "group_remove",
        "sessions_mine",
        "session_end",
        "sessions_end_all",
        "admin_settings",
        "settings_set_credentials",
        "settings_set_reviews",
        "settings_set_sessions",
        "audit_page",
        "audit_export",
        "scim_tokens_list",
        "scim_token_create",
        "scim_token_revoke",
        "clients_list",
        "client_revoke",
        "resources_list",
        "resource_create",
        "resource_delete",
        "agents_list",
        "service_accounts_list",
        "service_account_create",
        "service_account_rotate",
        "service_account_revoke",
        "copy_secret",
        "reviews_list",
        "review_get",
        "review_decide",
        "reviews_subscribe",
        "device_lookup",
        "device_approve",
        "device_deny",
    ];
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
