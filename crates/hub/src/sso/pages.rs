//! The pages of a failed sign-in through the upstream IdP.

use axum::http::StatusCode;
use axum::response::Response;

use super::error::SsoError;
use crate::oauth::login_page::{error_page, internal_error_page};

const ADMIN: &str = "An administrator of this Keyway hub must check its sign-in settings (--sso-*).";

/// The page the person sees: a readable page, never a 500 for the IdP's or the configuration's
/// faults (the hub's own, its database, keep the sign-in pages' internal page). The cause is
/// logged.
pub(crate) fn page(e: SsoError) -> Response {
    match &e {
        SsoError::Hub(_) | SsoError::Expired => {}
        SsoError::Denied(_) => tracing::info!(reason = %e, "sign-in through the identity provider refused"),
        _ => tracing::warn!(reason = %e, "sign-in through the identity provider failed"),
    }
    match e {
        SsoError::Unreachable { url, .. } => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider cannot be reached",
            &format!(
                "The Keyway hub could not reach your organisation's identity provider at {url}. Try again in a \
                     moment; if it persists, tell an administrator."
            ),
        ),
        SsoError::Misconfigured(why) => error_page(
            StatusCode::BAD_GATEWAY,
            "Sign-in through the identity provider is misconfigured",
            &format!("{why}. {ADMIN}"),
        ),
        SsoError::ClientRefused(why) => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider refused this hub",
            &format!("The identity provider did not accept the Keyway hub's client id or secret ({why}). {ADMIN}"),
        ),
        SsoError::Unverified(why) => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider's answer could not be verified",
            &format!("{why}. Nothing was signed in. {ADMIN}"),
        ),
        SsoError::Denied(why) => error_page(StatusCode::FORBIDDEN, "Sign-in refused", &why),
        SsoError::Expired => crate::oauth::login::expired_request(),
        SsoError::Hub(e) => internal_error_page(e),
    }
}
