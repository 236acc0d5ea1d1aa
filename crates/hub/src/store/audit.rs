//! The audit log: an append-only hash chain with a signed head.
//!
//! **Rows.** Each row carries `hash = SHA-256(row_encoding(previous hash, row))`, where the
//! previous hash of the first row is 32 zero bytes. The encoding ([`row_hash`]) is, in order:
//! - the domain tag `keyway-audit-row-v1` as a *string* (below);
//! - the previous row's hash, 32 raw bytes;
//! - `id` and `at`, each 8 bytes, big-endian two's complement;
//! - `actor_kind`, `actor_id`, `actor_name`, `action`, `target_kind`, `target_id`, `outcome`,
//!   `detail` (the JSON text exactly as stored), each a *string*, or for the optional ones an
//!   *optional string*.
//!
//! A *string* is its UTF-8 length as 4 bytes big-endian, then its bytes. An *optional string*
//! is the byte `0x00` when absent, or `0x01` followed by the string. Every field is
//! length-prefixed, so no two different rows encode alike. The row's `id` is part of it, so a
//! row moved to another id, or two rows swapped, no longer match.
//!
//! **Head.** One row (`audit_head`) holds the last row's id and hash and the number of rows,
//! signed with the hub's Ed25519 signing key ([`head_message`]: the tag `keyway-audit-head-v1`,
//! the key's `kid`, as strings, then `last_id` and `count` as 8 bytes big-endian and the last
//! hash), with the `kid` stored beside the signature so a rotated key is still found. Every
//! append updates the head in the transaction of the row, and the head is read first in that
//! transaction (on SQLite its first statement takes the write lock; on PostgreSQL the backend
//! reads it with `SELECT … FOR UPDATE`), so appends from several hubs sharing one database
//! make one chain. Without the key nobody can drop the last rows or rewrite the chain and
//! leave a head that verifies.

use std::future::Future;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::error::StoreError;

/// One audit log entry: who did what to what, and how it ended (`id` is assigned by the store;
/// 0 when inserting). The same shape as on the wire.
pub use keyway_api::auth::AuditEntry as AuditEvent;

/// Filter of [`AuditStore::audit_events`]. Every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events with an id below this (cursor pagination, newest first).
    pub before: Option<i64>,
    pub action_prefix: Option<String>,
    /// The actor's id or name.
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    /// Only events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only events before this time (Unix seconds).
    pub until: Option<i64>,
    pub limit: u32,
}

/// One stored row as the chain sees it: the fields exactly as stored, and its hash (`None`
/// for a row that was never chained).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRow {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    /// The JSON text as stored.
    pub detail: String,
    pub hash: Option<[u8; 32]>,
}

impl ChainRow {
    /// The row `event` becomes at `id`, not yet hashed.
    pub fn of(id: i64, event: &AuditEvent) -> ChainRow {
        ChainRow {
            id,
            at: event.at,
            actor_kind: event.actor_kind.clone(),
            actor_id: event.actor_id.clone(),
            actor_name: event.actor_name.clone(),
            action: event.action.clone(),
            target_kind: event.target_kind.clone(),
            target_id: event.target_id.clone(),
            outcome: event.outcome.clone(),
            detail: event.detail.to_string(),
            hash: None,
        }
    }
}

/// The chain's head: the last row, how many rows, and the signature over them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    /// 0 for an empty log.
    pub last_id: i64,
    /// 32 zero bytes for an empty log.
    pub last_hash: [u8; 32],
    pub count: i64,
    /// The signing key's id; `None` until the hub first signs.
    pub kid: Option<String>,
    pub signature: Option<Vec<u8>>,
}

/// The hash before the first row.
pub const GENESIS: [u8; 32] = [0; 32];

/// What signs the head: the hub's current signing key.
pub trait AuditSigner: Send + Sync + 'static {
    /// Signs the head with the current key: `message` is built from that key's `kid` (which the
    /// signed bytes name), so both come from one key even while another task rotates it.
    /// Returns the kid and the Ed25519 signature.
    fn sign_head(&self, message: &dyn Fn(&str) -> Vec<u8>) -> (String, Vec<u8>);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Audit fields are far below 4 GiB; a longer one could not be stored anyway.
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// The canonical encoding of `row` after `prev` (see the module documentation).
pub fn row_encoding(prev: &[u8; 32], row: &ChainRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + row.detail.len());
    put_str(&mut out, "keyway-audit-row-v1");
    out.extend_from_slice(prev);
    out.extend_from_slice(&row.id.to_be_bytes());
    out.extend_from_slice(&row.at.to_be_bytes());
    put_str(&mut out, &row.actor_kind);
    put_opt(&mut out, row.actor_id.as_deref());
    put_opt(&mut out, row.actor_name.as_deref());
    put_str(&mut out, &row.action);
    put_opt(&mut out, row.target_kind.as_deref());
    put_opt(&mut out, row.target_id.as_deref());
    put_str(&mut out, &row.outcome);
    put_str(&mut out, &row.detail);
    out
}

