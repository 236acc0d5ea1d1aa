//! Resource indicators (RFC 8707): which resource a token is for. Without `resource`, or with
//! the hub's own URL, a token is for the hub's API (`aud` [`crate::access_token::AUDIENCE`], as
//! the desktop app and the CLI get). A resource an admin registered (`/api/resources`, with its
//! scopes) or one of the hub's settings (`Settings::resources`, without scopes of its own)
//! becomes the token's `aud`. Anything else is `invalid_target`. The scopes a client asks for
//! are the hub's own ([`SCOPES_SUPPORTED`]) and those of the resource it names: anything else
//! is `invalid_scope`.

use keyway_api::codes;

use super::discovery::SCOPES_SUPPORTED;
use crate::error::Error;
use crate::state::AppState;
use crate::store::Store;

/// What `resource` names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// `None` for the hub's own API, the resource's canonical URI otherwise.
    pub(crate) audience: Option<String>,
    /// The resource's name, for the consent page (`None` for the hub).
    pub(crate) name: Option<String>,
    /// The scopes that may be asked for it beside the hub's own.
    pub(crate) scopes: Vec<String>,
}

/// The target `resource` names.
pub(crate) async fn target<S: Store>(state: &AppState<S>, resource: Option<&str>) -> Result<Target, Error> {
    let Some(resource) = resource else {
        return Ok(Target::default());
    };
    if is_hub(state, resource) {
        return Ok(Target::default());
    }
    if let Some(r) = state.store.resource_by_uri(resource).await? {
        return Ok(Target { audience: Some(r.uri), name: Some(r.name), scopes: r.scopes });
    }
    if state.settings.resources.iter().any(|r| r == resource) {
        return Ok(Target { audience: Some(resource.to_owned()), name: None, scopes: Vec::new() });
    }
    Err(Error::oauth(codes::INVALID_TARGET, format!("'{resource}' is not a resource this hub issues tokens for")))
}

/// The audience `resource` names: `None` for the hub's own API, the resource itself otherwise.
pub(crate) async fn audience<S: Store>(state: &AppState<S>, resource: Option<&str>) -> Result<Option<String>, Error> {
    Ok(target(state, resource).await?.audience)
}

/// Normalizes a requested scope for `target`: the hub's scopes and the target's, deduplicated,
/// in request order; any other is `invalid_scope`.
pub(crate) fn scope_for(target: &Target, raw: Option<&str>) -> Result<String, Error> {
    let mut scopes: Vec<&str> = Vec::new();
    for s in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES_SUPPORTED.contains(&s) && !target.scopes.iter().any(|t| t == s) {
            let why = match &target.audience {
                Some(uri) => format!("scope '{s}' is not one of the hub's or of the resource '{uri}'"),
                None => format!("scope '{s}' is not supported"),
            };
            return Err(Error::oauth(codes::INVALID_SCOPE, why));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(scopes.join(" "))
}

fn is_hub<S>(state: &AppState<S>, resource: &str) -> bool {
    let issuer = state.issuer.as_str();
    resource == issuer || resource.strip_prefix(issuer).is_some_and(|rest| rest == "/" || rest == "/api")
}

/// Checks a resource's canonical URI (RFC 8707 §2: an absolute URI without a fragment), as
/// given: it is compared byte for byte with `resource` and becomes `aud`.
pub(crate) fn check_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > keyway_api::clients::MAX_RESOURCE_URI_LEN {
        return Err("is too long");
    }
    if uri.contains('#') {
        return Err("has a fragment");
    }
    match url::Url::parse(uri) {
        Ok(u) if u.has_host() && !uri.chars().any(|c| c.is_whitespace() || c.is_control()) => Ok(()),
        _ => Err("is not an absolute URI"),
    }
}

/// A scope token (RFC 6749 §3.3): `%x21 / %x23-5B / %x5D-7E`, at least one, at most 100.
pub(crate) fn is_scope_token(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}
