//! Credentials: PATs (user `kwp_u_…`, agent `kwp_a_…`), enrollment tokens (`kwp_e_…`),
//! service tokens (`kwp_s_…`), agents and service accounts; and the PAT → JWT exchange.
//!
//! Routes (JSON bodies; bearer JWT unless said otherwise):
//! - `POST /auth/exchange` — `Authorization: Bearer <PAT>` (or a browser sign-in's access token
//!   for `user_admin`), body [`ExchangeRequest`] → [`ExchangeResponse`].
//! - `POST /auth/enroll` — `Authorization: Bearer <kwp_e_…>`, body [`Enroll`] → [`MintedSecret`]
//!   (the new agent PAT; the enrollment token is used up).
//! - `POST /auth/service-account/token` — `Authorization: Basic base64(name:token)`, body
//!   [`ExchangeRequest`] (class `service_access`) → [`ExchangeResponse`].
//! - `POST /oauth/token` with `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`
//!   (RFC 8693), `POST /oauth/introspect` (RFC 7662), `POST /oauth/revoke` (RFC 7009).
//! - `GET /api/credentials` → `Page<CredentialView>`; `POST /api/credentials` [`MintPat`];
//!   `POST /api/credentials/enrollment` [`MintEnrollment`]; `POST /api/credentials/{id}/revoke`;
//!   `POST /api/credentials/{id}/rotate` → [`MintedSecret`].
//! - `GET|POST /api/agents` ([`CreateAgent`]), `PATCH /api/agents/{id}` ([`UpdateAgent`]).
//! - `GET|POST /api/service-accounts` ([`CreateServiceAccount`]),
//!   `POST /api/service-accounts/{id}/rotate` ([`RotateServiceToken`]),
//!   `POST /api/service-accounts/{id}/revoke`.
//! - `GET|PUT /api/settings/credentials` ([`CredentialSettings`]; auditors and admins read, admins change).

use serde::{Deserialize, Serialize};

use crate::Role;
use crate::auth::{Audience, TokenClass};

/// Header carrying the client fingerprint: hex SHA-256 of token + hostname + working directory.
pub const FINGERPRINT_HEADER: &str = "x-keyway-fingerprint";

/// RFC 8693 `subject_token_type` of a Keyway PAT at the token endpoint.
pub const TOKEN_TYPE_PAT: &str = "urn:keyway:params:oauth:token-type:pat";
/// RFC 8693 token-exchange grant type.
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Longest name of a credential, agent or service account, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest enrollment token lifetime, in minutes.
pub const MAX_ENROLLMENT_MINUTES: u32 = 24 * 60;
/// Longest grace period of a rotated service token, in seconds.
pub const MAX_GRACE_SECS: u64 = 7 * 24 * 3600;
/// Longest PAT lifetime an administrator may allow, in days (the bound of `max_pat_days`).
pub const MAX_PAT_DAYS_CEILING: u32 = 3650;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    UserPat,
    #[default]
    AgentPat,
    Enrollment,
    ServiceToken,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::UserPat => "user_pat",
            CredentialKind::AgentPat => "agent_pat",
            CredentialKind::Enrollment => "enrollment",
            CredentialKind::ServiceToken => "service_token",
        }
    }

    /// The secret's prefix (`kwp_u_`, `kwp_a_`, `kwp_e_`, `kwp_s_`).
    pub fn prefix(self) -> &'static str {
        match self {
            CredentialKind::UserPat => "kwp_u_",
            CredentialKind::AgentPat => "kwp_a_",
            CredentialKind::Enrollment => "kwp_e_",
            CredentialKind::ServiceToken => "kwp_s_",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    Expired,
    Revoked,
    /// An enrollment token that has been redeemed.
    Used,
    /// A service token replaced by rotation, still accepted until its grace period ends.
    Retiring,
}

/// A credential as lists show it: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialView {
    /// Public id (short, not secret), e.g. `cr_7Hq2…`; the secret's checksum-free prefix.
    pub id: String,
    pub kind: CredentialKind,
    pub name: String,
    pub owner_id: String,
    pub owner_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    pub audience: Audience,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The fingerprint of the last exchange (hex SHA-256), and when it last changed from a
    /// different one (possible theft: the same token used from another machine or directory).
    pub last_fingerprint: Option<String>,
    pub fingerprint_changed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub status: CredentialStatus,
}

/// A newly minted or rotated secret: shown once, never stored by the hub in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintedSecret {
    pub credential: CredentialView,
    pub secret: String,
}

