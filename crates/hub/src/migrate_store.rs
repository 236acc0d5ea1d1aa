//! `keyway-hub migrate-store`: copies a hub's SQLite database into a PostgreSQL database, so the
//! hub moves to PostgreSQL with its users, credentials, sign-ins, reviews, audit log and keys.
//!
//! The source is opened read-only and read in one transaction (one consistent snapshot, even if
//! a hub were still writing to it; stop it first, or its later writes are not copied). Before
//! the target is touched, the source must be at this version's schema and the hub key must open
//! its sealed signing keys: the copy keeps them sealed, so the same key opens them on the target.
//! The target is migrated the way the hub does at start, then the whole copy is one transaction
//! on it (the hub's tables locked, checked empty or emptied with `--force`, every row copied,
//! identity sequences moved past the copied ids, the rows counted again): a failure leaves the
//! target as it was.

mod copy;
mod error;
mod tables;

use std::fmt;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};

pub use self::error::MigrateError;
use self::tables::{Handling, TABLES};
use crate::backend::Backend;
use crate::hub_key::HubKey;
use crate::keys;
use crate::store::Store as _;
use crate::store::postgres::PgStore;
use crate::store::sqlite::keys::{KEY_COLUMNS, key_from_row};

/// What to copy where.
#[derive(Clone)]
pub struct MigrateOptions {
    /// The SQLite database to copy (`sqlite://FILE`); opened read-only.
    pub from: String,
    /// The PostgreSQL database to copy into (`postgres://…`).
    pub to: String,
    /// The hub key the source's signing keys are sealed with (required).
    pub hub_key: Option<HubKey>,
    /// Empty the target's hub tables first (in the copy's transaction) if they hold rows.
    pub force: bool,
}

/// Never shows the target's password.
impl fmt::Debug for MigrateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigrateOptions")
            .field("from", &shown_url(&self.from))
            .field("to", &shown_url(&self.to))
            .field("hub_key", &self.hub_key)
            .field("force", &self.force)
            .finish()
    }
}

/// What a copy did.
#[derive(Clone, Debug)]
pub struct MigrateReport {
    /// The source, as given.
    pub source: String,
    /// The target's URL with its password masked.
    pub target: String,
    /// The public id of the hub key that opened the signing keys.
    pub hub_key: String,
    /// The current signing key's kid (`None`: the source had none yet).
    pub signing_kid: Option<String>,
    /// Rows copied, per table, in copy order.
    pub tables: Vec<(&'static str, u64)>,
    /// Rows the target held before and `--force` removed (0 without it).
    pub replaced: i64,
    /// How long the copy took, from opening the source to the target's commit.
    pub elapsed: Duration,
}

impl MigrateReport {
    /// Rows copied in all.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    /// The rows copied into `table` (0 for a table it does not know).
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.iter().find(|(t, _)| *t == table).map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "copied {} into {} in {:.2} s", self.source, self.target, self.elapsed.as_secs_f64())?;
        match &self.signing_kid {
            Some(kid) => writeln!(f, "signing key {kid} stays sealed under hub key {}", self.hub_key)?,
            None => writeln!(f, "the source had no signing key yet")?,
        }
        if self.replaced > 0 {
            writeln!(f, "--force: the {} rows the target held were removed first", self.replaced)?;
        }
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<24} {rows:>9}")?;
        }
        write!(f, "  {:<24} {:>9}", "total", self.total())
    }
}

/// Copies the hub database `options.from` into `options.to`; see the module docs.
pub async fn migrate_store(options: MigrateOptions) -> Result<MigrateReport, MigrateError> {
    let started = Instant::now();
    if Backend::of(&options.to).ok() != Some(Backend::Postgres) {
        return Err(MigrateError::Url(
            "--to must be a PostgreSQL database URL (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=verify-full)".into(),
        ));
    }
    let hub_key = options.hub_key.as_ref().ok_or_else(|| MigrateError::HubKey(keys::no_hub_key(false)))?;
    let mut source = open_source(&options.from).await?;
    // One read transaction: every check and every row below come from one snapshot.
    let mut snapshot = source.begin().await.map_err(|e| MigrateError::source("cannot start reading it".into(), e))?;
    check_source(&mut snapshot).await?;
    let signing_kid = check_hub_key(&mut snapshot, hub_key).await?;

    let store =
        PgStore::connect(&options.to).await.map_err(|e| MigrateError::target("cannot connect to it".into(), e))?;
    store.migrate().await.map_err(|e| MigrateError::target("cannot migrate it".into(), e))?;
    let fail = |what: &str| {
        let what = what.to_owned();
        move |e: sqlx::Error| MigrateError::target(what, e)
    };
    let mut target = store.pool().begin().await.map_err(fail("cannot start a transaction"))?;
    sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *target).await.map_err(fail("cannot set a timeout"))?;
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let all = names.join(", ");
    sqlx::query(&format!("LOCK TABLE {all} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *target)
        .await
        .map_err(fail("cannot lock its tables (stop the hubs running on it first)"))?;

    let mut plans = Vec::with_capacity(TABLES.len());
    let mut held = Vec::new();
    for table in TABLES {
        plans.push((table.name, copy::columns(&mut snapshot, &mut target, table.name).await?));
        if table.handling != Handling::Seeded {
            let rows = count(&mut target, table.name).await?;
            if rows > 0 {
                held.push((table.name, rows));
            }
        }
    }
    if !held.is_empty() && !options.force {
        return Err(MigrateError::NotEmpty(held));
    }
    sqlx::query(&format!("TRUNCATE {all} RESTART IDENTITY"))
        .execute(&mut *target)
        .await
        .map_err(fail("cannot empty its tables"))?;

    let mut copied = Vec::with_capacity(plans.len());
    for (table, columns) in &plans {
        let rows = copy::copy_table(&mut snapshot, &mut target, table, columns).await?;
        copied.push((*table, rows));
    }
    for (table, advanced) in copy::advance_identities(&mut snapshot, &mut target, &names).await? {
        tracing::debug!(%table, next = advanced, "advanced the identity");
    }
    for (table, rows) in &copied {
        let stored = count(&mut target, table).await?;
        if u64::try_from(stored).ok() != Some(*rows) {
            return Err(MigrateError::Target(format!("after the copy {table} holds {stored} rows, not {rows}"), None));
        }
    }
    target.commit().await.map_err(fail("cannot commit the copy"))?;
    drop(snapshot);
    Ok(MigrateReport {
        source: options.from.clone(),
        target: shown_url(&options.to),
        hub_key: hub_key.id(),
        signing_kid,
        tables: copied,
        replaced: held.iter().map(|(_, n)| n).sum(),
        elapsed: started.elapsed(),
    })
}

/// Opens the SQLite database at `url` read-only; a missing file is an error, never created.
async fn open_source(url: &str) -> Result<SqliteConnection, MigrateError> {
    if Backend::of(url).ok() != Some(Backend::Sqlite) {
        return Err(MigrateError::Url("--from must be a SQLite database URL (sqlite://FILE)".into()));
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(MigrateError::Url("--from names an in-memory database, which holds no hub".into()));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| MigrateError::Url(format!("--from is not a SQLite database URL: {e}")))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5));
    let path = options.get_filename().to_owned();
    if !path.is_file() {
        return Err(MigrateError::Source(format!("there is no database file {}", path.display()), None));
    }
    options.connect().await.map_err(|e| MigrateError::source(format!("cannot open {}", path.display()), e))
}

