//! Who is calling and what they may do: principals, JWT classes, scopes and PAT audiences.
//!
//! A long-lived credential (a PAT, a service token, or a browser sign-in's refresh token) is
//! only ever exchanged for a short-lived JWT; resource routes take the JWT. The class of the JWT
//! decides its lifetime and the scopes it may carry.

use serde::{Deserialize, Serialize};

/// The kind of identity a JWT speaks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person (a `users` row).
    #[default]
    User,
    /// An agent owned by a person; its actions are attributed to the agent.
    Agent,
    /// A service account (automation), provisioned by an admin with one group.
    ServiceAccount,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Agent => "agent",
            PrincipalKind::ServiceAccount => "service_account",
        }
    }
}

/// Scopes of the `user_access` and `agent_access` classes (resource work).
pub mod scopes {
    pub const MESSAGES: &str = "messages";
    pub const TASKS: &str = "tasks";
    pub const CONTEXT: &str = "context";
    pub const AGENTS: &str = "agents";
    pub const SPACES: &str = "spaces";
    pub const SEARCH: &str = "search";
    /// Read one's own credentials and agents (list, show).
    pub const CREDENTIALS_READ: &str = "credentials.read";
    /// Submit review requests and wait for them.
    pub const REVIEWS_SUBMIT: &str = "reviews.submit";
    /// Read review requests (one's own; reviewers and auditors read all).
    pub const REVIEWS_READ: &str = "reviews.read";
    /// Approve or reject (the `reviewer` role is required too).
    pub const REVIEWS_DECIDE: &str = "reviews.decide";

    // `user_admin` scopes (management, short-lived).
    pub const AGENTS_CREATE: &str = "agents.create";
    pub const AGENTS_BIND: &str = "agents.bind";
    pub const CREDENTIALS_ISSUE_AGENT: &str = "credentials.issue.agent";
    pub const CREDENTIALS_REVOKE: &str = "credentials.revoke";
    pub const DELEGATIONS_MANAGE: &str = "delegations.manage";
    /// Create, rotate and revoke service accounts (the `admin` role is required too).
    pub const SERVICE_ACCOUNTS_MANAGE: &str = "service_accounts.manage";
}

/// The class of a JWT: what it was exchanged from, how long it lives, which scopes it may hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenClass {
    /// A person's everyday access (from a user PAT or a browser sign-in). 15 minutes.
    #[default]
    UserAccess,
    /// A person's management access: minting, revoking, agents. 5 minutes.
    UserAdmin,
    /// An agent's access (from its agent PAT only). 15 minutes.
    AgentAccess,
    /// A service account's access (from its service token). 15 minutes.
    ServiceAccess,
}

const USER_ACCESS_SCOPES: &[&str] = &[
    scopes::MESSAGES,
    scopes::TASKS,
    scopes::CONTEXT,
    scopes::AGENTS,
    scopes::SPACES,
    scopes::SEARCH,
    scopes::CREDENTIALS_READ,
    scopes::REVIEWS_SUBMIT,
    scopes::REVIEWS_READ,
    scopes::REVIEWS_DECIDE,
];
const USER_ADMIN_SCOPES: &[&str] = &[
    scopes::AGENTS_CREATE,
    scopes::AGENTS_BIND,
    scopes::CREDENTIALS_ISSUE_AGENT,
    scopes::CREDENTIALS_REVOKE,
    scopes::DELEGATIONS_MANAGE,
    scopes::SERVICE_ACCOUNTS_MANAGE,
];
const AGENT_ACCESS_SCOPES: &[&str] = &[
    scopes::MESSAGES,
    scopes::TASKS,
    scopes::CONTEXT,
    scopes::AGENTS,
    scopes::SPACES,
    scopes::SEARCH,
    scopes::REVIEWS_SUBMIT,
    scopes::REVIEWS_READ,
];
const SERVICE_ACCESS_SCOPES: &[&str] = &[
    scopes::MESSAGES,
    scopes::TASKS,
    scopes::CONTEXT,
    scopes::SPACES,
    scopes::SEARCH,
    scopes::REVIEWS_SUBMIT,
    scopes::REVIEWS_READ,
];

