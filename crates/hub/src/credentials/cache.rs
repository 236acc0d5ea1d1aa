//! Credentials at run time: the in-memory cache the exchange reads, and the write-behind
//! buffer of last-used times and fingerprints.
//!
//! # Speed
//! The happy path of an exchange touches no database: the credential's metadata (hash, owner,
//! roles, agent, audience, scopes, expiry, revocation) comes from [`Cache`], and its use is
//! recorded in [`Usage`], which a background task writes in one transaction per second (and
//! once more at shutdown). Refusals are counted for the audit log the same way (`crate::audit::refusals`).
//!
//! # Consistency
//! Every change this process makes (revoke, rotate, agent disable or rename, service account
//! revoke) invalidates the affected entries before the change is answered, so on one node a
//! revoked PAT fails its very next exchange. With several hubs on one database, the change's
//! notice (`crate::notices`) makes every other hub drop the entry at once; should a notice be
//! lost, entries live at most [`CACHE_TTL`], so a revocation takes effect everywhere within
//! that bound.
//!
//! Ids that name no credential are remembered too, for [`ABSENT_TTL`]: a client retrying an
//! unknown PAT is refused from memory, as fast as a revoked one. Ids are random (71 bits), so
//! only a guess could name an id before it is minted, and even then it would be read again
//! after [`ABSENT_TTL`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use keyway_api::Role;

use crate::error::Error;
use crate::secret::TokenHash;
use crate::store::{CredentialRecord, CredentialUse, Store};

/// How long a cached entry is trusted before it is read again (bounds cross-node staleness).
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(10);
/// Most entries kept; beyond it the cache is emptied (a flood of distinct ids cannot grow it).
const CACHE_MAX: usize = 100_000;
/// How long an id that names no credential is remembered.
pub(crate) const ABSENT_TTL: Duration = Duration::from_secs(10);
/// Most unknown ids remembered; beyond it they are forgotten (a flood of distinct ids reads
/// the database for each, as without this).
const ABSENT_MAX: usize = 10_000;
/// How often the write-behind buffer is flushed.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A cached credential: what the exchange needs to know about it.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) record: CredentialRecord,
    /// The owner's roles (user PATs).
    pub(crate) owner_roles: Vec<Role>,
    /// The owner is neither disabled nor deleted.
    pub(crate) owner_active: bool,
    loaded: Instant,
    /// Set by the one request that reloads a stale entry; the others keep using it meanwhile.
    refreshing: AtomicBool,
}

impl Cached {
    pub(crate) fn hash(&self) -> &TokenHash {
        &self.record.secret_hash
    }
}

/// Credential metadata by public id.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: RwLock<HashMap<String, Arc<Cached>>>,
    /// Ids that named no credential, and when that was read.
    absent: RwLock<HashMap<String, Instant>>,
    /// Bumped by every invalidation: a load that started before one is not cached (it may
    /// have read the row before the change).
    generation: AtomicU64,
}

impl Cache {
    /// The credential `id`, from memory if fresh, else from the store. `None`: no such id.
    ///
    /// A stale entry is reloaded by the first request that sees it; concurrent requests keep
    /// using the stale one meanwhile (no stampede on the database). Invalidated entries are
    /// gone, so they are always read again.
    pub(crate) async fn get<S: Store>(&self, store: &S, id: &str) -> Result<Option<Arc<Cached>>, Error> {
        let stale = {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            match entries.get(id) {
                Some(hit) if hit.loaded.elapsed() < CACHE_TTL => return Ok(Some(Arc::clone(hit))),
                Some(hit) if hit.refreshing.swap(true, Ordering::AcqRel) => return Ok(Some(Arc::clone(hit))),
                Some(hit) => Some(Arc::clone(hit)),
                None => None,
            }
        };
        if stale.is_none() && self.known_absent(id) {
            return Ok(None);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = Self::load(store, id).await;
        if let (Err(_), Some(stale)) = (&loaded, &stale) {
            stale.refreshing.store(false, Ordering::Release);
        }
        let Some(live) = loaded? else {
            self.invalidate(id);
            self.remember_absent(id, generation);
            return Ok(None);
        };
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            // Used for this request (it began before the change), never kept.
            return Ok(Some(live));
        }
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert(id.to_owned(), Arc::clone(&live));
        Ok(Some(live))
    }

    async fn load<S: Store>(store: &S, id: &str) -> Result<Option<Arc<Cached>>, Error> {
        let Some(record) = store.credential(id).await? else {
            return Ok(None);
        };
        let (owner_roles, owner_active) = match store.user_by_id(&record.owner_id).await? {
            Some(u) => (u.roles.clone(), u.is_active()),
            None => return Ok(None),
        };
        Ok(Some(Arc::new(Cached {
            record,
            owner_roles,
            owner_active,
            loaded: Instant::now(),
            refreshing: AtomicBool::new(false),
        })))
    }

