//! Login (`AppStatus::SignedOut`): sign in through the browser.

use keyway_api::desktop::{AppStatus, CommandError, ProfileView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Notice, ProfileSwitcher, ServerFact, Spinner};
use crate::ipc;

#[component]
pub fn LoginPage(profile: ProfileView, notice: Option<String>, set_status: Callback<AppStatus>) -> impl IntoView {
    let waiting = RwSignal::new(false);
    let leaving = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    // The notice explains an earlier session's end; it is stale once the person acts.
    let notice = RwSignal::new(notice);

    let sign_in = move |_| {
        waiting.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match ipc::login_start().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    waiting.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    let cancel = move |_| {
        spawn_local(async move {
            // `login_start` then fails with "cancelled"; only a failure to cancel is shown here.
            if let Err(e) = ipc::login_cancel().await {
                error.try_set(Some(e));
            }
        });
    };
    let change_server = move |_| {
        leaving.set(true);
        spawn_local(async move {
            match ipc::forget_profile().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    leaving.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };

    view! {
        <div class="stack">
        <section class="card">
            <h1>"Sign in"</h1>
            <dl class="facts">
                <ServerFact profile=profile.clone()/>
            </dl>
            {move || notice.get().map(|text| view! { <Notice id="notice" text=text/> })}
            <Show
                when=move || waiting.get()
                fallback=move || view! {
                    <p class="lead">
                        "Keyway opens the sign-in page in your web browser. Come back to this window when you have signed in."
                    </p>
                    <div class="actions">
                        <button id="sign-in" class="button primary" disabled=move || leaving.get() on:click=sign_in>
                            "Sign in with browser"
                        </button>
                    </div>
                }
            >
                <div id="waiting" class="waiting" role="status">
                    <Spinner/>
                    <div class="waiting-text">
                        <strong>"Waiting for the browser…"</strong>
                        <span class="muted">"Finish signing in on the page that opened in your browser."</span>
                    </div>
                    <button id="cancel" class="button secondary" on:click=cancel>"Cancel"</button>
                </div>
            </Show>
            <ErrorBanner error=error/>
            <footer class="card-footer">
                <button id="change-server" class="button link"
                    disabled=move || waiting.get() || leaving.get() on:click=change_server>
                    "Change server"
                </button>
            </footer>
        </section>
        <ProfileSwitcher set_status=set_status/>
        </div>
    }
}
