//! Which client a request names: a built-in one (`crate::clients::ClientRegistry`) or one
//! registered dynamically and not revoked (from the store, so any hub of a database knows it),
//! or one named by the URL of its metadata document (`super::client_metadata`).

use keyway_api::codes;

use crate::clients::{Client, REGISTERED_PREFIX};
use crate::error::Error;
use crate::state::AppState;
use crate::store::Store;

/// The client named `id`: a built-in one, a registered one that is not revoked, or the one a
/// Client ID Metadata Document URL names (`invalid_client` saying why if it is refused).
pub(crate) async fn find<S: Store>(state: &AppState<S>, id: &str) -> Result<Option<Client>, Error> {
    if let Some(client) = state.clients.get(id) {
        return Ok(Some(client.clone()));
    }
    if super::client_metadata::is_metadata_url(id) {
        return super::client_metadata::client(state, id).await.map(Some);
    }
    if !id.starts_with(REGISTERED_PREFIX) {
        return Ok(None);
    }
    let record = state.store.registered_client(id).await?;
    Ok(record.filter(|r| r.revoked_at.is_none()).map(|r| Client::from_record(&r)))
}

/// The client named `id`, or `invalid_client`.
pub(crate) async fn require<S: Store>(state: &AppState<S>, id: &str) -> Result<Client, Error> {
    find(state, id).await?.ok_or_else(|| Error::oauth(codes::INVALID_CLIENT, "unknown client_id"))
}
