//! `/scim/v2/Users`: the users an IdP manages. Creating one makes a Keyway user with
//! `managed_by = 'scim'`, the IdP's `externalId`, no roles (group membership gives them) and no
//! password (they sign in through the IdP). `active: false` and `DELETE` end the user's
//! sign-ins and stop their PATs and JWTs at once, with the writes of the admin's disable and
//! delete; every change is one transaction with its audit rows, the SCIM token as the actor.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::ScimCaller;
use super::body::ScimBody;
use super::error::{ScimError, scim_json};
use super::filter;
use super::patch::{operations, patch_user};
use super::resources::{LIST_SCHEMA, UserInput, base, project, user_input, user_json};
use crate::accounts::user_changed;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Outcome, Write};
use crate::store::scim::ScimUserQuery;
use crate::store::{AuditEvent, ManagedBy, ScimUserRecord, Store, UserRecord};
use crate::users::validate_username;

/// Users a page holds unless `count` says fewer; at most [`MAX_COUNT`].
const DEFAULT_COUNT: u32 = 100;
pub(crate) const MAX_COUNT: u32 = 1000;

/// The query of a list: RFC 7644 §3.4.2.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListParams {
    /// `startIndex` (1-based, below 1 is 1) and `count` (0 to [`MAX_COUNT`]).
    pub(crate) fn window(&self) -> Result<(u64, u32), ScimError> {
        let number = |v: &Option<String>, what: &str| -> Result<Option<i64>, ScimError> {
            v.as_deref()
                .map(|s| {
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::invalid_value(format!("'{what}' must be an integer")))
                })
                .transpose()
        };
        let start = number(&self.start_index, "startIndex")?.unwrap_or(1).max(1);
        let count = number(&self.count, "count")?.map_or(DEFAULT_COUNT, |c| c.clamp(0, i64::from(MAX_COUNT)) as u32);
        Ok((u64::try_from(start).unwrap_or(1), count))
    }

    pub(crate) fn filter(&self) -> Result<Option<filter::Filter>, ScimError> {
        self.filter.as_deref().filter(|f| !f.trim().is_empty()).map(filter::parse).transpose()
    }

    /// A resource as the query asks for it (`attributes`, `excludedAttributes`).
    pub(crate) fn project(&self, v: Value) -> Value {
        project(v, self.attributes.as_deref(), self.excluded_attributes.as_deref())
    }

    /// The query of a `POST …/.search` body (RFC 7644 §3.4.3).
    pub(crate) fn of_search(body: &Value) -> Result<ListParams, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The body must be a JSON object"))?;
        let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(list)) => {
                    let names: Option<Vec<&str>> = list.iter().map(Value::as_str).collect();
                    names
                        .map(|n| Some(n.join(",")))
                        .ok_or_else(|| ScimError::invalid_value(format!("'{name}' is a list of names")))
                }
                Some(_) => Err(ScimError::invalid_value(format!("'{name}' has the wrong type"))),
            }
        };
        Ok(ListParams {
            filter: text("filter")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            attributes: text("attributes")?,
            excluded_attributes: text("excludedAttributes")?,
        })
    }

    /// True if `excludedAttributes` names `attr`.
    pub(crate) fn excludes(&self, attr: &str) -> bool {
        self.excluded_attributes
            .as_deref()
            .is_some_and(|list| list.split(',').any(|a| a.trim().eq_ignore_ascii_case(attr)))
    }
}

pub(crate) fn query_params(q: Result<Query<ListParams>, QueryRejection>) -> Result<ListParams, ScimError> {
    q.map(|Query(q)| q).map_err(|e| ScimError::invalid_value(format!("Bad query: {e}")))
}

/// A list response.
pub(crate) fn list_response(total: u64, start: u64, resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// A resource answered with its `Location`.
pub(crate) fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut response = scim_json(status, resource);
    if let Some(Ok(loc)) = resource["meta"]["location"].as_str().map(HeaderValue::from_str) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    response
}

