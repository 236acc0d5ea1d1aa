//! Managing credentials, agents, service accounts and credential settings under `/api`.
//!
//! Reading needs a JWT with `credentials.read` (or a `user_admin` one); every change needs a
//! `user_admin` JWT with the scope the action names; service accounts and settings also need
//! the `admin` role. Every change is audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use keyway_api::auth::{Audience, Page, PrincipalKind, TokenClass, scopes};
use keyway_api::credentials::{
    AgentView, CreateAgent, CreateServiceAccount, CreatedServiceAccount, CredentialKind, CredentialSettings,
    CredentialView, MintEnrollment, MintPat, MintedSecret, RotateServiceToken, ServiceAccountView, UpdateAgent,
};
use keyway_api::{Role, codes};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{JsonBody, Principal, record};
use crate::credentials::view;
use crate::error::Error;
use crate::oauth::{AppState, no_store};
use crate::pat::{Token, new_public_id};
use crate::store::{
    AgentRecord, AuditEvent, CredentialFilter, CredentialRecord, NewCredential, ServiceAccountRecord, Store, Written,
};

use keyway_api::credentials::{
    MAX_ENROLLMENT_MINUTES, MAX_GRACE_SECS, MAX_NAME_CHARS, MAX_PAT_DAYS_CEILING as MAX_SETTING_DAYS,
};

pub(crate) fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/credentials", get(list::<S>).post(mint_pat::<S>))
        .route("/api/credentials/enrollment", post(mint_enrollment::<S>))
        .route("/api/credentials/{id}/revoke", post(revoke::<S>))
        .route("/api/credentials/{id}/rotate", post(rotate::<S>))
        .route("/api/agents", get(list_agents::<S>).post(create_agent::<S>))
        .route("/api/agents/{id}", patch(update_agent::<S>))
        .route("/api/service-accounts", get(list_service_accounts::<S>).post(create_service_account::<S>))
        .route("/api/service-accounts/{id}/rotate", post(rotate_service_account::<S>))
        .route("/api/service-accounts/{id}/revoke", post(revoke_service_account::<S>))
        .route("/api/settings/credentials", get(get_settings::<S>).put(put_settings::<S>))
}

/// The user a credential belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    pub(crate) id: String,
    pub(crate) name: String,
}

