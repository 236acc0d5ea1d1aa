//! What can go wrong in a store: nothing about HTTP. The hub turns it into its own error in one
//! place (`impl From<StoreError> for crate::error::Error`).

/// Errors of a [`Store`](super::Store) backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be read.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value cannot be read back (an unknown enum name, bad JSON, a short hash…).
    #[error("{0}")]
    Corrupt(String),
    /// A value cannot be written (out of the column's range, not serializable).
    #[error("{0}")]
    Unstorable(String),
    /// A user with that name already exists (names are unique case-insensitively).
    #[error("a user with that name already exists")]
    UserExists,
}
