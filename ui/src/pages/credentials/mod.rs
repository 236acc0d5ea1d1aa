//! Credentials: the person's PATs, enrollment tokens and (for admins) service tokens; mint,
//! rotate and revoke them. New secrets are shown once.

mod labels;
mod mint;
mod reveal;
mod revoke;
mod rotate;

use keyway_api::Role;
use keyway_api::credentials::{AgentView, CredentialKind, CredentialStatus, CredentialView};
use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner};
use crate::pages::credentials::labels::{DAY, display_name, kind_label, status_code, status_label};
use crate::pages::credentials::mint::MintDialog;
use crate::pages::credentials::reveal::SecretDialog;
use crate::pages::credentials::revoke::RevokeDialog;
use crate::pages::credentials::rotate::RotateDialog;
use crate::{ipc, time};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Kind,
    Created,
    Expires,
    LastUsed,
}

/// What the page's dialog is showing.
#[derive(Clone, Debug)]
enum Modal {
    Mint,
    Secret { what: String, secret: String },
    Revoke(CredentialView),
    Rotate(CredentialView),
}

#[derive(Clone, Debug, Default)]
struct Data {
    credentials: Vec<CredentialView>,
    agents: Vec<AgentView>,
}

#[component]
pub fn CredentialsPage(roles: Vec<String>) -> impl IntoView {
    let has = |role: Role| roles.iter().any(|r| r == role.as_str());
    let is_admin = has(Role::Admin);
    // Auditors read every credential and change none; only developers and admins mint.
    let reads_all = is_admin || has(Role::Auditor);
    let can_act = is_admin || has(Role::Developer);
    let data = RwSignal::new(None::<Data>);
    let error = RwSignal::new(None::<CommandError>);
    let modal = RwSignal::new(None::<Modal>);
    let filter = RwSignal::new(String::new());
    let show_inactive = RwSignal::new(false);
    let everyone = RwSignal::new(false);
    let sort = RwSignal::new((SortKey::Expires, true));

    let reload = move || {
        spawn_local(async move {
            let all = everyone.get_untracked();
            let (credentials, agents) = (ipc::credentials_list(all).await, ipc::agents_list().await);
            let service_accounts = if reads_all { ipc::service_accounts_list().await.map(Some) } else { Ok(None) };
            match (credentials, agents, service_accounts) {
                (Ok(mut credentials), Ok(agents), Ok(service_accounts)) => {
                    // Service tokens are listed with their accounts; keep one row per token.
                    for account in &service_accounts.unwrap_or_default() {
                        for token in &account.tokens {
                            if !credentials.iter().any(|c| c.id == token.id) {
                                credentials.push(token.clone());
                            }
                        }
                    }
                    data.try_set(Some(Data { credentials, agents }));
                    error.try_set(None);
                }
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    data.try_update(|d| {
                        if d.is_none() {
                            *d = Some(Data::default());
                        }
                    });
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload();
    let reload = Callback::new(move |()| reload());

    let rows = Memo::new(move |_| {
        let Some(data) = data.get() else { return Vec::new() };
        let needle = filter.get().trim().to_lowercase();
        let inactive = show_inactive.get();
        let (key, ascending) = sort.get();
        let mut rows: Vec<CredentialView> = data
            .credentials
            .into_iter()
            .filter(|c| inactive || matches!(c.status, CredentialStatus::Active | CredentialStatus::Retiring))
            .filter(|c| needle.is_empty() || haystack(c).contains(&needle))
            .collect();
        rows.sort_by(|a, b| {
            let order = match key {
                SortKey::Name => display_name(a).to_lowercase().cmp(&display_name(b).to_lowercase()),
                SortKey::Kind => kind_label(a.kind).cmp(kind_label(b.kind)),
                SortKey::Created => a.created_at.cmp(&b.created_at),
                // No expiry sorts last.
                SortKey::Expires => a.expires_at.unwrap_or(i64::MAX).cmp(&b.expires_at.unwrap_or(i64::MAX)),
                SortKey::LastUsed => a.last_used_at.unwrap_or(0).cmp(&b.last_used_at.unwrap_or(0)),
            };
            if ascending { order } else { order.reverse() }
        });
        rows
    });

    let expiring = Memo::new(move |_| {
        let now = now();
        data.get()
            .map(|d| {
                d.credentials
                    .iter()
                    .filter(|c| c.status == CredentialStatus::Active)
                    .filter(|c| c.expires_at.is_some_and(|at| at - now <= 7 * DAY))
                    .count()
            })
            .unwrap_or(0)
    });

    let header = move |label: &'static str, key: SortKey| {
        let active = move || sort.get().0 == key;
        let arrow = move || match sort.get() {
            (k, true) if k == key => " ▲",
            (k, false) if k == key => " ▼",
            _ => "",
        };
        view! {
            <th scope="col" aria-sort=move || match sort.get() {
                (k, true) if k == key => "ascending",
                (k, false) if k == key => "descending",
                _ => "none",
            }>
                <button class="sort" class:active=active on:click=move |_| sort.update(|(k, asc)| {
                    if *k == key { *asc = !*asc } else { *k = key; *asc = true }
                })>
                    {label}{arrow}
                </button>
            </th>
        }
    };

    let close = Callback::new(move |()| modal.set(None));

    view! {
        <section class="page">
            <div class="page-head">
                <div>
                    <h1>"Credentials"</h1>
                    <p class="muted">
                        "Keys for your agents and automation. Each is exchanged for a short-lived token when used; revoke one and it stops working at once."
                    </p>
                </div>
                {can_act.then(|| view! {
                    <button id="mint" class="button primary" on:click=move |_| modal.set(Some(Modal::Mint))>
                        "Mint credential"
                    </button>
                })}
            </div>
            <ErrorBanner error=error/>
            {move || (expiring.get() > 0).then(|| {
                let n = expiring.get();
                view! {
                    <div id="expiry-warning" class="banner banner-warn" role="status">
                        <p class="banner-text">
                            {if n == 1 { "1 credential expires within 7 days.".to_owned() }
                             else { format!("{n} credentials expire within 7 days.") }}
                            " Rotate it or mint a replacement before it stops working."
                        </p>
                    </div>
                }
            })}
            <div class="toolbar">
                <input id="credentials-filter" type="search" placeholder="Filter by name, agent, id or kind"
                    aria-label="Filter credentials"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))/>
                <label class="check">
                    <input id="show-inactive" type="checkbox" prop:checked=move || show_inactive.get()
                        on:change=move |ev| show_inactive.set(event_target_checked(&ev))/>
                    " Show revoked and expired"
                </label>
                {reads_all.then(|| view! {
                    <label class="check">
                        <input id="show-everyone" type="checkbox" prop:checked=move || everyone.get()
                            on:change=move |ev| { everyone.set(event_target_checked(&ev)); reload.run(()); }/>
                        " Everyone's"
                    </label>
                })}
            </div>
            {move || match data.get() {
                None => view! { <div class="loading" role="status"><Spinner/>" Loading credentials…"</div> }.into_any(),
                Some(_) if rows.get().is_empty() => view! {
                    <div id="credentials-empty" class="empty">
                        <p><strong>"No credentials to show."</strong></p>
                        <p class="muted">"Mint an agent token or an enrollment token to let an agent work on your behalf."</p>
                    </div>
                }.into_any(),
                Some(_) => view! {
                    <div class="table-wrap">
                        <table id="credentials-table" class="table">
                            <thead>
                                <tr>
                                    {header("Kind", SortKey::Kind)}
                                    {header("Name", SortKey::Name)}
                                    <th scope="col">"Id"</th>
                                    <th scope="col">"Audience"</th>
                                    {header("Created", SortKey::Created)}
                                    {header("Expires", SortKey::Expires)}
                                    {header("Last used", SortKey::LastUsed)}
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || rows.get() key=|c| (c.id.clone(), c.status as u8, c.last_used_at) let:c>
                                    <Row c=c can_act=can_act modal=modal/>
                                </For>
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
        </section>
        {move || modal.get().map(|m| match m {
            Modal::Mint => view! {
                <MintDialog is_admin=is_admin
                    agents=data.get_untracked().map(|d| d.agents).unwrap_or_default()
                    on_close=close
                    on_minted=Callback::new(move |(what, secret): (String, String)| {
                        reload.run(());
                        modal.set(Some(Modal::Secret { what, secret }));
                    })/>
            }.into_any(),
            Modal::Secret { what, secret } => view! {
                <SecretDialog what=what secret=secret on_close=close/>
            }.into_any(),
            Modal::Revoke(c) => view! {
                <RevokeDialog c=c on_close=close on_done=Callback::new(move |()| { modal.set(None); reload.run(()); })/>
            }.into_any(),
            Modal::Rotate(c) => view! {
                <RotateDialog c=c on_close=close
                    on_rotated=Callback::new(move |(what, secret): (String, String)| {
                        reload.run(());
                        modal.set(Some(Modal::Secret { what, secret }));
                    })/>
            }.into_any(),
        })}
    }
}

#[component]
fn Row(c: CredentialView, can_act: bool, modal: RwSignal<Option<Modal>>) -> impl IntoView {
    let now = now();
    let active = matches!(c.status, CredentialStatus::Active);
    let rotatable = can_act
        && active
        && matches!(c.kind, CredentialKind::AgentPat | CredentialKind::UserPat | CredentialKind::ServiceToken);
    let expiry_class = match c.expires_at {
        Some(at) if active && at - now <= DAY => "expiry danger",
        Some(at) if active && at - now <= 7 * DAY => "expiry warn",
        _ => "expiry",
    };
    let fingerprint_changed = c.fingerprint_changed_at.map(|at| {
        view! {
            <span class="chip chip-warn" title=format!(
                "Used from a different machine or directory {} — if that was not you, revoke it.",
                time::relative(at)
            )>"⚠ new location"</span>
        }
    });
    let status = (!active).then(|| view! { <span class="chip chip-muted">{status_label(c.status)}</span> });
    let (for_revoke, for_rotate) = (c.clone(), c.clone());
    let row_id = format!("cred-{}", c.id);
    view! {
        <tr id=row_id data-status=status_code(c.status) data-kind=c.kind.as_str() class:inactive=!active>
            <td>{kind_label(c.kind)}</td>
            <td>
                <div class="cell-name">{display_name(&c)}</div>
                {c.agent_name.clone().filter(|a| *a != c.name).map(|a| view! { <div class="muted small">"agent "{a}</div> })}
                {fingerprint_changed}
                {status}
            </td>
            <td class="mono small">{c.id.clone()}</td>
            <td><span class="chip">{c.audience.as_str()}</span></td>
            <td title=time::local_date_time(c.created_at)>{time::relative(c.created_at)}</td>
            <td class=expiry_class title=c.expires_at.map(time::local_date_time).unwrap_or_default()>
                {c.expires_at.map(time::relative).unwrap_or_else(|| "never".to_owned())}
            </td>
            <td>{c.last_used_at.map(time::relative).unwrap_or_else(|| "never".to_owned())}</td>
            <td class="row-actions">
                {rotatable.then(|| view! {
                    <button id=format!("rotate-{}", c.id) class="button link"
                        on:click=move |_| modal.set(Some(Modal::Rotate(for_rotate.clone())))>"Rotate"</button>
                })}
                {(can_act && active).then(|| view! {
                    <button id=format!("revoke-{}", c.id) class="button link danger"
                        on:click=move |_| modal.set(Some(Modal::Revoke(for_revoke.clone())))>"Revoke"</button>
                })}
            </td>
        </tr>
    }
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn haystack(c: &CredentialView) -> String {
    format!(
        "{} {} {} {} {} {}",
        c.name,
        c.agent_name.as_deref().unwrap_or(""),
        c.service_account.as_deref().unwrap_or(""),
        c.id,
        kind_label(c.kind),
        c.owner_name
    )
    .to_lowercase()
}
