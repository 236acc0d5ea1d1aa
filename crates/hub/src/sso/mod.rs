//! Sign-in through the company's upstream OpenID provider: the hub is its confidential client
//! (`config.rs`: settings and group → role mapping; `provider.rs`: discovery, code exchange,
//! id_token verification, userinfo), hands a pending authorization request off to it
//! (`start.rs`), takes the answer at `<issuer>/sso/callback` (`callback.rs`), links the person
//! by (issuer, subject) and recomputes their roles (`identity.rs`), then ends with Keyway's own
//! code exactly as a password sign-in does. Its pages' errors are in `error.rs`.

pub(crate) mod callback;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod pages;
pub(crate) mod provider;
pub(crate) mod start;

use axum::routing::{get, post};

use crate::routing::Routes;
use crate::store::Store;

/// The SSO routes (answered with a page when the hub has no IdP).
pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new().route("/login/sso", post(start::start::<S>)).route("/sso/callback", get(callback::callback::<S>))
}
