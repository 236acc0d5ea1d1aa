//! Setup (`AppStatus::NeedsSetup`): run a hub inside the app, or connect to a server.

use keyway_api::desktop::{AppStatus, CommandError, ConnectServer, LocalHubSetup};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner, TryLearning};
use crate::ipc;

/// The shortest password the hub accepts.
const MIN_PASSWORD_LEN: usize = keyway_api::users::MIN_PASSWORD_CHARS;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    Local,
    Server,
}

#[component]
pub fn SetupPage(set_status: Callback<AppStatus>) -> impl IntoView {
    let choice = RwSignal::new(None::<Choice>);
    let option_class = move |c: Choice| {
        if choice.get() == Some(c) { "option selected" } else { "option" }
    };
    view! {
        <section class="card wide">
            <h1>"Set up Keyway"</h1>
            <p class="lead">"Choose where your Keyway account lives. You can change this later."</p>
            <div class="options" role="radiogroup" aria-label="Where your account lives">
                <button id="choose-local" class=move || option_class(Choice::Local) role="radio"
                    aria-checked=move || (choice.get() == Some(Choice::Local)).to_string()
                    on:click=move |_| choice.set(Some(Choice::Local))>
                    <span class="option-title">"Use a local hub"</span>
                    <span class="option-text">
                        "A private hub inside this app: for one computer, or to try Keyway out."
                    </span>
                </button>
                <button id="choose-server" class=move || option_class(Choice::Server) role="radio"
                    aria-checked=move || (choice.get() == Some(Choice::Server)).to_string()
                    on:click=move |_| choice.set(Some(Choice::Server))>
                    <span class="option-title">"Connect to a server"</span>
                    <span class="option-text">
                        "Sign in to the Keyway hub of your team or organisation."
                    </span>
                </button>
            </div>
            {move || match choice.get() {
                None => ().into_any(),
                Some(Choice::Local) => view! { <LocalHubForm set_status=set_status/> }.into_any(),
                Some(Choice::Server) => view! { <ServerForm set_status=set_status/> }.into_any(),
            }}
            // For a first look, before choosing where an account lives.
            <Show when=move || choice.get().is_none()>
                <TryLearning set_status=set_status/>
            </Show>
        </section>
    }
}

#[component]
fn LocalHubForm(set_status: Callback<AppStatus>) -> impl IntoView {
    // `None` while asking whether the hub already has its owner.
    let initialized = RwSignal::new(None::<bool>);
    let error = RwSignal::new(None::<CommandError>);
    spawn_local(async move {
        match ipc::local_hub_info().await {
            Ok(info) => {
                initialized.try_set(Some(info.initialized));
            }
            Err(e) => {
                error.try_set(Some(e));
            }
        }
    });

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let pending = RwSignal::new(false);

    let too_short = move || password.with(|p| !p.is_empty() && p.chars().count() < MIN_PASSWORD_LEN);
    let mismatch = move || confirm.with(|c| !c.is_empty() && *c != password.get());
    let valid = move || {
        !username.with(|u| u.trim().is_empty())
            && password.with(|p| p.chars().count() >= MIN_PASSWORD_LEN)
            && confirm.get() == password.get()
    };

    let submit = move |setup: LocalHubSetup| {
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::setup_local_hub(&setup).await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if valid() && !pending.get() {
            submit(LocalHubSetup { username: username.get().trim().to_owned(), password: password.get() });
        }
    };
    let start = move |_| {
        // The hub has its owner already: nothing to create.
        submit(LocalHubSetup { username: String::new(), password: String::new() });
    };

    view! {
        <div class="panel">
            {move || match initialized.get() {
                None => view! {
                    <p class="muted" role="status"><Spinner/>" Checking this computer…"</p>
                }.into_any(),
                Some(true) => view! {
                    <p>"This computer already has a local hub with its owner account."</p>
                    <div class="actions">
                        <button id="start-local" class="button primary" disabled=move || pending.get() on:click=start>
                            {move || if pending.get() { "Starting…" } else { "Start the local hub" }}
                        </button>
                    </div>
                }.into_any(),
                Some(false) => view! {
                    <form class="form" on:submit=create novalidate>
                        <p>"Create the owner account of your local hub. It holds every role."</p>
                        <div class="form-grid">
                            <label class="field">
                                <span class="label">"Username"</span>
                                <input id="owner-username" type="text" autocomplete="username"
                                    autocapitalize="off" spellcheck="false" bind:value=username/>
                            </label>
                            <span></span>
                            <label class="field">
                                <span class="label">"Password"</span>
                                <input id="owner-password" type="password" autocomplete="new-password"
                                    aria-invalid=move || too_short().to_string() bind:value=password/>
                                <span class=move || if too_short() { "hint invalid" } else { "hint" }>
                                    {format!("At least {MIN_PASSWORD_LEN} characters, without the username.")}
                                </span>
                            </label>
                            <label class="field">
                                <span class="label">"Confirm password"</span>
                                <input id="owner-confirm" type="password" autocomplete="new-password"
                                    aria-invalid=move || mismatch().to_string() bind:value=confirm/>
                                <Show when=mismatch>
                                    <span id="password-mismatch" class="hint invalid">"The passwords do not match."</span>
                                </Show>
                            </label>
                        </div>
                        <div class="actions">
                            <button id="create-hub" type="submit" class="button primary"
                                disabled=move || !valid() || pending.get()>
                                {move || if pending.get() { "Creating…" } else { "Create local hub" }}
                            </button>
                        </div>
                    </form>
                }.into_any(),
            }}
            <ErrorBanner error=error/>
        </div>
    }
}

#[component]
fn ServerForm(set_status: Callback<AppStatus>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let connect = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get() {
            return;
        }
        pending.set(true);
        error.set(None);
        let args = ConnectServer { url: url.get().trim().to_owned() };
        spawn_local(async move {
            match ipc::connect_server(&args).await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <div class="panel">
            <form class="form" on:submit=connect novalidate>
                <label class="field">
                    <span class="label">"Server address"</span>
                    <input id="server-url" type="text" inputmode="url" autocomplete="url"
                        autocapitalize="off" spellcheck="false"
                        placeholder="https://keyway.example.com" bind:value=url/>
                </label>
                <div class="actions">
                    <button id="connect" type="submit" class="button primary"
                        disabled=move || pending.get() || url.with(|u| u.trim().is_empty())>
                        {move || if pending.get() { "Checking the server…" } else { "Connect" }}
                    </button>
                </div>
            </form>
            <ErrorBanner error=error/>
        </div>
    }
}
