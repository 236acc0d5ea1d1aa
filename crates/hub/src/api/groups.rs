//! Groups under `/api/groups`: Keyway's roles are its groups. Listing needs `admin` or
//! `auditor`; adding and removing members is an admin change (a `user_admin` JWT), and never
//! removes the last enabled admin or the caller's own admin role.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use keyway_api::users::{Group, Member, UserView};
use keyway_api::{Role, codes};

use super::users::{can_manage_users, can_read_users, change_roles};
use crate::accounts::live;
use crate::error::Error;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::{Store, UserFilter};

/// Most members a group lists.
const MAX_MEMBERS: u32 = 10_000;

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/groups", get(list::<S>))
        .route("/api/groups/{role}", get(one::<S>))
        .route("/api/groups/{role}/members/{user_id}", put(add::<S>).delete(remove::<S>))
}

fn role_of(name: &str) -> Result<Role, Error> {
    Role::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let shown: String = name.chars().take(32).collect();
        Error::api(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_ROLE,
            format!("No group '{shown}': the groups are {}", known.join(", ")),
        )
    })
}

async fn group<S: Store>(state: &AppState<S>, role: Role) -> Result<Group, Error> {
    let filter = UserFilter { role: Some(role), limit: MAX_MEMBERS, ..Default::default() };
    let members = state.store.users(&filter).await?;
    Ok(Group {
        role,
        members: members.into_iter().map(|u| Member { id: u.id, username: u.username, disabled: u.disabled }).collect(),
    })
}

/// `GET /api/groups`: every role and its members.
async fn list<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<Vec<Group>>, Error> {
    can_read_users(&p)?;
    let mut groups = Vec::with_capacity(Role::ALL.len());
    for role in Role::ALL {
        groups.push(group(&state, role).await?);
    }
    Ok(Json(groups))
}

/// `GET /api/groups/{role}`.
async fn one<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(role): Path<String>,
) -> Result<Json<Group>, Error> {
    can_read_users(&p)?;
    Ok(Json(group(&state, role_of(&role)?).await?))
}

/// `PUT /api/groups/{role}/members/{user_id}` (idempotent).
async fn add<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path((role, user_id)): Path<(String, String)>,
) -> Result<Json<UserView>, Error> {
    can_manage_users(&p)?;
    let role = role_of(&role)?;
    let u = live(&state, &user_id).await?;
    let mut roles = u.roles.clone();
    roles.push(role);
    Ok(Json(change_roles(&state, &p, &u, roles, "group.add").await?))
}

/// `DELETE /api/groups/{role}/members/{user_id}` (idempotent).
async fn remove<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path((role, user_id)): Path<(String, String)>,
) -> Result<Json<UserView>, Error> {
    can_manage_users(&p)?;
    let role = role_of(&role)?;
    let u = live(&state, &user_id).await?;
    let roles = u.roles.iter().copied().filter(|r| *r != role).collect();
    Ok(Json(change_roles(&state, &p, &u, roles, "group.remove").await?))
}
