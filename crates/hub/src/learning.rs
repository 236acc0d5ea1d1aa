//! Learning mode: authentication off for a first contact. A request without a credential acts
//! as the local *learner*, a user holding every role; `/oauth/authorize` answers at once with a
//! code for the learner, so every OAuth client works unchanged; every response says
//! `Keyway-Mode: learning`. The hub listens on loopback only in this mode.
//!
//! The learner never survives into protected mode: a hub started protected deletes the learner
//! (its credentials revoked, its agents disabled, its sign-ins ended, so no token it held works)
//! and keeps the tombstone, renamed to its id so that the next learning hub's learner can be
//! called `learner` again.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use keyway_api::Role;
use serde_json::json;

use crate::audit::Audit;
use crate::config::Mode;
use crate::error::Error;
use crate::oauth::login::SignIn;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{PendingAuthorization, Store, UserRecord};

/// The learner's name while it lives.
pub(crate) const LEARNER_NAME: &str = "learner";
/// Every learner's id starts with this (other ids are base62, without `-`).
const LEARNER_ID_PREFIX: &str = "learner-";

/// At start: in learning mode, the learner exists; in protected mode, it does not.
pub(crate) async fn prepare<S: Store>(state: &AppState<S>) -> Result<(), Error> {
    let now = state.now();
    let learner = state.store.learner().await?;
    match (state.settings.mode, learner) {
        (Mode::Learning, Some(_)) | (Mode::Protected, None) => Ok(()),
        (Mode::Learning, None) => {
            if state.store.user_by_name(LEARNER_NAME).await?.is_some() {
                return Err(Error::InvalidSetting {
                    name: "mode",
                    reason: format!(
                        "learning mode's learner is called '{LEARNER_NAME}', and a user of that name exists: \
                         rename or delete that user first"
                    ),
                });
            }
            let user = UserRecord {
                id: format!("{LEARNER_ID_PREFIX}{}", random_id()),
                username: LEARNER_NAME.to_owned(),
                password_hash: String::new(),
                roles: Role::ALL.to_vec(),
                created_at: now,
                disabled: false,
                deleted_at: None,
                managed_by: None,
            };
            let event = Audit::by_hub(now, "user.create")
                .target("user", &user.id)
                .detail(json!({ "username": LEARNER_NAME, "learner": true }))
                .event();
            state.store.apply(&Change::new().then(Write::InsertUser(&user)).audit(&event)).await?;
            tracing::warn!("learning mode: requests without a credential act as '{LEARNER_NAME}', holding every role");
            Ok(())
        }
        (Mode::Protected, Some(learner)) => {
            let event = Audit::by_hub(now, "user.delete")
                .target("user", &learner.id)
                .detail(json!({ "username": LEARNER_NAME, "learner": true }))
                .event();
            let change = Change::new()
                .then(Write::RenameUser { id: &learner.id, username: &learner.id })
                .then(Write::DeleteUser { id: &learner.id, now })
                .audit(&event);
            if let Applied::Stopped { at, outcome } = state.store.apply(&change).await? {
                return Err(Error::Internal(format!("the learner could not be removed (write {at}: {outcome:?})")));
            }
            tracing::info!("protected mode: the learning mode's learner and everything it held are gone");
            Ok(())
        }
    }
}

/// `/oauth/authorize` in learning mode: the learner signs in at once, no form.
pub(crate) async fn sign_in<S: Store>(state: &AppState<S>, pending: &PendingAuthorization) -> Result<Response, Error> {
    let now = state.now();
    let Some(learner) = state.store.learner().await? else {
        return Err(Error::Internal("learning mode without a learner".into()));
    };
    let sign_in = SignIn::new(state, pending, &learner.id, now);
    let event = Audit::by_user(&learner.id, &learner.username, now, "session.sign_in")
        .target("client", &pending.client_id)
        .detail(json!({ "method": "learning" }))
        .event();
    let change = Change { writes: sign_in.writes(now).into() }.audit(&event);
    if let Applied::Stopped { .. } = state.store.apply(&change).await? {
        return Err(Error::Internal("the learner's sign-in request vanished".into()));
    }
    Ok(sign_in.response(state))
}

/// `GET /auth/mode`.
pub(crate) async fn mode<S: Store>(State(state): State<AppState<S>>) -> Json<serde_json::Value> {
    Json(json!({ "mode": state.settings.mode.as_str() }))
}
