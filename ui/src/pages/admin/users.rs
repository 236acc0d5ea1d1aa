//! Admin → Users: search, create (with a password, or a one-time set-password code shown once),
//! roles, disable and enable, sign out everywhere, a new set-password code, delete.

use keyway_api::Role;
use keyway_api::desktop::{CommandError, ErrorKind};
use keyway_api::users::{CreateUser, CreatedUser, MIN_PASSWORD_CHARS, UserView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner, SecretOnce, Spinner};
use crate::pages::admin::roles::ROLES;
use crate::{ipc, time};

/// A change that asks before it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Disable,
    Enable,
    SignOut,
    ResetPassword,
    Delete,
}

impl Act {
    fn label(self) -> &'static str {
        match self {
            Act::Disable => "Disable",
            Act::Enable => "Enable",
            Act::SignOut => "Sign out",
            Act::ResetPassword => "Reset password",
            Act::Delete => "Delete",
        }
    }

    fn title(self, name: &str) -> String {
        match self {
            Act::SignOut => format!("Sign {name} out everywhere?"),
            Act::ResetPassword => format!("Reset {name}'s password?"),
            other => format!("{} {name}?", other.label()),
        }
    }

    fn id(self) -> &'static str {
        match self {
            Act::Disable => "disable",
            Act::Enable => "enable",
            Act::SignOut => "sign-out",
            Act::ResetPassword => "reset",
            Act::Delete => "delete",
        }
    }

    fn explain(self, name: &str) -> String {
        match self {
            Act::Disable => format!(
                "{name} can no longer sign in. Their sessions, PATs and every token exchanged from them stop working at once. Enable them again to give access back."
            ),
            Act::Enable => format!("{name} can sign in again. Credentials revoked meanwhile stay revoked."),
            Act::SignOut => format!("Every sign-in of {name} ends now, on every device. Their PATs keep working."),
            Act::ResetPassword => format!(
                "{name}'s password stops working and every sign-in of theirs ends. You get a one-time code to give them; they choose a new password with it."
            ),
            Act::Delete => format!(
                "{name} is removed: their credentials are revoked and their agents disabled. Their reviews and audit rows stay, naming them. This cannot be undone."
            ),
        }
    }
}

#[derive(Clone, Debug)]
enum Modal {
    Create,
    Roles(UserView),
    Confirm(Act, UserView),
    Code { what: String, code: String },
}