fn owner_of(p: &Principal) -> Result<Owner, Error> {
    if p.kind != PrincipalKind::User {
        return Err(Error::forbidden(
            codes::ADMIN_REQUIRED,
            format!("Management endpoints require a user_admin token, got {}", p.class),
        ));
    }
    Ok(Owner { id: p.id.clone(), name: p.name.clone() })
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
fn validate_label(label: &str) -> Result<(), Error> {
    if label.trim().is_empty() || label.chars().count() > MAX_NAME_CHARS || label.chars().any(char::is_control) {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("the name must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(())
}

fn can_read(p: &Principal) -> Result<(), Error> {
    if p.class == TokenClass::UserAdmin { Ok(()) } else { p.require_scopes(&[scopes::CREDENTIALS_READ]) }
}

fn audit(p: &Principal, at: i64, action: &str, kind: &str, target: &str, detail: serde_json::Value) -> AuditEvent {
    let mut e = p.audit(at, action, "ok");
    e.target_kind = Some(kind.to_owned());
    e.target_id = Some(target.to_owned());
    e.detail = detail;
    e
}

/// Scopes a credential of `kind` may hold.
fn allowlist(kind: CredentialKind) -> Vec<&'static str> {
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

fn pick_scopes(kind: CredentialKind, asked: Option<Vec<String>>) -> Result<Vec<String>, Error> {
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

/// Days until expiry: the default, or `asked` within 1..=max.
async fn pat_expiry<S: Store>(state: &AppState<S>, asked: Option<u32>) -> Result<i64, Error> {
    let settings = state.store.credential_settings().await?;
    let days = asked.unwrap_or(settings.default_pat_days);
    if days == 0 || days > settings.max_pat_days {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("expiry must be between 1 and {} days (the admin's maximum)", settings.max_pat_days),
        ));
    }
    Ok(state.now().saturating_add(i64::from(days) * 86_400))
}

/// The owner's agent named (or with id) `name_or_id`; created when `create` and missing.
pub(crate) async fn agent_for<S: Store>(
    state: &AppState<S>,
    owner: &Owner,
    name_or_id: &str,
    create: bool,
) -> Result<AgentRecord, Error> {
    if let Some(a) = state.store.agent(name_or_id, state.now()).await?
        && a.owner_id == owner.id
    {
        return Ok(a);
    }
    if let Some(a) = state.store.agent_by_name(&owner.id, name_or_id, state.now()).await? {
        return Ok(a);
    }
    if !create {
        return Err(Error::missing(format!("you have no agent named '{name_or_id}' (create it, or pass --create)")));
    }
    validate_name(name_or_id, "agent name")?;
    let agent = AgentRecord {
        id: format!("ag_{}", &new_public_id()[3..]),
        owner_id: owner.id.clone(),
        name: name_or_id.to_owned(),
        disabled: false,
        created_at: state.now(),
        owner_name: owner.name.clone(),
        active_credentials: 0,
    };
    match state.store.insert_agent(&agent).await? {
        Written::Done => {
            let event = AuditEvent {
                id: 0,
                at: agent.created_at,
                actor_kind: "user".into(),
                actor_id: Some(owner.id.clone()),
                actor_name: Some(owner.name.clone()),
                action: "agent.create".into(),
                target_kind: Some("agent".into()),
                target_id: Some(agent.id.clone()),
                outcome: "ok".into(),
                detail: json!({ "name": agent.name }),
            };
            record(state, event).await?;
            Ok(agent)
        }
        _ => Err(Error::conflict(format!("you already have an agent named '{name_or_id}'"))),
    }
}

/// Stores a new credential and returns it with its secret (shown once).
#[allow(clippy::too_many_arguments, reason = "the columns of a credential")]
pub(crate) async fn mint<S: Store>(
    state: &AppState<S>,
    owner: &Owner,
    kind: CredentialKind,
    agent: Option<&AgentRecord>,
    name: String,
    audience: Audience,
    scopes: Vec<String>,
    expires_at: Option<i64>,
    service_account: Option<&ServiceAccountRecord>,
) -> Result<MintedSecret, Error> {
    let now = state.now();
    let (record, token) = NewCredential {
        kind,
        name,
        owner_id: &owner.id,
        owner_name: &owner.name,
        agent,
        service_account,
        audience,
        scopes,
        created_at: now,
        expires_at,
        enroll_agent_name: None,
        enroll_pat_days: None,
    }
    .issue();
    state.store.insert_credential(&record).await?;
    Ok(MintedSecret { credential: view(&record, now), secret: token.expose().to_owned() })
}

fn created(body: impl serde::Serialize) -> Response {
    no_store((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(default)]
    all: bool,
}

#[derive(Deserialize)]
struct CredentialListParams {
    #[serde(default)]
    all: bool,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// How many credentials a page holds unless the caller asks for fewer (or more, up to
/// [`MAX_CREDENTIAL_PAGE`]).
const DEFAULT_CREDENTIAL_PAGE: u32 = 100;
const MAX_CREDENTIAL_PAGE: u32 = 500;

/// A page's `next`: where the last credential of the page sits in the list's order.
fn credential_cursor(c: &CredentialRecord) -> String {
    format!("{}.{}", c.created_at, c.id)
}

fn parse_credential_cursor(cursor: &str) -> Result<(i64, String), Error> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
        .filter(|(_, id)| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|(at, id)| (at, id.to_owned()))
        .ok_or_else(|| Error::bad_request("invalid cursor: pass back `next`"))
}

/// `GET /api/credentials[?all=true][&cursor=…][&limit=…]`: newest first, a page at a time.
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    q: Result<Query<CredentialListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<CredentialView>>, Error> {
    can_read(&p)?;
    let q = super::query(q)?;
    let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_credential_cursor).transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_CREDENTIAL_PAGE).clamp(1, MAX_CREDENTIAL_PAGE);
    if q.all {
        p.require_role(Role::Admin)?;
    }
    let owner =
        owner_of(&p).map_err(|_| Error::forbidden(codes::INSUFFICIENT_SCOPE, "only people list credentials"))?;
    // Show what has been used up to now.
    state.credentials.usage.flush(&state.store).await?;
    let filter = CredentialFilter {
        owner_id: (!q.all).then_some(owner.id),
        after,
        limit: Some(limit + 1),
        ..Default::default()
    };
    let now = state.now();
    let records = state.store.credentials(&filter).await?;
    let (records, next) = super::page_of(records, limit, credential_cursor);
    Ok(Json(Page { items: records.iter().map(|c| view(c, now)).collect(), next }))
}

/// `POST /api/credentials`: mint a PAT.
async fn mint_pat<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    JsonBody(body): JsonBody<MintPat>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::CREDENTIALS_ISSUE_AGENT])?;
    let owner = owner_of(&p)?;
    if let Some(name) = &body.name {
        validate_label(name)?;
    }
    let scopes = pick_scopes(body.kind, body.scopes)?;
    let expires_at = pat_expiry(&state, body.expires_days).await?;
    let (agent, name) = match body.kind {
        CredentialKind::AgentPat => {
            let Some(wanted) = body.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()) else {
                return Err(Error::unprocessable(codes::VALIDATION_FAILED, "an agent PAT needs an agent"));
            };
            if body.create_agent {
                p.require_scopes(&[scopes::AGENTS_CREATE])?;
            }
            let agent = agent_for(&state, &owner, wanted, body.create_agent).await?;
            if agent.disabled {
                return Err(Error::conflict(format!("the agent '{}' is disabled", agent.name)));
            }
            let name = body.name.clone().unwrap_or_else(|| agent.name.clone());
            (Some(agent), name)
        }
        CredentialKind::UserPat => {
            if body.agent.is_some() {
                return Err(Error::unprocessable(
                    codes::VALIDATION_FAILED,
                    "a user PAT is not bound to an agent: mint an agent PAT",
                ));
            }
            (None, body.name.clone().unwrap_or_else(|| format!("{} PAT", owner.name)))
        }
        other => {
            return Err(Error::unprocessable(
                codes::VALIDATION_FAILED,
                format!("kind must be user_pat or agent_pat here, not {}", other.as_str()),
            ));
        }
    };
    let minted =
        mint(&state, &owner, body.kind, agent.as_ref(), name, body.audience, scopes, Some(expires_at), None).await?;
    let detail = json!({
        "kind": body.kind.as_str(), "agent": agent.as_ref().map(|a| a.id.clone()),
        "audience": body.audience.as_str(), "expires_at": expires_at,
    });
    record(&state, audit(&p, state.now(), "pat.mint", "credential", &minted.credential.id, detail)).await?;
    Ok(created(minted))
}

