//! The device authorization grant (RFC 8628) from both ends.
//!
//! - A device without a browser ([`Client::start_device_login`], [`Client::wait_device_login`]):
//!   it asks the provider's `device_authorization_endpoint` for a user code, shows it with the
//!   verification URI, then polls the token endpoint no sooner than `interval` apart (5 seconds
//!   more after each `slow_down`) until the person approves (the session is then kept exactly as
//!   a browser sign-in keeps it), denies (`access_denied`), or the code expires (`expired_token`).
//! - A signed-in person ([`Client::lookup_device`], [`Client::approve_device`],
//!   [`Client::deny_device`]): which client asks, from where and when, then the decision, with
//!   the JWT of their own sign-in (`POST /oauth/device/lookup`, `…/approve`, `…/deny`).

use std::time::Duration;

use keyway_api::auth::TokenClass;
use keyway_api::clients::{DeviceAuthorization, DeviceDecided, DeviceRequest, DeviceUserCode, GRANT_DEVICE_CODE};
use keyway_api::codes;
use reqwest::Method;
use tokio_util::sync::CancellationToken;

use crate::http::{Auth, Request};
use crate::oidc::{LoginRequest, refused};
use crate::secret::SecretString;
use crate::{Client, Error, SessionInfo, now};

/// RFC 8628 §3.5: a `slow_down` adds this many seconds to the interval, for good.
pub const SLOW_DOWN_SECS: u64 = 5;
/// The interval when the provider states none (RFC 8628 §3.2).
const DEFAULT_INTERVAL_SECS: u64 = 5;

/// A device sign-in in progress: what to show the person, and the device code to poll with.
pub struct DeviceStart {
    /// What the person types (`BCDF-GHJK`).
    pub user_code: String,
    /// Where they type it.
    pub verification_uri: String,
    /// The same page with the code filled in (it still asks for an explicit approval).
    pub verification_uri_complete: Option<String>,
    /// Unix seconds when the code expires.
    pub expires_at: i64,
    /// Seconds between two polls, at first.
    pub interval: u64,
    device_code: SecretString,
}

impl std::fmt::Debug for DeviceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStart")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("device_code", &"[redacted]")
            .finish()
    }
}

/// What one poll's refusal means for the next (RFC 8628 §3.5).
#[derive(Debug)]
pub enum PollStep {
    /// Not approved yet: poll again after this many seconds.
    Wait(u64),
    /// Polled too fast: poll again after this many seconds, the new interval.
    SlowDown(u64),
    /// Stop with this error.
    Stop(Error),
}

/// The next step after a poll the token endpoint refused with `error`.
pub fn next_step(error: Error, interval: u64) -> PollStep {
    let Error::Refused { code, message } = error else { return PollStep::Stop(error) };
    match code.as_str() {
        codes::AUTHORIZATION_PENDING => PollStep::Wait(interval),
        codes::SLOW_DOWN => PollStep::SlowDown(interval.saturating_add(SLOW_DOWN_SECS)),
        codes::ACCESS_DENIED => PollStep::Stop(Error::Refused {
            code,
            message: "The sign-in was denied by the person asked to approve it. Nothing was signed in.".into(),
        }),
        codes::EXPIRED_TOKEN => PollStep::Stop(Error::Refused {
            code,
            message: "The code expired before it was approved. Start the device sign-in again for a new code.".into(),
        }),
        codes::INVALID_GRANT => PollStep::Stop(Error::Refused {
            code,
            message: format!("The server no longer accepts this device sign-in ({message}). Start it again."),
        }),
        _ => PollStep::Stop(Error::Refused { code, message }),
    }
}

/// What the polling loop tells its caller as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceNote {
    /// The server asked for slower polls: now every this many seconds.
    SlowerPolls(u64),
}

