//! Admin (admins; auditors read): users, groups (Keyway's roles and their members), the hub's
//! settings, and a link to the service accounts on the Credentials page. The hub enforces who may
//! change what; this page only leaves out the controls a person's roles cannot use.

mod clients;
mod groups;
mod roles;
mod scim;
mod settings;
mod users;

use keyway_api::Role;
use keyway_api::desktop::{AdminSection, Route};
use leptos::prelude::*;

use crate::Shell;
use crate::pages::admin::clients::ClientsSection;
use crate::pages::admin::groups::GroupsSection;
use crate::pages::admin::scim::ScimSection;
use crate::pages::admin::settings::SettingsSection;
use crate::pages::admin::users::UsersSection;

#[component]
pub fn AdminPage(roles: Vec<String>, me: String, server: String) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let can_change = roles.iter().any(|r| r == Role::Admin.as_str());
    let section = Memo::new(move |_| match shell.route.get() {
        Route::Admin { section } => section,
        _ => AdminSection::Users,
    });
    let tab = move |target: AdminSection, label: &'static str| {
        let current = move || section.get() == target;
        view! {
            <button id=format!("admin-{}", target.as_str()) class="subtab" class:current=current
                aria-current=move || current().then_some("page")
                on:click=move |_| shell.route.set(Route::Admin { section: target })>
                {label}
            </button>
        }
    };
    view! {
        <section class="page">
            <div class="page-head">
                <div>
                    <h1>"Admin"</h1>
                    <p class="muted">{if can_change {
                        "People, their roles and the hub's settings."
                    } else {
                        "People, their roles and the hub's settings, read-only: changes need the admin role."
                    }}</p>
                </div>
            </div>
            <nav class="subtabs" aria-label="Admin sections">
                {tab(AdminSection::Users, "Users")}
                {tab(AdminSection::Groups, "Groups")}
                {tab(AdminSection::Settings, "Settings")}
                {tab(AdminSection::Scim, "SCIM")}
                {tab(AdminSection::Clients, "Agents & MCP")}
                <button id="admin-service-accounts" class="subtab" on:click=move |_| shell.route.set(Route::Credentials)>
                    "Service accounts ↗"
                </button>
            </nav>
            {move || match section.get() {
                AdminSection::Users => view! { <UsersSection can_change=can_change me=me.clone()/> }.into_any(),
                AdminSection::Groups => view! { <GroupsSection can_change=can_change/> }.into_any(),
                AdminSection::Settings => view! { <SettingsSection can_change=can_change/> }.into_any(),
                AdminSection::Scim => view! { <ScimSection can_change=can_change server=server.clone()/> }.into_any(),
                AdminSection::Clients => view! { <ClientsSection can_change=can_change/> }.into_any(),
            }}
        </section>
    }
}