    fn known_absent(&self, id: &str) -> bool {
        let absent = self.absent.read().unwrap_or_else(|p| p.into_inner());
        absent.get(id).is_some_and(|at| at.elapsed() < ABSENT_TTL)
    }

    /// Remembers that `id` names nothing, unless something changed since the read began.
    fn remember_absent(&self, id: &str, generation: u64) {
        let mut absent = self.absent.write().unwrap_or_else(|p| p.into_inner());
        // `invalidate` above bumped the generation once.
        if self.generation.load(Ordering::Acquire) != generation + 1 {
            return;
        }
        if absent.len() >= ABSENT_MAX {
            absent.retain(|_, at| at.elapsed() < ABSENT_TTL);
            if absent.len() >= ABSENT_MAX {
                absent.clear();
            }
        }
        absent.insert(id.to_owned(), Instant::now());
    }

    /// Forgets `id`, found or not (it was changed, minted or removed).
    pub(crate) fn invalidate(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        self.absent.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Forgets everything (changes may have been missed).
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).clear();
        self.absent.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Drops every entry bound to `agent_id` (agent disabled or renamed).
    pub(crate) fn invalidate_agent(&self, agent_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, live| live.record.agent_id.as_deref() != Some(agent_id));
    }

    /// Drops every entry a user owns (their roles or state changed).
    pub(crate) fn invalidate_owner(&self, owner_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|p| p.into_inner()).retain(|_, live| live.record.owner_id != owner_id);
    }

    /// Drops every entry of a service account.
    pub(crate) fn invalidate_service_account(&self, sa_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, live| live.record.service_account_id.as_deref() != Some(sa_id));
    }
}

/// Uses of credentials not yet written to the store.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    pending: Mutex<HashMap<String, CredentialUse>>,
}

impl Usage {
    pub(crate) fn record(&self, id: &str, at: i64, fingerprint: Option<&str>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get_mut(id) {
            Some(u) => {
                u.at = u.at.max(at);
                if let Some(fp) = fingerprint
                    && u.fingerprint.as_deref() != Some(fp)
                {
                    u.changed_in_batch |= u.fingerprint.is_some();
                    u.fingerprint = Some(fp.to_owned());
                }
            }
            None => {
                pending.insert(
                    id.to_owned(),
                    CredentialUse {
                        id: id.to_owned(),
                        at,
                        fingerprint: fingerprint.map(str::to_owned),
                        changed_in_batch: false,
                    },
                );
            }
        }
    }

    /// Writes everything pending. On failure the batch is put back (newer uses win).
    pub(crate) async fn flush<S: Store>(&self, store: &S) -> Result<usize, Error> {
        let batch: Vec<CredentialUse> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.is_empty() {
                return Ok(0);
            }
            std::mem::take(&mut *pending).into_values().collect()
        };
        if let Err(e) = store.record_credential_uses(&batch).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for u in batch {
                pending.entry(u.id.clone()).or_insert(u);
            }
            return Err(e.into());
        }
        Ok(batch.len())
    }
}

/// Runtime state of the credentials feature, shared by handlers.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    pub(crate) cache: Cache,
    pub(crate) usage: Usage,
}

#[cfg(test)]
mod tests {
    use keyway_api::auth::Audience;
    use keyway_api::credentials::CredentialKind;

    use super::*;
    use crate::store::changes::{Change, Write};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{AuditStore as _, ChangeStore as _, NewCredential, UserRecord, UserStore as _};

    #[tokio::test]
    async fn an_unknown_id_is_answered_from_memory_until_it_is_invalidated() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.set_audit_signer(Arc::new(crate::keys::Keys::from_seed(&[1; 32])));
        let user = UserRecord {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: String::new(),
            roles: vec![Role::Developer],
            created_at: 1,
            disabled: false,
            deleted_at: None,
            managed_by: None,
        };
        store.insert_user(&user).await.unwrap();
        let (record, _token) = NewCredential {
            kind: CredentialKind::UserPat,
            name: "pat".into(),
            owner_id: "u1",
            owner_name: "alice",
            agent: None,
            service_account: None,
            audience: Audience::Cli,
            scopes: vec![],
            created_at: 1,
            expires_at: None,
            enroll_agent_name: None,
            enroll_pat_days: None,
        }
        .issue();
        let cache = Cache::default();
        assert!(cache.get(&store, &record.id).await.unwrap().is_none());
        // Stored behind the cache's back (as another hub would, had its notice been lost).
        store.apply(&Change::new().then(Write::InsertCredential(&record))).await.unwrap();
        assert!(cache.get(&store, &record.id).await.unwrap().is_none(), "the unknown id is remembered");
        cache.invalidate(&record.id);
        assert!(cache.get(&store, &record.id).await.unwrap().is_some());
    }
}