/// The source must be a hub database at exactly this version's schema, with no table this
/// version does not know and nothing in a table that must be empty.
async fn check_source(source: &mut SqliteConnection) -> Result<(), MigrateError> {
    let read = |e: sqlx::Error| MigrateError::source("cannot read its schema".into(), e);
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&mut *source)
        .await
        .map_err(read)?;
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(MigrateError::Source("it is not a Keyway hub database (it has no migration record)".into(), None));
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *source)
        .await
        .map_err(read)?;
    let known: Vec<i64> = sqlx::migrate!("./migrations/sqlite").iter().map(|m| m.version).collect();
    if applied != known {
        let (at, of) = (applied.last().copied().unwrap_or(0), known.last().copied().unwrap_or(0));
        let why = if known.starts_with(&applied) {
            format!(
                "its schema is older than this keyway-hub's (migration {at} of {of}). Open it once with this \
                 version to upgrade it (e.g. `keyway-hub audit verify --database URL --key-file PATH`), then run \
                 migrate-store again"
            )
        } else {
            format!(
                "its schema (migration {at}) is not this keyway-hub's (migration {of}); run migrate-store of the \
                 keyway-hub version that last opened it"
            )
        };
        return Err(MigrateError::Source(why, None));
    }
    if let Some(unknown) = tables.iter().find(|t| !tables::is_bookkeeping(t) && !TABLES.iter().any(|k| k.name == *t)) {
        return Err(MigrateError::Schema(format!("the source has a table {unknown} that this keyway-hub cannot copy")));
    }
    for table in TABLES {
        if let Handling::Refused(advice) = table.handling {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", table.name))
                .fetch_one(&mut *source)
                .await
                .map_err(|e| MigrateError::source(format!("cannot read {}", table.name), e))?;
            if rows > 0 {
                return Err(MigrateError::Source(format!("table {}: {advice}", table.name), None));
            }
        }
    }
    Ok(())
}

/// The hub key must open the source's sealed signing keys, as a hub on the target will need it
/// to: the current key's kid.
async fn check_hub_key(source: &mut SqliteConnection, hub_key: &HubKey) -> Result<Option<String>, MigrateError> {
    let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM hub_signing_keys ORDER BY created_at DESC, kid"))
        .fetch_all(&mut *source)
        .await
        .map_err(|e| MigrateError::source("cannot read its signing keys".into(), e))?;
    let records = rows
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MigrateError::source("cannot read its signing keys".into(), e))?;
    keys::check_hub_key(&records, hub_key).map_err(MigrateError::HubKey)
}

async fn count(target: &mut sqlx::PgConnection, table: &str) -> Result<i64, MigrateError> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(target)
        .await
        .map_err(|e| MigrateError::target(format!("cannot count the rows of {table}"), e))
}

/// `url` with a password masked, whether in its authority or its query (`?password=`).
fn shown_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "[a database URL that does not parse]".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" { "***".to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        for url in [
            "postgres://hub:s3cret@db.example:5432/keyway?sslmode=verify-full",
            "postgres://hub@db.example/keyway?password=s3cret&sslmode=require",
            "postgres://hub:s3cret@db example/not a url",
        ] {
            let shown = shown_url(url);
            assert!(!shown.contains("s3cret"), "{shown}");
            let options =
                MigrateOptions { from: "sqlite://hub.db".into(), to: url.into(), hub_key: None, force: false };
            assert!(!format!("{options:?}").contains("s3cret"));
        }
        assert_eq!(shown_url("postgres://hub:s3cret@db/k"), "postgres://hub:***@db/k");
    }
}
