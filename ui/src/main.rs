//! Keyway desktop UI: Leptos (client-side rendering) in the Tauri window.
//!
//! The app's state lives in src-tauri; this UI asks for it (`app_status`) and shows one page per
//! `AppStatus`: Setup, Login, or — signed in — the shell with its pages (Account, Credentials,
//! Approvals), which `keyway://` links can open. Every IPC call is in `ipc.rs`.

mod components;
mod ipc;
mod pages;
mod payload;
mod reviews;
mod time;

use keyway_api::desktop::{AppStatus, EVENT_NAVIGATE, EVENT_NOTICE, ProfileView, Route, SessionView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{AppNotice, ErrorBanner, Header, Nav, Spinner, UiError};
use crate::pages::{ApprovalsPage, CredentialsPage, LoginPage, SessionPage, SetupPage};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// What the whole UI shares: the page asked for (kept while signed out, shown after sign-in)
/// and the shell's notice.
#[derive(Clone, Copy)]
pub struct Shell {
    pub route: RwSignal<Route>,
    pub notice: RwSignal<Option<String>>,
}

#[component]
fn App() -> impl IntoView {
    // `None` while asking the app where it stands.
    let status = RwSignal::new(None::<Result<AppStatus, UiError>>);
    let shell = Shell { route: RwSignal::new(Route::Session), notice: RwSignal::new(None) };
    provide_context(shell);
    provide_context(reviews::Reviews::new());
    let load = move || {
        status.set(None);
        spawn_local(async move { status.set(Some(ipc::app_status().await.map_err(UiError))) });
    };
    load();
    let set_status = Callback::new(move |next: AppStatus| status.set(Some(Ok(next))));

    // `keyway://` links: the one that started the app, then each one the shell forwards.
    spawn_local(async move {
        ipc::listen::<Route>(EVENT_NAVIGATE, move |route| {
            // A completed deep-link sign-in lands on the session page: ask where we stand.
            if route == Route::Session && !matches!(status.get_untracked(), Some(Ok(AppStatus::SignedIn { .. }))) {
                load();
            }
            shell.route.set(route);
        })
        .await;
        ipc::listen::<String>(EVENT_NOTICE, move |text| shell.notice.set(Some(text))).await;
        if let Ok(Some(route)) = ipc::take_route().await {
            shell.route.set(route);
        }
        if let Ok(Some(text)) = ipc::take_notice().await {
            shell.notice.set(Some(text));
        }
    });

    view! {
        <Header/>
        <AppNotice/>
        {move || match status.get() {
            None => view! {
                <main class="content">
                    <div class="loading" role="status"><Spinner/>" Loading…"</div>
                </main>
            }.into_any(),
            Some(result) => view! {
                <ErrorBoundary fallback=move |errors| view! {
                    <main class="content">
                        <StartupError errors=errors retry=Callback::new(move |()| load()) set_status=set_status/>
                    </main>
                }>
                    {result.map(|status| page(status, set_status))}
                </ErrorBoundary>
            }.into_any(),
        }}
    }
}

fn page(status: AppStatus, set_status: Callback<AppStatus>) -> AnyView {
    match status {
        AppStatus::NeedsSetup => view! { <main class="content"><SetupPage set_status=set_status/></main> }.into_any(),
        AppStatus::SignedOut { profile, notice } => view! {
            <main class="content"><LoginPage profile=profile notice=notice set_status=set_status/></main>
        }
        .into_any(),
        AppStatus::SignedIn { profile, session } => {
            view! { <SignedIn profile=profile session=session set_status=set_status/> }.into_any()
        }
    }
}

/// Signed in: the navigation and the page the route names.
#[component]
fn SignedIn(profile: ProfileView, session: SessionView, set_status: Callback<AppStatus>) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let reviews = expect_context::<reviews::Reviews>();
    // The queue loads and goes live at once, so the badge is right on every page.
    reviews.start(&session.subject);
    // A link to one request selects it; moving through the queue updates the route in turn.
    Effect::new(move |_| {
        if let Route::Approvals { id: Some(id) } = shell.route.get() {
            if reviews.selected.get_untracked().as_deref() != Some(id.as_str()) {
                reviews.selected.set(Some(id));
            }
        }
    });
    // Only a change of page re-renders the page, not a change of selection within it.
    let page = Memo::new(move |_| match shell.route.get() {
        Route::Session => 0,
        Route::Credentials => 1,
        Route::Approvals { .. } => 2,
    });
    let roles = session.roles.clone();
    view! {
        <Nav roles=roles.clone()/>
        {move || match page.get() {
            0 => view! {
                <main class="content" id="page-session">
                    <SessionPage profile=profile.clone() session=session.clone() set_status=set_status/>
                </main>
            }
            .into_any(),
            1 => view! {
                <main class="content content-wide" id="page-credentials">
                    <CredentialsPage roles=roles.clone()/>
                </main>
            }
            .into_any(),
            _ => view! {
                <main class="content content-wide" id="page-approvals"
                    data-selected=move || reviews.selected.get().unwrap_or_default()>
                    <ApprovalsPage roles=roles.clone()/>
                </main>
            }
            .into_any(),
        }}
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
