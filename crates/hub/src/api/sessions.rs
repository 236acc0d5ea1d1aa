//! A person's own account under `/api/me`: their sign-ins (see, end one, end all) and their
//! password; and the session lifetimes admins set (`/api/settings/sessions`).

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{delete, get, put};
use keyway_api::codes;
use keyway_api::users::{ChangePassword, Ended, SessionSettings, SessionView};
use serde_json::json;

use super::users::{can_manage_users, user_event};
use crate::accounts::{apply, live, validate_new_password};
use crate::audit::Audit;
use crate::error::Error;
use crate::http::Body;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::secret::Password;
use crate::sessions;
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{Store, UserRecord};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/me/sessions", get(mine::<S>).delete(end_all::<S>))
        .route("/api/me/sessions/{id}", delete(end_one::<S>))
        .route("/api/me/password", put(change_password::<S>))
        .route("/api/settings/sessions", get(get_settings::<S>).put(put_settings::<S>))
}

/// Only people have sign-ins and passwords.
async fn person<S: Store>(state: &AppState<S>, p: &Principal) -> Result<UserRecord, Error> {
    p.require(Rule::Account)?;
    live(state, &p.id).await
}

/// `GET /api/me/sessions`: my live sign-ins, newest first.
async fn mine<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<Vec<SessionView>>, Error> {
    let me = person(&state, &p).await?;
    let limits = sessions::limits(&state).await?;
    let now = state.now();
    let families = state.store.sessions_of(&me.id, now).await?;
    let views = families
        .iter()
        .filter(|f| sessions::ended(f, &limits, now).is_none())
        .map(|f| sessions::view(f, &state.clients, &limits, p.sid.as_deref()))
        .collect();
    Ok(Json(views))
}

/// `DELETE /api/me/sessions/{id}`: ends one of my sign-ins (its refresh and access tokens).
async fn end_one<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Ended>, Error> {
    let me = person(&state, &p).await?;
    let now = state.now();
    let event = Audit::by(&p, now, "session.end").target("session", &id).event();
    let change = Change::new().then(Write::EndSession { user_id: &me.id, id: &id, now }).audit(&event);
    match state.store.apply(&change).await? {
        Applied::Done => Ok(Json(Ended { ended: 1 })),
        Applied::Stopped { .. } => Err(Error::missing("No such sign-in of yours, or it has already ended")),
    }
}

/// `DELETE /api/me/sessions`: signs me out everywhere.
async fn end_all<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<Ended>, Error> {
    let me = person(&state, &p).await?;
    let now = state.now();
    let ended = u64::try_from(state.store.sessions_of(&me.id, now).await?.len()).unwrap_or(0);
    let event = user_event(&p, now, "session.end_all", &me, json!({ "sessions": ended }));
    let change = Change::new().then(Write::EndUserSessions { user_id: &me.id, now }).audit(&event);
    apply(&state, &change, &me.id, &me.username).await?;
    Ok(Json(Ended { ended }))
}

/// `PUT /api/me/password`: needs the current password.
async fn change_password<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<ChangePassword>>, Error>,
) -> Result<Json<Ended>, Error> {
    let me = person(&state, &p).await?;
    let Body(Json(body)) = body?;
    crate::accounts::require_local(&state, &me, "password").await?;
    let ChangePassword { current, new } = body;
    let stored = Some(me.password_hash.clone()).filter(|h| !h.is_empty());
    if !state.passwords.verify(Password::new(current), stored).await? {
        return Err(Error::forbidden(codes::WRONG_PASSWORD, "The current password is wrong"));
    }
    let new = Password::new(new);
    validate_new_password(&me.username, &new)?;
    let hash = state.passwords.hash(new).await?;
    let event = user_event(&p, state.now(), "user.password_change", &me, json!({}));
    let change = Change::new()
        .then(Write::SetUserPassword { id: &me.id, hash: &hash })
        .then(Write::ClearSetPasswordCode { user_id: &me.id })
        .audit(&event);
    apply(&state, &change, &me.id, &me.username).await?;
    Ok(Json(Ended { ended: 0 }))
}

/// `GET /api/settings/sessions` (admins and auditors).
async fn get_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
) -> Result<Json<SessionSettings>, Error> {
    p.require(Rule::UsersRead)?;
    Ok(Json(sessions::limits(&state).await?))
}

/// `PUT /api/settings/sessions` (admins, with a `user_admin` JWT): checked at every refresh,
/// so a shorter lifetime ends existing sign-ins too.
async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<SessionSettings>>, Error>,
) -> Result<Json<SessionSettings>, Error> {
    can_manage_users(&p)?;
    let Body(Json(body)) = body?;
    sessions::validate(&body)?;
    let detail = json!({ "absolute_secs": body.absolute_secs, "idle_secs": body.idle_secs });
    let event = Audit::by(&p, state.now(), "settings.sessions").target("settings", "sessions").detail(detail).event();
    let change = Change::new().then(Write::PutSessionSettings(&body)).audit(&event);
    match state.store.apply(&change).await? {
        Applied::Done => Ok(Json(body)),
        Applied::Stopped { .. } => Err(Error::Internal("the session settings were not stored".into())),
    }
}
