//! The hub as a confidential client of the upstream OpenID provider: discovery (cached, the
//! issuer checked), the authorization URL, the code exchange (client_secret_basic or _post, as
//! the IdP's metadata says), id_token verification against the IdP's JWKS (signature, `iss`,
//! `aud`, `exp`, nonce; re-fetched once when a token names an unknown `kid`), and userinfo.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreClientAuthMethod, CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IdTokenClaims, IssuerUrl, Nonce,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;
use url::Url;

use super::config::SsoSettings;
use super::error::SsoError;

/// How long discovery is trusted before it is read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A JWKS re-fetch for an unknown `kid` happens at most this often.
const JWKS_REFETCH_MIN: Duration = Duration::from_secs(10);

/// Claims beyond the standard ones (the groups claim has a configurable name).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub(crate) struct Extra(pub(crate) HashMap<String, Value>);
impl AdditionalClaims for Extra {}

type IdpIdToken = IdToken<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub(crate) type IdpClaims = IdTokenClaims<Extra, CoreGenderClaim>;

/// How the hub authenticates at the IdP's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    Basic,
    Post,
}

/// What discovery said.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: Url,
    token_endpoint: Url,
    userinfo_endpoint: Option<Url>,
    jwks_uri: Url,
    algs: Vec<CoreJwsSigningAlgorithm>,
    auth: ClientAuth,
    pub(crate) scopes: Vec<String>,
}

struct Cached {
    metadata: Metadata,
    jwks: CoreJsonWebKeySet,
    read_at: Instant,
    /// When the JWKS was last read again for an unknown `kid`.
    refetched_at: Option<Instant>,
}

/// The tokens the IdP answered a code with.
#[derive(Deserialize)]
pub(crate) struct IdpTokens {
    pub(crate) access_token: String,
    pub(crate) id_token: Option<String>,
}

impl std::fmt::Debug for IdpTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpTokens([redacted])")
    }
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The upstream IdP, as the hub talks to it.
pub(crate) struct Idp {
    pub(crate) settings: SsoSettings,
    http: reqwest::Client,
    cache: RwLock<Option<Cached>>,
}

fn unreachable(url: &Url, e: &reqwest::Error) -> SsoError {
    tracing::debug!(%url, error = ?e, "a request to the identity provider failed");
    let reason = if e.is_timeout() {
        "it did not answer in time".to_owned()
    } else if e.is_connect() {
        "the connection was refused or failed".to_owned()
    } else {
        "the request failed".to_owned()
    };
    SsoError::Unreachable { url: url.origin().ascii_serialization(), reason }
}

impl Idp {
    pub(crate) fn new(settings: SsoSettings) -> Idp {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            // A sign-in makes a few requests minutes apart: a pooled connection the IdP has
            // closed meanwhile (keep-alive timeouts are often 5 s) would fail the code exchange.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("keyway-hub/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Idp { settings, http, cache: RwLock::new(None) }
    }

    fn base(&self) -> &str {
        self.settings.issuer.trim_end_matches('/')
    }

