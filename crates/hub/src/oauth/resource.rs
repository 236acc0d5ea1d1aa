//! Resource indicators (RFC 8707): which resource a token is for. Without `resource`, or with
//! the hub's own URL, a token is for the hub's API (`aud` [`crate::access_token::AUDIENCE`], as
//! the desktop app and the CLI get). A resource the hub is set up for (`Settings::resources`,
//! the MCP servers it issues tokens for) becomes the token's `aud`. Anything else is
//! `invalid_target`.

use keyway_api::codes;

use crate::error::Error;
use crate::state::AppState;

/// The audience `resource` names: `None` for the hub's own API, the resource itself otherwise.
pub(crate) fn audience<S>(state: &AppState<S>, resource: Option<&str>) -> Result<Option<String>, Error> {
    let Some(resource) = resource else {
        return Ok(None);
    };
    if is_hub(state, resource) {
        return Ok(None);
    }
    if state.settings.resources.iter().any(|r| r == resource) {
        return Ok(Some(resource.to_owned()));
    }
    Err(Error::oauth(codes::INVALID_TARGET, format!("'{resource}' is not a resource this hub issues tokens for")))
}

fn is_hub<S>(state: &AppState<S>, resource: &str) -> bool {
    let issuer = state.issuer.as_str();
    resource == issuer || resource.strip_prefix(issuer).is_some_and(|rest| rest == "/" || rest == "/api")
}
