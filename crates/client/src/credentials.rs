//! Credentials from the client side: the automatic PAT → JWT exchange, and the hub's credential
//! API (PATs, enrollment, agents, service accounts, settings).
//!
//! A profile's long-lived credential lives in the keychain: a service token
//! (`<profile>/service_token`, when the profile names a service account), else a PAT
//! (`<profile>/pat`), else a browser sign-in's refresh token (`<profile>/refresh_token`).
//! [`Client::token`] turns it into a JWT of the asked class, keeps that JWT in memory only, and
//! exchanges again shortly before it expires. `user_admin` JWTs are fetched only when an action
//! needs one and live at most five minutes.

use keyway_api::auth::{Audience, Me, Page, TokenClass};
use keyway_api::credentials::{
    AgentView, CreateAgent, CreateServiceAccount, CreatedServiceAccount, CredentialKind, CredentialSettings,
    CredentialView, Enroll, ExchangeRequest, ExchangeResponse, MintEnrollment, MintPat, MintedSecret,
    RotateServiceToken, ServiceAccountView, UpdateAgent,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::http::fingerprint;
use crate::http::{Auth, Request, path_segment};
use crate::secret::SecretString;
use crate::vault::SecretKind;
use crate::{Client, Error, now};

/// Exchange again when the JWT has less than this many seconds left.
const RENEW_MARGIN_SECS: i64 = 30;
/// Where a service account trades its name and token for a JWT.
const SERVICE_TOKEN_PATH: &str = "/auth/service-account/token";
/// What a malformed credential, agent or service account id is called in the refusal.
const ID: &str = "valid id";

/// A JWT held in memory.
#[derive(Clone, Debug)]
pub struct CachedJwt {
    token: SecretString,
    expires_at: i64,
}

/// The long-lived credential a profile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    ServiceToken,
    /// A PAT of this kind (user or agent).
    Pat(CredentialKind),
    /// A browser sign-in (refresh token).
    SignIn,
}

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_LEN: usize = 54;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Checks a Keyway credential offline (prefix, length, alphabet, checksum) and returns its
/// kind, so a mistyped token is refused before it is stored or sent.
pub fn check_token_format(token: &str) -> Result<CredentialKind, Error> {
    let bad = |why: &str| Error::InvalidInput(format!("That is not a valid Keyway token ({why}). Copy it again."));
    let kind =
        [CredentialKind::UserPat, CredentialKind::AgentPat, CredentialKind::Enrollment, CredentialKind::ServiceToken]
            .into_iter()
            .find(|k| token.starts_with(k.prefix()))
            .ok_or_else(|| bad("it must start with kwp_u_, kwp_a_, kwp_e_ or kwp_s_"))?;
    if token.len() != TOKEN_LEN || !token.as_bytes()[6..].iter().all(u8::is_ascii_alphanumeric) {
        return Err(bad("wrong length or characters"));
    }
    let (body, sum) = token.split_at(TOKEN_LEN - 6);
    let mut n = u64::from(crc32(body.as_bytes()));
    let mut expected = [b'0'; 6];
    for slot in expected.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    if expected != sum.as_bytes() {
        return Err(bad("its checksum does not match: a character is wrong or missing"));
    }
    Ok(kind)
}

impl Client {
    /// Which credential the profile holds (from the keychain).
    pub fn source(&self) -> Result<Source, Error> {
        if self.profile.service_account.is_some() {
            return Ok(Source::ServiceToken);
        }
        if let Some(pat) = self.vault.get(&self.profile.name, SecretKind::Pat)? {
            return Ok(Source::Pat(check_token_format(pat.secret())?));
        }
        Ok(Source::SignIn)
    }

    /// The class a profile's JWTs have unless asked otherwise.
    pub fn default_class(&self) -> Result<TokenClass, Error> {
        Ok(match self.source()? {
            Source::ServiceToken => TokenClass::ServiceAccess,
            Source::Pat(CredentialKind::AgentPat) => TokenClass::AgentAccess,
            _ => TokenClass::UserAccess,
        })
    }