    async fn get_json(&self, url: &Url, what: &str) -> Result<Value, SsoError> {
        let resp = self.http.get(url.clone()).send().await.map_err(|e| unreachable(url, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(SsoError::Misconfigured(format!(
                "the identity provider's {what} at {url} answered HTTP {status}"
            )));
        }
        resp.json()
            .await
            .map_err(|_| SsoError::Misconfigured(format!("the identity provider's {what} at {url} is not JSON")))
    }

    async fn read_jwks(&self, url: &Url) -> Result<CoreJsonWebKeySet, SsoError> {
        let doc = self.get_json(url, "key set").await?;
        serde_json::from_value(doc)
            .map_err(|e| SsoError::Misconfigured(format!("the key set at {url} is not valid: {e}")))
    }

    async fn discover(&self) -> Result<Cached, SsoError> {
        let doc_url = Url::parse(&format!("{}/.well-known/openid-configuration", self.base()))
            .map_err(|e| SsoError::Misconfigured(format!("the issuer {} is not a URL: {e}", self.settings.issuer)))?;
        let doc = self.get_json(&doc_url, "discovery document").await?;
        let meta: CoreProviderMetadata = serde_json::from_value(doc.clone())
            .map_err(|e| SsoError::Misconfigured(format!("the discovery document at {doc_url} is not valid: {e}")))?;
        let stated = meta.issuer().as_str().trim_end_matches('/').to_owned();
        if stated != self.base() {
            return Err(SsoError::Misconfigured(format!(
                "the identity provider at {} says its issuer is {stated}, not the configured {}",
                self.base(),
                self.settings.issuer
            )));
        }
        if let Some(methods) = doc.get("code_challenge_methods_supported").and_then(Value::as_array)
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(SsoError::Misconfigured("the identity provider does not support PKCE S256".into()));
        }
        let token_endpoint = meta
            .token_endpoint()
            .map(|u| u.url().clone())
            .ok_or_else(|| SsoError::Misconfigured("the identity provider publishes no token endpoint".into()))?;
        let auth = match meta.token_endpoint_auth_methods_supported() {
            None => ClientAuth::Basic,
            Some(m) if m.contains(&CoreClientAuthMethod::ClientSecretBasic) => ClientAuth::Basic,
            Some(m) if m.contains(&CoreClientAuthMethod::ClientSecretPost) => ClientAuth::Post,
            Some(_) => {
                return Err(SsoError::Misconfigured(
                    "the identity provider offers neither client_secret_basic nor client_secret_post".into(),
                ));
            }
        };
        let algs: Vec<CoreJwsSigningAlgorithm> = meta
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| {
                !matches!(
                    a,
                    CoreJwsSigningAlgorithm::None
                        | CoreJwsSigningAlgorithm::HmacSha256
                        | CoreJwsSigningAlgorithm::HmacSha384
                        | CoreJwsSigningAlgorithm::HmacSha512
                )
            })
            .cloned()
            .collect();
        let scopes =
            meta.scopes_supported().map(|s| s.iter().map(|s| s.as_str().to_owned()).collect()).unwrap_or_default();
        let metadata = Metadata {
            issuer: meta.issuer().as_str().to_owned(),
            authorization_endpoint: meta.authorization_endpoint().url().clone(),
            token_endpoint,
            userinfo_endpoint: meta.userinfo_endpoint().map(|u| u.url().clone()),
            jwks_uri: meta.jwks_uri().url().clone(),
            algs,
            auth,
            scopes,
        };
        let jwks = self.read_jwks(&metadata.jwks_uri).await?;
        Ok(Cached { metadata, jwks, read_at: Instant::now(), refetched_at: None })
    }

    /// The IdP's metadata: cached for an hour, read again when missing or old.
    pub(crate) async fn metadata(&self) -> Result<Metadata, SsoError> {
        if let Some(c) = self.cache.read().await.as_ref()
            && c.read_at.elapsed() < DISCOVERY_TTL
        {
            return Ok(c.metadata.clone());
        }
        let fresh = self.discover().await?;
        let metadata = fresh.metadata.clone();
        *self.cache.write().await = Some(fresh);
        Ok(metadata)
    }

    /// The CSP source of the IdP's authorization endpoint (known once discovered; the issuer's
    /// origin until then, or while discovery is being updated).
    pub(crate) fn authorize_origin_now(&self) -> Option<String> {
        let discovered =
            self.cache.try_read().ok().and_then(|c| c.as_ref().map(|c| c.metadata.authorization_endpoint.clone()));
        let url = match discovered {
            Some(url) => url,
            None => Url::parse(&self.settings.issuer).ok()?,
        };
        Some(url.origin().ascii_serialization())
    }

    /// Redeems the IdP's code at its token endpoint.
    pub(crate) async fn exchange(
        &self,
        meta: &Metadata,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<IdpTokens, SsoError> {
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(meta.token_endpoint.clone());
        match meta.auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded, then Basic.
                let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                request = request.basic_auth(enc(&s.client_id), Some(enc(s.client_secret.expose())));
            }
            ClientAuth::Post => {
                form.push(("client_id", &s.client_id));
                form.push(("client_secret", s.client_secret.expose()));
            }
        }
        let url = &meta.token_endpoint;
        let resp = request.form(&form).send().await.map_err(|e| unreachable(url, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| unreachable(url, &e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|_| SsoError::Unverified("the identity provider's token response is not valid".into()));
        }
        match serde_json::from_slice::<OAuthError>(&bytes) {
            Ok(e) if e.error == "invalid_client" || status == reqwest::StatusCode::UNAUTHORIZED => {
                Err(SsoError::ClientRefused(format!("{}: {}", e.error, e.error_description.unwrap_or_default())))
            }
            Ok(e) => Err(SsoError::Unverified(format!(
                "the identity provider refused the code ({}: {})",
                e.error,
                e.error_description.unwrap_or_default()
            ))),
            Err(_) if status == reqwest::StatusCode::UNAUTHORIZED => {
                Err(SsoError::ClientRefused(format!("HTTP {status}")))
            }
            Err(_) => {
                Err(SsoError::Unverified(format!("the identity provider's token endpoint answered HTTP {status}")))
            }
        }
    }

    fn verify_with(
        &self,
        meta: &Metadata,
        jwks: CoreJsonWebKeySet,
        token: &IdpIdToken,
        nonce: &str,
    ) -> Result<IdpClaims, ClaimsVerificationError> {
        let issuer = IssuerUrl::new(meta.issuer.clone()).map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
        let verifier =
            CoreIdTokenVerifier::new_public_client(ClientId::new(self.settings.client_id.clone()), issuer, jwks)
                .set_allowed_algs(meta.algs.clone());
        token.claims(&verifier, &Nonce::new(nonce.to_owned())).cloned()
    }

    /// Verifies an id_token: signature against the JWKS (re-fetched once for an unknown `kid`),
    /// `iss`, `aud`, `exp` and the nonce.
    pub(crate) async fn verify(&self, meta: &Metadata, id_token: &str, nonce: &str) -> Result<IdpClaims, SsoError> {
        let token: IdpIdToken = id_token
            .parse()
            .map_err(|_| SsoError::Unverified("the identity provider's id_token is malformed".into()))?;
        let jwks = match self.cache.read().await.as_ref() {
            Some(c) => c.jwks.clone(),
            None => self.read_jwks(&meta.jwks_uri).await?,
        };
        let failed =
            |e: ClaimsVerificationError| SsoError::Unverified(format!("the id_token failed verification ({e})"));
        match self.verify_with(meta, jwks, &token, nonce) {
            Ok(claims) => Ok(claims),
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let jwks = self.refetch_jwks(meta).await?;
                self.verify_with(meta, jwks, &token, nonce).map_err(failed)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Reads the JWKS again (the IdP rotated its keys), at most every [`JWKS_REFETCH_MIN`].
    async fn refetch_jwks(&self, meta: &Metadata) -> Result<CoreJsonWebKeySet, SsoError> {
        let mut cache = self.cache.write().await;
        if let Some(c) = cache.as_ref()
            && c.refetched_at.is_some_and(|at| at.elapsed() < JWKS_REFETCH_MIN)
        {
            return Ok(c.jwks.clone());
        }
        tracing::info!("the identity provider's id_token names an unknown key; reading its key set again");
        let jwks = self.read_jwks(&meta.jwks_uri).await?;
        if let Some(c) = cache.as_mut() {
            c.jwks = jwks.clone();
            c.refetched_at = Some(Instant::now());
        }
        Ok(jwks)
    }

    /// The IdP's userinfo for `access_token`, checked to be about `subject`.
    pub(crate) async fn userinfo(
        &self,
        meta: &Metadata,
        access_token: &str,
        subject: &str,
    ) -> Result<serde_json::Map<String, Value>, SsoError> {
        let Some(url) = &meta.userinfo_endpoint else {
            return Err(SsoError::Misconfigured(format!(
                "the id_token has no '{}' claim and the identity provider has no userinfo endpoint",
                self.settings.groups_claim
            )));
        };
        let resp =
            self.http.get(url.clone()).bearer_auth(access_token).send().await.map_err(|e| unreachable(url, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(SsoError::Unverified(format!("the identity provider's userinfo answered HTTP {status}")));
        }
        let info: serde_json::Map<String, Value> = resp
            .json()
            .await
            .map_err(|_| SsoError::Unverified("the identity provider's userinfo is not JSON".into()))?;
        if info.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err(SsoError::Unverified("the identity provider's userinfo is about someone else".into()));
        }
        Ok(info)
    }
}
