//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP
//! authorization specification uses them): a `client_id` that is an HTTPS URL names a JSON
//! document at that URL, which says the client's name and redirect URIs. The hub fetches it
//! (guarded: [`super::fetch_guard`]), requires its `client_id` to be the URL, checks its
//! redirect URIs as a registration's, and caches the client for [`CACHE_TTL_SECS`].

use keyway_api::clients::{MAX_CLIENT_NAME, MAX_REDIRECT_URIS};
use keyway_api::codes;
use serde::Deserialize;
use url::Url;

use super::fetch_guard::{FetchError, fetch_json};
use crate::clients::{Client, MetadataOutcome, refuse_redirect};
use crate::error::Error;
use crate::state::AppState;

/// The largest document read (the draft suggests 5 KB).
pub(crate) const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetched document is used before it is fetched again.
pub(crate) const CACHE_TTL_SECS: i64 = 300;
/// How long a refusal is remembered, so a bad URL is not fetched on every request.
const REFUSAL_TTL_SECS: i64 = 30;
/// The longest `client_id` URL.
const MAX_URL_LEN: usize = 512;

/// Whether `id` is meant as a metadata document URL (else it is an ordinary client id).
pub(crate) fn is_metadata_url(id: &str) -> bool {
    id.starts_with("https://") || id.starts_with("http://")
}

/// The members of a document the hub reads; others are ignored.
#[derive(Deserialize)]
struct Document {
    client_id: Option<String>,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
}

/// The client a metadata document URL names, or `invalid_client` saying why not.
pub(crate) async fn client<S>(state: &AppState<S>, id: &str) -> Result<Client, Error> {
    let now = state.now();
    let outcome = match state.client_metadata.get(id, now) {
        Some(cached) => cached,
        None => {
            let outcome = fetch(id, state.settings.insecure_client_metadata_loopback).await;
            let until = if outcome.is_ok() { now + CACHE_TTL_SECS } else { now + REFUSAL_TTL_SECS };
            match &outcome {
                Ok(c) => tracing::info!(client = %c.id, "fetched a client metadata document"),
                Err(why) => tracing::info!(client = %id, reason = %why, "client metadata document refused"),
            }
            state.client_metadata.put(id, until, outcome.clone());
            outcome
        }
    };
    outcome.map_err(|why| Error::oauth(codes::INVALID_CLIENT, format!("client metadata document {id}: {why}")))
}

/// Fetches and checks the document at `id`.
async fn fetch(id: &str, insecure_loopback: bool) -> MetadataOutcome {
    let url = check_url(id)?;
    let body = fetch_json(&url, MAX_DOCUMENT_BYTES, insecure_loopback).await.map_err(|e| match e {
        FetchError::Refused(why) | FetchError::Failed(why) => why,
    })?;
    let doc: Document =
        serde_json::from_slice(&body).map_err(|_| "the document is not a JSON object of client metadata".to_owned())?;
    match doc.client_id.as_deref() {
        Some(c) if c == id => {}
        Some(c) => return Err(format!("its client_id '{c}' is not the URL it was fetched from")),
        None => return Err("it has no client_id".to_owned()),
    }
    match doc.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(format!("token_endpoint_auth_method '{other}' is not supported: only public clients ('none')"));
        }
    }
    if doc.redirect_uris.is_empty() || doc.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!("it must list 1 to {MAX_REDIRECT_URIS} redirect_uris"));
    }
    if let Some(why) = doc.redirect_uris.iter().find_map(|u| refuse_redirect(u)) {
        return Err(format!("redirect URI refused: {why}"));
    }
    let host = url.host_str().unwrap_or_default();
    let name = doc.client_name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let name = match name {
        Some(n) if n.chars().count() <= MAX_CLIENT_NAME && !n.chars().any(char::is_control) => format!("{n} ({host})"),
        Some(_) => return Err(format!("client_name must be at most {MAX_CLIENT_NAME} printable characters")),
        None => host.to_owned(),
    };
    let uris: Vec<&str> = doc.redirect_uris.iter().map(String::as_str).collect();
    Ok(Client::from_metadata(id, &name, &uris))
}

/// The URL itself: absolute, canonical, with a path, no fragment, no user information, no
/// dot segments.
fn check_url(id: &str) -> Result<Url, String> {
    if id.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(id).map_err(|_| "it is not a URL".to_owned())?;
    if url.as_str() != id {
        return Err("the URL is not in canonical form".to_owned());
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("the URL may not have a fragment or user information".to_owned());
    }
    if url.path() == "/" || url.path().split('/').any(|s| s == "." || s == "..") {
        return Err("the URL must have a path (and no dot segments)".to_owned());
    }
    Ok(url)
}
