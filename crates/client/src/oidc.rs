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
    /// `scopes_supported` (absent: the provider did not say).
    pub scopes_supported: Option<Vec<String>>,
    /// `prompt_values_supported` (absent: the provider did not say).
    pub prompt_values_supported: Option<Vec<String>>,
    /// Where a device without a browser starts a sign-in (RFC 8628 §4), if the provider has one.
    pub device_authorization_endpoint: Option<Url>,
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
    #[serde(default)]
    prompt_values_supported: Option<Vec<String>>,
    #[serde(default)]
    device_authorization_endpoint: Option<Url>,
}

/// Scopes every sign-in asks for.
const BASE_SCOPES: &[&str] = &["openid", "profile"];
const OFFLINE_ACCESS: &str = "offline_access";

/// What an authorization request asks for: its `scope`, and a `prompt` if it needs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    pub scope: String,
    pub prompt: Option<&'static str>,
}

impl LoginRequest {
    /// A Keyway hub issues a refresh token for `offline_access` without a consent page: its own
    /// scopes, no prompt. Another provider is asked for `offline_access` only when it lists it,
    /// and then with `prompt=consent` (unless it lists prompt values without `consent`): OIDC
    /// Core §11 lets a provider ignore `offline_access` without it, and certified ones do.
    pub fn for_provider(provider: &Provider, keyway_hub: bool) -> LoginRequest {
        if keyway_hub {
            return LoginRequest { scope: keyway_api::LOGIN_SCOPES.join(" "), prompt: None };
        }
        let offline = provider.scopes_supported.as_ref().is_some_and(|s| s.iter().any(|s| s == OFFLINE_ACCESS));
        let mut scopes = BASE_SCOPES.to_vec();
        let mut prompt = None;
        if offline {
            scopes.push(OFFLINE_ACCESS);
            let consent = provider.prompt_values_supported.as_ref().is_none_or(|p| p.iter().any(|p| p == "consent"));
            prompt = consent.then_some("consent");
        }
        LoginRequest { scope: scopes.join(" "), prompt }
    }
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
        let scopes_supported = meta.scopes_supported().map(|s| s.iter().map(|s| s.as_str().to_owned()).collect());
        Ok(Provider {
            issuer: stated,
            authorization_endpoint: meta.authorization_endpoint().url().clone(),
            token_endpoint,
            userinfo_endpoint: meta.userinfo_endpoint().map(|u| u.url().clone()),
            revocation_endpoint: extra.revocation_endpoint,
            iss_parameter: extra.authorization_response_iss_parameter_supported,
            scopes_supported,
            prompt_values_supported: extra.prompt_values_supported,
            device_authorization_endpoint: extra.device_authorization_endpoint,
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

    pub(crate) async fn token_request(
        &self,
        http: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, Error> {
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

    /// RFC 7009, for a token of `hint` (`refresh_token` or `access_token`). Returns false when
    /// the provider has no revocation endpoint.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        token: &SecretString,
        hint: &str,
    ) -> Result<bool, Error> {
        let Some(url) = &self.revocation_endpoint else { return Ok(false) };
        let resp = http
            .post(url.clone())
            .form(&[("token", token.secret()), ("token_type_hint", hint), ("client_id", client_id)])
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

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(scopes: Option<&[&str]>, prompts: Option<&[&str]>) -> Provider {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        let url = Url::parse("https://id.example.com/x").unwrap();
        Provider {
            issuer: "https://id.example.com".into(),
            authorization_endpoint: url.clone(),
            token_endpoint: url,
            userinfo_endpoint: None,
            revocation_endpoint: None,
            iss_parameter: false,
            scopes_supported: scopes.map(list),
            prompt_values_supported: prompts.map(list),
            device_authorization_endpoint: None,
            jwks: CoreJsonWebKeySet::new(vec![]),
            algs: vec![],
        }
    }

    fn request(scope: &str, prompt: Option<&'static str>) -> LoginRequest {
        LoginRequest { scope: scope.into(), prompt }
    }

    #[test]
    fn a_keyway_hub_is_asked_as_before() {
        let p = provider(Some(&["openid", "profile", "offline_access"]), None);
        assert_eq!(LoginRequest::for_provider(&p, true), request("openid profile offline_access", None));
    }

    #[test]
    fn another_provider_gets_offline_access_with_consent_only_when_it_lists_it() {
        let offline = Some(&["openid", "offline_access"][..]);
        let consent = request("openid profile offline_access", Some("consent"));
        assert_eq!(LoginRequest::for_provider(&provider(offline, None), false), consent);
        assert_eq!(LoginRequest::for_provider(&provider(offline, Some(&["login", "consent"])), false), consent);
        assert_eq!(
            LoginRequest::for_provider(&provider(offline, Some(&["none", "login"])), false),
            request("openid profile offline_access", None)
        );
        assert_eq!(
            LoginRequest::for_provider(&provider(Some(&["openid"]), None), false),
            request("openid profile", None)
        );
        assert_eq!(LoginRequest::for_provider(&provider(None, None), false), request("openid profile", None));
    }
}
