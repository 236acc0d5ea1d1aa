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
use keyway_api::auth::{PrincipalKind, TokenClass};
use serde_json::json;

use crate::audit::Audit;
use crate::config::{Mode, Settings};
use crate::error::Error;
use crate::oauth::login::SignIn;
use crate::principal::Principal;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Write};
use crate::store::{PendingAuthorization, Store, UserRecord};

/// The learner's name while it lives.
pub(crate) const LEARNER_NAME: &str = "learner";
/// Every learner's id starts with this (other ids are base62, without `-`).
const LEARNER_ID_PREFIX: &str = "learner-";

/// The settings learning mode needs: loopback only (the listen address and the issuer), and no
/// upstream IdP (it would be bypassed).
pub(crate) fn check_settings(settings: &Settings) -> Result<(), Error> {
    let bad = |reason: String| Err(Error::InvalidSetting { name: "mode", reason });
    if !settings.listen.ip().is_loopback() {
        return bad(format!(
            "learning mode turns authentication off, so the hub listens on loopback only, not on {}",
            settings.listen
        ));
    }
    if let Some(issuer) = &settings.issuer {
        let host = url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let loopback = host == "localhost"
            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return bad(format!(
                "learning mode turns authentication off, so its issuer must be a loopback address, not {issuer}"
            ));
        }
    }
    if settings.sso.is_some() {
        return bad("learning mode signs everyone in as the learner: it cannot be combined with --sso-*".to_owned());
    }
    Ok(())
}

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

/// The learner, as the caller of a request without a credential in learning mode.
pub(crate) async fn learner_principal<S: Store>(state: &AppState<S>) -> Result<Principal, Error> {
    let Some(learner) = state.store.learner().await? else {
        return Err(Error::InvalidToken("a bearer access token is required".into()));
    };
    let mut scopes: Vec<String> = Vec::new();
    for class in [TokenClass::UserAccess, TokenClass::UserAdmin] {
        scopes.extend(class.allowed_scopes().iter().map(|s| (*s).to_owned()));
    }
    Ok(Principal {
        kind: PrincipalKind::User,
        id: learner.id,
        name: learner.username,
        owner: None,
        roles: learner.roles,
        class: TokenClass::UserAdmin,
        scopes,
        exp: state.now() + TokenClass::UserAdmin.ttl_secs(),
        sid: None,
    })
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
