//! Opens the sign-in page in the person's browser.
//!
//! `tauri-plugin-opener` goes through the `open` crate, which on Linux runs `xdg-open`, `gio`,
//! `gnome-open` or `kde-open` and ignores the `BROWSER` environment variable (the `open` crate
//! documents this); `xdg-open` itself only falls back to `BROWSER` when no desktop default is
//! registered. So when `BROWSER` is set, the app runs it itself: the first word is the program,
//! the rest its arguments, `%s` is replaced by the URL or the URL is appended, and a `:`-separated
//! list is tried left to right (the convention of xdg-utils and Python's `webbrowser`). The
//! end-to-end tests use this to play the browser with `tests/support/scripted-browser.sh`.
//! Without `BROWSER`, the plugin opens the system default browser.

use std::process::{Command, Stdio};

use keyway_client::login::Opener;
use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

pub fn browser_opener<R: Runtime>(app: AppHandle<R>) -> Opener {
    Box::new(move |url: &str| match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => run_browser_env(&browser, url),
        _ => app.opener().open_url(url, None::<&str>).map_err(|e| format!("Could not open the web browser: {e}")),
    })
}

fn run_browser_env(browser: &str, url: &str) -> Result<(), String> {
    let mut last_error = None;
    for entry in browser.split(':').filter(|e| !e.trim().is_empty()) {
        let mut words = entry.split_whitespace();
        let Some(program) = words.next() else {
            continue;
        };
        let mut args: Vec<String> = words.map(|w| w.replace("%s", url)).collect();
        if !entry.contains("%s") {
            args.push(url.to_owned());
        }
        let mut cmd = Command::new(program);
        cmd.args(&args).stdin(Stdio::null());
        crate::rendering::restore_for_child(&mut cmd);
        match cmd.spawn() {
            Ok(mut child) => {
                tracing::info!(program, "opened the sign-in page with $BROWSER");
                let program = program.to_owned();
                // Reap the browser process; a failing one is worth a line in the log.
                std::thread::spawn(move || match child.wait() {
                    Ok(status) if !status.success() => {
                        tracing::warn!(program, %status, "the $BROWSER program failed")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(program, %error, "waiting for $BROWSER failed"),
                });
                return Ok(());
            }
            Err(error) => last_error = Some(format!("Could not run the browser “{program}” from $BROWSER: {error}")),
        }
    }
    Err(last_error.unwrap_or_else(|| "The BROWSER environment variable names no program.".to_owned()))
}