    async fn exchange(
        &self,
        bearer: &SecretString,
        class: TokenClass,
        fingerprint_of: Option<&SecretString>,
    ) -> Result<ExchangeResponse, Error> {
        let body = ExchangeRequest {
            requested_token_class: class,
            scope: None,
            audience: Some(Audience::Cli),
            agent_id: self.profile.agent.clone(),
        };
        let mut req = Request::new(Method::POST, "/auth/exchange", Auth::Bearer(bearer)).json(&body)?;
        if let Some(t) = fingerprint_of {
            req = req.fingerprint_of(t);
        }
        self.call(req).await
    }

    /// A JWT of `class` for this profile: from memory while it has time left, else exchanged
    /// from the profile's service token, PAT or sign-in. `user_admin` JWTs (five minutes) are
    /// only fetched when called for.
    pub async fn token(&self, class: TokenClass) -> Result<SecretString, Error> {
        if let Some(c) = self.jwts.lock().await.get(&class)
            && c.expires_at - now() > RENEW_MARGIN_SECS
        {
            return Ok(c.token.clone());
        }
        let t0 = now();
        let response = match self.source()? {
            Source::ServiceToken => {
                let name = self.profile.service_account.clone().unwrap_or_default();
                let token = self.vault.get(&self.profile.name, SecretKind::ServiceToken)?.ok_or(Error::NotSignedIn)?;
                let req = Request::new(Method::POST, SERVICE_TOKEN_PATH, Auth::Basic { name: &name, token: &token })
                    .fingerprint_of(&token)
                    .json(&ExchangeRequest {
                        requested_token_class: class,
                        scope: None,
                        audience: None,
                        agent_id: None,
                    })?;
                self.call(req).await?
            }
            Source::Pat(_) => {
                let pat = self.vault.get(&self.profile.name, SecretKind::Pat)?.ok_or(Error::NotSignedIn)?;
                self.exchange(&pat, class, Some(&pat)).await?
            }
            Source::SignIn => {
                let access = self.access_token().await?;
                if class == TokenClass::UserAccess {
                    let expires_at = self.current().await.map(|s| s.access_expires_at).unwrap_or(t0);
                    return Ok(self.remember(class, access, expires_at).await);
                }
                self.exchange(&access, class, None).await?
            }
        };
        let expires_at = t0.saturating_add(i64::try_from(response.expires_in).unwrap_or(0));
        Ok(self.remember(class, SecretString::new(response.access_token.clone()), expires_at).await)
    }

    async fn remember(&self, class: TokenClass, token: SecretString, expires_at: i64) -> SecretString {
        self.jwts.lock().await.insert(class, CachedJwt { token: token.clone(), expires_at });
        token
    }

    /// Forgets every JWT held in memory (after a credential change).
    pub async fn forget_tokens(&self) {
        self.jwts.lock().await.clear();
    }

    /// After the hub called a JWT stale: forgets every JWT and, for a sign-in, renews the
    /// access token from the keychain.
    pub(crate) async fn renew_tokens(&self) -> Result<(), Error> {
        self.forget_tokens().await;
        if matches!(self.source()?, Source::SignIn) {
            self.restore().await?.ok_or(Error::NotSignedIn)?;
        }
        Ok(())
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let class = match self.default_class()? {
            TokenClass::UserAdmin => TokenClass::UserAccess,
            c => c,
        };
        self.call(Request::new(Method::GET, path, Auth::Jwt(class))).await
    }

