//! Users under `/api/users`: list and read (admins and auditors); create, disable, enable,
//! delete, set roles, reset a password and force a logout (admins, with a `user_admin` JWT).
//! Every change is one transaction with its audit row, and none leaves the hub without an
//! enabled admin.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use keyway_api::auth::Page;
use keyway_api::users::{CreateUser, CreatedUser, Ended, ResetPassword, SET_PASSWORD_CODE_SECS, SetRoles, UserView};
use keyway_api::{Role, codes};
use serde::Deserialize;
use serde_json::json;

use super::access::created;
use crate::accounts::{self, apply, live, self_demotion, validate_new_password, view};
use crate::audit::Audit;
use crate::error::Error;
use crate::http::{Body, DEFAULT_PAGE, MAX_PAGE, cursor, page_of, query};
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::secret::{Password, random_id};
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{AuditEvent, Store, UserFilter, UserRecord};
use crate::users::validate_username;

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/users", get(list::<S>).post(create::<S>))
        .route("/api/users/{id}", get(one::<S>).delete(delete::<S>))
        .route("/api/users/{id}/disable", post(disable::<S>))
        .route("/api/users/{id}/enable", post(enable::<S>))
        .route("/api/users/{id}/roles", put(set_roles::<S>))
        .route("/api/users/{id}/password", post(reset_password::<S>))
        .route("/api/users/{id}/logout", post(logout::<S>))
}

/// Reading users: auditors and admins (`Rule::UsersRead`).
pub(crate) fn can_read_users(p: &Principal) -> Result<(), Error> {
    p.require(Rule::UsersRead)
}

/// Changing users: an admin with a `user_admin` JWT (`Rule::UsersManage`).
pub(crate) fn can_manage_users(p: &Principal) -> Result<(), Error> {
    p.require(Rule::UsersManage)
}

/// The audit row of a change the caller made to user `u`.
pub(crate) fn user_event(
    p: &Principal,
    at: i64,
    action: &str,
    u: &UserRecord,
    detail: serde_json::Value,
) -> AuditEvent {
    let mut detail = detail;
    if let Some(obj) = detail.as_object_mut() {
        obj.insert("username".into(), json!(u.username));
    }
    Audit::by(p, at, action).target("user", &u.id).detail(detail).event()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Part of the name, any case.
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    /// Also deleted users (tombstones).
    #[serde(default)]
    deleted: bool,
}

/// `GET /api/users?q=&cursor=&limit=&deleted=`: by name, a page at a time.
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<UserView>>, Error> {
    can_read_users(&p)?;
    let q = query(q)?;
    let after = cursor(q.cursor.as_deref(), |c| validate_username(c).is_ok().then(|| c.to_owned()))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let search = q.q.map(|s| s.trim().chars().take(64).collect::<String>()).filter(|s| !s.is_empty());
    let filter = UserFilter { search, role: None, after, include_deleted: q.deleted, limit: limit + 1 };
    let users = state.store.users(&filter).await?;
    let (users, next) = page_of(users, limit, |u| u.username.clone());
    Ok(Json(Page { items: users.iter().map(view).collect(), next }))
}

/// `GET /api/users/{id}` (a deleted user too).
async fn one<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserView>, Error> {
    can_read_users(&p)?;
    let u = state.store.user_by_id(&id).await?.ok_or_else(accounts::unknown_user)?;
    Ok(Json(view(&u)))
}

fn roles_of(wanted: Option<Vec<Role>>) -> Vec<Role> {
    let mut roles = wanted.unwrap_or_else(|| vec![Role::Developer]);
    roles.sort();
    roles.dedup();
    roles
}

/// `POST /api/users`: with a password, or without one for a one-time set-password code that
/// is answered here, once.
async fn create<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<CreateUser>>, Error>,
) -> Result<Response, Error> {
    can_manage_users(&p)?;
    let Body(Json(body)) = body?;
    let CreateUser { username, roles, password } = body;
    let username = username.trim().to_owned();
    validate_username(&username).map_err(|e| Error::unprocessable(codes::VALIDATION_FAILED, e.to_string()))?;
    let password = password.map(Password::new);
    if let Some(password) = &password {
        validate_new_password(&username, password)?;
    }
    if state.store.user_by_name(&username).await?.is_some() {
        return Err(accounts::user_exists(&username));
    }
    let now = state.now();
    let password_hash = match password {
        Some(password) => state.passwords.hash(password).await?,
        None => String::new(),
    };
    let user = UserRecord {
        id: random_id(),
        username,
        password_hash,
        roles: roles_of(roles),
        created_at: now,
        disabled: false,
        deleted_at: None,
        managed_by: None,
    };
    let code = user.password_hash.is_empty().then(accounts::new_code);
    let expires_at = now.saturating_add(SET_PASSWORD_CODE_SECS);
    let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
    let event = user_event(&p, now, "user.create", &user, json!({ "roles": roles, "with_code": code.is_some() }));
    let mut change = Change::new().then(Write::InsertUser(&user));
    if let Some((_, hash)) = &code {
        change = change.then(Write::PutSetPasswordCode { user_id: &user.id, hash, now, expires_at });
    }
    apply(&state, &change.audit(&event), &user.id, &user.username).await?;
    tracing::info!(user = %user.id, username = %user.username, "user created");
    Ok(created(CreatedUser {
        user: view(&user),
        code_expires_at: code.as_ref().map(|_| expires_at),
        set_password_code: code.map(|(c, _)| c),
    }))
}

