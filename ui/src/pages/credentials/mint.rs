//! The mint dialog: an agent token, an enrollment token, or (for admins) a service account.

use keyway_api::Role;
use keyway_api::auth::{Audience, TokenClass, scopes};
use keyway_api::credentials::{
    AgentView, CreateServiceAccount, CredentialKind, MAX_ENROLLMENT_MINUTES, MAX_PAT_DAYS_CEILING, MintEnrollment,
    MintPat, MintedSecret,
};
use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner};
use crate::ipc;

/// Scopes preselected for a new agent token: least privilege for an agent that asks for reviews.
const AGENT_DEFAULT_SCOPES: &[&str] = &[scopes::REVIEWS_SUBMIT, scopes::REVIEWS_READ];
/// Expiry preselected for a new agent token, in days.
const DEFAULT_DAYS: u32 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MintKind {
    Agent,
    Enrollment,
    Service,
}

#[component]
pub(super) fn MintDialog(
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

    let invalid = |message: &str| CommandError {
        kind: keyway_api::desktop::ErrorKind::InvalidInput,
        message: message.to_owned(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = agent.get_untracked().trim().to_owned();
        let scopes = Some(chosen.get_untracked());
        let days_value =
            days.get_untracked().trim().parse::<u32>().ok().filter(|d| (1..=MAX_PAT_DAYS_CEILING).contains(d));
        let k = kind.get_untracked();
        if k != MintKind::Enrollment && days_value.is_none() {
            error.set(Some(invalid(&format!(
                "Expiry must be a whole number of days between 1 and {MAX_PAT_DAYS_CEILING}."
            ))));
            return;
        }
        if k != MintKind::Enrollment && name.is_empty() {
            error.set(Some(invalid(if k == MintKind::Service {
                "Give the service account a name."
            } else {
                "Name the agent this token is for."
            })));
            return;
        }
        if k != MintKind::Service && chosen.get_untracked().is_empty() {
            error.set(Some(invalid("Choose at least one scope.")));
            return;
        }
        let minutes_value =
            minutes.get_untracked().trim().parse::<u32>().ok().filter(|m| (1..=MAX_ENROLLMENT_MINUTES).contains(m));
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
