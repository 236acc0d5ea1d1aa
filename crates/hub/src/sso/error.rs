//! What can go wrong on the way through the upstream IdP (each is shown as a page:
//! `pages.rs`).

use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SsoError {
    /// The IdP did not answer (connection refused, timeout, DNS).
    #[error("the identity provider at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// The IdP answers, but not as the hub's settings say it should (wrong issuer, no
    /// discovery document, a missing endpoint or claim).
    #[error("{0}")]
    Misconfigured(String),
    /// The IdP refused the hub's client id or secret.
    #[error("the identity provider refused this hub's client credentials: {0}")]
    ClientRefused(String),
    /// The IdP's answer failed verification (id_token signature, issuer, audience, nonce).
    #[error("{0}")]
    Unverified(String),
    /// The IdP ended the sign-in with an error (the person cancelled, or is not allowed).
    #[error("{0}")]
    Denied(String),
    /// The sign-in request expired or was used meanwhile.
    #[error("the sign-in request expired")]
    Expired,
    #[error(transparent)]
    Hub(#[from] Error),
}

impl From<crate::store::StoreError> for SsoError {
    fn from(e: crate::store::StoreError) -> SsoError {
        SsoError::Hub(e.into())
    }
}