impl Client {
    /// Starts a device sign-in at the provider's device authorization endpoint, asking what a
    /// browser sign-in asks. Show the person [`DeviceStart::user_code`] and where to type it,
    /// then call [`Client::wait_device_login`].
    pub async fn start_device_login(&self) -> Result<DeviceStart, Error> {
        *self.provider.lock().await = None;
        let provider = self.provider().await?;
        let Some(url) = provider.device_authorization_endpoint.clone() else {
            return Err(Error::InvalidInput(format!(
                "{} offers no device sign-in (its discovery document names no device_authorization_endpoint). \
                 Sign in with the browser instead.",
                provider.issuer
            )));
        };
        let request = LoginRequest::for_provider(&provider, !self.profile.generic_provider());
        let form = [("client_id", self.profile.client_id.as_str()), ("scope", request.scope.as_str())];
        let resp =
            self.http.post(url.clone()).form(&form).send().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Error::unreachable(url.as_str(), &e))?;
        if !status.is_success() {
            return Err(refused(status, &bytes));
        }
        let answer: DeviceAuthorization = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Protocol(format!("the device authorization answer is not valid: {e}")))?;
        let complete = Some(answer.verification_uri_complete).filter(|u| !u.is_empty());
        Ok(DeviceStart {
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: complete,
            expires_at: now().saturating_add(i64::try_from(answer.expires_in).unwrap_or(i64::MAX)),
            interval: if answer.interval == 0 { DEFAULT_INTERVAL_SECS } else { answer.interval },
            device_code: SecretString::new(answer.device_code),
        })
    }

    /// Polls until the person decides or the code expires; an approval is kept as a browser
    /// sign-in is (the refresh token in the keychain only). `note` hears of slower polls.
    pub async fn wait_device_login(
        &self,
        start: &DeviceStart,
        cancel: &CancellationToken,
        mut note: impl FnMut(DeviceNote) + Send,
    ) -> Result<SessionInfo, Error> {
        let provider = self.provider().await?;
        let mut interval = start.interval;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
                _ = cancel.cancelled() => return Err(Error::Cancelled),
            }
            let form = [
                ("grant_type", GRANT_DEVICE_CODE),
                ("device_code", start.device_code.secret()),
                ("client_id", self.profile.client_id.as_str()),
            ];
            let error = match provider.token_request(&self.http, &form).await {
                Ok(tokens) => return self.keep(&provider, &tokens, None).await,
                Err(e) => e,
            };
            match next_step(error, interval) {
                PollStep::Wait(_) if now() >= start.expires_at => return Err(expired()),
                PollStep::Wait(_) => {}
                PollStep::SlowDown(slower) => {
                    interval = slower;
                    note(DeviceNote::SlowerPolls(slower));
                }
                PollStep::Stop(e) => return Err(e),
            }
        }
    }

    /// The pending device sign-in of `user_code`, as the signed-in person sees it before
    /// deciding. A mistyped, expired or answered code is `not_found`; wrong codes are limited.
    pub async fn lookup_device(&self, user_code: &str) -> Result<DeviceRequest, Error> {
        self.device_call("/oauth/device/lookup", user_code).await
    }

    /// Approves the device sign-in of `user_code`: the device signs in as this person.
    pub async fn approve_device(&self, user_code: &str) -> Result<DeviceDecided, Error> {
        self.device_call("/oauth/device/approve", user_code).await
    }

    /// Denies the device sign-in of `user_code`.
    pub async fn deny_device(&self, user_code: &str) -> Result<DeviceDecided, Error> {
        self.device_call("/oauth/device/deny", user_code).await
    }

    async fn device_call<T: serde::de::DeserializeOwned>(&self, path: &str, user_code: &str) -> Result<T, Error> {
        let code = normalize(user_code)?;
        let body = DeviceUserCode { user_code: code };
        let req = Request::new(Method::POST, path, Auth::Jwt(TokenClass::UserAccess)).json(&body)?.renew_stale_token();
        self.call(req).await.map_err(|e| match e {
            Error::Refused { code, message: _ } if code == codes::NOT_FOUND => Error::Refused {
                code,
                message: format!(
                    "No device sign-in is waiting for {}: check the code on the device; it may have expired or \
                     been answered already.",
                    body.user_code
                ),
            },
            other => other,
        })
    }
}

fn expired() -> Error {
    Error::Refused {
        code: codes::EXPIRED_TOKEN.into(),
        message: "The code expired before it was approved. Start the device sign-in again for a new code.".into(),
    }
}

/// A typed user code in its displayed form (`BCDF-GHJK`): letters, ignoring case, spaces and
/// dashes. Anything else is refused here, before the hub counts it as a wrong code.
pub fn normalize(typed: &str) -> Result<String, Error> {
    let letters: String = typed.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    if letters.len() != 8 || !letters.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::InvalidInput(format!(
            "'{}' is not a device code: a code is 8 letters, like BCDF-GHJK.",
            typed.chars().take(40).collect::<String>()
        )));
    }
    Ok(format!("{}-{}", &letters[..4], &letters[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str) -> Error {
        Error::Refused { code: code.into(), message: "the hub's words".into() }
    }

    #[test]
    fn pending_waits_and_slow_down_adds_five_seconds_for_good() {
        assert!(matches!(next_step(refusal("authorization_pending"), 5), PollStep::Wait(5)));
        assert!(matches!(next_step(refusal("slow_down"), 5), PollStep::SlowDown(10)));
        assert!(matches!(next_step(refusal("slow_down"), 10), PollStep::SlowDown(15)));
        assert!(matches!(next_step(refusal("slow_down"), u64::MAX), PollStep::SlowDown(u64::MAX)));
    }

    #[test]
    fn denied_expired_and_used_codes_stop_with_their_code_and_a_sentence() {
        for (code, words) in [("access_denied", "denied"), ("expired_token", "expired"), ("invalid_grant", "again")] {
            match next_step(refusal(code), 5) {
                PollStep::Stop(Error::Refused { code: c, message }) => {
                    assert_eq!(c, code);
                    assert!(message.contains(words), "{message}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        assert!(matches!(next_step(Error::Cancelled, 5), PollStep::Stop(Error::Cancelled)));
    }

    #[test]
    fn user_codes_are_normalised_or_refused_before_any_call() {
        assert_eq!(normalize("bcdf ghjk").unwrap(), "BCDF-GHJK");
        assert_eq!(normalize("BCDF-GHJK").unwrap(), "BCDF-GHJK");
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF-GH1K", "БCDF-GHJK"] {
            assert!(matches!(normalize(bad), Err(Error::InvalidInput(_))), "{bad}");
        }
    }
}
