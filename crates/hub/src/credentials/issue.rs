//! Making credentials: whose they are, the agents they are bound to, the scopes each kind may
//! hold, their ids and expiry, and minting one (the secret is returned once; only its hash is
//! stored).

use keyway_api::auth::{Audience, TokenClass};
use keyway_api::codes;
use keyway_api::credentials::{CredentialKind, MAX_NAME_CHARS, MintedSecret};
use serde_json::json;

use super::view;
use crate::audit::{self, Audit};
use crate::error::Error;
use crate::pat::new_public_id;
use crate::store::{AgentRecord, NewCredential, ServiceAccountRecord, Store, Written};

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

/// The owner's agent named (or with id) `name_or_id`. When there is none and `create` gives
/// who is acting, it is created and that is audited (`agent.create`).
pub(crate) async fn agent_for<S: Store>(
    store: &S,
    now: i64,
    owner: &Owner,
    name_or_id: &str,
    create: Option<Audit>,
) -> Result<AgentRecord, Error> {
    if let Some(a) = store.agent(name_or_id).await?
        && a.owner_id == owner.id
    {
        return Ok(a);
    }
    if let Some(a) = store.agent_by_name(&owner.id, name_or_id).await? {
        return Ok(a);
    }
    let Some(by) = create else {
        return Err(Error::missing(format!("you have no agent named '{name_or_id}' (create it, or pass --create)")));
    };
    validate_name(name_or_id, "agent name")?;
    let agent = AgentRecord {
        id: new_agent_id(),
        owner_id: owner.id.clone(),
        name: name_or_id.to_owned(),
        disabled: false,
        created_at: now,
        owner_name: owner.name.clone(),
        active_credentials: 0,
    };
    match store.insert_agent(&agent).await? {
        Written::Done => {
            audit::record(store, by.target("agent", &agent.id).detail(json!({ "name": agent.name }))).await?;
            Ok(agent)
        }
        _ => Err(Error::conflict(format!("you already have an agent named '{name_or_id}'"))),
    }
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

/// Stores a new credential and returns it with its secret (shown once).
pub(crate) async fn mint<S: Store>(store: &S, now: i64, m: Mint<'_>) -> Result<MintedSecret, Error> {
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
    store.insert_credential(&record).await?;
    Ok(MintedSecret { credential: view(&record, now), secret: token.expose().to_owned() })
}