/// `POST /api/credentials/enrollment`.
async fn mint_enrollment<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    JsonBody(body): JsonBody<MintEnrollment>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::CREDENTIALS_ISSUE_AGENT])?;
    let owner = owner_of(&p)?;
    let minutes = body.expires_minutes.unwrap_or(15);
    if minutes == 0 || minutes > MAX_ENROLLMENT_MINUTES {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("an enrollment token lives 1 to {MAX_ENROLLMENT_MINUTES} minutes"),
        ));
    }
    if let Some(name) = &body.agent_name {
        validate_name(name, "agent name")?;
    }
    let scopes = pick_scopes(CredentialKind::Enrollment, body.scopes)?;
    // Checked now so a bad value fails here, not at redemption.
    pat_expiry(&state, body.pat_expires_days).await?;
    let now = state.now();
    let (record_, token) = NewCredential {
        kind: CredentialKind::Enrollment,
        name: body.agent_name.clone().map(|n| format!("enroll {n}")).unwrap_or_else(|| "enrollment".to_owned()),
        owner_id: &owner.id,
        owner_name: &owner.name,
        agent: None,
        service_account: None,
        audience: body.audience,
        scopes,
        created_at: now,
        expires_at: Some(now.saturating_add(i64::from(minutes) * 60)),
        enroll_agent_name: body.agent_name.clone(),
        enroll_pat_days: body.pat_expires_days,
    }
    .issue();
    state.store.insert_credential(&record_).await?;
    let detail = json!({ "expires_minutes": minutes, "agent_name": body.agent_name });
    record(&state, audit(&p, now, "enrollment.mint", "credential", &record_.id, detail)).await?;
    Ok(created(MintedSecret { credential: view(&record_, now), secret: token.expose().to_owned() }))
}