    pub(crate) async fn admin<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.call(Request::new(method, path, Auth::Jwt(TokenClass::UserAdmin)).json(body)?).await
    }

    /// `GET /api/me` with the profile's default class.
    pub async fn me(&self) -> Result<Me, Error> {
        self.get("/api/me").await
    }

    /// Every credential the person may list (`all`: everyone's, for admins), newest first,
    /// following the hub's pages.
    pub async fn list_credentials(&self, all: bool) -> Result<Vec<CredentialView>, Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.get::<Page<CredentialView>>(&credentials_path(all, cursor.as_deref())).await?;
            items.extend(page.items);
            match page.next {
                // A hub that hands back the same cursor would loop forever: stop there.
                Some(next) if cursor.as_ref() != Some(&next) => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }

    pub async fn mint_pat(&self, req: &MintPat) -> Result<MintedSecret, Error> {
        self.admin(Method::POST, "/api/credentials", req).await
    }

    pub async fn mint_enrollment(&self, req: &MintEnrollment) -> Result<MintedSecret, Error> {
        self.admin(Method::POST, "/api/credentials/enrollment", req).await
    }

    pub async fn revoke_credential(&self, id: &str) -> Result<CredentialView, Error> {
        self.admin(Method::POST, &format!("/api/credentials/{}/revoke", path_segment(id, ID)?), &()).await
    }

    pub async fn rotate_credential(&self, id: &str) -> Result<MintedSecret, Error> {
        self.admin(Method::POST, &format!("/api/credentials/{}/rotate", path_segment(id, ID)?), &()).await
    }

    pub async fn list_agents(&self, all: bool) -> Result<Vec<AgentView>, Error> {
        let path = if all { "/api/agents?all=true" } else { "/api/agents" };
        Ok(self.get::<Page<AgentView>>(path).await?.items)
    }

    pub async fn create_agent(&self, name: &str) -> Result<AgentView, Error> {
        self.admin(Method::POST, "/api/agents", &CreateAgent { name: name.to_owned() }).await
    }

    pub async fn update_agent(&self, id: &str, update: &UpdateAgent) -> Result<AgentView, Error> {
        self.admin(Method::PATCH, &format!("/api/agents/{}", path_segment(id, ID)?), update).await
    }

    pub async fn list_service_accounts(&self) -> Result<Vec<ServiceAccountView>, Error> {
        Ok(self.get::<Page<ServiceAccountView>>("/api/service-accounts").await?.items)
    }

    pub async fn create_service_account(&self, req: &CreateServiceAccount) -> Result<CreatedServiceAccount, Error> {
        self.admin(Method::POST, "/api/service-accounts", req).await
    }

    pub async fn rotate_service_account(&self, id: &str, req: &RotateServiceToken) -> Result<MintedSecret, Error> {
        self.admin(Method::POST, &format!("/api/service-accounts/{}/rotate", path_segment(id, ID)?), req).await
    }

    pub async fn revoke_service_account(&self, id: &str) -> Result<ServiceAccountView, Error> {
        self.admin(Method::POST, &format!("/api/service-accounts/{}/revoke", path_segment(id, ID)?), &()).await
    }

    pub async fn credential_settings(&self) -> Result<CredentialSettings, Error> {
        self.get("/api/settings/credentials").await
    }

    pub async fn set_credential_settings(&self, s: &CredentialSettings) -> Result<CredentialSettings, Error> {
        self.admin(Method::PUT, "/api/settings/credentials", s).await
    }

    /// Checks `pat` offline and at the hub, then keeps it in the keychain as this profile's
    /// credential. A profile configured for an agent refuses a user PAT (a user PAT is never an
    /// agent credential), and enrollment or service tokens are not PATs.
    pub async fn store_pat(&self, pat: &SecretString) -> Result<Me, Error> {
        let kind = check_token_format(pat.secret())?;
        let class = match kind {
            CredentialKind::UserPat if self.profile.agent.is_some() => {
                return Err(Error::InvalidInput(format!(
                    "Profile '{}' acts as the agent '{}', and this is a user PAT (kwp_u_). Agent work must use \
                     that agent's PAT (kwp_a_) so it is attributed to the agent.",
                    self.profile.name,
                    self.profile.agent.as_deref().unwrap_or_default()
                )));
            }
            CredentialKind::UserPat => TokenClass::UserAccess,
            CredentialKind::AgentPat => TokenClass::AgentAccess,
            CredentialKind::Enrollment => {
                return Err(Error::InvalidInput(
                    "That is an enrollment token: redeem it with `keyway token enroll`.".into(),
                ));
            }
            CredentialKind::ServiceToken => {
                return Err(Error::InvalidInput(
                    "That is a service account token: use `keyway service-account login NAME`.".into(),
                ));
            }
        };
        // The hub must accept it before anything is kept.
        let response = self.exchange(pat, class, Some(pat)).await?;
        let _lock = self.lock().await?;
        self.vault.set(&self.profile.name, SecretKind::Pat, pat)?;
        self.forget_tokens().await;
        self.remember(class, SecretString::new(response.access_token.clone()), now() + response.expires_in as i64)
            .await;
        self.me().await
    }

    /// Redeems an enrollment token: the hub creates or names the agent and returns its PAT,
    /// which goes to the keychain as this profile's credential.
    pub async fn enroll(&self, enrollment: &SecretString, agent_name: Option<&str>) -> Result<MintedSecret, Error> {
        if check_token_format(enrollment.secret())? != CredentialKind::Enrollment {
            return Err(Error::InvalidInput("That is not an enrollment token (kwp_e_…).".into()));
        }
        let req = Request::new(Method::POST, "/auth/enroll", Auth::Bearer(enrollment))
            .json(&Enroll { agent_name: agent_name.map(str::to_owned) })?;
        let minted: MintedSecret = self.call(req).await?;
        let _lock = self.lock().await?;
        self.vault.set(&self.profile.name, SecretKind::Pat, &SecretString::new(minted.secret.clone()))?;
        self.forget_tokens().await;
        Ok(minted)
    }

    /// Checks `name` + `token` at the hub, then keeps the token in the keychain for this
    /// profile (whose `service_account` the caller sets to `name`).
    pub async fn store_service_token(&self, name: &str, token: &SecretString) -> Result<(), Error> {
        if check_token_format(token.secret())? != CredentialKind::ServiceToken {
            return Err(Error::InvalidInput("That is not a service account token (kwp_s_…).".into()));
        }
        let req = Request::new(Method::POST, SERVICE_TOKEN_PATH, Auth::Basic { name, token }).fingerprint_of(token);
        let _: ExchangeResponse = self.call(req).await?;
        let _lock = self.lock().await?;
        self.vault.set(&self.profile.name, SecretKind::ServiceToken, token)?;
        self.forget_tokens().await;
        Ok(())
    }

    /// Keeps a PAT (e.g. one just minted) in the keychain for this profile, without a check.
    pub fn keep_pat(&self, pat: &SecretString) -> Result<(), Error> {
        check_token_format(pat.secret())?;
        self.vault.set(&self.profile.name, SecretKind::Pat, pat)
    }

    /// Removes this profile's PAT and service token from the keychain.
    pub async fn forget_credentials(&self) -> Result<bool, Error> {
        let had = self.vault.get(&self.profile.name, SecretKind::Pat)?.is_some()
            || self.vault.get(&self.profile.name, SecretKind::ServiceToken)?.is_some();
        self.vault.delete(&self.profile.name, SecretKind::Pat)?;
        self.vault.delete(&self.profile.name, SecretKind::ServiceToken)?;
        self.forget_tokens().await;
        Ok(had)
    }
}

