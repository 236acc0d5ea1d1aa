//! Notices between hubs on PostgreSQL: `NOTIFY` on [`CHANNEL`], review events in
//! `review_events`, and the lease on periodic work as a session-level advisory lock held on a
//! connection of its own (so it ends with the process that holds it).

use sqlx::postgres::PgListener;
use sqlx::{ConnectOptions as _, Connection as _};

use super::PgStore;
use crate::store::error::StoreError;
use crate::store::notices::{CHANNEL, Listener, NoticeStore};

/// The advisory lock key of the periodic-work lease ("keyway" and 1; the migrator's keys are
/// derived from the database's name and never take this value in practice).
const LEASE_KEY: i64 = 0x6b65_7977_6179_0001;

/// The lease's own connection, and whether it holds the lock.
#[derive(Default)]
pub(super) struct Lease {
    conn: Option<sqlx::postgres::PgConnection>,
    held: bool,
}

impl NoticeStore for PgStore {
    fn shared(&self) -> bool {
        true
    }

    async fn notify(&self, payloads: &[String]) -> Result<(), StoreError> {
        if payloads.is_empty() {
            return Ok(());
        }
        // One statement, one transaction: the notices arrive together and in order.
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Listener(listener)))
    }

    async fn append_review_event(&self, at: i64, body: &str, prefix: &str) -> Result<u64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "WITH e AS (INSERT INTO review_events (at, body) VALUES ($1, $2) RETURNING id) \
             SELECT e.id FROM e, LATERAL (SELECT pg_notify($3, $4 || e.id::text)) AS n",
        )
        .bind(at)
        .bind(body)
        .bind(CHANNEL)
        .bind(prefix)
        .fetch_one(&self.pool)
        .await?;
        u64::try_from(id).map_err(|_| StoreError::Corrupt("review_events.id is negative".into()))
    }

    async fn review_event(&self, id: u64) -> Result<Option<String>, StoreError> {
        let id = i64::try_from(id).map_err(|_| StoreError::Unstorable("review event id out of range".into()))?;
        Ok(sqlx::query_scalar("SELECT body FROM review_events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn prune_review_events(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM review_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn lead(&self) -> Result<bool, StoreError> {
        let mut lease = self.lease.lock().await;
        if lease.held {
            let alive = match lease.conn.as_mut() {
                Some(conn) => conn.ping().await.is_ok(),
                None => false,
            };
            if alive {
                return Ok(true);
            }
            // The connection went, and the lock with it: someone else may hold it now.
            *lease = Lease::default();
        }
        if lease.conn.is_none() {
            lease.conn = Some(self.pool.connect_options().connect().await?);
        }
        let Some(conn) = lease.conn.as_mut() else {
            return Ok(false);
        };
        let got = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(LEASE_KEY)
            .fetch_one(&mut *conn)
            .await;
        match got {
            Ok(held) => {
                lease.held = held;
                Ok(held)
            }
            Err(e) => {
                *lease = Lease::default();
                Err(e.into())
            }
        }
    }
}
