//! `GET|POST /oauth/userinfo` (OIDC Core §5.3).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keyway_api::UserInfo;

use crate::error::Error;
use crate::http::{bearer_token, no_store};
use crate::state::AppState;
use crate::store::Store;

pub(crate) async fn userinfo<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let token = bearer_token(&headers)?;
    let (claims, _) = crate::principal::live_claims(&state, token).await?;
    let Some(user) = state.store.user_by_id(&claims.sub).await? else {
        return Err(Error::InvalidToken("the user no longer exists".into()));
    };
    let info = UserInfo {
        sub: user.id,
        preferred_username: Some(user.username.clone()),
        name: Some(user.username),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    };
    Ok(no_store(Json(info).into_response()))
}