#[component]
pub(super) fn UsersSection(can_change: bool, me: String) -> impl IntoView {
    let users = RwSignal::new(None::<Vec<UserView>>);
    let error = RwSignal::new(None::<CommandError>);
    let search = RwSignal::new(String::new());
    let modal = RwSignal::new(None::<Modal>);
    let done = RwSignal::new(None::<String>);
    let asked = RwSignal::new(0u64);

    let reload = move || {
        let this = asked.get_untracked() + 1;
        asked.set(this);
        let needle = search.get_untracked();
        spawn_local(async move {
            let answer = ipc::users_list(&needle).await;
            if asked.get_untracked() != this {
                return;
            }
            match answer {
                Ok(list) => {
                    users.try_set(Some(list));
                    error.try_set(None);
                }
                Err(e) => {
                    users.try_update(|u| {
                        u.get_or_insert_with(Vec::new);
                    });
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload();
    let reload = Callback::new(move |()| reload());
    let close = Callback::new(move |()| modal.set(None));
    let me_for_rows = StoredValue::new(me);

    view! {
        <ErrorBanner error=error/>
        {move || done.get().map(|text| view! {
            <div id="users-done" class="banner banner-info" role="status"><p class="banner-text">{text}</p></div>
        })}
        <div class="toolbar">
            <input id="users-search" type="search" placeholder="Search by name" aria-label="Search users"
                prop:value=move || search.get()
                on:input=move |ev| {
                    let typed = event_target_value(&ev);
                    search.set(typed.clone());
                    // Asks the hub once the typing pauses, not at every key.
                    set_timeout(
                        move || if search.try_get_untracked().is_some_and(|now| now == typed) { reload.run(()) },
                        std::time::Duration::from_millis(250),
                    );
                }/>
            {can_change.then(|| view! {
                <button id="user-create" class="button primary" on:click=move |_| modal.set(Some(Modal::Create))>
                    "Create user"
                </button>
            })}
        </div>
        {move || match users.get() {
            None => view! { <div class="loading" role="status"><Spinner/>" Loading users…"</div> }.into_any(),
            Some(list) if list.is_empty() => view! {
                <div id="users-empty" class="empty">
                    <p><strong>{if search.get_untracked().trim().is_empty() { "No users yet." } else { "No user matches." }}</strong></p>
                </div>
            }.into_any(),
            Some(list) => view! {
                <div class="table-wrap">
                    <table id="users-table" class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Roles"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|u| view! {
                                <UserRow u=u can_change=can_change me=me_for_rows.get_value() modal=modal/>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any(),
        }}
        {move || modal.get().map(|m| match m {
            Modal::Create => view! {
                <CreateDialog on_close=close on_created=Callback::new(move |created: CreatedUser| {
                    reload.run(());
                    match created.set_password_code {
                        Some(code) => modal.set(Some(Modal::Code {
                            what: format!("One-time set-password code for {}", created.user.username),
                            code,
                        })),
                        None => {
                            done.set(Some(format!("{} was created and can sign in with the password you chose.", created.user.username)));
                            modal.set(None);
                        }
                    }
                })/>
            }.into_any(),
            Modal::Roles(u) => view! {
                <RolesDialog u=u on_close=close on_saved=Callback::new(move |u: UserView| {
                    done.set(Some(format!("{} now holds: {}.", u.username, role_list(&u.roles))));
                    modal.set(None);
                    reload.run(());
                })/>
            }.into_any(),
            Modal::Confirm(act, u) => view! {
                <ConfirmDialog act=act u=u on_close=close on_done=Callback::new(move |outcome: Outcome| {
                    reload.run(());
                    match outcome {
                        Outcome::Said(text) => { done.set(Some(text)); modal.set(None); }
                        Outcome::Code { what, code } => modal.set(Some(Modal::Code { what, code })),
                    }
                })/>
            }.into_any(),
            Modal::Code { what, code } => view! {
                <Dialog id="code-dialog" title="Give this code to the person".to_owned() on_close=close>
                    <p class="hint">"They enter it as their password on the sign-in page, then choose their own. It works once, for 72 hours."</p>
                    <SecretOnce what=what secret=code on_done=close if_lost="Reset password gives a new one"/>
                </Dialog>
            }.into_any(),
        })}
    }
}

#[component]
fn UserRow(u: UserView, can_change: bool, me: String, modal: RwSignal<Option<Modal>>) -> impl IntoView {
    let is_me = u.username == me;
    let status = if u.disabled {
        view! { <span class="chip chip-danger">"disabled"</span> }.into_any()
    } else if !u.password_set {
        view! { <span class="chip chip-warn" title="Has not used their set-password code yet">"no password yet"</span> }
            .into_any()
    } else {
        view! { <span class="chip chip-ok">"active"</span> }.into_any()
    };
    let act = move |act: Act, u: UserView| {
        let id = format!("{}-{}", act.id(), u.username);
        view! {
            <button id=id class=if act == Act::Delete || act == Act::Disable { "button link danger" } else { "button link" }
                on:click=move |_| modal.set(Some(Modal::Confirm(act, u.clone())))>{act.label()}</button>
        }
    };
    // The company's IdP decides a managed user's roles and password: Keyway shows them only.
    let local = u.managed_by.is_none();
    let actions = can_change.then(|| {
        let for_roles = u.clone();
        view! {
            {local.then(|| view! {
                <button id=format!("roles-{}", for_roles.username) class="button link"
                    on:click=move |_| modal.set(Some(Modal::Roles(for_roles.clone())))>"Roles…"</button>
            })}
            {if u.disabled { act(Act::Enable, u.clone()) } else { act(Act::Disable, u.clone()) }}
            {act(Act::SignOut, u.clone())}
            {local.then(|| act(Act::ResetPassword, u.clone()))}
            {act(Act::Delete, u.clone())}
        }
    });
    let managed = u.managed_by.clone().map(|by| {
        let source = if by == "scim" { "SCIM" } else { "SSO" };
        view! {
            <span class="chip chip-muted" title="Roles and password are managed by your identity provider">
                {format!("managed by {source}")}
            </span>
        }
    });
    view! {
        <tr id=format!("user-{}", u.username) data-id=u.id.clone() class:inactive=u.disabled>
            <td>
                <div class="cell-name">{u.username.clone()}{is_me.then(|| view! { <span class="muted">" (you)"</span> })}</div>
                <div class="muted small mono">{u.id.clone()}</div>
            </td>
            <td>
                <div class="chips user-roles">
                    {u.roles.iter().map(|r| view! { <span class="chip">{r.as_str()}</span> }).collect_view()}
                </div>
                {u.roles.is_empty().then(|| view! { <span class="muted">"none"</span> })}
            </td>
            <td><div class="chips">{status}{managed}</div></td>
            <td title=time::local_date_time(u.created_at)>{time::relative(u.created_at)}</td>
            <td><div class="row-actions wrap">{actions}</div></td>
        </tr>
    }
}

#[component]
fn CreateDialog(on_close: Callback<()>, on_created: Callback<CreatedUser>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let roles = RwSignal::new(vec![Role::Developer]);
    let with_code = RwSignal::new(true);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = username.get_untracked().trim().to_owned();
        if name.is_empty() {
            error.set(Some(invalid("Give the user a name.")));
            return;
        }
        let password = (!with_code.get_untracked()).then(|| password.get_untracked());
        if let Some(p) = &password
            && p.chars().count() < MIN_PASSWORD_CHARS
        {
            error.set(Some(invalid(&format!("A password needs at least {MIN_PASSWORD_CHARS} characters."))));
            return;
        }
        let req = CreateUser { username: name, roles: Some(roles.get_untracked()), password };
        busy.set(true);
        spawn_local(async move {
            match ipc::user_create(&req).await {
                Ok(created) => on_created.run(created),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Dialog id="create-user-dialog" title="Create a user".to_owned() on_close=on_close>
            <form class="form" on:submit=submit>
                <label class="field" for="new-username">
                    <span class="field-label">"Name"</span>
                    <input id="new-username" type="text" autocomplete="off" placeholder="e.g. grace or grace@example.com"
                        prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
                </label>
                <RolePicker prefix="new-role" roles=roles/>
                <fieldset class="field">
                    <legend class="field-label">"First sign-in"</legend>
                    <label class="check">
                        <input id="new-with-code" type="radio" name="first" prop:checked=move || with_code.get()
                            on:change=move |_| with_code.set(true)/>
                        " A one-time code they use to choose their password (shown once)"
                    </label>
                    <label class="check">
                        <input id="new-with-password" type="radio" name="first" prop:checked=move || !with_code.get()
                            on:change=move |_| with_code.set(false)/>
                        " A password I set now"
                    </label>
                </fieldset>
                {move || (!with_code.get()).then(|| view! {
                    <label class="field" for="new-password">
                        <span class="field-label">"Initial password"</span>
                        <input id="new-password" type="password" autocomplete="new-password"
                            prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                        <span class="hint">{format!("At least {MIN_PASSWORD_CHARS} characters, not containing the name.")}</span>
                    </label>
                })}
                <ErrorBanner error=error/>
                <div class="actions">
                    <button id="create-user-submit" class="button primary" type="submit" disabled=move || busy.get()>
                        {move || if busy.get() { "Creating…" } else { "Create" }}
                    </button>
                    <button class="button secondary" type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                </div>
            </form>
        </Dialog>
    }
}

/// One checkbox per role, with what it allows.
#[component]
fn RolePicker(prefix: &'static str, roles: RwSignal<Vec<Role>>) -> impl IntoView {
    view! {
        <fieldset class="field roles-picker">
            <legend class="field-label">"Roles"</legend>
            {ROLES.into_iter().map(|(role, what)| view! {
                <label class="check">
                    <input id=format!("{prefix}-{}", role.as_str()) type="checkbox"
                        prop:checked=move || roles.get().contains(&role)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            roles.update(|rs| {
                                rs.retain(|r| *r != role);
                                if on { rs.push(role) }
                                rs.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
                            });
                        }/>
                    " "<strong>{role.as_str()}</strong><span class="muted">{format!(" — {what}")}</span>
                </label>
            }).collect_view()}
        </fieldset>
    }
}

#[component]
fn RolesDialog(u: UserView, on_close: Callback<()>, on_saved: Callback<UserView>) -> impl IntoView {
    let roles = RwSignal::new(u.roles.clone());
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let id = u.id.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let id = id.clone();
        spawn_local(async move {
            match ipc::user_set_roles(&id, &roles.get_untracked()).await {
                Ok(u) => on_saved.run(u),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Dialog id="roles-dialog" title=format!("Roles of {}", u.username) on_close=on_close>
            <form class="form" on:submit=save>
                <p class="hint">"Roles add up. A change takes effect at once: tokens that carry a removed role stop working."</p>
                <RolePicker prefix="role" roles=roles/>
                <ErrorBanner error=error/>
                <div class="actions">
                    <button id="roles-save" class="button primary" type="submit" disabled=move || busy.get()>
                        {move || if busy.get() { "Saving…" } else { "Save roles" }}
                    </button>
                    <button class="button secondary" type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                </div>
            </form>
        </Dialog>
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    Said(String),
    Code { what: String, code: String },
}

#[component]
fn ConfirmDialog(act: Act, u: UserView, on_close: Callback<()>, on_done: Callback<Outcome>) -> impl IntoView {
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let (id, name) = (u.id.clone(), u.username.clone());
    let go = move |_| {
        busy.set(true);
        let (id, name) = (id.clone(), name.clone());
        spawn_local(async move {
            let outcome = match act {
                Act::Disable => ipc::user_disable(&id).await.map(|_| Outcome::Said(format!("{name} is disabled."))),
                Act::Enable => ipc::user_enable(&id).await.map(|_| Outcome::Said(format!("{name} is enabled."))),
                Act::SignOut => ipc::user_force_logout(&id).await.map(|e| {
                    Outcome::Said(format!(
                        "Ended {} {} of {name}.",
                        e.ended,
                        if e.ended == 1 { "sign-in" } else { "sign-ins" }
                    ))
                }),
                Act::ResetPassword => ipc::user_reset_password(&id).await.and_then(|c| match c.set_password_code {
                    Some(code) => Ok(Outcome::Code { what: format!("One-time set-password code for {name}"), code }),
                    None => Err(invalid("The hub gave no set-password code.")),
                }),
                Act::Delete => ipc::user_delete(&id).await.map(|_| Outcome::Said(format!("{name} was deleted."))),
            };
            match outcome {
                Ok(outcome) => on_done.run(outcome),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    let danger = matches!(act, Act::Delete | Act::Disable | Act::ResetPassword);
    view! {
        <Dialog id="confirm-dialog" title=act.title(&u.username) on_close=on_close>
            <p>{act.explain(&u.username)}</p>
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="confirm" class=if danger { "button danger" } else { "button primary" }
                    disabled=move || busy.get() on:click=go>{act.label()}</button>
                <button class="button secondary" type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </Dialog>
    }
}

fn invalid(message: &str) -> CommandError {
    CommandError { kind: ErrorKind::InvalidInput, message: message.to_owned() }
}

fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        "no roles".to_owned()
    } else {
        roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}
