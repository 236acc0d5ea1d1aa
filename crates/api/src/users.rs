//! Users, groups (Keyway's roles are its groups) and sign-in sessions.
//!
//! Routes (JSON bodies; bearer JWT):
//! - `GET /api/users?q=&cursor=&limit=&deleted=` → `Page<UserView>` (admins, auditors);
//!   `POST /api/users` [`CreateUser`] → [`CreatedUser`] (admins, `user_admin`).
//! - `GET|DELETE /api/users/{id}`; `POST /api/users/{id}/disable`, `…/enable`;
//!   `PUT /api/users/{id}/roles` [`SetRoles`]; `POST /api/users/{id}/password`
//!   [`ResetPassword`] → [`CreatedUser`]; `POST /api/users/{id}/logout` (forced logout).
//! - `GET /api/groups` → `Vec<Group>`; `GET /api/groups/{role}` → [`Group`];
//!   `PUT|DELETE /api/groups/{role}/members/{user_id}`.
//! - `PUT /api/me/password` [`ChangePassword`].
//! - `GET /api/me/sessions` → `Vec<SessionView>`; `DELETE /api/me/sessions` (all);
//!   `DELETE /api/me/sessions/{id}`.
//! - `GET|PUT /api/settings/sessions` ([`SessionSettings`], admins).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Role;

/// Shortest password a person may choose or be given, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// How long a one-time set-password code stays usable, in seconds.
pub const SET_PASSWORD_CODE_SECS: i64 = 72 * 3600;
/// Bounds of the session lifetimes an admin may set, in seconds.
pub const MIN_SESSION_SECS: u64 = 60;
pub const MAX_SESSION_SECS: u64 = 365 * 24 * 3600;

/// A user as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub created_at: i64,
    pub disabled: bool,
    /// Set for a deleted user (kept as a tombstone so its reviews and audit rows name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// False until the person has set a password with their one-time code.
    pub password_set: bool,
    /// `sso` or `scim` when the company's IdP manages the user: their roles and password are
    /// changed there, and Keyway refuses to change them (`managed_externally`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// `POST /api/users`. Without `password` the hub makes a one-time set-password code.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    /// Default: `[developer]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUser")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A created user, or a password reset: the one-time code is shown here once.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedUser {
    pub user: UserView,
    /// The person enters it on the hub's sign-in page, as their password, then sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_password_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expires_at: Option<i64>,
}

impl fmt::Debug for CreatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedUser")
            .field("user", &self.user)
            .field("set_password_code", &self.set_password_code.as_ref().map(|_| "[redacted]"))
            .field("code_expires_at", &self.code_expires_at)
            .finish()
    }
}

/// `PUT /api/users/{id}/roles`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    pub roles: Vec<Role>,
}

/// `POST /api/users/{id}/password`: the new password, or none for a one-time code.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for ResetPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetPassword").field("password", &self.password.as_ref().map(|_| "[redacted]")).finish()
    }
}

/// `PUT /api/me/password`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current: String,
    pub new: String,
}

impl fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePassword([redacted])")
    }
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: String,
    pub username: String,
    pub disabled: bool,
}

/// A group: one of Keyway's roles and the users who hold it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    pub role: Role,
    pub members: Vec<Member>,
}

/// One of a person's sign-ins (a refresh token family).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// The client address the sign-in was last used from.
    #[serde(default)]
    pub address: Option<String>,
    /// When it ends at the latest (absolute lifetime).
    pub expires_at: i64,
    /// True for the sign-in the request itself came from.
    #[serde(default)]
    pub current: bool,
}

/// Session lifetimes (admins): a sign-in ends `absolute_secs` after it began, and when unused
/// for `idle_secs`. Both are checked at every refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub absolute_secs: u64,
    pub idle_secs: u64,
}

/// What ending sessions did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ended {
    pub ended: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_in_debug() {
        let c = CreateUser { username: "bob".into(), roles: None, password: Some("hunter2hunter2".into()) };
        assert!(!format!("{c:?}").contains("hunter2"));
        let p = ChangePassword { current: "old-secret".into(), new: "new-secret".into() };
        assert!(!format!("{p:?}").contains("secret"));
        let r = ResetPassword { password: Some("s3cret-s3cret".into()) };
        assert!(!format!("{r:?}").contains("s3cret"));
    }
}