impl std::fmt::Debug for MintedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedSecret").field("credential", &self.credential).field("secret", &"[redacted]").finish()
    }
}

/// `POST /api/credentials`: mint a PAT (needs `user_admin`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintPat {
    /// `agent_pat` (default) or `user_pat`.
    #[serde(default)]
    pub kind: CredentialKind,
    /// The agent (id or name) an agent PAT is bound to.
    #[serde(default)]
    pub agent: Option<String>,
    /// Create the agent if no agent of that name exists.
    #[serde(default)]
    pub create_agent: bool,
    /// Label shown in lists; defaults to the agent name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub audience: Audience,
    /// Days until expiry (default 90; at most the admin's maximum).
    #[serde(default)]
    pub expires_days: Option<u32>,
    /// Scopes the PAT may request at exchange; default: the whole class allowlist.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `POST /api/credentials/enrollment`: a one-time token an agent redeems for its PAT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintEnrollment {
    /// Minutes until the enrollment token expires (default 15).
    #[serde(default)]
    pub expires_minutes: Option<u32>,
    /// If set, the agent must take this name.
    #[serde(default)]
    pub agent_name: Option<String>,
    /// Audience and expiry of the agent PAT the enrollment produces.
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub pat_expires_days: Option<u32>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `POST /auth/enroll` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enroll {
    /// Name of the agent to create or to bind to (one of the owner's agents).
    #[serde(default)]
    pub agent_name: Option<String>,
}

/// `POST /auth/exchange` body (the credential is in the `Authorization` header).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExchangeRequest {
    pub requested_token_class: TokenClass,
    /// Space-separated; default: every scope the credential holds for that class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The caller's surface: `cli` (default) or `mcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    /// The agent the caller acts as (agent profiles send it; must match the PAT's binding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// A short-lived JWT from an exchange.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExchangeResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub token_class: TokenClass,
    pub scope: String,
    /// RFC 8693 `issued_token_type`.
    pub issued_token_type: String,
}

impl std::fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("token_class", &self.token_class)
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_name: String,
    pub disabled: bool,
    pub created_at: i64,
    /// Live (unrevoked, unexpired) agent PATs bound to it.
    pub active_credentials: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateAgent {
    pub name: String,
}

/// `PATCH /api/agents/{id}`: rename and/or disable (disabling stops its PATs' exchanges at once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateAgent {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceAccountView {
    pub id: String,
    pub name: String,
    /// Its one group (`developer` by default, `auditor`, or `reviewer`).
    pub group: Role,
    pub created_at: i64,
    pub created_by: String,
    pub disabled: bool,
    /// Its tokens, the current one first (a rotated one may still be retiring).
    pub tokens: Vec<CredentialView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateServiceAccount {
    pub name: String,
    #[serde(default = "default_group")]
    pub group: Role,
    #[serde(default)]
    pub expires_days: Option<u32>,
}

fn default_group() -> Role {
    Role::Developer
}

/// `POST /api/service-accounts`: the account and its first token, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedServiceAccount {
    pub account: ServiceAccountView,
    pub secret: String,
}

impl std::fmt::Debug for CreatedServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedServiceAccount").field("account", &self.account).field("secret", &"[redacted]").finish()
    }
}

/// `POST /api/service-accounts/{id}/rotate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateServiceToken {
    /// Seconds the old token keeps working (default 0: it stops at once).
    #[serde(default)]
    pub grace_secs: u64,
}

/// Admin limits on credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialSettings {
    /// Longest PAT lifetime in days a user may choose.
    pub max_pat_days: u32,
    /// Default PAT lifetime in days.
    pub default_pat_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let view = CredentialView {
            id: "cr_x".into(),
            kind: CredentialKind::AgentPat,
            name: "bot".into(),
            owner_id: "u".into(),
            owner_name: "alice".into(),
            agent_id: None,
            agent_name: None,
            service_account: None,
            audience: Audience::Cli,
            scopes: vec![],
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            last_fingerprint: None,
            fingerprint_changed_at: None,
            revoked_at: None,
            status: CredentialStatus::Active,
        };
        let minted = MintedSecret { credential: view, secret: "kwp_a_supersecret".into() };
        assert!(!format!("{minted:?}").contains("supersecret"));
        let exchanged = ExchangeResponse {
            access_token: "eyJsecret".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            token_class: TokenClass::AgentAccess,
            scope: "messages".into(),
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token".into(),
        };
        assert!(!format!("{exchanged:?}").contains("eyJsecret"));
    }
}