/// `DELETE /api/users/{id}`: a tombstone stays, naming the user in reviews and the audit log.
async fn delete<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserView>, Error> {
    can_manage_users(&p)?;
    let u = live(&state, &id).await?;
    if u.id == p.id {
        return Err(self_demotion("delete"));
    }
    let now = state.now();
    let event = user_event(&p, now, "user.delete", &u, json!({}));
    let change = Change::new().then(Write::DeleteUser { id: &u.id, now }).then(Write::RequireActiveAdmin).audit(&event);
    apply(&state, &change, &u.id, &u.username).await?;
    let u = state.store.user_by_id(&id).await?.ok_or_else(accounts::unknown_user)?;
    Ok(Json(view(&u)))
}

async fn set_disabled<S: Store>(
    state: &AppState<S>,
    p: &Principal,
    id: &str,
    disabled: bool,
) -> Result<UserView, Error> {
    can_manage_users(p)?;
    let mut u = live(state, id).await?;
    if disabled && u.id == p.id {
        return Err(self_demotion("disable"));
    }
    let now = state.now();
    let action = if disabled { "user.disable" } else { "user.enable" };
    let event = user_event(p, now, action, &u, json!({}));
    let mut change = Change::new().then(Write::SetUserDisabled { id: &u.id, disabled });
    if disabled {
        change = change.then(Write::EndUserSessions { user_id: &u.id, now }).then(Write::RequireActiveAdmin);
    }
    apply(state, &change.audit(&event), &u.id, &u.username).await?;
    u.disabled = disabled;
    Ok(view(&u))
}

/// `POST /api/users/{id}/disable`: their sign-ins end; their JWTs and PATs stop working at once.
async fn disable<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserView>, Error> {
    Ok(Json(set_disabled(&state, &p, &id, true).await?))
}

/// `POST /api/users/{id}/enable`: their PATs work again; their sign-ins stay ended.
async fn enable<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserView>, Error> {
    Ok(Json(set_disabled(&state, &p, &id, false).await?))
}

/// Sets user `id`'s roles to `roles` (the roles route and the group membership routes).
pub(crate) async fn change_roles<S: Store>(
    state: &AppState<S>,
    p: &Principal,
    u: &UserRecord,
    roles: Vec<Role>,
    action: &str,
) -> Result<UserView, Error> {
    accounts::require_local(state, u, "roles").await?;
    let roles = roles_of(Some(roles));
    if u.id == p.id && u.roles.contains(&Role::Admin) && !roles.contains(&Role::Admin) {
        return Err(self_demotion("take the admin role from"));
    }
    let now = state.now();
    let names = |r: &[Role]| r.iter().map(|r| r.as_str()).collect::<Vec<_>>();
    let event = user_event(p, now, action, u, json!({ "from": names(&u.roles), "to": names(&roles) }));
    let change = Change::new()
        .then(Write::SetUserRoles { id: &u.id, roles: &roles })
        .then(Write::RequireActiveAdmin)
        .audit(&event);
    apply(state, &change, &u.id, &u.username).await?;
    let mut u = u.clone();
    u.roles = roles;
    Ok(view(&u))
}

/// `PUT /api/users/{id}/roles`: a JWT carrying a role taken away stops working at once.
async fn set_roles<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    body: Result<Body<Json<SetRoles>>, Error>,
) -> Result<Json<UserView>, Error> {
    can_manage_users(&p)?;
    let Body(Json(body)) = body?;
    let u = live(&state, &id).await?;
    Ok(Json(change_roles(&state, &p, &u, body.roles, "user.roles").await?))
}

/// `POST /api/users/{id}/password`: a new password, or a one-time code answered once; the
/// old password stops working and the user's sign-ins end.
async fn reset_password<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    body: Result<Body<Json<ResetPassword>>, Error>,
) -> Result<Response, Error> {
    can_manage_users(&p)?;
    let Body(Json(body)) = body?;
    let mut u = live(&state, &id).await?;
    accounts::require_local(&state, &u, "password").await?;
    let password = body.password.map(Password::new);
    if let Some(password) = &password {
        validate_new_password(&u.username, password)?;
    }
    let hash = match password {
        Some(password) => state.passwords.hash(password).await?,
        None => String::new(),
    };
    let now = state.now();
    let code = hash.is_empty().then(accounts::new_code);
    let expires_at = now.saturating_add(SET_PASSWORD_CODE_SECS);
    let event = user_event(&p, now, "user.password_reset", &u, json!({ "with_code": code.is_some() }));
    let mut change = Change::new().then(Write::SetUserPassword { id: &u.id, hash: &hash });
    change = match &code {
        Some((_, code_hash)) => {
            change.then(Write::PutSetPasswordCode { user_id: &u.id, hash: code_hash, now, expires_at })
        }
        None => change.then(Write::ClearSetPasswordCode { user_id: &u.id }),
    };
    let change = change.then(Write::EndUserSessions { user_id: &u.id, now }).audit(&event);
    apply(&state, &change, &u.id, &u.username).await?;
    u.password_hash = hash;
    Ok(created(CreatedUser {
        user: view(&u),
        code_expires_at: code.as_ref().map(|_| expires_at),
        set_password_code: code.map(|(c, _)| c),
    }))
}

/// `POST /api/users/{id}/logout`: ends every sign-in of the user (forced logout).
async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Ended>, Error> {
    can_manage_users(&p)?;
    let u = live(&state, &id).await?;
    let now = state.now();
    let ended = u64::try_from(state.store.sessions_of(&u.id, now).await?.len()).unwrap_or(0);
    let event = user_event(&p, now, "user.logout", &u, json!({ "sessions": ended }));
    let change = Change::new().then(Write::EndUserSessions { user_id: &u.id, now }).audit(&event);
    apply(&state, &change, &u.id, &u.username).await?;
    Ok(Json(Ended { ended }))
}
