//! The signed-in navigation, and the shell's notice banner (`keyway://` link problems, refused
//! sign-in callbacks).

use keyway_api::Role;
use keyway_api::desktop::{AdminSection, Route};
use leptos::prelude::*;

use crate::Shell;
use crate::reviews::Reviews;

/// Which pages a person's roles open (the hub enforces the same; this only hides the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages {
    /// Developers (their own), auditors and admins (everyone's).
    pub credentials: bool,
    /// Auditors and admins.
    pub audit: bool,
    /// Admins, and auditors read-only.
    pub admin: bool,
}

impl Pages {
    pub fn for_roles(roles: &[String]) -> Pages {
        let has = |r: Role| roles.iter().any(|x| x == r.as_str());
        let reads_all = has(Role::Auditor) || has(Role::Admin);
        Pages { credentials: has(Role::Developer) || reads_all, audit: reads_all, admin: reads_all }
    }
}

#[component]
pub fn Nav(roles: Vec<String>) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let reviews = expect_context::<Reviews>();
    let is_reviewer = roles.iter().any(|r| r == "reviewer");
    let pages = Pages::for_roles(&roles);
    let tab = move |label: &'static str, id: &'static str, target: Route| {
        let current = {
            let target = target.clone();
            move || std::mem::discriminant(&shell.route.get()) == std::mem::discriminant(&target)
        };
        let badge = (id == "nav-approvals").then_some({
            move || {
                reviews.pending_count().filter(|n| *n > 0 && is_reviewer).map(|n| {
                    view! {
                        <span id="pending-count" class="badge" aria-label=format!("{n} waiting for review")>
                            {n.to_string()}
                        </span>
                    }
                })
            }
        });
        view! {
            <button
                id=id
                class="tab"
                class:current=current.clone()
                aria-current=move || current().then_some("page")
                on:click=move |_| shell.route.set(target.clone())
            >
                {label}
                {badge}
            </button>
        }
    };
    view! {
        <nav class="tabs" aria-label="Pages">
            {tab("Account", "nav-session", Route::Session)}
            {pages.credentials.then(|| tab("Credentials", "nav-credentials", Route::Credentials))}
            {tab("Approvals", "nav-approvals", Route::Approvals { id: None })}
            {pages.audit.then(|| tab("Audit", "nav-audit", Route::Audit))}
            {pages.admin.then(|| tab("Admin", "nav-admin", Route::Admin { section: AdminSection::Users }))}
        </nav>
    }
}

/// The shell's notice (id `app-notice`), dismissible.
#[component]
pub fn AppNotice() -> impl IntoView {
    let shell = expect_context::<Shell>();
    move || {
        shell.notice.get().map(|text| {
            view! {
                <div id="app-notice" class="banner banner-info app-notice" role="alert">
                    <p class="banner-text">{text}</p>
                    <button class="button link" aria-label="Dismiss" on:click=move |_| shell.notice.set(None)>
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}
