//! SQLite backend (WAL mode with `synchronous=FULL`, foreign keys on), by area: each submodule
//! implements its area's trait for [`SqliteStore`].

mod audit;
mod changes;
mod ciba;
mod clients;
mod credentials;
mod devices;
mod identities;
pub(crate) mod keys;
mod notices;
mod oauth;
mod resources;
mod reviews;
mod scim;
mod throttle;
mod user_changes;
mod users;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use crate::secret::TokenHash;
use crate::store::Store;
use crate::store::changes::Outcome;
use crate::store::error::StoreError;

/// Store backed by a SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The key audit appends sign the chain's head with.
    signer: audit::SignerSlot,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://keyway-hub.db`.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: every commit syncs the WAL before the hub answers, so a write it has
            // acknowledged survives a power cut or an OS crash too. NORMAL (WAL's usual pair)
            // survives a killed process but may lose the last commits when the machine stops.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            private_files(options.get_filename())
                .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", options.get_filename().display())))?;
        }
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
        Ok(SqliteStore { pool, signer: Default::default() })
    }

    /// Whether the database at `url` exists already (an in-memory database never does).
    pub fn exists(url: &str) -> bool {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        !in_memory && SqliteConnectOptions::from_str(url).is_ok_and(|o| o.get_filename().exists())
    }

    /// The underlying pool (for tests and administration).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The database holds password hashes and the signing key: only its owner may read it. A
/// missing folder is made `0700`, the file is made (or tightened to) `0600`, and so are a WAL
/// and shared-memory file left by an earlier run; SQLite gives the ones it makes later the
/// database file's mode.
fn private_files(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = std::path::PathBuf::from(name);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
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

/// `Done` if the statement changed a row, else `Unchanged`.
pub(super) fn changed(result: sqlx::sqlite::SqliteQueryResult) -> Outcome {
    if result.rows_affected() > 0 { Outcome::Done } else { Outcome::Unchanged }
}

/// A unique violation is `NameTaken`; other failures are errors.
pub(super) fn unique(result: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>) -> Result<Outcome, StoreError> {
    match result {
        Ok(r) => Ok(changed(r)),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Outcome::NameTaken),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_and_its_wal_and_shm_are_the_owners_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("data/hub/keyway-hub.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        store.migrate().await.unwrap();
        for (path, want) in [
            (db.parent().unwrap().to_path_buf(), 0o700),
            (db.clone(), 0o600),
            (db.with_extension("db-wal"), 0o600),
            (db.with_extension("db-shm"), 0o600),
        ] {
            assert!(path.exists(), "{} exists", path.display());
            assert_eq!(mode(&path), want, "{}", path.display());
        }
        drop(store);
        // A database left world-readable by an earlier version is tightened at the next start.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _again = SqliteStore::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    /// Every connection of the pool syncs each commit (`PRAGMA synchronous` 2 = FULL) in WAL mode.
    #[tokio::test]
    async fn every_pool_connection_runs_with_synchronous_full() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::connect(&format!("sqlite://{}", tmp.path().join("hub.db").display())).await.unwrap();
        // Hold the pool's four connections at once, so each is a different one.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut held {
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(synchronous, 2, "PRAGMA synchronous is FULL");
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(journal, "wal");
        }
    }
}
