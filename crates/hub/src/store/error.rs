//! What can go wrong in a store: nothing about HTTP. The hub turns it into its own error in one
//! place (`impl From<StoreError> for crate::error::Error`).

/// Errors of a [`Store`](super::Store) backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be read.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The database cannot be reached right now (the connection failed or was closed, the
    /// pool had no connection in time, the server is shutting down or starting): worth trying
    /// again later, unlike [`StoreError::Database`].
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
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

/// Connection-level failures are [`StoreError::Unavailable`]; every other database error is
/// [`StoreError::Database`].
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if is_unavailable(&e) { StoreError::Unavailable(e) } else { StoreError::Database(e) }
    }
}

/// The connection broke or could not be made: I/O, no connection from the pool in time, a
/// closed pool, or a PostgreSQL SQLSTATE of class 08 (connection exception) or 57P01…57P03
/// (admin or crash shutdown, cannot connect now).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable_and_other_errors_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for e in [sqlx::Error::Io(refused), sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(StoreError::from(e), StoreError::Unavailable(_)));
        }
        for e in [sqlx::Error::RowNotFound, sqlx::Error::Protocol("bad message".into())] {
            assert!(matches!(StoreError::from(e), StoreError::Database(_)));
        }
    }
}
