//! Managing credentials and credential settings under `/api`.
//!
//! Who may call each route is the matrix's ([`crate::policy::Rule`]); every change is audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use keyway_api::auth::Page;
use keyway_api::codes;
use keyway_api::credentials::{
    CredentialKind, CredentialSettings, CredentialStatus, CredentialView, MAX_ENROLLMENT_MINUTES, MAX_PAT_DAYS_CEILING,
    MintEnrollment, MintPat, MintedSecret,
};
use serde::Deserialize;
use serde_json::json;

use super::access::{change_event, created, owner_of};
use super::service_accounts::rotate_service_token;
use crate::audit::Audit;
use crate::credentials::issue::{
    self, AgentChoice, Mint, agent_for, agent_name_taken, apply, insert_if_new, pat_expiry, pick_scopes,
    validate_label, validate_name,
};
use crate::credentials::{status, view};
use crate::error::Error;
use crate::http::{Body, cursor, page_of, query};
use crate::notices::Notice;
use crate::pat::Token;
use crate::policy::{Rule, manages_all};
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{CredentialFilter, CredentialRecord, NewCredential, Store};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/credentials", get(list::<S>).post(mint_pat::<S>))
        .route("/api/credentials/enrollment", post(mint_enrollment::<S>))
        .route("/api/credentials/{id}/revoke", post(revoke::<S>))
        .route("/api/credentials/{id}/rotate", post(rotate::<S>))
        .route("/api/settings/credentials", get(get_settings::<S>).put(put_settings::<S>))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CredentialListParams {
    /// Everyone's credentials, not only the caller's (auditors and admins).
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

fn parse_credential_cursor(cursor: &str) -> Option<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
        .filter(|(_, id)| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|(at, id)| (at, id.to_owned()))
}

/// `GET /api/credentials[?all=true][&cursor=…][&limit=…]`: newest first, a page at a time.
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    q: Result<Query<CredentialListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<CredentialView>>, Error> {
    p.require(Rule::CredentialsRead)?;
    let q = query(q)?;
    if q.all {
        p.require(Rule::CredentialsReadAll)?;
    }
    let after = cursor(q.cursor.as_deref(), parse_credential_cursor)?;
    let limit = q.limit.unwrap_or(DEFAULT_CREDENTIAL_PAGE).clamp(1, MAX_CREDENTIAL_PAGE);
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
    let (records, next) = page_of(records, limit, credential_cursor);
    Ok(Json(Page { items: records.iter().map(|c| view(c, now)).collect(), next }))
}

/// `POST /api/credentials`: mint a PAT.
async fn mint_pat<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<MintPat>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::CredentialsMint)?;
    let Body(Json(body)) = body?;
    let owner = owner_of(&p)?;
    if let Some(name) = &body.name {
        validate_label(name)?;
    }
    let scopes = pick_scopes(body.kind, body.scopes)?;
    let now = state.now();
    let expires_at = pat_expiry(&state.store, now, body.expires_days).await?;
    let (agent, name) = match body.kind {
        CredentialKind::AgentPat => {
            let Some(wanted) = body.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()) else {
                return Err(Error::unprocessable(codes::VALIDATION_FAILED, "an agent PAT needs an agent"));
            };
            if body.create_agent {
                p.require(Rule::AgentsCreate)?;
            }
            let agent = agent_for(&state.store, now, &owner, wanted, body.create_agent).await?;
            if agent.record().disabled {
                return Err(Error::conflict(format!("the agent '{}' is disabled", agent.record().name)));
            }
            let name = body.name.clone().unwrap_or_else(|| agent.record().name.clone());
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
    let minted = issue::mint(
        now,
        Mint {
            owner: &owner,
            kind: body.kind,
            agent: agent.as_ref().map(AgentChoice::record),
            service_account: None,
            name,
            audience: body.audience,
            scopes,
            expires_at: Some(expires_at),
        },
    );
    let detail = json!({
        "kind": body.kind.as_str(), "agent": agent.as_ref().map(|a| a.record().id.clone()),
        "audience": body.audience.as_str(), "expires_at": expires_at,
    });
    let minted_event = change_event(&p, now, "pat.mint", "credential", &minted.record.id, detail);
    let new_agent = agent.as_ref().and_then(|a| a.created_event(Audit::by(&p, now, "agent.create")));
    let writes = insert_if_new(Change::new(), agent.as_ref(), new_agent.as_ref())
        .then(Write::InsertCredential(&minted.record))
        .audit(&minted_event);
    apply(&state.store, &writes, |_, _| agent_name_taken(minted.record.agent_name.as_deref().unwrap_or_default()))
        .await?;
    Ok(created(minted.secret))
}

