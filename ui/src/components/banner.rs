//! Readable banners for command errors and notices.

use keyway_api::desktop::{CommandError, ErrorKind};
use leptos::prelude::*;

/// A `CommandError` that an `ErrorBoundary` can hold (it needs `std::error::Error`).
#[derive(Clone, Debug)]
pub struct UiError(pub CommandError);

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for UiError {}

/// A short heading for each kind of failure; the message underneath says what happened.
pub fn title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "Please check what you entered",
        ErrorKind::Unreachable => "The server could not be reached",
        ErrorKind::Refused => "The server said no",
        ErrorKind::Keychain => "The keychain is not available",
        ErrorKind::Timeout => "Sign-in timed out",
        ErrorKind::Cancelled => "Sign-in cancelled",
        ErrorKind::Internal => "Something went wrong",
    }
}

/// The page's error, if any, as a banner with id `error`.
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<CommandError>>) -> impl IntoView {
    move || {
        error.get().map(|error| {
            // Cancelling is the person's own choice: say so calmly, not as a failure.
            let class = if error.kind == ErrorKind::Cancelled { "banner banner-quiet" } else { "banner banner-error" };
            // The message of a cancellation says it all; other kinds get a heading.
            let heading = (error.kind != ErrorKind::Cancelled)
                .then(|| view! { <strong class="banner-title">{title(error.kind)}</strong> });
            view! {
                <div id="error" class=class role="alert" data-kind=kind_code(error.kind)>
                    {heading}
                    <p class="banner-text">{error.message}</p>
                </div>
            }
        })
    }
}

/// An informational banner (for example why an earlier session ended).
#[component]
pub fn Notice(id: &'static str, text: String) -> impl IntoView {
    view! {
        <div id=id class="banner banner-info" role="status">
            <p class="banner-text">{text}</p>
        </div>
    }
}

fn kind_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::Unreachable => "unreachable",
        ErrorKind::Refused => "refused",
        ErrorKind::Keychain => "keychain",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Internal => "internal",
    }
}
