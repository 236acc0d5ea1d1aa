//! The window's size and position are written shortly after each change, not only when the app
//! exits normally (tauri-plugin-window-state's default), so an app ended by the session (log
//! out, `SIGTERM`) still comes back where it was.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tauri::{Manager, Runtime, Window, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

/// Quiet time after the last move or resize before the state is written (a drag sends many).
const SETTLE: Duration = Duration::from_millis(400);

static CHANGES: AtomicU64 = AtomicU64::new(0);

pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if !matches!(event, WindowEvent::Resized(_) | WindowEvent::Moved(_)) {
        return;
    }
    let change = CHANGES.fetch_add(1, Ordering::Relaxed) + 1;
    let app = window.app_handle().clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SETTLE).await;
        if CHANGES.load(Ordering::Relaxed) == change
            && let Err(error) = app.save_window_state(StateFlags::all())
        {
            tracing::warn!(%error, "could not save the window's size and position");
        }
    });
}
