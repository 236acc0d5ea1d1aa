//! An embedded SQLite hub is the only process on its database: it has no one to notify, and it
//! always holds the lease on periodic work.

use super::SqliteStore;
use crate::store::error::StoreError;
use crate::store::notices::{Listener, NoticeStore};

impl NoticeStore for SqliteStore {
    fn shared(&self) -> bool {
        false
    }

    async fn notify(&self, _payloads: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        Ok(None)
    }

    async fn append_review_event(&self, _at: i64, _body: &str, _prefix: &str) -> Result<u64, StoreError> {
        Err(StoreError::Unstorable("review events are kept in the database only when hubs share it".into()))
    }

    async fn review_event(&self, _id: u64) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    async fn prune_review_events(&self, _before: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn lead(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
}
