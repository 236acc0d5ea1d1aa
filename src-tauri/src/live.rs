//! The live review feed: the hub's server-sent events, forwarded to the window as
//! `EVENT_REVIEW`, with `EVENT_REVIEWS_LIVE` telling whether the feed is connected. A new request
//! that arrives while the window is not focused also raises a desktop notification; clicking it
//! brings the window forward on that request.

use std::sync::{Arc, Mutex};

use keyway_api::desktop::{EVENT_NAVIGATE, EVENT_REVIEW, EVENT_REVIEWS_LIVE, Route};
use keyway_api::reviews::{ReviewEvent, ReviewRequest};
use keyway_client::Client;
use tauri::{AppHandle, Emitter, Manager};
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct ReviewFeed {
    /// The feed's task and the client it serves; replaced when the client changes.
    running: Mutex<Option<(Arc<Client>, JoinHandle<()>)>>,
}

impl ReviewFeed {
    /// Starts the feed for `client` unless it already runs for it.
    pub fn start(&self, app: AppHandle, client: Arc<Client>) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((current, task)) = running.as_ref()
            && Arc::ptr_eq(current, &client)
            && !task.is_finished()
        {
            return;
        }
        if let Some((_, task)) = running.take() {
            task.abort();
        }
        // Commands run on Tauri's Tokio runtime.
        let task = tokio::spawn(feed(app, client.clone()));
        *running = Some((client, task));
    }

    /// Stops the feed (on sign-out).
    pub fn stop(&self) {
        if let Some((_, task)) = self.running.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

async fn feed(app: AppHandle, client: Arc<Client>) {
    use futures_util::StreamExt as _;
    // keyway-client reconnects by itself (resuming where it left off); an `Err` item reports an
    // interruption, after which the window reads the lists again.
    let events = client.review_events();
    let mut events = std::pin::pin!(events);
    let mut live = true;
    let _ = app.emit(EVENT_REVIEWS_LIVE, true);
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => {
                if !live {
                    live = true;
                    let _ = app.emit(EVENT_REVIEWS_LIVE, true);
                }
                if let ReviewEvent::Created { request } = &event {
                    notify_if_unfocused(&app, request);
                }
                if let Err(error) = app.emit(EVENT_REVIEW, &event) {
                    tracing::warn!(%error, "could not forward a review event to the window");
                }
            }
            Err(error) => {
                tracing::info!(%error, "the live review feed was interrupted");
                live = false;
                let _ = app.emit(EVENT_REVIEWS_LIVE, false);
            }
        }
    }
    tracing::info!("the live review feed ended");
    let _ = app.emit(EVENT_REVIEWS_LIVE, false);
}

fn notify_if_unfocused(app: &AppHandle, request: &ReviewRequest) {
    let focused = app.get_webview_window("main").and_then(|w| w.is_focused().ok()).unwrap_or(false);
    if focused {
        return;
    }
    let (app, id) = (app.clone(), request.id.clone());
    let summary = format!("Review requested: {}", request.title);
    let body = format!("{} asks for a decision ({})", request.submitter.name, request.kind);
    // Showing and waiting for the click block: a thread of its own.
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Keyway")
            .summary(&summary)
            .body(&body)
            .action("default", "Open")
            .timeout(notify_rust::Timeout::Default)
            .show();
        match shown {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    open_request(&app, &id);
                }
            }),
            // No notification service (e.g. a bare X server): the badge still counts it.
            Err(error) => tracing::debug!(%error, "no desktop notification"),
        }
    });
}

fn open_request(app: &AppHandle, id: &str) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    let _ = app.emit(EVENT_NAVIGATE, Route::Approvals { id: Some(id.to_owned()) });
}