/// `/api/credentials` with the list's query: everyone's (`all`), from `cursor` on.
fn credentials_path(all: bool, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if all {
        query.append_pair("all", "true");
    }
    if let Some(c) = cursor {
        query.append_pair("cursor", c);
    }
    let query = query.finish();
    if query.is_empty() { "/api/credentials".to_owned() } else { format!("/api/credentials?{query}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A token made like the hub makes them (the hub's own tests check the same format).
    fn make(prefix: &str, fill: &str) -> String {
        let body = format!("{prefix}{fill}");
        let mut n = u64::from(crc32(body.as_bytes()));
        let mut sum = [b'0'; 6];
        for slot in sum.iter_mut().rev() {
            *slot = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        format!("{body}{}", std::str::from_utf8(&sum).unwrap())
    }

    #[test]
    fn the_list_path_carries_the_cursor_as_given() {
        assert_eq!(credentials_path(false, None), "/api/credentials");
        assert_eq!(credentials_path(true, None), "/api/credentials?all=true");
        assert_eq!(credentials_path(true, Some("17.cr_a&b=c")), "/api/credentials?all=true&cursor=17.cr_a%26b%3Dc");
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn formats() {
        let t = make("kwp_a_", &"x".repeat(42));
        assert_eq!(check_token_format(&t).unwrap(), CredentialKind::AgentPat);
        assert!(check_token_format("kwp_a_short").is_err());
        assert!(check_token_format("eyJhbGciOi").is_err());
        assert_eq!(fingerprint("a").len(), 64);
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }

    proptest! {
        #[test]
        fn any_single_changed_character_is_refused(fill in "[0-9A-Za-z]{42}", pos in 0usize..54, c in any::<char>()) {
            let t = make("kwp_u_", &fill);
            prop_assert_eq!(check_token_format(&t).unwrap(), CredentialKind::UserPat);
            let mut chars: Vec<char> = t.chars().collect();
            prop_assume!(chars[pos] != c);
            chars[pos] = c;
            let s: String = chars.into_iter().collect();
            prop_assert!(check_token_format(&s).is_err());
        }
    }
}
