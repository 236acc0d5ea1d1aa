//! The signing keys' settings: `GET/PUT /api/settings/keys` (admins). The rotation itself runs
//! in the background (`tasks::key_loop`) or through `keyway-hub keys rotate`.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use keyway_api::codes;
use keyway_api::keys::{KeySettings, MAX_ROTATION_DAYS};
use serde_json::json;

use crate::audit::Audit;
use crate::credentials::issue::apply;
use crate::error::Error;
use crate::http::Body;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::Store;
use crate::store::changes::{Change, Write};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new().route("/api/settings/keys", get(get_settings::<S>).put(put_settings::<S>))
}

/// `GET /api/settings/keys` (auditors, admins: as the other settings).
async fn get_settings<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<KeySettings>, Error> {
    p.require(Rule::SettingsRead)?;
    Ok(Json(state.store.key_settings().await?))
}

/// `PUT /api/settings/keys` (admins, with a `user_admin` JWT).
async fn put_settings<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<KeySettings>>, Error>,
) -> Result<Json<KeySettings>, Error> {
    p.require(Rule::SettingsWrite)?;
    let Body(Json(new)) = body?;
    if new.rotation_days > MAX_ROTATION_DAYS {
        return Err(Error::unprocessable(
            codes::VALIDATION_FAILED,
            format!("rotation_days must be between 0 (never) and {MAX_ROTATION_DAYS}"),
        ));
    }
    let old = state.store.key_settings().await?;
    let event = Audit::by(&p, state.now(), "settings.keys")
        .target("settings", "keys")
        .detail(json!({ "before": old, "after": new }))
        .event();
    let writes = Change::new().then(Write::PutKeySettings(&new)).audit(&event);
    apply(&state.store, &writes, |_, _| Error::Internal("the key settings were not stored".into())).await?;
    Ok(Json(new))
}
