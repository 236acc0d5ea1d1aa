//! Keyway desktop UI: Leptos (client-side rendering) in the Tauri window.
//!
//! The app's state lives in src-tauri; this UI asks for it (`app_status`) and shows one page per
//! `AppStatus`: Setup, Login or Session. Every IPC call is in `ipc.rs`.

mod components;
mod ipc;
mod pages;
mod time;

use keyway_api::desktop::AppStatus;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Header, Spinner, UiError};
use crate::pages::{LoginPage, SessionPage, SetupPage};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    // `None` while asking the app where it stands.
    let status = RwSignal::new(None::<Result<AppStatus, UiError>>);
    let load = move || {
        status.set(None);
        spawn_local(async move { status.set(Some(ipc::app_status().await.map_err(UiError))) });
    };
    load();
    let set_status = Callback::new(move |next: AppStatus| status.set(Some(Ok(next))));

    view! {
        <Header/>
        <main class="content">
            {move || match status.get() {
                None => view! {
                    <div class="loading" role="status"><Spinner/>" Loading…"</div>
                }.into_any(),
                Some(result) => view! {
                    <ErrorBoundary fallback=move |errors| view! {
                        <StartupError errors=errors retry=Callback::new(move |()| load()) set_status=set_status/>
                    }>
                        {result.map(|status| page(status, set_status))}
                    </ErrorBoundary>
                }.into_any(),
            }}
        </main>
    }
}

fn page(status: AppStatus, set_status: Callback<AppStatus>) -> AnyView {
    match status {
        AppStatus::NeedsSetup => view! { <SetupPage set_status=set_status/> }.into_any(),
        AppStatus::SignedOut { profile, notice } => {
            view! { <LoginPage profile=profile notice=notice set_status=set_status/> }.into_any()
        }
        AppStatus::SignedIn { profile, session } => {
            view! { <SessionPage profile=profile session=session set_status=set_status/> }.into_any()
        }
    }
}

/// When the app cannot say where it stands (keychain missing, configuration unreadable, …):
/// the reason, and a way forward.
#[component]
fn StartupError(errors: ArcRwSignal<Errors>, retry: Callback<()>, set_status: Callback<AppStatus>) -> impl IntoView {
    let first = errors.get_untracked().into_iter().next().map(|(_, error)| {
        let error: &(dyn std::error::Error + Send + Sync) = &**error;
        match error.downcast_ref::<UiError>() {
            Some(UiError(error)) => error.clone(),
            None => keyway_api::desktop::CommandError {
                kind: keyway_api::desktop::ErrorKind::Internal,
                message: error.to_string(),
            },
        }
    });
    let error = RwSignal::new(first);
    let busy = RwSignal::new(false);
    let change_server = move |_| {
        busy.set(true);
        spawn_local(async move {
            match ipc::forget_profile().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    busy.set(false);
                    error.set(Some(e));
                }
            }
        });
    };
    view! {
        <section class="card">
            <h1>"Keyway could not start"</h1>
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="retry" class="button primary" on:click=move |_| retry.run(())>"Try again"</button>
                <button id="change-server" class="button link" disabled=move || busy.get() on:click=change_server>
                    "Change server"
                </button>
            </div>
        </section>
    }
}
