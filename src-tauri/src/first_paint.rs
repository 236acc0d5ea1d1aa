//! For `cargo xtask bench desktop`: with `KEYWAY_REPORT_FIRST_PAINT` set, the app prints on
//! stderr `keyway-first-paint-unix-ms=<t>`, the wall-clock time of the first frame painted after
//! the page shows text (two animation frames after the body has any), and
//! `keyway-startup-phases=<json>`, the wall-clock times of the steps before it: navigation
//! start, the document parsed, the page loaded (the UI's WebAssembly started) and the first
//! text. Nothing happens without the variable. The bare-window example of the benchmark uses the
//! same hooks.

use std::time::Duration;

use tauri::plugin::TauriPlugin;
use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{Runtime, Webview};

pub const ENV: &str = "KEYWAY_REPORT_FIRST_PAINT";
pub const MARK: &str = "keyway-first-paint-unix-ms=";
pub const PHASES_MARK: &str = "keyway-startup-phases=";

/// Runs at document start (before the page's own scripts), so the first text is seen when it
/// appears, not when the page load finishes.
const WATCH: &str = r#"(function () {
  if (window.top !== window) return;
  function check() {
    if (document.body && document.body.innerText.trim().length > 0) {
      var text = performance.now();
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          var t0 = performance.timeOrigin;
          var nav = performance.getEntriesByType('navigation')[0];
          window.__keywayPhases = JSON.stringify({
            navigation: t0,
            document_parsed: nav && nav.domInteractive > 0 ? t0 + nav.domInteractive : null,
            loaded: nav && nav.loadEventEnd > 0 ? t0 + nav.loadEventEnd : null,
            text: t0 + text
          });
          window.__keywayPainted = t0 + performance.now();
        });
      });
    } else {
      setTimeout(check, 2);
    }
  }
  check();
})();"#;

/// The watcher as a plugin whose script runs at document start; `None` without the variable.
fn plugin<R: Runtime>() -> Option<TauriPlugin<R>> {
    std::env::var_os(ENV)?;
    Some(tauri::plugin::Builder::new("keyway-first-paint").js_init_script(WATCH.to_owned()).build())
}

/// `builder` with the watcher when the variable is set (its page-load half is [`on_page_load`]).
pub fn watch<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    match plugin() {
        Some(watcher) => builder.plugin(watcher),
        None => builder,
    }
}

/// Call from `on_page_load`: once the page has loaded, waits for the watcher's marks and prints
/// them.
pub fn on_page_load<R: Runtime>(webview: &Webview<R>, payload: &PageLoadPayload<'_>) {
    if payload.event() != PageLoadEvent::Finished || std::env::var_os(ENV).is_none() {
        return;
    }
    let webview = webview.clone();
    std::thread::spawn(move || {
        let read = |expr: &str| -> Option<String> {
            let (tx, rx) = std::sync::mpsc::channel();
            webview.eval_with_callback(expr, move |v| drop(tx.send(v))).ok()?;
            rx.recv_timeout(Duration::from_secs(1)).ok()
        };
        // Poll for the mark for at most a minute.
        for _ in 0..6000 {
            if let Some(ms) = read("window.__keywayPainted || 0").and_then(|v| v.trim().parse::<f64>().ok())
                && ms > 0.0
            {
                // The phases are a JSON string; eval hands it back JSON-encoded once more.
                let phases = read("window.__keywayPhases || ''")
                    .and_then(|v| serde_json::from_str::<String>(&v).ok())
                    .unwrap_or_default();
                eprintln!("{PHASES_MARK}{phases}");
                eprintln!("{MARK}{ms:.0}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}
