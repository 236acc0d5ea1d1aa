//! OAuth clients registered dynamically (RFC 7591), shared by the hubs of one database.

use std::future::Future;

use super::AuditEvent;
use super::error::StoreError;

/// A dynamically registered public client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The client address it registered from.
    pub address: Option<String>,
}

/// Storage of registered clients.
pub trait ClientStore: Send + Sync {
    /// Stores a new client with its audit row, in one transaction.
    fn insert_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The client, revoked or not.
    fn registered_client(&self, id: &str) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send;
    /// Every registered client, newest first, at most `limit`.
    fn registered_clients(&self, limit: u32) -> impl Future<Output = Result<Vec<ClientRecord>, StoreError>> + Send;
    /// Revokes the client and the sign-ins (token families) issued to it, with the audit row
    /// `audit(client)`, in one transaction. `None` if there is no such live client.
    fn revoke_client<F>(
        &self,
        id: &str,
        now: i64,
        audit: F,
    ) -> impl Future<Output = Result<Option<ClientRecord>, StoreError>> + Send
    where
        F: FnOnce(&ClientRecord) -> AuditEvent + Send;
    /// Records the last uses of clients (tokens issued or refreshed for them), `(id, at)`, in
    /// one transaction; a use never moves a last use back.
    fn record_client_uses(&self, uses: &[(String, i64)]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the clients last used (or, never used, registered) before `before`, revoked or
    /// not, and ends the sign-ins issued to them, with the audit row `audit(deleted)` if any,
    /// in one transaction. Returns the deleted clients.
    fn purge_unused_clients<F>(
        &self,
        before: i64,
        now: i64,
        audit: F,
    ) -> impl Future<Output = Result<Vec<ClientRecord>, StoreError>> + Send
    where
        F: FnOnce(&[ClientRecord]) -> AuditEvent + Send;
}
