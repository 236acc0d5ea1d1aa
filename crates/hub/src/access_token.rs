//! Keyway's access tokens (RFC 9068 JWTs): their claims, how one is issued, and how one is
//! validated. Everything that mints or checks an access token goes through here.

use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, TokenClass};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::jwt;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::Store;

/// `aud` of access tokens: Keyway's API.
pub(crate) const AUDIENCE: &str = "keyway";
/// Allowed clock skew for `nbf`/`iat` (the hub checks its own tokens, so this is small).
const LEEWAY_SECS: i64 = 30;

/// Claims of an access token (RFC 9068 §2.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) jti: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) roles: Vec<String>,
    pub(crate) preferred_username: String,
    /// Token family (browser sign-in session) the token belongs to; absent for tokens
    /// exchanged from a PAT or service token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time: Option<i64>,
    /// JWT class; tokens of a browser sign-in are `user_access`.
    #[serde(default)]
    pub(crate) token_class: TokenClass,
    /// Whom `sub` names: a user, an agent or a service account.
    #[serde(default)]
    pub(crate) principal: PrincipalKind,
    /// For agents: the user who owns the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
    /// Public id of the credential (PAT, service token) the token was exchanged from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cred: Option<String>,
    /// What reviewers approved (RFC 9396), on a token minted by an approval (OpenID CIBA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_details: Option<serde_json::Value>,
}

impl AccessClaims {
    /// A browser sign-in's own token (from the token endpoint, with its `auth_time`): it holds
    /// the whole `user_access` allowlist, and its `scope` claim names the OpenID scopes the
    /// client asked for. Every other token, a sign-in's narrowed exchange included, holds
    /// exactly the scopes its `scope` claim lists.
    pub(crate) fn is_sign_in(&self) -> bool {
        self.sid.is_some() && self.auth_time.is_some() && self.token_class == TokenClass::UserAccess
    }

    /// The scopes the token acts with.
    pub(crate) fn scopes(&self) -> Vec<String> {
        if self.is_sign_in() {
            self.token_class.allowed_scopes().iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
    }
}

/// What an access token is issued for; [`issue`] adds issuer, audience, times and `jti`.
#[derive(Debug)]
pub(crate) struct Grant<'a> {
    pub(crate) class: TokenClass,
    /// The user, agent or service account id.
    pub(crate) sub: &'a str,
    pub(crate) name: &'a str,
    /// For agents, the owning user.
    pub(crate) owner: Option<&'a str>,
    pub(crate) roles: &'a [Role],
    pub(crate) scope: String,
    pub(crate) client_id: &'a str,
    /// The browser sign-in (token family) the token belongs to.
    pub(crate) sid: Option<&'a str>,
    pub(crate) auth_time: Option<i64>,
    /// The credential the token was exchanged from.
    pub(crate) cred: Option<&'a str>,
    /// Lifetime from `now`, in seconds.
    pub(crate) ttl_secs: i64,
    /// When it expires at the latest, whatever the lifetime.
    pub(crate) not_after: Option<i64>,
}

/// Signs an access token for `grant` at `now`; returns the JWT and its claims.
pub(crate) fn issue<S>(state: &AppState<S>, grant: Grant<'_>, now: i64) -> Result<(String, AccessClaims), Error> {
    issue_for(state, grant, AUDIENCE, now)
}

/// [`issue`] for `audience`: the hub's API ([`AUDIENCE`]) or a resource (RFC 8707), whose
/// tokens the hub's own routes refuse.
pub(crate) fn issue_for<S>(
    state: &AppState<S>,
    grant: Grant<'_>,
    audience: &str,
    now: i64,
) -> Result<(String, AccessClaims), Error> {
    issue_approved(state, grant, audience, None, now)
}

/// [`issue_for`] with the `authorization_details` an approval granted (RFC 9396 §9.1).
pub(crate) fn issue_approved<S>(
    state: &AppState<S>,
    grant: Grant<'_>,
    audience: &str,
    authorization_details: Option<serde_json::Value>,
    now: i64,
) -> Result<(String, AccessClaims), Error> {
    let mut exp = now.saturating_add(grant.ttl_secs);
    if let Some(limit) = grant.not_after {
        exp = exp.min(limit);
    }
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: grant.sub.to_owned(),
        aud: audience.to_owned(),
        exp,
        iat: now,
        nbf: now,
        jti: random_id(),
        client_id: grant.client_id.to_owned(),
        scope: grant.scope,
        roles: grant.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        preferred_username: grant.name.to_owned(),
        sid: grant.sid.map(str::to_owned),
        auth_time: grant.auth_time,
        token_class: grant.class,
        principal: grant.class.principal(),
        owner: grant.owner.map(str::to_owned),
        cred: grant.cred.map(str::to_owned),
        authorization_details,
    };
    let jwt = jwt::sign(&state.keys, jwt::TYP_ACCESS, &claims)?;
    Ok((jwt, claims))
}

/// Verifies an access token: signature, type, issuer, audience, lifetime, revocation.
pub(crate) async fn validate<S: Store>(state: &AppState<S>, token: &str) -> Result<AccessClaims, Error> {
    let claims: AccessClaims =
        jwt::verify_fresh(&state.keys, &state.store, token, jwt::TYP_ACCESS).await.map_err(|e| {
            tracing::debug!(error = %e, "access token refused");
            Error::InvalidToken("the access token is invalid".into())
        })?;
    let now = state.now();
    if claims.iss != state.issuer || claims.aud != AUDIENCE {
        return Err(Error::InvalidToken("the access token was not issued for this hub".into()));
    }
    if claims.exp <= now {
        return Err(Error::InvalidToken("the access token has expired".into()));
    }
    if claims.nbf > now + LEEWAY_SECS || claims.iat > now + LEEWAY_SECS {
        return Err(Error::InvalidToken("the access token is not valid yet".into()));
    }
    if state.store.access_token_revoked(&claims.jti, claims.sid.as_deref(), now).await? {
        return Err(Error::InvalidToken("the access token has been revoked".into()));
    }
    Ok(claims)
}