/// `POST /api/credentials/enrollment`.
async fn mint_enrollment<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<MintEnrollment>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::CredentialsMint)?;
    let Body(Json(body)) = body?;
    let owner = owner_of(&p)?;
    let minutes = body.expires_minutes.unwrap_or(15);
    if minutes == 0 || minutes > MAX_ENROLLMENT_MINUTES {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("an enrollment token lives 1 to {MAX_ENROLLMENT_MINUTES} minutes"),
        ));
    }
    let now = state.now();
    if let Some(name) = &body.agent_name {
        validate_name(name, "agent name")?;
        // Enrollment makes a new agent, never a way into an existing one's identity.
        if state.store.agent_by_name(&owner.id, name, now).await?.is_some() {
            return Err(crate::credentials::issue::enrollment_agent_exists(name));
        }
    }
    let scopes = pick_scopes(CredentialKind::Enrollment, body.scopes)?;
    // Checked now so a bad value fails here, not at redemption.
    pat_expiry(&state.store, now, body.pat_expires_days).await?;
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
    let detail = json!({ "expires_minutes": minutes, "agent_name": body.agent_name });
    let event = change_event(&p, now, "enrollment.mint", "credential", &record_.id, detail);
    let writes = Change::new().then(Write::InsertCredential(&record_)).audit(&event);
    apply(&state.store, &writes, |_, _| Error::conflict("the enrollment token could not be stored")).await?;
    Ok(created(MintedSecret { credential: view(&record_, now), secret: token.expose().to_owned() }))
}

/// The credential `id` if the caller owns it or is an admin; else 404 (no probing).
async fn own_credential<S: Store>(state: &AppState<S>, p: &Principal, id: &str) -> Result<CredentialRecord, Error> {
    match state.store.credential(id).await? {
        Some(c) if c.owner_id == p.id || manages_all(p) => Ok(c),
        _ => Err(Error::missing(format!("no credential {}", id.chars().take(40).collect::<String>()))),
    }
}

/// `POST /api/credentials/{id}/revoke`.
async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, Error> {
    p.require(Rule::CredentialsRevoke)?;
    owner_of(&p)?;
    let c = own_credential(&state, &p, &id).await?;
    let now = state.now();
    let detail = json!({ "kind": c.kind.as_str(), "owner": c.owner_id });
    let event = change_event(&p, now, "credential.revoke", "credential", &c.id, detail);
    // Already revoked: nothing changes, and nothing is audited.
    state.store.apply(&Change::new().then(Write::RevokeCredential { id: &c.id, now }).audit(&event)).await?;
    crate::notices::changed(&state, &[Notice::Credential(&c.id)]).await;
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
    p.require(Rule::CredentialsRotate)?;
    owner_of(&p)?;
    let c = own_credential(&state, &p, &id).await?;
    // A new secret goes to the credential's owner only: an admin may revoke anyone's
    // credential, but never receive a secret to act as someone else.
    if c.owner_id != p.id {
        return Err(Error::forbidden(
            codes::ACCESS_DENIED,
            format!("Only {} can rotate this credential; you may revoke it", c.owner_name),
        ));
    }
    let now = state.now();
    if c.kind == CredentialKind::ServiceToken {
        let sa = c.service_account_id.clone().unwrap_or_default();
        p.require(Rule::ServiceAccountsManage)?;
        let minted = rotate_service_token(&state, &p, &sa, 0).await?;
        return Ok(created(minted));
    }
    if c.kind == CredentialKind::Enrollment {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "enrollment tokens cannot be rotated: mint a new one",
        ));
    }
    if status(&c, now) != CredentialStatus::Active {
        return Err(Error::conflict("only an active credential can be rotated"));
    }
    let token = Token::generate(c.kind, &c.id);
    let hash = token.hash();
    let event = change_event(&p, now, "credential.rotate", "credential", &c.id, json!({ "kind": c.kind.as_str() }));
    let writes = Change::new().then(Write::ReplaceCredentialSecret { id: &c.id, hash: &hash }).audit(&event);
    apply(&state.store, &writes, |_, _| Error::conflict("only an active credential can be rotated")).await?;
    crate::notices::changed(&state, &[Notice::Credential(&c.id)]).await;
    Ok(created(MintedSecret { credential: view(&c, now), secret: token.expose().to_owned() }))
}

/// `GET /api/settings/credentials` (auditors, admins).
async fn get_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
) -> Result<Json<CredentialSettings>, Error> {
    p.require(Rule::SettingsRead)?;
    Ok(Json(state.store.credential_settings().await?))
}

/// `PUT /api/settings/credentials` (admins, with a `user_admin` JWT).
async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<CredentialSettings>>, Error>,
) -> Result<Json<CredentialSettings>, Error> {
    p.require(Rule::SettingsWrite)?;
    let Body(Json(body)) = body?;
    if body.max_pat_days == 0 || body.max_pat_days > MAX_PAT_DAYS_CEILING {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("max_pat_days must be between 1 and {MAX_PAT_DAYS_CEILING}"),
        ));
    }
    if body.default_pat_days == 0 || body.default_pat_days > body.max_pat_days {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "default_pat_days must be between 1 and max_pat_days",
        ));
    }
    let detail = json!({ "max_pat_days": body.max_pat_days, "default_pat_days": body.default_pat_days });
    let event = change_event(&p, state.now(), "settings.credentials", "settings", "credentials", detail);
    let writes = Change::new().then(Write::SetCredentialSettings(&body)).audit(&event);
    apply(&state.store, &writes, |_, _| Error::Internal("the credential settings row is missing".into())).await?;
    Ok(Json(body))
}
