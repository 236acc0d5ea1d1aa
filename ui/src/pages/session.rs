//! Session (`AppStatus::SignedIn`): who is signed in, with which roles, until when.

use keyway_api::desktop::{AppStatus, CommandError, ProfileView, SessionView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, ServerFact};
use crate::{ipc, time};

#[component]
pub fn SessionPage(profile: ProfileView, session: SessionView, set_status: Callback<AppStatus>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let sign_out = move |_| {
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match ipc::logout().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    pending.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };

    // The username is always visible: the display name alone can be ambiguous.
    let who = if session.display_name == session.username {
        session.username.clone()
    } else {
        format!("{} ({})", session.display_name, session.username)
    };
    let initial = session.display_name.chars().next().unwrap_or('?').to_uppercase().to_string();
    let expiry = match session.session_expires_at {
        Some(at) => view! {
            <span id="session-expiry">
                <span>{time::local_date_time(at)}</span>
                <span class="muted">" · "{time::relative(at)}</span>
            </span>
        }
        .into_any(),
        None => {
            view! { <span id="session-expiry" class="muted">"No fixed end reported by the server"</span> }.into_any()
        }
    };
    let roles = session.roles;
    let no_roles = roles.is_empty();

    view! {
        <section class="card">
            <div class="identity">
                <span class="avatar" aria-hidden="true">{initial}</span>
                <h1>"Signed in as "<span id="user-name">{who}</span></h1>
            </div>
            <dl class="facts">
                <div class="fact">
                    <dt>"Roles"</dt>
                    <dd>
                        <div id="roles" class="chips">
                            {roles.into_iter().map(|role| view! { <span class="chip">{role}</span> }).collect_view()}
                        </div>
                        {no_roles.then(|| view! { <span class="muted">"No roles"</span> })}
                    </dd>
                </div>
                <div class="fact">
                    <dt>"Session ends"</dt>
                    <dd>{expiry}</dd>
                </div>
                <ServerFact profile=profile.clone()/>
            </dl>
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="sign-out" class="button secondary" disabled=move || pending.get() on:click=sign_out>
                    {move || if pending.get() { "Signing out…" } else { "Sign out" }}
                </button>
            </div>
        </section>
    }
}
