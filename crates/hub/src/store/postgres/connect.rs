//! Connecting to PostgreSQL, and the schema's migrations.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use crate::secret::TokenHash;
use crate::store::Store;
use crate::store::changes::Outcome;
use crate::store::error::StoreError;

/// How long a request waits for a connection (a free one, or a new one while the server is
/// away) before it is answered `503 unavailable`: an outage must not hang requests.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the start waits for the server to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle this long is tested (a round trip) before it is used; a busier one
/// is used at once, and should its server have gone meanwhile, that request is answered
/// `503 unavailable` and the connection dropped.
const TEST_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Store backed by a PostgreSQL database. Several hubs may share one database.
#[derive(Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    /// The key audit appends sign the chain's head with.
    pub(super) signer: super::audit::SignerSlot,
    /// The periodic-work lease's connection (`super::notices`).
    pub(super) lease: std::sync::Arc<tokio::sync::Mutex<super::notices::Lease>>,
}

/// Never shows the connection string (it may hold a password).
impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?sslmode=verify-full&…`). TLS is
    /// as `sslmode` says (`disable` … `verify-full`, with `sslrootcert` for a private CA).
    /// Fails at once, with the reason, when the server cannot be reached or refuses the login.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        install_tls_provider();
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(redact(&e.to_string())))?;
        // One connection first: the pool would retry a refused or failed login until its
        // timeout and then say only that; this says why (refused, bad password, no TLS…).
        let probe = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(sqlx::Error::Io(e))) => return Err(unreachable(&options, e.kind(), &e.to_string())),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                let waited = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs());
                return Err(unreachable(&options, std::io::ErrorKind::TimedOut, &waited));
            }
        };
        probe.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx would test every idle connection it hands out (one more round trip for
            // each query); only one idle long enough to have outlived its server is tested.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= TEST_IDLE_AFTER {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        Ok(PgStore { pool, signer: Default::default(), lease: Default::default() })
    }

    /// The underlying pool (for tests and administration).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Makes aws-lc-rs (sqlx's TLS backend here) the process's rustls provider unless one is set.
/// sqlx's certificate verifier asks rustls for the process's provider, which rustls can only
/// guess when exactly one of its backends is built in; a build with `ring` as well (reqwest's,
/// in a workspace or test build) would otherwise panic at the first TLS connection.
fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread set one first: that one serves as well.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// A server that could not be reached, saying where (never with the password) and why.
fn unreachable(options: &PgConnectOptions, kind: std::io::ErrorKind, why: &str) -> StoreError {
    let place = match options.get_socket() {
        Some(dir) => format!("the socket in {} (port {})", dir.display(), options.get_port()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let e = std::io::Error::new(kind, format!("cannot reach PostgreSQL at {place}: {why}"));
    StoreError::Unavailable(sqlx::Error::Io(e))
}

/// `text` with anything that looks like a URL's password (`://user:password@`) masked.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        out.push_str(head);
        let end = tail.find(['/', ' ', '?']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A 32-byte hash column.
pub(super) fn hash_col(row: &PgRow, col: &str) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = row.try_get(col)?;
    TokenHash::from_slice(&bytes).ok_or_else(|| StoreError::Corrupt(format!("column {col} is not a 32-byte hash")))
}

impl Store for PgStore {
    /// sqlx's migrator holds `pg_advisory_lock` (keyed by the database's name) while it
    /// migrates, so hubs starting at the same moment run each migration once, in turn.
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await?;
        Ok(())
    }
}

/// `Done` if the statement changed a row, else `Unchanged`.
pub(super) fn changed(result: sqlx::postgres::PgQueryResult) -> Outcome {
    if result.rows_affected() > 0 { Outcome::Done } else { Outcome::Unchanged }
}

/// A unique violation is `NameTaken`; other failures are errors.
pub(super) fn unique(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> Result<Outcome, StoreError> {
    match result {
        Ok(r) => Ok(changed(r)),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(Outcome::NameTaken),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_masked() {
        assert_eq!(
            redact("bad url postgres://hub:s3cret@db.example:5432/keyway?sslmode=verify-full"),
            "bad url postgres://hub:***@db.example:5432/keyway?sslmode=verify-full"
        );
        assert_eq!(redact("postgres://db.example/keyway"), "postgres://db.example/keyway");
    }

    /// Hubs that start together on a fresh database: each migration runs once (under sqlx's
    /// advisory lock) and exactly one of them stores the first signing key.
    #[tokio::test]
    async fn hubs_starting_at_once_migrate_once_and_store_one_first_signing_key() {
        use crate::store::{KeyStore as _, Sealed, SigningKeyRecord};
        let url = keyway_test_support::postgres::database().unwrap();
        let starts = (0..4u8).map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let store = PgStore::connect(&url).await.unwrap();
                store.migrate().await.unwrap();
                let key = SigningKeyRecord {
                    kid: format!("kid{i}"),
                    public_key: [i; 32],
                    sealed: Some(Sealed {
                        version: 1,
                        key_id: "hk".into(),
                        nonce: vec![i; 24],
                        ciphertext: vec![i; 48],
                    }),
                    created_at: 1,
                    retired_at: None,
                    verify_until: None,
                };
                let stored = store.insert_first_signing_key(&key).await.unwrap();
                (store, stored)
            })
        });
        let mut stored = 0;
        let mut stores = Vec::new();
        for start in starts {
            let (store, first) = start.await.unwrap();
            stored += usize::from(first);
            stores.push(store);
        }
        assert_eq!(stored, 1, "exactly one hub stored the first key");
        let pool = stores[0].pool();
        assert_eq!(stores[0].signing_keys().await.unwrap().len(), 1);
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await.unwrap();
        assert_eq!(applied as usize, sqlx::migrate!("./migrations/postgres").iter().count());
    }

    /// A connection the server ends (`57P01`, as at a shutdown) is an outage, not a bug.
    #[tokio::test]
    async fn a_connection_the_server_terminates_is_unavailable() {
        let store = PgStore::connect(&keyway_test_support::postgres::database().unwrap()).await.unwrap();
        let err = sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
            .execute(store.pool())
            .await
            .expect_err("the server ends this connection");
        let code = err.as_database_error().and_then(|db| db.code()).map(|c| c.into_owned());
        assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)), "SQLSTATE {code:?}");
        // The pool replaces the connection by itself.
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(store.pool()).await.unwrap();
        assert_eq!(one, 1);
    }

    #[tokio::test]
    async fn the_store_never_shows_its_connection_string() {
        let store = PgStore {
            pool: PgPoolOptions::new().connect_lazy("postgres://hub:s3cret@127.0.0.1:1/keyway").unwrap(),
            signer: Default::default(),
            lease: Default::default(),
        };
        let shown = format!("{store:?} {:?}", store.pool());
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
