//! Learning mode, the client's side: which mode a hub runs in, and the sign-in at a learning
//! hub. Such a hub shows no form (`/oauth/authorize` answers at once with a code for its local
//! learner), so no person has to act: the client takes the authorization request to the hub
//! itself and hands the hub's redirect to its own loopback listener. Everything else is the
//! browser sign-in's: state, nonce, PKCE S256, the issuer check, the code exchange, the refresh
//! token into the keychain.

use keyway_api::auth::{HubMode, MODE_HEADER, ModeInfo};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use url::Url;

use crate::login::callback_query;
use crate::{Client, Error};

impl Client {
    /// The mode the profile's hub runs in (`GET /auth/mode`). A hub without that route is
    /// protected.
    pub async fn hub_mode(&self) -> Result<HubMode, Error> {
        let url = self.api_url("/auth/mode");
        let resp = self
            .http
            .get(&url)
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| Error::unreachable(&url, &e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(HubMode::Protected);
        }
        if !resp.status().is_success() {
            return Err(Error::Protocol(format!("{url} answered {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(|e| Error::unreachable(&url, &e))?;
        let info: ModeInfo = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Protocol(format!("unexpected answer from /auth/mode: {e}")))?;
        Ok(info.mode)
    }
}

/// Sends the authorization request to a learning hub and brings its answer to `redirect_uri`
/// (the sign-in's own listener). Refused, and nothing is sent to the listener, when the hub does
/// not say `Keyway-Mode: learning` or does not redirect to `redirect_uri`: a protected hub's
/// form needs a person and a browser.
pub(crate) async fn authorize_without_form(
    http: &reqwest::Client,
    authorize: &Url,
    redirect_uri: &str,
) -> Result<(), Error> {
    let resp = http.get(authorize.clone()).send().await.map_err(|e| Error::unreachable(authorize.as_str(), &e))?;
    let learning = resp.headers().get(MODE_HEADER).and_then(|v| v.to_str().ok()) == Some("learning");
    if !learning {
        return Err(Error::Refused {
            code: "not_learning_mode".into(),
            message: "This hub is not in learning mode: it asks for a sign-in in the browser.".into(),
        });
    }
    let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let callback = match location {
        Some(to) if resp.status().is_redirection() && callback_query(&to, redirect_uri).is_some() => to,
        _ => {
            return Err(Error::Protocol(format!(
                "the learning hub answered the sign-in request with {} instead of a redirect to this app",
                resp.status()
            )));
        }
    };
    // The listener reads the code and checks the state and issuer, as for a browser.
    http.get(&callback).send().await.map_err(|e| Error::unreachable(redirect_uri, &e))?;
    Ok(())
}
