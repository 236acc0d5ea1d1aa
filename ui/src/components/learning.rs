//! Learning mode in the app: the banner on every page while the hub is in learning mode, and
//! "Try Keyway without an account" on the set-up page.

use keyway_api::desktop::{AppStatus, CommandError, ProfileView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner};
use crate::ipc;

/// Across every page while the hub says it is in learning mode (`ProfileView::learning`); it
/// cannot be dismissed. For the app's own learning hub it offers the way out.
#[component]
pub fn LearningBanner(
    #[prop(into)] profile: Signal<Option<ProfileView>>,
    set_status: Callback<AppStatus>,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let leave = move |_| {
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::learning_leave().await {
                Ok(status) => {
                    pending.try_set(false);
                    set_status.run(status);
                }
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    move || {
        profile.get().filter(|p| p.learning).map(|p| {
            let own = p.local;
            view! {
                <div id="learning-banner" class="learning-banner" role="status">
                    <p class="learning-text">
                        <strong>"Learning mode. "</strong>
                        "Authentication is off: every role is available to anyone on this computer. \
                         Nothing here is carried over to a real hub."
                    </p>
                    {own.then(|| view! {
                        <button id="leave-learning" class="button secondary" disabled=move || pending.get()
                            on:click=leave>
                            {move || if pending.get() { "Leaving…" } else { "Leave learning mode" }}
                        </button>
                    })}
                </div>
                <div class="learning-error"><ErrorBanner error=error/></div>
            }
        })
    }
}

/// One click to a learning hub of its own, signed in.
#[component]
pub fn TryLearning(set_status: Callback<AppStatus>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let start = move |_| {
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::learning_start().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <div class="try-learning">
            <div class="try-learning-text">
                <span class="option-title">"New to Keyway?"</span>
                <span class="option-text">
                    "Look around with no account: a practice hub on this computer, with authentication \
                     off and every role. It is deleted when you leave."
                </span>
            </div>
            <button id="try-learning" class="button secondary" disabled=move || pending.get() on:click=start>
                {move || if pending.get() {
                    view! { <Spinner/>" Starting…" }.into_any()
                } else {
                    "Try Keyway without an account".into_any()
                }}
            </button>
        </div>
        <ErrorBanner error=error/>
    }
}
