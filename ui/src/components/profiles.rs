//! The profile switcher: every profile of this computer (the local hub, team hubs), which one
//! is in use and which hold a sign-in; switch to one, remove one (signed out, its keychain
//! entries deleted), or add another.

use keyway_api::desktop::{AppStatus, CommandError, ProfileChoice};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ErrorBanner;
use crate::{Shell, ipc};

#[component]
pub fn ProfileSwitcher(set_status: Callback<AppStatus>) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let list = RwSignal::new(Vec::<ProfileChoice>::new());
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    // The profile whose removal waits for a second click.
    let confirm = RwSignal::new(None::<String>);
    spawn_local(async move {
        match ipc::profiles_list().await {
            Ok(l) => {
                list.try_set(l);
            }
            Err(e) => {
                error.try_set(Some(e));
            }
        }
    });
    let act = move |name: String, remove: bool| {
        busy.set(true);
        spawn_local(async move {
            let answer = if remove { ipc::profile_remove(&name).await } else { ipc::profile_use(&name).await };
            match answer {
                Ok(status) => set_status.run(status),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <section class="card profiles" id="profiles">
            <div class="card-head">
                <h2>"Profiles"</h2>
                <button id="profile-add" class="button secondary" on:click=move |_| shell.adding_profile.set(true)>
                    "Add a server or local hub"
                </button>
            </div>
            <ErrorBanner error=error/>
            <ul class="profile-list">
                {move || list.get().into_iter().map(|p| {
                    let (use_name, remove_name, confirm_name) = (p.name.clone(), p.name.clone(), p.name.clone());
                    let asking = {
                        let name = p.name.clone();
                        move || confirm.get().as_deref() == Some(name.as_str())
                    };
                    let asking_for_label = asking.clone();
                    view! {
                        <li class="profile" id=format!("profile-{}", p.name) class:current=p.current>
                            <div class="profile-text">
                                <strong>{p.name.clone()}</strong>
                                <span class="muted small mono">{if p.local { format!("{} (local hub)", p.server) } else { p.server.clone() }}</span>
                            </div>
                            <div class="chips">
                                {p.current.then(|| view! { <span class="chip chip-ok">"in use"</span> })}
                                {(!p.signed_in).then(|| view! { <span class="chip chip-muted">"signed out"</span> })}
                            </div>
                            <div class="row-actions">
                                {(!p.current).then(|| view! {
                                    <button class="button link" id=format!("profile-use-{}", p.name)
                                        disabled=move || busy.get()
                                        on:click=move |_| act(use_name.clone(), false)>"Switch to"</button>
                                })}
                                <button class="button link danger" id=format!("profile-remove-{}", p.name)
                                    disabled=move || busy.get()
                                    on:click=move |_| {
                                        if asking() { act(remove_name.clone(), true) } else { confirm.set(Some(confirm_name.clone())) }
                                    }>
                                    {move || if asking_for_label() { "Remove: sign out and forget it" } else { "Remove" }}
                                </button>
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
