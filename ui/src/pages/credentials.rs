//! Credentials: the person's PATs, enrollment tokens and (for admins) service tokens; mint,
//! rotate and revoke them. New secrets are shown once.

use keyway_api::auth::{Audience, TokenClass, scopes};
use keyway_api::credentials::{
    AgentView, CreateServiceAccount, CredentialKind, CredentialStatus, CredentialView, MAX_ENROLLMENT_MINUTES,
    MAX_GRACE_SECS, MAX_PAT_DAYS_CEILING, MintEnrollment, MintPat, MintedSecret, RotateServiceToken,
};
use keyway_api::desktop::CommandError;
use keyway_api::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner, SecretOnce, Spinner};
use crate::{ipc, time};

const DAY: i64 = 86_400;
/// Scopes preselected for a new agent token: least privilege for an agent that asks for reviews.
const AGENT_DEFAULT_SCOPES: &[&str] = &[scopes::REVIEWS_SUBMIT, scopes::REVIEWS_READ];
/// Expiry preselected for a new agent token, in days.
const DEFAULT_DAYS: u32 = 30;

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
    let is_admin = roles.iter().any(|r| r == Role::Admin.as_str());
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
            let service_accounts = if is_admin { ipc::service_accounts_list().await.map(Some) } else { Ok(None) };
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
                <button id="mint" class="button primary" on:click=move |_| modal.set(Some(Modal::Mint))>
                    "Mint credential"
                </button>
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
                {is_admin.then(|| view! {
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
                                    <Row c=c modal=modal/>
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
                <Dialog id="secret-dialog" title="Copy your new secret".to_owned() on_close=close>
                    <SecretOnce what=what secret=secret on_done=close/>
                </Dialog>
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
fn Row(c: CredentialView, modal: RwSignal<Option<Modal>>) -> impl IntoView {
    let now = now();
    let active = matches!(c.status, CredentialStatus::Active);
    let rotatable = active && matches!(c.kind, CredentialKind::AgentPat | CredentialKind::UserPat | CredentialKind::ServiceToken);
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
                {active.then(|| view! {
                    <button id=format!("revoke-{}", c.id) class="button link danger"
                        on:click=move |_| modal.set(Some(Modal::Revoke(for_revoke.clone())))>"Revoke"</button>
                })}
            </td>
        </tr>
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MintKind {
    Agent,
    Enrollment,
    Service,
}

#[component]
fn MintDialog(
    is_admin: bool,
    agents: Vec<AgentView>,
    on_close: Callback<()>,
    on_minted: Callback<(String, String)>,
) -> impl IntoView {
    let kind = RwSignal::new(MintKind::Agent);
    let agent = RwSignal::new(String::new());
    let audience = RwSignal::new(Audience::Cli);
    let days = RwSignal::new(DEFAULT_DAYS.to_string());
    let minutes = RwSignal::new("15".to_owned());
    let group = RwSignal::new(Role::Developer);
    let chosen = RwSignal::new(AGENT_DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let agent_names: Vec<String> = agents.iter().filter(|a| !a.disabled).map(|a| a.name.clone()).collect();
    let known = agent_names.clone();
    let is_new_agent = move || {
        let name = agent.get();
        !name.trim().is_empty() && !known.iter().any(|a| a.eq_ignore_ascii_case(name.trim()))
    };

    let invalid = |message: &str| CommandError { kind: keyway_api::desktop::ErrorKind::InvalidInput, message: message.to_owned() };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = agent.get_untracked().trim().to_owned();
        let scopes = Some(chosen.get_untracked());
        let days_value = days.get_untracked().trim().parse::<u32>().ok().filter(|d| (1..=MAX_PAT_DAYS_CEILING).contains(d));
        let k = kind.get_untracked();
        if k != MintKind::Enrollment && days_value.is_none() {
            error.set(Some(invalid(&format!(
                "Expiry must be a whole number of days between 1 and {MAX_PAT_DAYS_CEILING}."
            ))));
            return;
        }
        if k != MintKind::Enrollment && name.is_empty() {
            error.set(Some(invalid(if k == MintKind::Service { "Give the service account a name." } else { "Name the agent this token is for." })));
            return;
        }
        if k != MintKind::Service && chosen.get_untracked().is_empty() {
            error.set(Some(invalid("Choose at least one scope.")));
            return;
        }
        let minutes_value = minutes.get_untracked().trim().parse::<u32>().ok().filter(|m| (1..=MAX_ENROLLMENT_MINUTES).contains(m));
        if k == MintKind::Enrollment && minutes_value.is_none() {
            error.set(Some(invalid(&format!(
                "The enrollment token must expire within 1 to {MAX_ENROLLMENT_MINUTES} minutes."
            ))));
            return;
        }
        busy.set(true);
        error.set(None);
        let audience = audience.get_untracked();
        let group = group.get_untracked();
        spawn_local(async move {
            let result: Result<(String, String), CommandError> = match k {
                MintKind::Agent => ipc::credentials_mint_pat(&MintPat {
                    kind: CredentialKind::AgentPat,
                    agent: Some(name.clone()),
                    create_agent: true,
                    name: None,
                    audience,
                    expires_days: days_value,
                    scopes,
                })
                .await
                .map(|m: MintedSecret| (format!("Agent token for {name}"), m.secret)),
                MintKind::Enrollment => ipc::credentials_mint_enrollment(&MintEnrollment {
                    expires_minutes: minutes_value,
                    agent_name: (!name.is_empty()).then(|| name.clone()),
                    audience,
                    pat_expires_days: days_value,
                    scopes,
                })
                .await
                .map(|m| {
                    let mins = minutes_value.unwrap_or(15);
                    (format!("Enrollment token — one use, within {mins} minutes. The agent redeems it with `keyway token enroll`."), m.secret)
                }),
                MintKind::Service => ipc::service_account_create(&CreateServiceAccount {
                    name: name.clone(),
                    group,
                    expires_days: days_value,
                })
                .await
                .map(|c| (format!("Service token for {name}. It signs in with `keyway service-account login {name}`."), c.secret)),
            };
            match result {
                Ok(done) => on_minted.run(done),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };

    let kind_option = move |value: MintKind, id: &'static str, title: &'static str, text: &'static str| {
        view! {
            <label class="option" class:selected=move || kind.get() == value>
                <input id=id type="radio" name="mint-kind" prop:checked=move || kind.get() == value
                    on:change=move |_| kind.set(value)/>
                <span class="option-title">{title}</span>
                <span class="option-text">{text}</span>
            </label>
        }
    };
    let audience_option = move |value: Audience, label: &'static str| {
        view! {
            <label class="check">
                <input id=format!("audience-{}", value.as_str()) type="radio" name="audience"
                    prop:checked=move || audience.get() == value on:change=move |_| audience.set(value)/>
                " "{label}
            </label>
        }
    };
    let scope_boxes = move || {
        TokenClass::AgentAccess
        .allowed_scopes()
        .iter()
        .map(|scope| {
            let scope = *scope;
            view! {
                <label class="check scope">
                    <input id=format!("scope-{}", scope.replace('.', "-")) type="checkbox"
                        prop:checked=move || chosen.get().iter().any(|s| s == scope)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| {
                                c.retain(|s| s != scope);
                                if on { c.push(scope.to_owned()); }
                            });
                        }/>
                    " "<span class="mono">{scope}</span>
                </label>
            }
        })
        .collect_view()
    };

    view! {
        <Dialog id="mint-dialog" title="Mint a credential".to_owned() on_close=on_close>
            <form class="form" on:submit=submit novalidate=true>
                <fieldset class="options" aria-label="Kind">
                    {kind_option(MintKind::Agent, "kind-agent", "Agent token", "Bound to one agent; exchanged for agent access.")}
                    {kind_option(MintKind::Enrollment, "kind-enrollment", "Enrollment token", "One use, short-lived: the agent picks its name and receives its own token.")}
                    {is_admin.then(|| kind_option(MintKind::Service, "kind-service", "Service account", "For automation, with its own group and service token."))}
                </fieldset>
                <div class="field">
                    <label class="label" for="mint-agent">
                        {move || match kind.get() {
                            MintKind::Agent => "Agent",
                            MintKind::Enrollment => "Agent name (optional: the agent chooses)",
                            MintKind::Service => "Service account name",
                        }}
                    </label>
                    <input id="mint-agent" type="text" list="agent-names" autocomplete="off" spellcheck="false"
                        prop:value=move || agent.get() on:input=move |ev| agent.set(event_target_value(&ev))/>
                    <datalist id="agent-names">
                        {agent_names.into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
                    </datalist>
                    {move || (kind.get() == MintKind::Agent && is_new_agent()).then(|| view! {
                        <p id="new-agent-hint" class="hint">"A new agent with this name will be created."</p>
                    })}
                </div>
                {move || (kind.get() == MintKind::Service).then(|| view! {
                    <div class="field">
                        <label class="label" for="mint-group">"Group"</label>
                        <select id="mint-group" on:change=move |ev| {
                            if let Some(role) = Role::parse(&event_target_value(&ev)) { group.set(role) }
                        }>
                            <option value="developer" selected=true>"developer"</option>
                            <option value="auditor">"auditor"</option>
                            <option value="reviewer">"reviewer"</option>
                        </select>
                    </div>
                })}
                {move || (kind.get() != MintKind::Service).then(|| view! {
                    <fieldset class="field">
                        <legend class="label">"Where it may be used"</legend>
                        <div class="row">
                            {audience_option(Audience::Cli, "Command line")}
                            {audience_option(Audience::Mcp, "MCP tools")}
                            {audience_option(Audience::Both, "Both")}
                        </div>
                    </fieldset>
                })}
                {move || (kind.get() == MintKind::Enrollment).then(|| view! {
                    <div class="field">
                        <label class="label" for="mint-minutes">"Enrollment token expires after (minutes)"</label>
                        <input id="mint-minutes" type="text" inputmode="numeric"
                            prop:value=move || minutes.get() on:input=move |ev| minutes.set(event_target_value(&ev))/>
                    </div>
                })}
                <div class="field">
                    <label class="label" for="mint-expires">
                        {move || if kind.get() == MintKind::Enrollment { "The agent's token expires after (days)" } else { "Expires after (days)" }}
                    </label>
                    <input id="mint-expires" type="text" inputmode="numeric"
                        prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
                </div>
                {move || (kind.get() != MintKind::Service).then(|| view! {
                    <fieldset class="field">
                        <legend class="label">"Scopes"</legend>
                        <p class="hint">"Only what the agent needs. Preselected: submitting and reading review requests."</p>
                        <div class="scopes">{scope_boxes()}</div>
                    </fieldset>
                })}
                <ErrorBanner error=error/>
                <div class="actions">
                    <button id="mint-submit" type="submit" class="button primary" disabled=move || busy.get()>
                        {move || if busy.get() { "Minting…" } else { "Mint" }}
                    </button>
                    <button type="button" class="button secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                </div>
            </form>
        </Dialog>
    }
}

#[component]
fn RevokeDialog(c: CredentialView, on_close: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let name = display_name(&c);
    let revoke = {
        let c = c.clone();
        move |_| {
            busy.set(true);
            let c = c.clone();
            spawn_local(async move {
                let result = if c.kind == CredentialKind::ServiceToken {
                    match c.service_account.as_deref() {
                        Some(account) => ipc::service_account_revoke(account).await.map(|_| ()),
                        None => ipc::credentials_revoke(&c.id).await.map(|_| ()),
                    }
                } else {
                    ipc::credentials_revoke(&c.id).await.map(|_| ())
                };
                match result {
                    Ok(()) => on_done.run(()),
                    Err(e) => {
                        busy.try_set(false);
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    view! {
        <Dialog id="revoke-dialog" title=format!("Revoke {name}?") on_close=on_close>
            {if c.kind == CredentialKind::ServiceToken {
                view! {
                    <p>
                        "This disables the service account "<strong>{c.service_account.clone().unwrap_or_default()}</strong>
                        " and revokes all its tokens: automation using it stops working now. This cannot be undone."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p>
                        "Anything using this "{kind_label(c.kind).to_lowercase()}" stops working now: its next exchange is refused. This cannot be undone."
                    </p>
                }.into_any()
            }}
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="confirm-revoke" class="button danger-solid" disabled=move || busy.get() on:click=revoke>
                    {move || if busy.get() { "Revoking…" } else { "Revoke" }}
                </button>
                <button class="button secondary" on:click=move |_| on_close.run(())>"Keep it"</button>
            </div>
        </Dialog>
    }
}

#[component]
fn RotateDialog(c: CredentialView, on_close: Callback<()>, on_rotated: Callback<(String, String)>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let grace = RwSignal::new(0u64);
    let name = display_name(&c);
    let is_service = c.kind == CredentialKind::ServiceToken;
    let rotate = {
        let c = c.clone();
        let name = name.clone();
        move |_| {
            busy.set(true);
            let c = c.clone();
            let name = name.clone();
            spawn_local(async move {
                let result = match (is_service, c.service_account.as_deref()) {
                    (true, Some(account)) => {
                        ipc::service_account_rotate(account, &RotateServiceToken { grace_secs: grace.get_untracked() }).await
                    }
                    _ => ipc::credentials_rotate(&c.id).await,
                };
                match result {
                    Ok(m) => on_rotated.run((format!("New secret for {name}"), m.secret)),
                    Err(e) => {
                        busy.try_set(false);
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    view! {
        <Dialog id="rotate-dialog" title=format!("Rotate {name}?") on_close=on_close>
            <p>"A new secret replaces this one. Update everything that uses it."</p>
            {(!is_service).then(|| view! { <p class="muted">"The old secret stops working at once."</p> })}
            {is_service.then(|| view! {
                <div class="field">
                    <label class="label" for="rotate-grace">"The old token keeps working for"</label>
                    <select id="rotate-grace" on:change=move |ev| grace.set(event_target_value(&ev).parse().unwrap_or(0))>
                        <option value="0" selected=true>"no time: it stops now"</option>
                        <option value="3600">"1 hour"</option>
                        <option value="86400">"1 day"</option>
                        // The longest grace the hub allows.
                        <option value=MAX_GRACE_SECS.to_string()>{format!("{} days", MAX_GRACE_SECS / DAY as u64)}</option>
                    </select>
                </div>
            })}
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="confirm-rotate" class="button primary" disabled=move || busy.get() on:click=rotate>
                    {move || if busy.get() { "Rotating…" } else { "Rotate" }}
                </button>
                <button class="button secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </Dialog>
    }
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn display_name(c: &CredentialView) -> String {
    c.service_account.clone().or_else(|| c.agent_name.clone()).filter(|_| c.name.is_empty()).unwrap_or_else(|| c.name.clone())
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

fn kind_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::UserPat => "Personal token",
        CredentialKind::AgentPat => "Agent token",
        CredentialKind::Enrollment => "Enrollment token",
        CredentialKind::ServiceToken => "Service token",
    }
}

fn status_label(status: CredentialStatus) -> &'static str {
    match status {
        CredentialStatus::Active => "active",
        CredentialStatus::Expired => "expired",
        CredentialStatus::Revoked => "revoked",
        CredentialStatus::Used => "used",
        CredentialStatus::Retiring => "retiring",
    }
}

fn status_code(status: CredentialStatus) -> &'static str {
    status_label(status)
}
