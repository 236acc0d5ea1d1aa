//! SQLite backend (WAL mode, foreign keys on), by area: each submodule implements its area's
//! trait for [`SqliteStore`].

mod audit;
mod changes;
mod credentials;
mod oauth;
mod reviews;
mod users;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use crate::secret::TokenHash;
use crate::store::Store;
use crate::store::error::StoreError;

/// Store backed by a SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://keyway-hub.db`.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // An in-memory database lives as long as one connection to it: keep exactly one.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new().max_connections(4).connect_with(options).await?
        };
        Ok(SqliteStore { pool })
    }

    /// The underlying pool (for tests and administration).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A 32-byte hash column.
fn hash_col(row: &SqliteRow, col: &str) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = row.try_get(col)?;
    TokenHash::from_slice(&bytes).ok_or_else(|| StoreError::Corrupt(format!("column {col} is not a 32-byte hash")))
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }
}
