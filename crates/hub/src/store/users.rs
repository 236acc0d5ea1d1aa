//! User accounts, their roles (Keyway's groups) and one-time set-password codes.

use std::future::Future;

use keyway_api::Role;

use super::error::StoreError;
use crate::secret::TokenHash;

/// A user account.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string; empty while the person has not set a password (one-time code).
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub created_at: i64,
    pub disabled: bool,
    /// A deleted user is a tombstone: no password, no roles, the name kept.
    pub deleted_at: Option<i64>,
    /// `sso` or `scim` when the company's IdP manages the user (their roles and password are
    /// not edited in Keyway); read from the row, set by `Write::SetUserManaged`, not by insert.
    pub managed_by: Option<String>,
}

impl UserRecord {
    /// Neither disabled nor deleted.
    pub fn is_active(&self) -> bool {
        !self.disabled && self.deleted_at.is_none()
    }
}

/// Which users [`UserStore::users`] lists: ordered by name (case-insensitively).
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Names containing this (case-insensitively).
    pub search: Option<String>,
    /// Only holders of this role.
    pub role: Option<Role>,
    /// Names after this one (keyset paging).
    pub after: Option<String>,
    pub include_deleted: bool,
    pub limit: u32,
}

/// A one-time set-password code.
#[derive(Clone, Debug)]
pub struct SetPasswordCode {
    pub user_id: String,
    pub code_hash: TokenHash,
    pub expires_at: i64,
    /// The sign-in request the code was entered for.
    pub request_id: Option<String>,
}

/// Storage of user accounts.
pub trait UserStore: Send + Sync {
    /// Inserts a user; `StoreError::UserExists` if the name is taken (case-insensitively).
    fn insert_user(&self, user: &UserRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn user_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Case-insensitive lookup.
    fn user_by_name(&self, username: &str) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    fn user_by_id(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    /// The learning mode's learner: the live user whose id starts with `learner-` (a prefix no
    /// other id has: they are base62).
    fn learner(&self) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    /// Users by name, a page at a time.
    fn users(&self, filter: &UserFilter) -> impl Future<Output = Result<Vec<UserRecord>, StoreError>> + Send;
    /// The user's unexpired set-password code.
    fn set_password_code(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<SetPasswordCode>, StoreError>> + Send;
    /// Marks the unexpired code as entered for the sign-in request `request_id`.
    fn bind_set_password_code(
        &self,
        user_id: &str,
        request_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
