//! The provider side as seen by a client: discovery, JWKS-verified id_tokens, token requests.
//! Works with keyway-hub and with any standards-compliant OpenID provider.

use keyway_api::{ErrorBody, TokenResponse, UserInfo};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde::Deserialize;
use url::Url;

use crate::Error;
use crate::secret::SecretString;

/// What a client needs to know about a provider, read from its discovery document.
#[derive(Clone, Debug)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub userinfo_endpoint: Option<Url>,
    pub revocation_endpoint: Option<Url>,
    /// The provider promises an `iss` parameter on authorization responses (RFC 9207).
    pub iss_parameter: bool,
    jwks: CoreJsonWebKeySet,
    algs: Vec<CoreJwsSigningAlgorithm>,
}

/// Fields of the discovery document that `CoreProviderMetadata` does not carry.
#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    revocation_endpoint: Option<Url>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        // Below a hub's idle timeout (60 s by default, 20 s at least), so the client never
        // sends on a kept-alive connection the hub is closing.
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("keyway/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with static settings always builds")
}

async fn get_json(http: &reqwest::Client, url: &Url, what: &str) -> Result<serde_json::Value, Error> {
    let resp = http.get(url.clone()).send().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::Protocol(format!(
            "{what} at {url} answered HTTP {status}; is this a Keyway hub or OpenID provider?"
        )));
    }
    resp.json().await.map_err(|e| Error::Protocol(format!("{what} at {url} is not valid JSON: {e}")))
}

impl Provider {
    /// Read `<issuer>/.well-known/openid-configuration` and the JWKS it points to.
    pub async fn discover(http: &reqwest::Client, issuer: &Url) -> Result<Provider, Error> {
        let base = issuer.as_str().trim_end_matches('/');
        let doc_url = Url::parse(&format!("{base}/.well-known/openid-configuration"))
            .map_err(|e| Error::InvalidInput(format!("bad issuer URL {issuer}: {e}")))?;
        let doc = get_json(http, &doc_url, "The discovery document").await?;
        let meta: CoreProviderMetadata = serde_json::from_value(doc.clone())
            .map_err(|e| Error::Protocol(format!("the discovery document at {doc_url} is not valid: {e}")))?;
        let extra: Extra = serde_json::from_value(doc)
            .map_err(|e| Error::Protocol(format!("the discovery document at {doc_url} is not valid: {e}")))?;

        // OIDC Discovery §4.3: the issuer in the document must be the one we asked.
        let stated = meta.issuer().as_str().to_string();
        if stated.trim_end_matches('/') != base {
            return Err(Error::Protocol(format!(
                "the provider at {base} says its issuer is {stated}; refusing a mismatched issuer"
            )));
        }
        if let Some(methods) = &extra.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(Error::Protocol("the provider does not support PKCE S256".into()));
        }
        let token_endpoint = meta
            .token_endpoint()
            .map(|u| u.url().clone())
            .ok_or_else(|| Error::Protocol("the provider publishes no token endpoint".into()))?;
        let jwks_url = meta.jwks_uri().url().clone();
        let jwks_doc = get_json(http, &jwks_url, "The key set").await?;
        let jwks: CoreJsonWebKeySet = serde_json::from_value(jwks_doc)
            .map_err(|e| Error::Protocol(format!("the key set at {jwks_url} is not valid: {e}")))?;
        let algs: Vec<CoreJwsSigningAlgorithm> = meta
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| **a != CoreJwsSigningAlgorithm::None)
            .cloned()
            .collect();
        Ok(Provider {
            issuer: stated,
            authorization_endpoint: meta.authorization_endpoint().url().clone(),
            token_endpoint,
            userinfo_endpoint: meta.userinfo_endpoint().map(|u| u.url().clone()),
            revocation_endpoint: extra.revocation_endpoint,
            iss_parameter: extra.authorization_response_iss_parameter_supported,
            jwks,
            algs,
        })
    }

    /// Verify an id_token's signature (JWKS), issuer, audience, expiry and nonce.
    pub fn verify_id_token(
        &self,
        client_id: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<CoreIdTokenClaims, Error> {
        let token: CoreIdToken =
            id_token.parse().map_err(|e| Error::Protocol(format!("the id_token is malformed: {e}")))?;
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| Error::Protocol(e.to_string()))?;
        let verifier =
            CoreIdTokenVerifier::new_public_client(ClientId::new(client_id.to_string()), issuer, self.jwks.clone())
                .set_allowed_algs(self.algs.clone());
        let claims = match nonce {
            Some(n) => token.claims(&verifier, &Nonce::new(n.to_string())),
            // Refresh responses carry no nonce (OIDC core §12.2).
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        };
        claims.cloned().map_err(|e| Error::Protocol(format!("the id_token failed verification: {e}")))
    }

    async fn token_request(&self, http: &reqwest::Client, form: &[(&str, &str)]) -> Result<TokenResponse, Error> {
        let url = &self.token_endpoint;
        let resp = http.post(url.clone()).form(form).send().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Protocol(format!("the token response is not valid: {e}")))?;
            if !t.token_type.eq_ignore_ascii_case("bearer") {
                return Err(Error::Protocol(format!("unsupported token type '{}'", t.token_type)));
            }
            return Ok(t);
        }
        Err(refused(status, &bytes))
    }

    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        code: &SecretString,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<TokenResponse, Error> {
        self.token_request(
            http,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.secret()),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, Error> {
        self.token_request(
            http,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret()), ("client_id", client_id)],
        )
        .await
    }

    pub async fn userinfo(
        &self,
        http: &reqwest::Client,
        access_token: &SecretString,
    ) -> Result<Option<UserInfo>, Error> {
        let Some(url) = &self.userinfo_endpoint else { return Ok(None) };
        let resp = http
            .get(url.clone())
            .bearer_auth(access_token.secret())
            .send()
            .await
            .map_err(|e| Error::unreachable(url.as_str(), &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
        if !status.is_success() {
            return Err(refused(status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Protocol(format!("the userinfo response is not valid: {e}")))
    }

    /// RFC 7009. Returns false when the provider has no revocation endpoint.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        refresh_token: &SecretString,
    ) -> Result<bool, Error> {
        let Some(url) = &self.revocation_endpoint else { return Ok(false) };
        let resp = http
            .post(url.clone())
            .form(&[("token", refresh_token.secret()), ("token_type_hint", "refresh_token"), ("client_id", client_id)])
            .send()
            .await
            .map_err(|e| Error::unreachable(url.as_str(), &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(true);
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(refused(status, &bytes))
    }
}

/// Turn an error response into `Error::Refused` with the server's code and words.
pub(crate) fn refused(status: reqwest::StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let message = if !b.message.is_empty() {
                b.message
            } else {
                b.error_description.unwrap_or_else(|| format!("the server refused with '{}'", b.error))
            };
            Error::Refused { code: b.error, message }
        }
        Err(_) => Error::Refused { code: "http_error".into(), message: format!("the server answered HTTP {status}") },
    }
}
