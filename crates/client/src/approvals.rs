//! Approvals that mint the token, from an agent's side (OpenID CIBA poll mode with RFC 9396
//! `authorization_details`): ask at the hub's backchannel endpoint with the profile's agent
//! JWT, then poll the token endpoint until the reviewers decide. The `auth_req_id` never leaves
//! this process; the minted JWT is handed to the caller once.

use std::time::Duration;

use keyway_api::auth::TokenClass;
use keyway_api::ciba::{ApprovalToken, BackchannelAuthorization, GRANT_CIBA};
use keyway_api::codes;
use reqwest::Method;
use serde_json::Value;

use crate::http::{Auth, Request};
use crate::{Client, Error, SecretString};

/// What an agent asks reviewers to approve.
#[derive(Clone, Debug, Default)]
pub struct ApprovalAsk {
    /// The RFC 9396 `authorization_details`: a JSON array of objects, each with a `type`.
    pub details: Value,
    /// The request's title for reviewers.
    pub binding_message: Option<String>,
    /// The one reviewer (user name) who may decide it; any reviewer when `None`.
    pub reviewer: Option<String>,
    /// Scopes of the minted token, among the agent's own.
    pub scope: Option<String>,
    /// The resource (RFC 8707) the minted token is for.
    pub resource: Option<String>,
    /// How long reviewers have (the hub's default and maximum apply).
    pub expiry: Option<Duration>,
    /// Approvals needed (default 1).
    pub threshold: Option<u32>,
}

/// A request in the queue, and the handle that redeems its approval.
pub struct AskedApproval {
    pub review_id: String,
    pub expires_in: Duration,
    pub interval: Duration,
    auth_req_id: SecretString,
}

impl std::fmt::Debug for AskedApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AskedApproval")
            .field("review_id", &self.review_id)
            .field("expires_in", &self.expires_in)
            .field("auth_req_id", &"[redacted]")
            .finish()
    }
}

/// How an approval request ended.
#[derive(Debug)]
pub enum ApprovalOutcome {
    /// Approved: the token for exactly what was approved.
    Approved(ApprovalToken),
    /// Rejected or cancelled, with the hub's explanation (a reviewer's reason).
    Denied(String),
    /// Nobody decided in time.
    Expired,
    /// Still pending when the caller's timeout ran out.
    TimedOut,
}

impl Client {
    /// `POST /oauth/bc-authorize` with the profile's agent JWT.
    pub async fn ask_approval(&self, ask: &ApprovalAsk) -> Result<AskedApproval, Error> {
        let details = ask.details.to_string();
        let expiry = ask.expiry.map(|d| d.as_secs().to_string());
        let threshold = ask.threshold.map(|t| t.to_string());
        let mut form: Vec<(&str, &str)> = vec![("authorization_details", &details)];
        let optional = [
            ("binding_message", ask.binding_message.as_deref()),
            ("login_hint", ask.reviewer.as_deref()),
            ("scope", ask.scope.as_deref()),
            ("resource", ask.resource.as_deref()),
            ("requested_expiry", expiry.as_deref()),
            ("threshold", threshold.as_deref()),
        ];
        form.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        let req = Request::new(Method::POST, "/oauth/bc-authorize", Auth::Jwt(TokenClass::AgentAccess)).form(&form);
        let asked: BackchannelAuthorization = self.call(req).await?;
        Ok(AskedApproval {
            review_id: asked.review_id,
            expires_in: Duration::from_secs(asked.expires_in),
            interval: Duration::from_secs(asked.interval.max(1)),
            auth_req_id: SecretString::new(asked.auth_req_id),
        })
    }

    /// Polls the token endpoint for `asked` at its interval (longer after `slow_down`) until the
    /// reviewers decide, the request expires, or `timeout` passes.
    pub async fn redeem_approval(&self, asked: &AskedApproval, timeout: Duration) -> Result<ApprovalOutcome, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut interval = asked.interval;
        loop {
            let form = [("grant_type", GRANT_CIBA), ("auth_req_id", asked.auth_req_id.secret())];
            let req = Request::new(Method::POST, "/oauth/token", Auth::Jwt(TokenClass::AgentAccess)).form(&form);
            match self.call::<ApprovalToken>(req).await {
                Ok(token) => return Ok(ApprovalOutcome::Approved(token)),
                Err(Error::Refused { code, message }) => match code.as_str() {
                    codes::AUTHORIZATION_PENDING => {}
                    codes::SLOW_DOWN => interval += Duration::from_secs(5),
                    codes::ACCESS_DENIED => return Ok(ApprovalOutcome::Denied(message)),
                    codes::EXPIRED_TOKEN => return Ok(ApprovalOutcome::Expired),
                    _ => return Err(Error::Refused { code, message }),
                },
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Ok(ApprovalOutcome::TimedOut);
            }
            tokio::time::sleep(interval).await;
        }
    }
}
