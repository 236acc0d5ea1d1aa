//! Service accounts under `/api/service-accounts` (admins manage, auditors read): named identities for CI and
//! production jobs, with a group (their role) and service tokens that rotate with a grace period.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use keyway_api::auth::{Audience, Page};
use keyway_api::credentials::{
    CreateServiceAccount, CreatedServiceAccount, CredentialKind, MAX_GRACE_SECS, MintedSecret, RotateServiceToken,
    ServiceAccountView,
};
use keyway_api::{Role, codes};
use serde_json::json;

use super::access::{change_event, created, owner_of};
use crate::credentials::issue::{
    self, Mint, Owner, apply, new_service_account_id, pat_expiry, pick_scopes, validate_name,
};
use crate::credentials::view;
use crate::error::Error;
use crate::http::Body;
use crate::notices::Notice;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{CredentialFilter, CredentialRecord, ServiceAccountRecord, Store};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/service-accounts", get(list_service_accounts::<S>).post(create_service_account::<S>))
        .route("/api/service-accounts/{id}/rotate", post(rotate_service_account::<S>))
        .route("/api/service-accounts/{id}/revoke", post(revoke_service_account::<S>))
}

/// What a service token is: usable from anywhere, with the whole service allowlist.
fn service_token<'a>(owner: &'a Owner, sa: &'a ServiceAccountRecord, expires_at: i64) -> Result<Mint<'a>, Error> {
    Ok(Mint {
        owner,
        kind: CredentialKind::ServiceToken,
        agent: None,
        service_account: Some(sa),
        name: format!("{} token", sa.name),
        audience: Audience::Both,
        scopes: pick_scopes(CredentialKind::ServiceToken, None)?,
        expires_at: Some(expires_at),
    })
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

/// `GET /api/service-accounts` (auditors, admins).
async fn list_service_accounts<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
) -> Result<Json<Page<ServiceAccountView>>, Error> {
    p.require(Rule::ServiceAccountsRead)?;
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
    body: Result<Body<Json<CreateServiceAccount>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::ServiceAccountsManage)?;
    let Body(Json(body)) = body?;
    let owner = owner_of(&p)?;
    let name = body.name.trim();
    validate_name(name, "service account name")?;
    if body.group == Role::Admin {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            "a service account's group is developer, reviewer or auditor, never admin",
        ));
    }
    let now = state.now();
    let expires_at = pat_expiry(&state.store, now, body.expires_days).await?;
    let sa = ServiceAccountRecord {
        id: new_service_account_id(),
        name: name.to_owned(),
        group: body.group,
        created_by: owner.id.clone(),
        disabled: false,
        created_at: now,
    };
    let minted = issue::mint(now, service_token(&owner, &sa, expires_at)?);
    let detail = json!({ "name": sa.name, "group": sa.group.as_str(), "token": minted.record.id });
    let event = change_event(&p, now, "service_account.create", "service_account", &sa.id, detail);
    let writes = Change::new()
        .then(Write::InsertServiceAccount(&sa))
        .then(Write::InsertCredential(&minted.record))
        .audit(&event);
    apply(&state.store, &writes, |_, _| Error::conflict(format!("a service account named '{name}' exists"))).await?;
    let account = sa_view(&state, &sa).await?;
    Ok(created(CreatedServiceAccount { account, secret: minted.secret.secret }))
}

/// A new token for the service account (id or name); the old ones are revoked at once, or
/// retire after `grace` seconds.
pub(crate) async fn rotate_service_token<S: Store>(
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
    let expires_at = pat_expiry(&state.store, now, None).await?;
    let minted = issue::mint(now, service_token(&owner, &sa, expires_at)?);
    let detail = json!({ "grace_secs": grace, "new_token": minted.record.id,
        "old_tokens": old.iter().map(|c| c.id.clone()).collect::<Vec<_>>() });
    let event = change_event(p, now, "service_account.rotate", "service_account", &sa.id, detail);
    let until = now.saturating_add(i64::try_from(grace).unwrap_or(i64::MAX));
    let mut writes = Change::new().then(Write::InsertCredential(&minted.record));
    for c in &old {
        writes = writes.then(if grace == 0 {
            Write::RevokeCredential { id: &c.id, now }
        } else {
            Write::RetireCredential { id: &c.id, now, until }
        });
    }
    let writes = writes.audit(&event);
    let changed_meanwhile = |_, _| Error::conflict("the service account's tokens changed meanwhile: rotate again");
    apply(&state.store, &writes, changed_meanwhile).await?;
    let notices: Vec<Notice<'_>> = old.iter().map(|c| Notice::Credential(&c.id)).collect();
    crate::notices::changed(state, &notices).await;
    Ok(minted.secret)
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
    body: Result<Body<Json<RotateServiceToken>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::ServiceAccountsManage)?;
    let Body(Json(body)) = body?;
    Ok(created(rotate_service_token(&state, &p, &id, body.grace_secs).await?))
}

/// `POST /api/service-accounts/{id}/revoke` (id or name): disables the account and revokes its
/// tokens.
async fn revoke_service_account<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ServiceAccountView>, Error> {
    p.require(Rule::ServiceAccountsManage)?;
    let id = service_account_named(&state, &id).await?.id;
    let now = state.now();
    let event = change_event(&p, now, "service_account.revoke", "service_account", &id, json!({}));
    let writes = Change::new().then(Write::DisableServiceAccount { id: &id, now }).audit(&event);
    apply(&state.store, &writes, |_, _| Error::missing("no such service account")).await?;
    crate::notices::changed(&state, &[Notice::ServiceAccount(&id)]).await;
    let sa = state.store.service_account(&id).await?.ok_or_else(|| Error::missing("no such service account"))?;
    Ok(Json(sa_view(&state, &sa).await?))
}