/// The credential `id` if the caller owns it or is an admin; else 404 (no probing).
async fn own_credential<S: Store>(state: &AppState<S>, p: &Principal, id: &str) -> Result<CredentialRecord, Error> {
    match state.store.credential(id).await? {
        Some(c) if c.owner_id == p.id || p.has_role(Role::Admin) => Ok(c),
        _ => Err(Error::missing(format!("no credential {}", id.chars().take(40).collect::<String>()))),
    }
}

/// `POST /api/credentials/{id}/revoke`.
async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, Error> {
    p.require_admin(&[scopes::CREDENTIALS_REVOKE])?;
    owner_of(&p)?;
    let c = own_credential(&state, &p, &id).await?;
    let now = state.now();
    let changed = state.store.revoke_credential(&c.id, now).await?;
    state.credentials.cache.invalidate(&c.id);
    if changed {
        let detail = json!({ "kind": c.kind.as_str(), "owner": c.owner_id });
        record(&state, audit(&p, now, "credential.revoke", "credential", &c.id, detail)).await?;
    }
    let c = state.store.credential(&c.id).await?.ok_or_else(|| Error::missing("the credential is gone"))?;
    Ok(Json(view(&c, now)))
}

/// `POST /api/credentials/{id}/rotate`: a new secret for the same credential; the old one
/// stops working at once (service tokens: see the service account rotate route).
async fn rotate<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::CREDENTIALS_ISSUE_AGENT, scopes::CREDENTIALS_REVOKE])?;
    owner_of(&p)?;
    let c = own_credential(&state, &p, &id).await?;
    let now = state.now();
    if c.kind == CredentialKind::ServiceToken {
        let sa = c.service_account_id.clone().unwrap_or_default();
        p.require_role(Role::Admin)?;
        let minted = rotate_sa(&state, &p, &sa, 0).await?;
        return Ok(created(minted));
    }
    if c.kind == CredentialKind::Enrollment {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "enrollment tokens cannot be rotated: mint a new one",
        ));
    }
    if crate::credentials::status(&c, now) != keyway_api::credentials::CredentialStatus::Active {
        return Err(Error::conflict("only an active credential can be rotated"));
    }
    let token = Token::generate(c.kind, &c.id);
    if !state.store.replace_credential_secret(&c.id, &token.hash()).await? {
        return Err(Error::conflict("only an active credential can be rotated"));
    }
    state.credentials.cache.invalidate(&c.id);
    record(&state, audit(&p, now, "credential.rotate", "credential", &c.id, json!({ "kind": c.kind.as_str() })))
        .await?;
    Ok(created(MintedSecret { credential: view(&c, now), secret: token.expose().to_owned() }))
}

fn agent_view(a: &AgentRecord) -> AgentView {
    AgentView {
        id: a.id.clone(),
        name: a.name.clone(),
        owner_id: a.owner_id.clone(),
        owner_name: a.owner_name.clone(),
        disabled: a.disabled,
        created_at: a.created_at,
        active_credentials: a.active_credentials,
    }
}

/// `GET /api/agents[?all=true]`.
async fn list_agents<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<AgentView>>, Error> {
    can_read(&p)?;
    let q = super::query(q)?;
    if q.all {
        p.require_role(Role::Admin)?;
    }
    let owner = owner_of(&p)?;
    let agents = state.store.agents((!q.all).then_some(owner.id.as_str()), state.now()).await?;
    Ok(Json(Page { items: agents.iter().map(agent_view).collect(), next: None }))
}

/// `POST /api/agents`.
async fn create_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    JsonBody(body): JsonBody<CreateAgent>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::AGENTS_CREATE])?;
    let owner = owner_of(&p)?;
    let name = body.name.trim();
    validate_name(name, "agent name")?;
    if state.store.agent_by_name(&owner.id, name, state.now()).await?.is_some() {
        return Err(Error::conflict(format!("you already have an agent named '{name}'")));
    }
    let agent = agent_for(&state, &owner, name, true).await?;
    Ok(created(agent_view(&agent)))
}