/// Applies a SCIM change, then forgets what is cached about `users` here and on the other
/// hubs. A stop is answered: the last-admin guard as `409`, a taken unique value as
/// `taken(at)`, anything else (the user went away meanwhile) as `404`.
pub(crate) async fn commit<S: Store>(
    state: &AppState<S>,
    change: &Change<'_>,
    users: &[&str],
    taken: impl Fn(usize) -> ScimError,
) -> Result<(), ScimError> {
    let applied = state.store.apply(change).await?;
    for id in users {
        user_changed(state, id).await;
    }
    match applied {
        Applied::Done => Ok(()),
        Applied::Stopped { at, .. } if matches!(change.writes.get(at), Some(Write::RequireActiveAdmin)) => {
            Err(ScimError::last_admin())
        }
        Applied::Stopped { at, outcome: Outcome::NameTaken } => Err(taken(at)),
        Applied::Stopped { .. } => Err(ScimError::not_found("No such user")),
    }
}

fn event(caller: &ScimCaller, now: i64, action: &str, id: &str, username: &str, detail: Value) -> AuditEvent {
    let mut detail = detail;
    if let Some(obj) = detail.as_object_mut() {
        obj.insert("username".into(), json!(username));
        obj.insert("via".into(), json!("scim"));
    }
    caller.audit(now, action).target("user", id).detail(detail).event()
}

fn check_name(name: &str) -> Result<(), ScimError> {
    validate_username(name)
        .map_err(|e| ScimError::invalid_value(format!("'userName' is not a valid Keyway user name: {e}")))
}

fn taken_message(what: &str, value: &str) -> ScimError {
    ScimError::uniqueness(format!("A user with {what} '{value}' exists (a deleted user's name stays taken)"))
}

/// A user SCIM sees, or `404`.
pub(crate) async fn scim_user<S: Store>(state: &AppState<S>, id: &str) -> Result<ScimUserRecord, ScimError> {
    state.store.scim_user(id).await?.ok_or_else(|| ScimError::not_found("No such user (or not one the IdP manages)"))
}

async fn list_of<S: Store>(state: &AppState<S>, q: &ListParams) -> Result<Response, ScimError> {
    let (start, count) = q.window()?;
    let filter = q.filter()?.map(|f| filter::user_filter(&f)).transpose()?;
    let query = ScimUserQuery { filter, offset: start - 1, limit: count };
    let (total, users) = state.store.scim_users(&query).await?;
    let base = base(state);
    Ok(list_response(total, start, users.iter().map(|u| q.project(user_json(&base, u))).collect()))
}

/// `GET /scim/v2/Users?filter=&startIndex=&count=&attributes=&excludedAttributes=`.
pub(crate) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ScimError> {
    list_of(&state, &query_params(q)?).await
}

/// `POST /scim/v2/Users/.search` and `POST /scim/v2/.search` (which searches users only): the
/// same query in a body.
pub(crate) async fn search<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    list_of(&state, &ListParams::of_search(&body)?).await
}

/// `GET /scim/v2/Users/{id}`.
pub(crate) async fn one<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    Path(id): Path<String>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ScimError> {
    let q = query_params(q)?;
    let u = scim_user(&state, &id).await?;
    let mut v = user_json(&base(&state), &u);
    let location = v["meta"]["location"].clone();
    v = q.project(v);
    let mut response = resource_response(StatusCode::OK, &v);
    if let Some(Ok(loc)) = location.as_str().map(HeaderValue::from_str) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(response)
}

/// Any other path under `/scim/v2`: a SCIM `404`.
pub(crate) async fn unknown() -> ScimError {
    ScimError::not_found("No such SCIM endpoint: the resources are Users and Groups")
}

/// `POST /scim/v2/Users`.
pub(crate) async fn create<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let input = user_input(&body)?;
    check_name(&input.user_name)?;
    if state.store.user_by_name(&input.user_name).await?.is_some() {
        return Err(taken_message("userName", &input.user_name));
    }
    let now = state.now();
    let user = UserRecord {
        id: random_id(),
        username: input.user_name.clone(),
        password_hash: String::new(),
        roles: Vec::new(),
        created_at: now,
        disabled: !input.active,
        deleted_at: None,
        managed_by: Some(ManagedBy::Scim.as_str().to_owned()),
    };
    let detail = json!({ "external_id": input.external_id, "active": input.active });
    let audit = event(&caller, now, "user.create", &user.id, &user.username, detail);
    let change = Change::new()
        .then(Write::InsertUser(&user))
        .then(Write::SetScimProfile {
            id: &user.id,
            external_id: input.external_id.as_deref(),
            display_name: input.display_name.as_deref(),
            email: input.email.as_deref(),
            now,
        })
        .audit(&audit);
    commit(&state, &change, &[&user.id], |at| match at {
        0 => taken_message("userName", &input.user_name),
        _ => taken_message("externalId", input.external_id.as_deref().unwrap_or("")),
    })
    .await?;
    tracing::info!(user = %user.id, username = %user.username, token = %caller.token_id, "user provisioned over SCIM");
    let u = scim_user(&state, &user.id).await?;
    Ok(resource_response(StatusCode::CREATED, &user_json(&base(&state), &u)))
}

