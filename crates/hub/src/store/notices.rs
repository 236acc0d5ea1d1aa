//! Notices between the hubs of one database: cache invalidations, key changes and review
//! events, so that several hub processes act as one. PostgreSQL carries them with
//! `LISTEN`/`NOTIFY`; an embedded SQLite hub is the only process on its database and needs
//! none. The periodic work that must run on one hub at a time takes a lease here too.

use std::future::Future;

use super::error::StoreError;

/// The `NOTIFY` channel every hub of a database listens on.
pub const CHANNEL: &str = "keyway";

/// Notices from the other hubs of the database, as they arrive.
pub struct Listener(pub(crate) sqlx::postgres::PgListener);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// The next notice's payload. `Ok(None)`: the connection was lost, so notices may have been
    /// missed; the next call connects again.
    pub async fn recv(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}

/// Storage side of the notices.
pub trait NoticeStore: Send + Sync {
    /// True when other hub processes may share the database: changes must then be announced to
    /// them, and review events travel through the database.
    fn shared(&self) -> bool;
    /// Sends `payloads` (each under 8,000 bytes) to every hub listening on the database, in
    /// order. Nothing for a store no other process shares.
    fn notify(&self, payloads: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Listens for notices: `None` for a store no other process shares.
    fn listen(&self) -> impl Future<Output = Result<Option<Listener>, StoreError>> + Send;
    /// Keeps a review event (`body`, JSON) for every hub, notifies its id with `prefix`
    /// before it, and returns the id. Ids grow, but may commit out of order.
    fn append_review_event(
        &self,
        at: i64,
        body: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The body of the review event `id`, if it is still kept.
    fn review_event(&self, id: u64) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Deletes the review events kept since before `before`; returns how many.
    fn prune_review_events(&self, before: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Takes (or keeps) the lease on the periodic work that runs on one hub at a time, and
    /// says whether this process holds it. It is held as long as this process's connection
    /// lives: when the hub dies, the next one to ask takes it. Always true for a store no
    /// other process shares.
    fn lead(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