/// `PATCH /api/agents/{id}`: rename and/or disable; disabling stops its PATs' exchanges at once.
async fn update_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateAgent>,
) -> Result<Json<AgentView>, Error> {
    p.require_admin(&[scopes::AGENTS_BIND])?;
    owner_of(&p)?;
    let agent = match state.store.agent(&id, state.now()).await? {
        Some(a) if a.owner_id == p.id || p.has_role(Role::Admin) => a,
        _ => return Err(Error::missing("no such agent")),
    };
    let name = body.name.as_deref().map(str::trim);
    if let Some(n) = name {
        validate_name(n, "agent name")?;
    }
    match state.store.update_agent(&agent.id, name, body.disabled).await? {
        Written::Done => {}
        Written::NameTaken => return Err(Error::conflict("that agent name is taken")),
        Written::Missing => return Err(Error::missing("no such agent")),
    }
    state.credentials.cache.invalidate_agent(&agent.id);
    let action = match body.disabled {
        Some(true) => "agent.disable",
        Some(false) => "agent.enable",
        None => "agent.rename",
    };
    let detail = json!({ "name": name, "disabled": body.disabled, "previous_name": agent.name });
    record(&state, audit(&p, state.now(), action, "agent", &agent.id, detail)).await?;
    let agent = state.store.agent(&agent.id, state.now()).await?.ok_or_else(|| Error::missing("no such agent"))?;
    Ok(Json(agent_view(&agent)))
}

async fn sa_view<S: Store>(state: &AppState<S>, sa: &ServiceAccountRecord) -> Result<ServiceAccountView, Error> {
    let now = state.now();
    let filter = CredentialFilter { service_account_id: Some(sa.id.clone()), ..Default::default() };
    let tokens = state.store.credentials(&filter).await?.iter().map(|c| view(c, now)).collect();
    Ok(ServiceAccountView {
        id: sa.id.clone(),
        name: sa.name.clone(),
        group: sa.group,
        created_at: sa.created_at,
        created_by: sa.created_by.clone(),
        disabled: sa.disabled,
        tokens,
    })
}

/// `GET /api/service-accounts` (admins).
async fn list_service_accounts<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
) -> Result<Json<Page<ServiceAccountView>>, Error> {
    p.require_role(Role::Admin)?;
    owner_of(&p)?;
    let mut items = Vec::new();
    for sa in state.store.service_accounts().await? {
        items.push(sa_view(&state, &sa).await?);
    }
    Ok(Json(Page { items, next: None }))
}

/// `POST /api/service-accounts`: the account and its first token (shown once).
async fn create_service_account<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    JsonBody(body): JsonBody<CreateServiceAccount>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::SERVICE_ACCOUNTS_MANAGE])?;
    p.require_role(Role::Admin)?;
    let owner = owner_of(&p)?;
    let name = body.name.trim();
    validate_name(name, "service account name")?;
    if body.group == Role::Admin {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "a service account's group is developer, reviewer or auditor, never admin",
        ));
    }
    let expires_at = pat_expiry(&state, body.expires_days).await?;
    let now = state.now();
    let sa = ServiceAccountRecord {
        id: format!("sa_{}", &new_public_id()[3..]),
        name: name.to_owned(),
        group: body.group,
        created_by: owner.id.clone(),
        disabled: false,
        created_at: now,
    };
    if state.store.insert_service_account(&sa).await? != Written::Done {
        return Err(Error::conflict(format!("a service account named '{name}' exists")));
    }
    let minted = mint(
        &state,
        &owner,
        CredentialKind::ServiceToken,
        None,
        format!("{name} token"),
        Audience::Both,
        pick_scopes(CredentialKind::ServiceToken, None)?,
        Some(expires_at),
        Some(&sa),
    )
    .await?;
    let detail = json!({ "name": sa.name, "group": sa.group.as_str(), "token": minted.credential.id });
    record(&state, audit(&p, now, "service_account.create", "service_account", &sa.id, detail)).await?;
    let account = sa_view(&state, &sa).await?;
    Ok(created(CreatedServiceAccount { account, secret: minted.secret }))
}

