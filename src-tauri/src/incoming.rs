//! What the app does with a URL the operating system hands it (see `links` for the parsing):
//! a sign-in answer goes to the sign-in waiting for it, a page link moves the UI, anything else
//! is shown as "link not understood". The window comes to the front either way.
//!
//! The shell talks to the UI only through `EVENT_NAVIGATE` (payload [`Route`]) and
//! `EVENT_NOTICE` (payload `String`). A link that starts the app arrives before the UI listens,
//! so until the UI has asked once (`take_route`, `take_notice`) the last of each is kept.

use std::sync::Mutex;

use keyway_api::desktop::{EVENT_NAVIGATE, EVENT_NOTICE, Route};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::links::{self, Incoming};
use crate::state::DesktopState;

#[derive(Default)]
pub struct Mailbox {
    inner: Mutex<MailboxInner>,
}

#[derive(Default)]
struct MailboxInner {
    route: Option<Route>,
    notice: Option<String>,
    route_taken: bool,
    notice_taken: bool,
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, MailboxInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn take_route(&self) -> Option<Route> {
        let mut inner = self.lock();
        inner.route_taken = true;
        inner.route.take()
    }

    pub fn take_notice(&self) -> Option<String> {
        let mut inner = self.lock();
        inner.notice_taken = true;
        inner.notice.take()
    }

    fn keep_route(&self, route: &Route) {
        let mut inner = self.lock();
        if !inner.route_taken {
            inner.route = Some(route.clone());
        }
    }

    fn keep_notice(&self, notice: &str) {
        let mut inner = self.lock();
        if !inner.notice_taken {
            inner.notice = Some(notice.to_owned());
        }
    }
}

/// Moves the UI to `route`.
pub fn navigate<R: Runtime>(app: &AppHandle<R>, route: Route) {
    if let Some(mailbox) = app.try_state::<Mailbox>() {
        mailbox.keep_route(&route);
    }
    if let Err(error) = app.emit(EVENT_NAVIGATE, route) {
        tracing::warn!(%error, "could not tell the UI to change page");
    }
}

/// Shows `text` in the UI's notice banner.
pub fn notice<R: Runtime>(app: &AppHandle<R>, text: String) {
    tracing::info!(notice = %text, "notice");
    if let Some(mailbox) = app.try_state::<Mailbox>() {
        mailbox.keep_notice(&text);
    }
    if let Err(error) = app.emit(EVENT_NOTICE, text) {
        tracing::warn!(%error, "could not show a notice in the UI");
    }
}

/// Brings the main window to the front (a second launch, a link, a sign-in answer).
pub fn focus_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Acts on URLs handed over by the OS.
pub fn handle<R: Runtime>(app: &AppHandle<R>, urls: impl IntoIterator<Item = String>) {
    for url in urls {
        match links::parse(&url) {
            Incoming::Open(route) => {
                tracing::info!(?route, "opening a link");
                navigate(app, route);
            }
            Incoming::NotUnderstood(message) => notice(app, message),
            Incoming::LoginCallback(url) => {
                // Never log the URL: it carries the authorization code.
                tracing::info!("a sign-in answer arrived through the deep link");
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    let state = app.state::<DesktopState>();
                    if let Err(refused) = state.deliver_callback(&url).await {
                        notice(&app, refused.to_string());
                    }
                });
            }
        }
    }
    focus_main(app);
}
