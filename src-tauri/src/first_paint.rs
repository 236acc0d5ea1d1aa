//! For `cargo xtask bench desktop`: with `KEYWAY_REPORT_FIRST_PAINT` set, the app prints on
//! stderr `keyway-first-paint-unix-ms=<t>`, the wall-clock time of the first frame painted after
//! the page shows text (two animation frames after the body has any). Nothing happens without
//! the variable. The bare-window example of the benchmark uses the same hook.

use std::time::Duration;

use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{Runtime, Webview};

pub const ENV: &str = "KEYWAY_REPORT_FIRST_PAINT";
pub const MARK: &str = "keyway-first-paint-unix-ms=";

const WATCH: &str = r#"(function () {
  function check() {
    if (document.body && document.body.innerText.trim().length > 0) {
      requestAnimationFrame(function () {
        requestAnimationFrame(function () { window.__keywayPainted = performance.timeOrigin + performance.now(); });
      });
    } else {
      setTimeout(check, 2);
    }
  }
  check();
})();"#;

/// Call from `on_page_load`.
pub fn on_page_load<R: Runtime>(webview: &Webview<R>, payload: &PageLoadPayload<'_>) {
    if payload.event() != PageLoadEvent::Finished || std::env::var_os(ENV).is_none() {
        return;
    }
    if webview.eval(WATCH).is_err() {
        return;
    }
    let webview = webview.clone();
    std::thread::spawn(move || {
        // Poll for the mark for at most a minute.
        for _ in 0..6000 {
            let (tx, rx) = std::sync::mpsc::channel();
            if webview.eval_with_callback("window.__keywayPainted || 0", move |v| drop(tx.send(v))).is_err() {
                return;
            }
            if let Ok(value) = rx.recv_timeout(Duration::from_secs(1))
                && let Ok(ms) = value.trim().parse::<f64>()
                && ms > 0.0
            {
                eprintln!("{MARK}{ms:.0}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}