/// The hash `row` must carry when it follows a row whose hash is `prev`.
pub fn row_hash(prev: &[u8; 32], row: &ChainRow) -> [u8; 32] {
    Sha256::digest(row_encoding(prev, row)).into()
}

/// What the head's signature signs.
pub fn head_message(kid: &str, last_id: i64, last_hash: &[u8; 32], count: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    put_str(&mut out, "keyway-audit-head-v1");
    put_str(&mut out, kid);
    out.extend_from_slice(&last_id.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(last_hash);
    out
}

/// Storage of the audit log.
pub trait AuditStore: Send + Sync {
    /// The key every later append signs the head with. Appends fail until one is set.
    fn set_audit_signer(&self, signer: Arc<dyn AuditSigner>);
    /// Chains the rows written before the log was a chain, once: only while the head has never
    /// been sealed. Returns how many rows it chained.
    fn seal_audit_log(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Appends an event to the audit log.
    fn insert_audit(&self, event: &AuditEvent) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Appends events in order, in one transaction.
    fn insert_audits(&self, events: &[AuditEvent]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Audit events, newest first, matching `query`.
    fn audit_events(&self, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;
    /// The chain's head, `None` if the log has none (a database never migrated this far).
    fn audit_head(&self) -> impl Future<Output = Result<Option<AuditHead>, StoreError>> + Send;
    /// Up to `limit` rows with an id above `after`, in id order.
    fn audit_chain(&self, after: i64, limit: u32) -> impl Future<Output = Result<Vec<ChainRow>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ChainRow {
        ChainRow {
            id: 1,
            at: 2,
            actor_kind: "user".into(),
            actor_id: Some("u1".into()),
            actor_name: None,
            action: "pat.mint".into(),
            target_kind: None,
            target_id: Some("".into()),
            outcome: "ok".into(),
            detail: "{}".into(),
            hash: None,
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_count() {
        let base = row_hash(&GENESIS, &row());
        assert_ne!(row_hash(&[1; 32], &row()), base);
        type Change = Box<dyn Fn(&mut ChainRow)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.id = 2),
            Box::new(|r| r.at = 3),
            Box::new(|r| r.actor_kind = "agent".into()),
            Box::new(|r| r.actor_id = None),
            Box::new(|r| r.actor_name = Some("".into())),
            Box::new(|r| r.action = "pat.mint ".into()),
            Box::new(|r| r.target_kind = Some("".into())),
            Box::new(|r| r.target_id = None),
            Box::new(|r| r.outcome = "refused".into()),
            Box::new(|r| r.detail = "{ }".into()),
        ];
        for change in variants {
            let mut r = row();
            change(&mut r);
            assert_ne!(row_hash(&GENESIS, &r), base, "{r:?}");
        }
        // Length prefixes: moving a character from one field to the next changes the hash.
        let (mut a, mut b) = (row(), row());
        a.action = "pat.min".into();
        a.outcome = "tok".into();
        b.action = "pat.mint".into();
        b.outcome = "ok".into();
        assert_ne!(row_hash(&GENESIS, &a), row_hash(&GENESIS, &b));
    }

    #[test]
    fn the_encoding_is_fixed() {
        let enc = row_encoding(&GENESIS, &row());
        let mut want = Vec::new();
        want.extend_from_slice(&19u32.to_be_bytes());
        want.extend_from_slice(b"keyway-audit-row-v1");
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(&1i64.to_be_bytes());
        want.extend_from_slice(&2i64.to_be_bytes());
        want.extend_from_slice(b"\0\0\0\x04user");
        want.extend_from_slice(b"\x01\0\0\0\x02u1");
        want.push(0);
        want.extend_from_slice(b"\0\0\0\x08pat.mint");
        want.push(0);
        want.extend_from_slice(b"\x01\0\0\0\0");
        want.extend_from_slice(b"\0\0\0\x02ok");
        want.extend_from_slice(b"\0\0\0\x02{}");
        assert_eq!(enc, want);
    }
}
