//! User accounts.

use std::future::Future;

use keyway_api::Role;

use super::error::StoreError;

/// A user account.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub created_at: i64,
}

/// Storage of user accounts.
pub trait UserStore: Send + Sync {
    /// Inserts a user; `StoreError::UserExists` if the name is taken (case-insensitively).
    fn insert_user(&self, user: &UserRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn user_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Case-insensitive lookup.
    fn user_by_name(&self, username: &str) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    fn user_by_id(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
}
