//! Resources (RFC 8707) an admin registers: the MCP servers the hub issues tokens for, each
//! with its canonical URI, name and scopes. Shared by the hubs of one database.

use std::future::Future;

use super::AuditEvent;
use super::error::StoreError;

/// A registered resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRecord {
    pub id: String,
    /// The canonical URI (unique): the token's `aud`.
    pub uri: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    /// The person who registered it.
    pub created_by: Option<String>,
}

/// Storage of registered resources.
pub trait ResourceStore: Send + Sync {
    /// Stores a new resource with its audit row, in one transaction. `false` (and nothing
    /// written) if a resource with that URI exists.
    fn insert_resource(
        &self,
        resource: &ResourceRecord,
        audit: &AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The resource with that canonical URI.
    fn resource_by_uri(&self, uri: &str) -> impl Future<Output = Result<Option<ResourceRecord>, StoreError>> + Send;
    /// Every resource, by URI.
    fn resources(&self) -> impl Future<Output = Result<Vec<ResourceRecord>, StoreError>> + Send;
    /// Deletes the resource and ends the sign-ins (token families) issued for it, so no
    /// refresh yields another token for it, with the audit row `audit(resource)`, in one
    /// transaction. `None` if there is no such resource. Access tokens issued run out.
    fn delete_resource<F>(
        &self,
        id: &str,
        now: i64,
        audit: F,
    ) -> impl Future<Output = Result<Option<ResourceRecord>, StoreError>> + Send
    where
        F: FnOnce(&ResourceRecord) -> AuditEvent + Send;
}
