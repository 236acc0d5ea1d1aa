//! The audit log.

use std::future::Future;

use super::error::StoreError;

/// One audit log entry: who did what to what, and how it ended (`id` is assigned by the store;
/// 0 when inserting). The same shape as on the wire.
pub use keyway_api::auth::AuditEntry as AuditEvent;

/// Filter of [`AuditStore::audit_events`].
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events with an id below this (cursor pagination, newest first).
    pub before: Option<i64>,
    pub action_prefix: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub limit: u32,
}

/// Storage of the audit log.
pub trait AuditStore: Send + Sync {
    /// Appends an event to the audit log.
    fn insert_audit(&self, event: &AuditEvent) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Audit events, newest first, matching `query`.
    fn audit_events(&self, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;
}
