//! Making credentials: whose they are, the agents they are bound to, the scopes each kind may
//! hold, their ids and expiry, and minting one (the secret is returned once; only its hash is
//! stored). What is made is stored by the caller as one [`Change`] with its audit rows.

use keyway_api::auth::{Audience, TokenClass};
use keyway_api::codes;
use keyway_api::credentials::{CredentialKind, MAX_NAME_CHARS, MintedSecret};
use serde_json::json;

use super::view;
use crate::audit::Audit;
use crate::error::Error;
use crate::pat::new_public_id;
use crate::store::changes::{Applied, Change, Outcome, Write};
use crate::store::{AgentRecord, AuditEvent, CredentialRecord, NewCredential, ServiceAccountRecord, Store};

/// Seconds in a day, for lifetimes given in days.
pub(crate) const DAY_SECS: i64 = 86_400;

/// The user a credential belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// A name of a credential, agent or service account: 1–64 of `A-Z a-z 0-9 . _ -`, starting
/// with a letter or digit.
pub(crate) fn validate_name(name: &str, what: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!(
                "the {what} must be 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

/// A label: any printable text up to 64 characters.
pub(crate) fn validate_label(label: &str) -> Result<(), Error> {
    if label.trim().is_empty() || label.chars().count() > MAX_NAME_CHARS || label.chars().any(char::is_control) {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("the name must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(())
}

/// Scopes a credential of `kind` may hold.
pub(crate) fn allowlist(kind: CredentialKind) -> Vec<&'static str> {
    match kind {
        CredentialKind::UserPat => {
            let mut v = TokenClass::UserAccess.allowed_scopes().to_vec();
            v.extend_from_slice(TokenClass::UserAdmin.allowed_scopes());
            v
        }
        CredentialKind::AgentPat | CredentialKind::Enrollment => TokenClass::AgentAccess.allowed_scopes().to_vec(),
        CredentialKind::ServiceToken => TokenClass::ServiceAccess.allowed_scopes().to_vec(),
    }
}

/// The scopes a new credential of `kind` holds: those `asked` (each in its allowlist, once),
/// or the whole allowlist when nothing is asked.
pub(crate) fn pick_scopes(kind: CredentialKind, asked: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let allowed = allowlist(kind);
    let Some(asked) = asked else {
        return Ok(allowed.iter().map(|s| (*s).to_owned()).collect());
    };
    if asked.is_empty() {
        return Err(Error::unprocessable(codes::VALIDATION_FAILED, "scopes must not be empty (leave it out for all)"));
    }
    let refused: Vec<String> =
        asked.iter().filter(|s| !allowed.contains(&s.as_str())).map(|s| s.chars().take(64).collect()).collect();
    if !refused.is_empty() {
        return Err(Error::unprocessable(
            codes::SCOPE_NOT_ALLOWED,
            format!("Scopes not allowed for a {}: [{}]", kind.as_str(), refused.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for s in asked {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// A fresh agent id, `ag_` + 12 base62 characters.
pub(crate) fn new_agent_id() -> String {
    format!("ag_{}", &new_public_id()[3..])
}

/// A fresh service account id, `sa_` + 12 base62 characters.
pub(crate) fn new_service_account_id() -> String {
    format!("sa_{}", &new_public_id()[3..])
}

/// When a PAT minted at `now` expires: after the admin's default number of days, or `asked`
/// days within 1 to the admin's maximum.
pub(crate) async fn pat_expiry<S: Store>(store: &S, now: i64, asked: Option<u32>) -> Result<i64, Error> {
    let settings = store.credential_settings().await?;
    let days = asked.unwrap_or(settings.default_pat_days);
    if days == 0 || days > settings.max_pat_days {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("expiry must be between 1 and {} days (the admin's maximum)", settings.max_pat_days),
        ));
    }
    Ok(now.saturating_add(i64::from(days) * DAY_SECS))
}

/// An agent a credential is for: one the owner has, or a new one to insert with it.
#[derive(Debug)]
pub(crate) enum AgentChoice {
    Found(AgentRecord),
    New(AgentRecord),
}

impl AgentChoice {
    pub(crate) fn record(&self) -> &AgentRecord {
        match self {
            AgentChoice::Found(a) | AgentChoice::New(a) => a,
        }
    }
}

/// The owner's agent named (or with id) `name_or_id`; when there is none and `create`, a new
/// one (not yet stored: the caller inserts it with what it makes for it).
pub(crate) async fn agent_for<S: Store>(
    store: &S,
    now: i64,
    owner: &Owner,
    name_or_id: &str,
    create: bool,
) -> Result<AgentChoice, Error> {
    if let Some(a) = store.agent(name_or_id, now).await?
        && a.owner_id == owner.id
    {
        return Ok(AgentChoice::Found(a));
    }
    if let Some(a) = store.agent_by_name(&owner.id, name_or_id, now).await? {
        return Ok(AgentChoice::Found(a));
    }
    if !create {
        return Err(Error::missing(format!("you have no agent named '{name_or_id}' (create it, or pass --create)")));
    }
    validate_name(name_or_id, "agent name")?;
    Ok(AgentChoice::New(AgentRecord {
        id: new_agent_id(),
        owner_id: owner.id.clone(),
        name: name_or_id.to_owned(),
        disabled: false,
        created_at: now,
        owner_name: owner.name.clone(),
        active_credentials: 0,
    }))
}

/// The refusal of an enrollment for a name an agent of the owner already has.
pub(crate) fn enrollment_agent_exists(name: &str) -> Error {
    Error::conflict(format!(
        "you already have an agent named '{name}': enrollment makes a new agent only; mint a PAT for '{name}' instead, or pick another name"
    ))
}

impl AgentChoice {
    /// The audit row of the agent's creation by `by`, when it is new.
    pub(crate) fn created_event(&self, by: Audit) -> Option<AuditEvent> {
        match self {
            AgentChoice::New(a) => Some(agent_created(by, a)),
            AgentChoice::Found(_) => None,
        }
    }
}

/// `change` followed by the insertion of `agent` with its audit row `created`, when the agent
/// is new (`created` from [`AgentChoice::created_event`]).
pub(crate) fn insert_if_new<'a>(
    change: Change<'a>,
    agent: Option<&'a AgentChoice>,
    created: Option<&'a AuditEvent>,
) -> Change<'a> {
    match (agent, created) {
        (Some(AgentChoice::New(a)), Some(event)) => change.then(Write::InsertAgent(a)).audit(event),
        _ => change,
    }
}

/// The refusal of a new agent whose name the owner already uses.
pub(crate) fn agent_name_taken(name: &str) -> Error {
    Error::conflict(format!("you already have an agent named '{name}'"))
}

/// The audit row of a new agent, created by `by`.
pub(crate) fn agent_created(by: Audit, agent: &AgentRecord) -> AuditEvent {
    by.target("agent", &agent.id).detail(json!({ "name": agent.name })).event()
}

/// What to mint: a PAT or service token of `kind` for `owner`.
#[derive(Debug)]
pub(crate) struct Mint<'a> {
    pub(crate) owner: &'a Owner,
    pub(crate) kind: CredentialKind,
    pub(crate) agent: Option<&'a AgentRecord>,
    pub(crate) service_account: Option<&'a ServiceAccountRecord>,
    pub(crate) name: String,
    pub(crate) audience: Audience,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Option<i64>,
}

/// A new credential: the record to insert, and the answer that shows its secret once.
#[derive(Debug)]
pub(crate) struct Minted {
    pub(crate) record: CredentialRecord,
    pub(crate) secret: MintedSecret,
}

/// Makes a new credential's secret and record (stored by the caller's change).
pub(crate) fn mint(now: i64, m: Mint<'_>) -> Minted {
    let (record, token) = NewCredential {
        kind: m.kind,
        name: m.name,
        owner_id: &m.owner.id,
        owner_name: &m.owner.name,
        agent: m.agent,
        service_account: m.service_account,
        audience: m.audience,
        scopes: m.scopes,
        created_at: now,
        expires_at: m.expires_at,
        enroll_agent_name: None,
        enroll_pat_days: None,
    }
    .issue();
    let secret = MintedSecret { credential: view(&record, now), secret: token.expose().to_owned() };
    Minted { record, secret }
}

/// Applies `change`; a write that does not apply is refused by `refusal` (given its index and
/// outcome), and nothing of the change is kept.
pub(crate) async fn apply<S: Store>(
    store: &S,
    change: &Change<'_>,
    refusal: impl FnOnce(usize, Outcome) -> Error,
) -> Result<(), Error> {
    match store.apply(change).await? {
        Applied::Done => Ok(()),
        Applied::Stopped { at, outcome } => Err(refusal(at, outcome)),
    }
}
