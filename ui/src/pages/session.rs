//! Session (`AppStatus::SignedIn`): who is signed in, with which roles, until when.

use keyway_api::desktop::{AppStatus, CommandError, ProfileView, SessionView};
use keyway_api::users::SessionView as SignIn;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::device::DeviceApproval;
use crate::components::{ErrorBanner, ProfileSwitcher, ServerFact, Spinner};
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
    // Without a refresh token the session ends with its access token: say so beside the time.
    let fixed = (!session.renewable).then(|| {
        view! {
            " "<span id="session-not-renewable" class="tag"
                title="The server issued no refresh token: sign in again when it ends.">"Cannot be renewed"</span>
        }
    });
    let roles = session.roles;
    let no_roles = roles.is_empty();

    view! {
        <div class="stack">
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
                    <dd>{expiry}{fixed}</dd>
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
        <SignIns set_status=set_status/>
        <DeviceApproval/>
        <ProfileSwitcher set_status=set_status/>
        </div>
    }
}

/// My sign-ins on every device, each of which I can end; or all of them, this one too.
#[component]
fn SignIns(set_status: Callback<AppStatus>) -> impl IntoView {
    let list = RwSignal::new(None::<Vec<SignIn>>);
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let reload = move || {
        spawn_local(async move {
            match ipc::sessions_mine().await {
                Ok(l) => {
                    list.try_set(Some(l));
                    error.try_set(None);
                }
                Err(e) => {
                    list.try_update(|l| {
                        l.get_or_insert_with(Vec::new);
                    });
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload();
    let end = move |id: String| {
        spawn_local(async move {
            match ipc::session_end(&id).await {
                Ok(_) => reload(),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let end_all = move |_| {
        busy.set(true);
        spawn_local(async move {
            match ipc::sessions_end_all().await {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <section class="card" id="sign-ins">
            <div class="card-head">
                <h2>"Where you are signed in"</h2>
                <button id="end-all-sessions" class="button secondary" disabled=move || busy.get() on:click=end_all>
                    "Sign out everywhere"
                </button>
            </div>
            <ErrorBanner error=error/>
            {move || match list.get() {
                None => view! { <div class="loading" role="status"><Spinner/>" Loading your sign-ins…"</div> }.into_any(),
                Some(l) if l.is_empty() => view! { <p class="muted">"No sign-ins are open."</p> }.into_any(),
                Some(l) => view! {
                    <table id="sessions-table" class="table">
                        <thead>
                            <tr>
                                <th scope="col">"App"</th>
                                <th scope="col">"Signed in"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">"From"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {l.into_iter().map(|s| {
                                let id = s.id.clone();
                                view! {
                                    <tr id=format!("signin-{}", s.id) class:current=s.current>
                                        <td>
                                            <div class="cell-name">{s.client_name.clone()}</div>
                                            {s.current.then(|| view! { <span class="chip chip-ok">"this app"</span> })}
                                        </td>
                                        <td title=time::local_date_time(s.created_at)>{time::relative(s.created_at)}</td>
                                        <td>{s.last_used_at.map(time::relative).unwrap_or_else(|| "not yet".to_owned())}</td>
                                        <td class="mono small">{s.address.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                        <td>
                                            <div class="row-actions">
                                                {(!s.current).then(|| view! {
                                                    <button class="button link danger" id=format!("end-{}", s.id)
                                                        on:click=move |_| end(id.clone())>"Sign out"</button>
                                                })}
                                            </div>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}