impl TokenClass {
    pub const ALL: [TokenClass; 4] =
        [TokenClass::UserAccess, TokenClass::UserAdmin, TokenClass::AgentAccess, TokenClass::ServiceAccess];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenClass::UserAccess => "user_access",
            TokenClass::UserAdmin => "user_admin",
            TokenClass::AgentAccess => "agent_access",
            TokenClass::ServiceAccess => "service_access",
        }
    }

    pub fn parse(s: &str) -> Option<TokenClass> {
        TokenClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Lifetime of a JWT of this class, in seconds.
    pub fn ttl_secs(self) -> i64 {
        match self {
            TokenClass::UserAdmin => 5 * 60,
            TokenClass::UserAccess | TokenClass::AgentAccess | TokenClass::ServiceAccess => 15 * 60,
        }
    }

    /// Every scope a JWT of this class may carry (the allowlist).
    pub fn allowed_scopes(self) -> &'static [&'static str] {
        match self {
            TokenClass::UserAccess => USER_ACCESS_SCOPES,
            TokenClass::UserAdmin => USER_ADMIN_SCOPES,
            TokenClass::AgentAccess => AGENT_ACCESS_SCOPES,
            TokenClass::ServiceAccess => SERVICE_ACCESS_SCOPES,
        }
    }

    /// The kind of principal a JWT of this class speaks for.
    pub fn principal(self) -> PrincipalKind {
        match self {
            TokenClass::UserAccess | TokenClass::UserAdmin => PrincipalKind::User,
            TokenClass::AgentAccess => PrincipalKind::Agent,
            TokenClass::ServiceAccess => PrincipalKind::ServiceAccount,
        }
    }
}

impl std::fmt::Display for TokenClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a PAT may be used: the caller's surface must be allowed by it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The command line (and the desktop app).
    #[default]
    Cli,
    /// Remote tools (MCP servers).
    Mcp,
    Both,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Cli => "cli",
            Audience::Mcp => "mcp",
            Audience::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        [Audience::Cli, Audience::Mcp, Audience::Both].into_iter().find(|a| a.as_str() == s)
    }

    /// True if a credential with this audience may be used from `surface` (`Cli` or `Mcp`).
    pub fn allows(self, surface: Audience) -> bool {
        self == Audience::Both || self == surface
    }
}

/// `GET /api/me`: the identity behind the bearer JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub kind: PrincipalKind,
    pub id: String,
    pub name: String,
    /// For agents, the owning user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub roles: Vec<crate::Role>,
    pub token_class: TokenClass,
    pub scopes: Vec<String>,
    /// Unix seconds when the JWT expires.
    pub expires_at: i64,
}

/// One audit log entry (`GET /api/audit`, auditors and admins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// `ok`, or the error code of a refusal.
    pub outcome: String,
    pub detail: serde_json::Value,
}

/// A page of a cursor-paginated list: pass `next` back as `?cursor=` for the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// How a hub treats requests (`GET /auth/mode` answers `{"mode": "learning"}` or
/// `{"mode": "protected"}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubMode {
    /// Roles are enforced (the default).
    #[default]
    Protected,
    /// Authentication is off: a request without a credential acts as a local learner holding
    /// every role, and `/oauth/authorize` answers at once, with no form.
    Learning,
}

/// The answer of `GET /auth/mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeInfo {
    pub mode: HubMode,
}

/// The header a learning hub puts on every response (`Keyway-Mode: learning`).
pub const MODE_HEADER: &str = "keyway-mode";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_trip_and_match_the_documented_table() {
        for c in TokenClass::ALL {
            assert_eq!(TokenClass::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert_eq!(TokenClass::UserAccess.ttl_secs(), 900);
        assert_eq!(TokenClass::UserAdmin.ttl_secs(), 300);
        assert_eq!(TokenClass::AgentAccess.ttl_secs(), 900);
        // Management scopes never leak into access classes and the other way round.
        for s in TokenClass::UserAdmin.allowed_scopes() {
            for c in [TokenClass::UserAccess, TokenClass::AgentAccess, TokenClass::ServiceAccess] {
                assert!(!c.allowed_scopes().contains(s), "{s} in {c}");
            }
        }
        assert!(!TokenClass::AgentAccess.allowed_scopes().contains(&scopes::REVIEWS_DECIDE));
    }

    #[test]
    fn audiences() {
        assert!(Audience::Both.allows(Audience::Mcp));
        assert!(Audience::Cli.allows(Audience::Cli));
        assert!(!Audience::Cli.allows(Audience::Mcp));
        assert!(!Audience::Mcp.allows(Audience::Cli));
        assert_eq!(Audience::parse("both"), Some(Audience::Both));
        assert_eq!(Audience::parse("all"), None);
    }
}
