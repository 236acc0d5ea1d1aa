//! `/scim/v2/Groups`: Keyway's four roles, with the role names as ids (stable). Groups cannot be
//! created, renamed or deleted; their members are the IdP-managed users holding the role, and
//! changing them changes roles at once, with the role change's writes: one transaction for the
//! whole request, audited per user, that never leaves the hub without an enabled admin.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::Role;
use serde_json::{Value, json};

use super::auth::ScimCaller;
use super::body::ScimBody;
use super::error::ScimError;
use super::filter::{check_group_filter, group_matches};
use super::patch::{operations, patch_members};
use super::resources::{base, group_json, role_of};
use super::users::{ListParams, commit, list_response, query_params, resource_response, scim_user};
use crate::state::AppState;
use crate::store::changes::{Change, Write};
use crate::store::{AuditEvent, Store};

/// Most members a group shows.
const MAX_MEMBERS: u32 = 10_000;

async fn members<S: Store>(state: &AppState<S>, role: Role) -> Result<Vec<(String, String)>, ScimError> {
    Ok(state.store.scim_role_members(role, MAX_MEMBERS).await?)
}

/// `GET /scim/v2/Groups?filter=&startIndex=&count=&excludedAttributes=members`.
pub(crate) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ScimError> {
    let q = query_params(q)?;
    let (start, count) = q.window()?;
    let filter = q.filter()?;
    if let Some(f) = &filter {
        check_group_filter(f)?;
    }
    let base = base(&state);
    let mut matching = Vec::new();
    for role in Role::ALL {
        let m = members(&state, role).await?;
        let ids: Vec<String> = m.iter().map(|(id, _)| id.clone()).collect();
        if filter.as_ref().is_none_or(|f| group_matches(f, role.as_str(), &ids)) {
            matching.push(group_json(&base, role, (!q.excludes("members")).then_some(m.as_slice())));
        }
    }
    let total = matching.len() as u64;
    let page: Vec<Value> =
        matching.into_iter().skip(usize::try_from(start - 1).unwrap_or(usize::MAX)).take(count as usize).collect();
    Ok(list_response(total, start, page))
}

/// `GET /scim/v2/Groups/{id}`.
pub(crate) async fn one<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    Path(id): Path<String>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ScimError> {
    let role = role_of(&id)?;
    let q = query_params(q)?;
    let m = members(&state, role).await?;
    let shown = (!q.excludes("members")).then_some(m.as_slice());
    Ok(resource_response(StatusCode::OK, &group_json(&base(&state), role, shown)))
}

/// `POST /scim/v2/Groups`: refused, the groups are fixed (`409 uniqueness` for a role's name,
/// so an IdP links its group to the existing one).
pub(crate) async fn create<S: Store>(
    State(_state): State<AppState<S>>,
    _caller: ScimCaller,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let name = body.get("displayName").and_then(Value::as_str).unwrap_or("");
    match Role::parse(&name.to_ascii_lowercase()) {
        Some(role) => Err(ScimError::uniqueness(format!(
            "The group '{role}' exists (id '{role}'): Keyway's groups are its four roles; add members to it"
        ))),
        None => Err(ScimError::invalid_value(
            "Keyway's groups are its four roles (developer, reviewer, auditor, admin) and no other can be created",
        )),
    }
}

/// `DELETE /scim/v2/Groups/{id}`: refused, the groups are fixed.
pub(crate) async fn delete<S: Store>(
    State(_state): State<AppState<S>>,
    _caller: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let role = role_of(&id)?;
    Err(ScimError::mutability(format!(
        "The group '{role}' is one of Keyway's roles and cannot be deleted; remove its members instead"
    )))
}

/// Makes `target` the members of `role`: one change of every affected user's roles.
async fn set_members<S: Store>(
    state: &AppState<S>,
    caller: &ScimCaller,
    role: Role,
    current: &[(String, String)],
    target: &[String],
) -> Result<Response, ScimError> {
    let now = state.now();
    let mut affected = Vec::new();
    for id in target.iter().filter(|id| !current.iter().any(|(c, _)| c == *id)) {
        let u = state.store.scim_user(id).await?.ok_or_else(|| {
            let shown: String = id.chars().take(40).collect();
            ScimError::invalid_value(format!("No user '{shown}' that the IdP manages: create it first"))
        })?;
        affected.push(u);
    }
    let added = affected.len();
    for (id, _) in current.iter().filter(|(c, _)| !target.contains(c)) {
        affected.push(scim_user(state, id).await?);
    }
    if affected.is_empty() {
        return Ok(resource_response(StatusCode::OK, &group_json(&base(state), role, Some(current))));
    }
    let names = |r: &[Role]| r.iter().map(|r| r.as_str()).collect::<Vec<_>>();
    let mut plans: Vec<(String, Vec<Role>, AuditEvent)> = Vec::new();
    for (i, u) in affected.iter().enumerate() {
        let mut roles = u.user.roles.clone();
        if i < added {
            roles.push(role);
        } else {
            roles.retain(|r| *r != role);
        }
        roles.sort();
        roles.dedup();
        let action = if i < added { "group.add" } else { "group.remove" };
        let detail = json!({
            "username": u.user.username, "group": role.as_str(), "via": "scim",
            "from": names(&u.user.roles), "to": names(&roles),
        });
        let audit = caller.audit(now, action).target("user", &u.user.id).detail(detail).event();
        plans.push((u.user.id.clone(), roles, audit));
    }
    let mut change = Change::new();
    for (id, roles, audit) in &plans {
        change = change.then(Write::SetUserRoles { id, roles }).audit(audit);
    }
    let change = change.then(Write::RequireActiveAdmin);
    let ids: Vec<&str> = plans.iter().map(|(id, ..)| id.as_str()).collect();
    commit(state, &change, &ids, |_| ScimError::uniqueness("A value is taken")).await?;
    let now_members = members(state, role).await?;
    Ok(resource_response(StatusCode::OK, &group_json(&base(state), role, Some(&now_members))))
}

/// `PATCH /scim/v2/Groups/{id}`: add and remove members (`members[value eq "id"]` too).
pub(crate) async fn patch<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let role = role_of(&id)?;
    let ops = operations(&body)?;
    let current = members(&state, role).await?;
    let ids: Vec<String> = current.iter().map(|(id, _)| id.clone()).collect();
    let (target, _named) = patch_members(role.as_str(), ids, &ops)?;
    set_members(&state, &caller, role, &current, &target).await
}

/// `PUT /scim/v2/Groups/{id}`: the whole member list.
pub(crate) async fn replace<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let role = role_of(&id)?;
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The body must be a JSON object"))?;
    match obj.get("displayName") {
        Some(Value::String(n)) if n.eq_ignore_ascii_case(role.as_str()) => {}
        _ => {
            return Err(ScimError::mutability(format!(
                "'displayName' must stay '{role}': Keyway's groups are its roles"
            )));
        }
    }
    let target: Vec<String> = match obj.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|m| match m.get("value") {
                Some(Value::String(id)) => Ok(id.clone()),
                _ => Err(ScimError::invalid_value("Each member needs a 'value', the user's id")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimError::invalid_value("'members' must be a list")),
    };
    let current = members(&state, role).await?;
    set_members(&state, &caller, role, &current, &target).await
}
