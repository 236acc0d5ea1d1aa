//! What stops `migrate-store`. Each message says what is wrong and what to do; none holds a
//! password (URLs are shown with it masked).

/// A cause, for the error chain (the binary prints it on one line after the message).
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why `migrate-store` stopped. Whatever it is, the target is as it was before (its migrations
/// aside, which the hub would run at its next start anyway) and the source was not changed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A database URL that names no database of the kind needed.
    #[error("{0}")]
    Url(String),
    /// The hub key is missing, unreadable or does not open the source's signing keys.
    #[error(transparent)]
    HubKey(crate::Error),
    /// The source cannot be opened or read, or is no hub database this version copies.
    #[error("the source database: {0}")]
    Source(String, #[source] Option<Cause>),
    /// The target cannot be reached, migrated or written.
    #[error("the target database: {0}")]
    Target(String, #[source] Option<Cause>),
    /// The two schemas differ (a version mismatch).
    #[error("the source and target schemas differ: {0}")]
    Schema(String),
    /// The target holds a hub's rows and `--force` was not given.
    #[error(
        "the target database is not empty ({}); migrate-store copies into an empty database only. To replace what \
         it holds with the source, run it again with --force: it empties the target's hub tables in the same \
         transaction as the copy, so if the copy fails the target keeps its rows",
        shown_counts(.0)
    )]
    NotEmpty(Vec<(&'static str, i64)>),
}

fn shown_counts(counts: &[(&'static str, i64)]) -> String {
    counts.iter().map(|(table, n)| format!("{table}: {n} rows")).collect::<Vec<_>>().join(", ")
}

impl MigrateError {
    pub(crate) fn source(what: String, cause: impl Into<Cause>) -> MigrateError {
        MigrateError::Source(what, Some(cause.into()))
    }

    pub(crate) fn target(what: String, cause: impl Into<Cause>) -> MigrateError {
        MigrateError::Target(what, Some(cause.into()))
    }
}
