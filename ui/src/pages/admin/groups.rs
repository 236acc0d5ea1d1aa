//! Admin → Groups: Keyway's groups are its roles. Each lists its members; admins add and remove
//! them (the hub refuses removing the last admin, or a member the company's IdP manages).

use keyway_api::Role;
use keyway_api::desktop::CommandError;
use keyway_api::users::{Group, UserView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner};
use crate::ipc;
use crate::pages::admin::roles::ROLES;

#[component]
pub(super) fn GroupsSection(can_change: bool) -> impl IntoView {
    let groups = RwSignal::new(None::<Vec<Group>>);
    let users = RwSignal::new(Vec::<UserView>::new());
    let error = RwSignal::new(None::<CommandError>);
    let reload = move || {
        spawn_local(async move {
            let (g, u) =
                (ipc::groups_list().await, if can_change { ipc::users_list("").await } else { Ok(Vec::new()) });
            match (g, u) {
                (Ok(g), Ok(u)) => {
                    groups.try_set(Some(g));
                    users.try_set(u);
                    error.try_set(None);
                }
                (Err(e), _) | (_, Err(e)) => {
                    groups.try_update(|g| {
                        g.get_or_insert_with(Vec::new);
                    });
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload();
    let reload = Callback::new(move |()| reload());
    let change = move |add: bool, role: Role, user_id: String| {
        spawn_local(async move {
            let answer =
                if add { ipc::group_add(role, &user_id).await } else { ipc::group_remove(role, &user_id).await };
            match answer {
                Ok(_) => reload.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };

    view! {
        <ErrorBanner error=error/>
        {move || match groups.get() {
            None => view! { <div class="loading" role="status"><Spinner/>" Loading groups…"</div> }.into_any(),
            Some(list) => view! {
                <div class="groups">
                    {ROLES.into_iter().map(|(role, what)| {
                        let members = list.iter().find(|g| g.role == role).map(|g| g.members.clone()).unwrap_or_default();
                        let outside: Vec<UserView> = users.get().into_iter()
                            .filter(|u| !u.disabled && !members.iter().any(|m| m.id == u.id))
                            .collect();
                        let picked = RwSignal::new(String::new());
                        let picker = NodeRef::<leptos::html::Select>::new();
                        let count = members.len();
                        view! {
                            <section class="card group" id=format!("group-{}", role.as_str())>
                                <h2>{role.as_str()}<span class="muted small">{format!(" · {count} {}", if count == 1 { "member" } else { "members" })}</span></h2>
                                <p class="muted small">{what}</p>
                                {(count == 0).then(|| view! { <p class="muted">"No members."</p> })}
                                <ul class="members">
                                    {members.into_iter().map(|m| {
                                        let id = m.id.clone();
                                        view! {
                                            <li class="member" data-user=m.username.clone()>
                                                <span class:inactive=m.disabled>{m.username.clone()}</span>
                                                {m.disabled.then(|| view! { <span class="chip chip-muted">"disabled"</span> })}
                                                {can_change.then(|| view! {
                                                    <button class="button link danger" id=format!("remove-{}-{}", role.as_str(), m.username)
                                                        on:click=move |_| change(false, role, id.clone())>"Remove"</button>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                {(can_change && !outside.is_empty()).then(|| view! {
                                    <div class="add-member">
                                        <select id=format!("add-{}-who", role.as_str()) aria-label=format!("Add to {}", role.as_str())
                                            node_ref=picker
                                            on:change=move |ev| picked.set(event_target_value(&ev))>
                                            <option value="">"Add a member…"</option>
                                            {outside.into_iter().map(|u| view! { <option value=u.id.clone()>{u.username.clone()}</option> }).collect_view()}
                                        </select>
                                        <button class="button secondary" id=format!("add-{}", role.as_str())
                                            on:click=move |_| {
                                                // The list's own value: a choice made without a change event counts too.
                                                let who = picker.get_untracked().map(|s| s.value()).unwrap_or_else(|| picked.get_untracked());
                                                if !who.is_empty() { change(true, role, who) }
                                            }>"Add"</button>
                                    </div>
                                })}
                            </section>
                        }
                    }).collect_view()}
                </div>
            }.into_any(),
        }}
    }
}
