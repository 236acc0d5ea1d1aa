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
/// (admin or crash shutdown, cannot connect now). Also a database out of room: PostgreSQL's
/// class 53 (disk full, out of memory, too many connections), SQLite's `SQLITE_FULL` and its
/// I/O errors (`SQLITE_IOERR_*`, such as a write refused by a full disk). The write that met
/// it was rolled back, so trying again once there is room is safe.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// Whether a database error code means "not now": see [`is_unavailable`]. PostgreSQL's codes
/// are five-character SQLSTATEs; SQLite's are its (extended) result codes in decimal, shorter.
fn unavailable_code(code: &str) -> bool {
    const SQLITE_IOERR: u32 = 10;
    const SQLITE_FULL: u32 = 13;
    if code.len() == 5 {
        return code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, SQLITE_IOERR | SQLITE_FULL))
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

    #[test]
    fn a_database_out_of_room_is_unavailable_and_a_constraint_is_not() {
        // PostgreSQL: disk full, too many connections, connection failure, admin shutdown.
        for code in ["53100", "53300", "08006", "57P01"] {
            assert!(unavailable_code(code), "{code}");
        }
        // SQLite: SQLITE_FULL, SQLITE_IOERR_WRITE (778), SQLITE_IOERR_FSYNC (1034).
        for code in ["13", "778", "1034"] {
            assert!(unavailable_code(code), "{code}");
        }
        // A unique violation (PostgreSQL 23505, SQLite's SQLITE_CONSTRAINT_UNIQUE 2067), a
        // syntax error (42601), SQLite's SQLITE_BUSY (5) and SQLITE_CORRUPT (11).
        for code in ["23505", "2067", "42601", "5", "11"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
