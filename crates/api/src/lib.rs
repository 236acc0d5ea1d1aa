//! Keyway wire types: what travels between the hub, the client, the CLI and the desktop UI.
//!
//! serde only, no I/O, and it compiles for `wasm32-unknown-unknown` so the UI shares it.

use serde::{Deserialize, Serialize};

pub mod auth;
pub mod ciba;
pub mod clients;
pub mod credentials;
pub mod desktop;
pub mod keys;
pub mod reviews;
pub mod scim;
pub mod users;

/// The built-in public native client (RFC 8252) used by the desktop app and the CLI.
pub const DESKTOP_CLIENT_ID: &str = "keyway-desktop";
/// Loopback redirect URIs of the desktop client; any port is accepted (RFC 8252 §7.3).
pub const LOOPBACK_REDIRECT_V4: &str = "http://127.0.0.1/callback";
pub const LOOPBACK_REDIRECT_V6: &str = "http://[::1]/callback";
/// Private-use URI scheme redirect of the desktop client (RFC 8252 §7.1).
pub const DEEP_LINK_REDIRECT: &str = "app.keyway.desktop:/oauth/callback";
/// Scopes the desktop client asks for at sign-in.
pub const LOGIN_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// The body of every error on every route: a stable machine code and a human message.
/// OAuth endpoints put RFC 6749 codes in `error` and also fill `error_description`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Error codes on the wire. RFC 6749 / 7009 codes first, then Keyway's own.
pub mod codes {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const INVALID_CLIENT: &str = "invalid_client";
    pub const INVALID_GRANT: &str = "invalid_grant";
    pub const UNAUTHORIZED_CLIENT: &str = "unauthorized_client";
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    pub const UNSUPPORTED_RESPONSE_TYPE: &str = "unsupported_response_type";
    pub const UNSUPPORTED_TOKEN_TYPE: &str = "unsupported_token_type";
    pub const INVALID_SCOPE: &str = "invalid_scope";
    pub const ACCESS_DENIED: &str = "access_denied";
    pub const INVALID_TOKEN: &str = "invalid_token";
    pub const SERVER_ERROR: &str = "server_error";
    pub const NOT_FOUND: &str = "not_found";
    pub const INVALID_CREDENTIAL: &str = "invalid_credential";
    pub const INSUFFICIENT_SCOPE: &str = "insufficient_scope";
    /// The credential may not be exchanged for the requested JWT class (HTTP 422).
    pub const CLASS_NOT_ALLOWED: &str = "class_not_allowed";
    /// A requested scope is not in the class's allowlist or the credential's scopes (HTTP 422).
    pub const SCOPE_NOT_ALLOWED: &str = "scope_not_allowed";
    /// An agent PAT used for another agent than the one it is bound to (HTTP 403).
    pub const BINDING_NOT_ALLOWED: &str = "binding_not_allowed";
    /// A management route called without a `user_admin` JWT (HTTP 403).
    pub const ADMIN_REQUIRED: &str = "admin_required";
    /// A raw PAT sent to a resource route instead of a JWT (HTTP 401).
    pub const PAT_NOT_ALLOWED: &str = "pat_not_allowed";
    /// The credential's audience does not include the caller's surface (HTTP 403).
    pub const AUDIENCE_NOT_ALLOWED: &str = "audience_not_allowed";
    /// The caller lacks the role the route needs (HTTP 403).
    pub const ROLE_REQUIRED: &str = "role_required";
    /// The request conflicts with the current state (already decided, name taken…) (HTTP 409).
    pub const CONFLICT: &str = "conflict";
    /// A well-formed request that breaks a rule (HTTP 422).
    pub const VALIDATION_FAILED: &str = "validation_failed";
    /// A body or a part of it (a review payload) is larger than allowed (HTTP 413).
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The route is not for this kind of caller: agents and service accounts call only their
    /// own identity and the review queue (HTTP 403).
    pub const PRINCIPAL_NOT_ALLOWED: &str = "principal_not_allowed";
    /// A `user_admin` JWT was asked for by a person whose roles allow no change (only
    /// `developer` and `admin` make changes) (HTTP 403).
    pub const USER_ADMIN_NOT_ALLOWED: &str = "user_admin_not_allowed";
    /// The change would leave no enabled admin (HTTP 409).
    pub const LAST_ADMIN: &str = "last_admin";
    /// An admin may not take away their own admin role, disable or delete themselves (HTTP 409).
    pub const SELF_DEMOTION: &str = "self_demotion";
    /// No such user (HTTP 404).
    pub const UNKNOWN_USER: &str = "unknown_user";
    /// A user of that name exists, or existed (HTTP 409).
    pub const USER_EXISTS: &str = "user_exists";
    /// A new password is too short, too long or the username (HTTP 422).
    pub const WEAK_PASSWORD: &str = "weak_password";
    /// The current password given to change it is wrong (HTTP 403).
    pub const WRONG_PASSWORD: &str = "wrong_password";
    /// No such role, hence no such group (HTTP 404).
    pub const UNKNOWN_ROLE: &str = "unknown_role";
    /// The user is disabled (HTTP 403).
    pub const USER_DISABLED: &str = "user_disabled";
    /// Too many attempts or streams: wait for `Retry-After` seconds (HTTP 429).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The hub is busy (a full queue or connection table): retry after `Retry-After` (HTTP 503).
    pub const UNAVAILABLE: &str = "unavailable";
    /// The request took longer than the hub's request timeout (HTTP 408).
    pub const TIMEOUT: &str = "timeout";
    /// The request's `Host` is not the hub's own (HTTP 421): a DNS-rebinding page, or a proxy
    /// that does not pass the public host on.
    pub const MISDIRECTED_REQUEST: &str = "misdirected_request";
    /// An unknown `resource` at authorize or token (RFC 8707 §2, HTTP 400).
    pub const INVALID_TARGET: &str = "invalid_target";
    /// A client registration's redirect URI is refused (RFC 7591 §3.2.2, HTTP 400).
    pub const INVALID_REDIRECT_URI: &str = "invalid_redirect_uri";
    /// A client registration's metadata is refused (RFC 7591 §3.2.2, HTTP 400).
    pub const INVALID_CLIENT_METADATA: &str = "invalid_client_metadata";
    /// The device code is not approved yet: poll again (RFC 8628 §3.5, HTTP 400).
    pub const AUTHORIZATION_PENDING: &str = "authorization_pending";
    /// The device polls too fast: add 5 seconds to the interval (RFC 8628 §3.5, HTTP 400).
    pub const SLOW_DOWN: &str = "slow_down";
    /// The device code has expired or was already used (RFC 8628 §3.5, HTTP 400).
    pub const EXPIRED_TOKEN: &str = "expired_token";
    /// `authorization_details` are malformed or too large (RFC 9396 §5, HTTP 400).
    pub const INVALID_AUTHORIZATION_DETAILS: &str = "invalid_authorization_details";
    /// A backchannel request's `binding_message` is refused (CIBA Core §13, HTTP 400).
    pub const INVALID_BINDING_MESSAGE: &str = "invalid_binding_message";
    /// A backchannel request's `login_hint` names no reviewer who could approve it (CIBA Core
    /// §13, HTTP 400).
    pub const UNKNOWN_USER_ID: &str = "unknown_user_id";
    /// The user's roles (or password) are managed by the organisation's identity provider (SSO
    /// or SCIM), not edited in Keyway (HTTP 409).
    pub const MANAGED_EXTERNALLY: &str = "managed_externally";
    /// No such SCIM token (HTTP 404).
    pub const UNKNOWN_SCIM_TOKEN: &str = "unknown_scim_token";
}

