//! The approval queue: review requests that agents, pipelines and people submit and reviewers
//! decide.
//!
//! Routes (bearer JWT; JSON):
//! - `POST /api/reviews` [`SubmitReview`] → [`ReviewRequest`] (scope `reviews.submit`).
//! - `GET /api/reviews?status=&kind=&submitter=&mine=&cursor=&limit=` → `Page<ReviewRequest>`
//!   (newest first; items carry no payload). Developers, agents and service accounts see their
//!   own; reviewers, auditors and admins see all.
//! - `GET /api/reviews/{id}` → [`ReviewRequest`] with its payload.
//! - `POST /api/reviews/{id}/decision` [`Decide`] → [`ReviewRequest`] (role `reviewer`).
//! - `POST /api/reviews/{id}/cancel` → [`ReviewRequest`] (the submitter only).
//! - `GET /api/reviews/{id}/wait?timeout=<secs>` → [`ReviewRequest`] once final, or as it
//!   stands when the timeout (default 30, at most 120) passes.
//! - `GET /api/reviews/events` → `text/event-stream` of [`ReviewEvent`] (event name = `type`,
//!   `id` set; items carry no payload). The stream starts with the comment `: subscribed` and
//!   ends when the bearer JWT expires. Reconnect with `Last-Event-ID` to get what was missed;
//!   when the hub cannot replay it, it sends `event: resync` and the client lists again.
//! - `GET|PUT /api/settings/reviews` [`ReviewSettings`] (admins change it).

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalKind;

/// Largest payload accepted, in bytes of its JSON encoding.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest kind, in characters (`a-z`, `0-9`, `_`, `-`, `.`).
pub const MAX_KIND_CHARS: usize = 64;
/// Longest decision reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// Most approvals a request may ask for.
pub const MAX_THRESHOLD: u32 = 20;
/// Most context links on one request.
pub const MAX_LINKS: usize = 20;
/// Default and longest `timeout` of `GET /api/reviews/{id}/wait`, in seconds.
pub const DEFAULT_WAIT_SECS: u64 = 30;
pub const MAX_WAIT_SECS: u64 = 120;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
            ReviewStatus::Expired => "expired",
            ReviewStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        [
            ReviewStatus::Pending,
            ReviewStatus::Approved,
            ReviewStatus::Rejected,
            ReviewStatus::Expired,
            ReviewStatus::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != ReviewStatus::Pending
    }
}

/// How the UI renders a payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// Plain text (the payload is a JSON string).
    Text,
    /// Markdown (a JSON string).
    Markdown,
    /// Any JSON value, pretty-printed.
    #[default]
    Json,
    /// A unified diff (a JSON string).
    Diff,
}

/// Who did something: a user, an agent or a service account (or the hub itself for expiry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub kind: PrincipalKind,
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// What a decision (or a recorded transition) was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
    /// The TTL passed (actor: none).
    Expire,
    /// The submitter withdrew it.
    Cancel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub verdict: Verdict,
    /// `None` for expiry.
    pub actor: Option<Actor>,
    pub reason: Option<String>,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewRequest {
    pub id: String,
    pub title: String,
    pub kind: String,
    /// Present on `GET /api/reviews/{id}`, absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    pub content_type: ContentType,
    #[serde(default)]
    pub links: Vec<Link>,
    pub submitter: Actor,
    pub created_at: i64,
    pub expires_at: i64,
    /// Approvals needed; a single rejection decides.
    pub threshold: u32,
    pub approvals: u32,
    pub status: ReviewStatus,
    pub decided_at: Option<i64>,
    #[serde(default)]
    pub decisions: Vec<Decision>,
    /// Whether the caller may vote on it now: the hub's rule (pending, a reviewer, not the
    /// submitter nor its owner, not voted yet), so clients never copy it.
    #[serde(default)]
    pub may_decide: bool,
    /// The one reviewer a backchannel request names (`login_hint`): nobody else may decide it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_of: Option<Actor>,
}

/// `POST /api/reviews`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitReview {
    pub title: String,
    /// Free-form category, e.g. `deployment`, `guardrail_output` (default `general`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub payload: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    #[serde(default)]
    pub links: Vec<Link>,
    /// Seconds until it expires (default 3600; at most the admin's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// Approvals needed (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
}

/// `POST /api/reviews/{id}/decision`: a reason is required to reject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decide {
    /// `approve` or `reject`.
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Pushed on `GET /api/reviews/events` (SSE `event:` = the `type`, `data:` = this JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReviewEvent {
    Created {
        request: ReviewRequest,
    },
    /// A vote that did not yet reach the threshold.
    Voted {
        request: ReviewRequest,
    },
    Decided {
        request: ReviewRequest,
    },
    Expired {
        request: ReviewRequest,
    },
    Cancelled {
        request: ReviewRequest,
    },
}

impl ReviewEvent {
    pub fn request(&self) -> &ReviewRequest {
        match self {
            ReviewEvent::Created { request }
            | ReviewEvent::Voted { request }
            | ReviewEvent::Decided { request }
            | ReviewEvent::Expired { request }
            | ReviewEvent::Cancelled { request } => request,
        }
    }

    pub fn request_mut(&mut self) -> &mut ReviewRequest {
        match self {
            ReviewEvent::Created { request }
            | ReviewEvent::Voted { request }
            | ReviewEvent::Decided { request }
            | ReviewEvent::Expired { request }
            | ReviewEvent::Cancelled { request } => request,
        }
    }
}

/// Query of `GET /api/reviews` (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ReviewQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ReviewStatus>,
    /// Only final requests (approved, rejected, expired, cancelled): the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The submitter's id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<String>,
    /// Only requests the caller submitted (or, for a person, their agents submitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<bool>,
    /// `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Admin limits on review requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewSettings {
    pub default_ttl_secs: u64,
    pub max_ttl_secs: u64,
}