/// Makes `old` into `new` in one change: rename, profile, and `active` with the writes of
/// the admin's disable (sign-ins ended, never the last admin) or enable.
async fn update<S: Store>(
    state: &AppState<S>,
    caller: &ScimCaller,
    old: &ScimUserRecord,
    new: &UserInput,
) -> Result<Response, ScimError> {
    let id = old.user.id.as_str();
    let now = state.now();
    let renamed = new.user_name != old.user.username;
    if renamed {
        check_name(&new.user_name)?;
    }
    let was = UserInput::of(old);
    let detail = json!({
        "from": { "username": was.user_name, "external_id": was.external_id, "display_name": was.display_name, "email": was.email },
        "to": { "username": new.user_name, "external_id": new.external_id, "display_name": new.display_name, "email": new.email },
    });
    let update = event(caller, now, "user.update", id, &new.user_name, detail);
    let toggled =
        event(caller, now, if new.active { "user.enable" } else { "user.disable" }, id, &new.user_name, json!({}));
    let mut change = Change::new();
    if renamed {
        change = change.then(Write::RenameUser { id, username: &new.user_name });
    }
    let profile_at = change.writes.len();
    change = change.then(Write::SetScimProfile {
        id,
        external_id: new.external_id.as_deref(),
        display_name: new.display_name.as_deref(),
        email: new.email.as_deref(),
        now,
    });
    change = change.audit(&update);
    if new.active != was.active {
        change = change.then(Write::SetUserDisabled { id, disabled: !new.active });
        if !new.active {
            change = change.then(Write::EndUserSessions { user_id: id, now }).then(Write::RequireActiveAdmin);
        }
        change = change.audit(&toggled);
    }
    commit(state, &change, &[id], |at| {
        if at == profile_at {
            taken_message("externalId", new.external_id.as_deref().unwrap_or(""))
        } else {
            taken_message("userName", &new.user_name)
        }
    })
    .await?;
    let u = scim_user(state, id).await?;
    Ok(resource_response(StatusCode::OK, &user_json(&base(state), &u)))
}

/// `PUT /scim/v2/Users/{id}`: the whole user as the IdP has it.
pub(crate) async fn replace<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let old = scim_user(&state, &id).await?;
    let new = user_input(&body)?;
    update(&state, &caller, &old, &new).await
}

/// `PATCH /scim/v2/Users/{id}`.
pub(crate) async fn patch<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let ops = operations(&body)?;
    let old = scim_user(&state, &id).await?;
    let new = patch_user(UserInput::of(&old), &ops)?;
    update(&state, &caller, &old, &new).await
}

/// `DELETE /scim/v2/Users/{id}`: the admin's delete (credentials revoked, agents disabled,
/// sign-ins ended, a tombstone kept), and the `externalId` released.
pub(crate) async fn delete<S: Store>(
    State(state): State<AppState<S>>,
    caller: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let u = scim_user(&state, &id).await?;
    let now = state.now();
    let audit = event(&caller, now, "user.delete", &u.user.id, &u.user.username, json!({}));
    let change = Change::new()
        .then(Write::DeleteUser { id: &u.user.id, now })
        .then(Write::ForgetExternalId { id: &u.user.id })
        .then(Write::RequireActiveAdmin)
        .audit(&audit);
    commit(&state, &change, &[&u.user.id], |_| ScimError::not_found("No such user")).await?;
    tracing::info!(user = %u.user.id, token = %caller.token_id, "user deleted over SCIM");
    Ok(StatusCode::NO_CONTENT.into_response())
}
