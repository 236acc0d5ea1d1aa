//! Who may act right now: the users cache the [`crate::principal::Principal`] extractor
//! reads on every request, so that disabling a user, deleting one or taking a role away takes
//! effect at once.
//!
//! # Consistency
//! Every user change this process makes calls `crate::accounts::user_changed` before it is answered, which
//! drops the user's entry here and the cached credentials they own: the very next request
//! reads the user again. With several hubs on one database the others are told at once
//! (`crate::notices`); should that notice be lost, entries live at most [`USER_CACHE_TTL`]
//! (the same bound as the credential cache).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use keyway_api::Role;

use crate::error::Error;
use crate::store::Store;

/// How long a cached user is trusted before it is read again (bounds cross-node staleness).
pub(crate) const USER_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most entries kept; beyond it the cache is emptied.
const USER_CACHE_MAX: usize = 100_000;

/// What a request needs to know about a user.
#[derive(Debug)]
pub(crate) struct LiveUser {
    pub(crate) roles: Vec<Role>,
    /// Neither disabled nor deleted.
    pub(crate) active: bool,
    loaded: Instant,
}

/// Users by id.
#[derive(Debug, Default)]
pub(crate) struct LiveUsers {
    entries: RwLock<HashMap<String, Arc<LiveUser>>>,
    /// Bumped by every invalidation: a load that began before one is used once, never kept.
    generation: AtomicU64,
}

impl LiveUsers {
    /// The user `id` from memory if fresh, else from the store; `None`: no such user.
    pub(crate) async fn get<S: Store>(&self, store: &S, id: &str) -> Result<Option<Arc<LiveUser>>, Error> {
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = entries.get(id).filter(|hit| hit.loaded.elapsed() < USER_CACHE_TTL) {
                return Ok(Some(Arc::clone(hit)));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(user) = store.user_by_id(id).await? else {
            return Ok(None);
        };
        let live = Arc::new(LiveUser { active: user.is_active(), roles: user.roles, loaded: Instant::now() });
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= USER_CACHE_MAX {
                entries.clear();
            }
            entries.insert(id.to_owned(), Arc::clone(&live));
        }
        Ok(Some(live))
    }

    pub(crate) fn invalidate(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Forgets every user (changes may have been missed).
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{UserRecord, UserStore};

    #[tokio::test]
    async fn an_invalidated_user_is_read_again() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let user = UserRecord {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: String::new(),
            roles: vec![Role::Admin],
            created_at: 1,
            disabled: false,
            deleted_at: None,
            managed_by: None,
        };
        store.insert_user(&user).await.unwrap();
        let cache = LiveUsers::default();
        assert!(cache.get(&store, "u1").await.unwrap().unwrap().active);
        assert!(cache.get(&store, "nobody").await.unwrap().is_none());
        sqlx::query("UPDATE users SET disabled = 1").execute(store.pool()).await.unwrap();
        assert!(cache.get(&store, "u1").await.unwrap().unwrap().active, "cached until invalidated");
        cache.invalidate("u1");
        assert!(!cache.get(&store, "u1").await.unwrap().unwrap().active);
    }
}
