//! Keyway desktop UI: Leptos (client-side rendering) in the Tauri window.
//!
//! The app's state lives in src-tauri; this UI asks for it (`app_status`) and shows one page per
//! `AppStatus`: Setup, Login, or — signed in — the shell with its pages (Account, Credentials,
//! Approvals, Audit, Admin; each shown only to the roles that can use it), which `keyway://`
//! links can open. Every IPC call is in `ipc.rs`.

mod components;
mod ipc;
mod pages;
mod payload;
mod reviews;
mod time;

use keyway_api::desktop::{AppStatus, EVENT_NAVIGATE, EVENT_NOTICE, ProfileView, Route, SessionView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{AppNotice, ErrorBanner, Header, LearningBanner, Nav, Pages, Spinner, UiError};
use crate::pages::{AdminPage, ApprovalsPage, AuditPage, CredentialsPage, LoginPage, SessionPage, SetupPage};

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
    /// The person is adding a profile: the set-up page shows, with a way back.
    pub adding_profile: RwSignal<bool>,
    /// False for a moment after the window gains the focus or a link changes the page: a key
    /// pressed then was meant for another window, so it decides nothing.
    pub keys_armed: RwSignal<bool>,
    quiet_until: RwSignal<f64>,
}

/// How long decision keys wait after the focus arrives or a link moves the page, in ms.
const KEYS_QUIET_MS: f64 = 2000.0;

impl Shell {
    /// Disarms the decision keys for [`KEYS_QUIET_MS`] from now.
    pub fn quiet_keys(self) {
        let until = js_sys::Date::now() + KEYS_QUIET_MS;
        self.quiet_until.set(until);
        self.keys_armed.set(false);
        set_timeout(
            move || {
                if js_sys::Date::now() >= self.quiet_until.get_untracked() {
                    self.keys_armed.set(true);
                }
            },
            std::time::Duration::from_millis(KEYS_QUIET_MS as u64 + 10),
        );
    }
}

#[component]
fn App() -> impl IntoView {
    // `None` while asking the app where it stands.
    let status = RwSignal::new(None::<Result<AppStatus, UiError>>);
    let shell = Shell {
        route: RwSignal::new(Route::Session),
        notice: RwSignal::new(None),
        adding_profile: RwSignal::new(false),
        keys_armed: RwSignal::new(true),
        quiet_until: RwSignal::new(0.0),
    };
    // A window that just gained the focus (raised by a link, a notification, a click from
    // another window) takes a moment before a key decides anything.
    let focus = window_event_listener(leptos::ev::focus, move |_| shell.quiet_keys());
    on_cleanup(move || focus.remove());
    provide_context(shell);
    provide_context(reviews::Reviews::new());
    let load = move || {
        status.set(None);
        spawn_local(async move { status.set(Some(ipc::app_status().await.map_err(UiError))) });
    };
    load();
    let set_status = Callback::new(move |next: AppStatus| {
        shell.adding_profile.set(false);
        status.set(Some(Ok(next)));
    });

    // `keyway://` links: the one that started the app, then each one the shell forwards.
    spawn_local(async move {
        ipc::listen::<Route>(EVENT_NAVIGATE, move |route| {
            // A completed deep-link sign-in lands on the session page: ask where we stand.
            if route == Route::Session && !matches!(status.get_untracked(), Some(Ok(AppStatus::SignedIn { .. }))) {
                load();
            }
            shell.quiet_keys();
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

    let profile = Signal::derive(move || match status.get() {
        Some(Ok(AppStatus::SignedIn { profile, .. } | AppStatus::SignedOut { profile, .. })) => Some(profile),
        _ => None,
    });

    view! {
        <Header/>
        <LearningBanner profile=profile set_status=set_status/>
        <AppNotice/>
        {move || match (status.get(), shell.adding_profile.get()) {
            (Some(Ok(current)), true) if current != AppStatus::NeedsSetup => adding_page(set_status),
            (status, _) => match status {
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
            },
        }}
    }
}

/// Adding a profile beside the ones there are: the set-up choices, and a way back.
fn adding_page(set_status: Callback<AppStatus>) -> AnyView {
    let shell = expect_context::<Shell>();
    view! {
        <main class="content" id="page-add-profile">
            <div class="back">
                <button id="profile-add-cancel" class="button link" on:click=move |_| shell.adding_profile.set(false)>
                    "← Back"
                </button>
            </div>
            <SetupPage set_status=set_status/>
        </main>
    }
    .into_any()
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
        if let Route::Approvals { id: Some(id) } = shell.route.get()
            && reviews.selected.get_untracked().as_deref() != Some(id.as_str())
        {
            reviews.selected.set(Some(id));
        }
    });
    // Only a change of page re-renders the page, not a change of selection within it.
    let roles = session.roles.clone();
    let allowed = Pages::for_roles(&roles);
    let page = Memo::new(move |_| match shell.route.get() {
        // The "Approve a device" dialog opens on the Account page.
        Route::Session | Route::Device { .. } => 0,
        Route::Credentials if allowed.credentials => 1,
        Route::Approvals { .. } => 2,
        Route::Audit if allowed.audit => 3,
        Route::Admin { .. } if allowed.admin => 4,
        // A link to a page this person's roles do not open.
        _ => 5,
    });
    let me = session.username.clone();
    let server = profile.server.clone();
    view! {
        <Nav roles=roles.clone()/>
        {move || match page.get() {
            3 => view! { <main class="content content-wide" id="page-audit"><AuditPage/></main> }.into_any(),
            4 => view! {
                <main class="content content-wide" id="page-admin">
                    <AdminPage roles=roles.clone() me=me.clone() server=server.clone()/>
                </main>
            }
            .into_any(),
            5 => view! {
                <main class="content" id="page-not-allowed">
                    <section class="card">
                        <h1>"Not available to your roles"</h1>
                        <p class="muted">"This page needs a role you do not hold. An admin can give it to you."</p>
                    </section>
                </main>
            }
            .into_any(),
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
                    data-selected=move || reviews.selected.get().unwrap_or_default()
                    data-keys-armed=move || shell.keys_armed.get().to_string()>
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