/// Roles a user can hold; a user may hold several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Developer,
    Reviewer,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Developer, Role::Reviewer, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Developer => "developer",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `/oauth/token` success body (RFC 6749 §5.1, plus OIDC `id_token`).
/// `Debug` shows which tokens are present, never their values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// RFC 6749 only recommends it: a provider that leaves it out gets a short assumed lifetime,
    /// so the client renews early rather than late.
    #[serde(default = "assumed_expires_in")]
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the session's absolute end, after which the refresh token stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn assumed_expires_in() -> u64 {
    60
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HIDDEN: &str = "[redacted]";
        let present = |o: &Option<String>| o.as_ref().map(|_| HIDDEN);
        f.debug_struct("TokenResponse")
            .field("access_token", &HIDDEN)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &present(&self.refresh_token))
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("id_token", &present(&self.id_token))
            .field("scope", &self.scope)
            .finish()
    }
}

/// `/oauth/userinfo` body (OIDC core §5.3) with Keyway's `roles` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub sub: String,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The subset of the OIDC discovery document Keyway publishes and reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub response_types_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Dynamic client registration (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// Device authorization (RFC 8628).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// OpenID CIBA: where an agent asks for an approval that mints its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_endpoint: Option<String>,
    /// CIBA delivery modes: `poll` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backchannel_token_delivery_modes_supported: Vec<String>,
    #[serde(default)]
    pub backchannel_user_code_parameter_supported: bool,
    /// Client ID Metadata Documents (HTTPS `client_id` URLs); false while the hub has none.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_debug_hides_every_token() {
        let t = TokenResponse {
            access_token: "eyJaccess".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            refresh_token: Some("refresh-secret".into()),
            refresh_expires_in: Some(60),
            id_token: Some("eyJid".into()),
            scope: Some("openid".into()),
        };
        let shown = format!("{t:?}");
        for secret in ["eyJaccess", "refresh-secret", "eyJid"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Bearer") && shown.contains("900"));
    }

    #[test]
    fn roles_round_trip_by_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