async fn rotate_sa<S: Store>(
    state: &AppState<S>,
    p: &Principal,
    sa_id: &str,
    grace: u64,
) -> Result<MintedSecret, Error> {
    if grace > MAX_GRACE_SECS {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("grace_secs must be at most {MAX_GRACE_SECS} (7 days)"),
        ));
    }
    let sa = service_account_named(state, sa_id).await?;
    if sa.disabled {
        return Err(Error::conflict("the service account is revoked"));
    }
    let owner = owner_of(p)?;
    let now = state.now();
    let filter = CredentialFilter { service_account_id: Some(sa.id.clone()), ..Default::default() };
    let old: Vec<CredentialRecord> = state
        .store
        .credentials(&filter)
        .await?
        .into_iter()
        .filter(|c| c.revoked_at.is_none() && c.expires_at.is_none_or(|e| e > now))
        .collect();
    let expires_at = pat_expiry(state, None).await?;
    let minted = mint(
        state,
        &owner,
        CredentialKind::ServiceToken,
        None,
        format!("{} token", sa.name),
        Audience::Both,
        pick_scopes(CredentialKind::ServiceToken, None)?,
        Some(expires_at),
        Some(&sa),
    )
    .await?;
    for c in &old {
        if grace == 0 {
            state.store.revoke_credential(&c.id, now).await?;
        } else {
            state.store.retire_credential(&c.id, now, now.saturating_add(grace as i64)).await?;
        }
        state.credentials.cache.invalidate(&c.id);
    }
    let detail = json!({ "grace_secs": grace, "new_token": minted.credential.id,
        "old_tokens": old.iter().map(|c| c.id.clone()).collect::<Vec<_>>() });
    record(state, audit(p, now, "service_account.rotate", "service_account", &sa.id, detail)).await?;
    Ok(minted)
}

/// The service account with this id, or else this name (names are unique).
async fn service_account_named<S: Store>(state: &AppState<S>, id_or_name: &str) -> Result<ServiceAccountRecord, Error> {
    if let Some(sa) = state.store.service_account(id_or_name).await? {
        return Ok(sa);
    }
    state.store.service_account_by_name(id_or_name).await?.ok_or_else(|| Error::missing("no such service account"))
}

/// `POST /api/service-accounts/{id}/rotate` (`id` may also be the account's name).
async fn rotate_service_account<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RotateServiceToken>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::SERVICE_ACCOUNTS_MANAGE])?;
    p.require_role(Role::Admin)?;
    Ok(created(rotate_sa(&state, &p, &id, body.grace_secs).await?))
}

/// `POST /api/service-accounts/{id}/revoke` (id or name): disables the account and revokes its
/// tokens.
async fn revoke_service_account<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ServiceAccountView>, Error> {
    p.require_admin(&[scopes::SERVICE_ACCOUNTS_MANAGE])?;
    p.require_role(Role::Admin)?;
    let id = service_account_named(&state, &id).await?.id;
    let now = state.now();
    state.store.disable_service_account(&id, now).await?;
    state.credentials.cache.invalidate_service_account(&id);
    record(&state, audit(&p, now, "service_account.revoke", "service_account", &id, json!({}))).await?;
    let sa = state.store.service_account(&id).await?.ok_or_else(|| Error::missing("no such service account"))?;
    Ok(Json(sa_view(&state, &sa).await?))
}

/// `GET /api/settings/credentials` (admins).
async fn get_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
) -> Result<Json<CredentialSettings>, Error> {
    p.require_role(Role::Admin)?;
    Ok(Json(state.store.credential_settings().await?))
}

/// `PUT /api/settings/credentials` (admins, with a `user_admin` JWT).
async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    JsonBody(body): JsonBody<CredentialSettings>,
) -> Result<Json<CredentialSettings>, Error> {
    p.require_admin(&[])?;
    p.require_role(Role::Admin)?;
    if body.max_pat_days == 0 || body.max_pat_days > MAX_SETTING_DAYS {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("max_pat_days must be between 1 and {MAX_SETTING_DAYS}"),
        ));
    }
    if body.default_pat_days == 0 || body.default_pat_days > body.max_pat_days {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "default_pat_days must be between 1 and max_pat_days",
        ));
    }
    state.store.set_credential_settings(&body).await?;
    let detail = json!({ "max_pat_days": body.max_pat_days, "default_pat_days": body.default_pat_days });
    record(&state, audit(&p, state.now(), "settings.credentials", "settings", "credentials", detail)).await?;
    Ok(Json(body))
}
