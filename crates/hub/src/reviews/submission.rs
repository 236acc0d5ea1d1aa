//! What a review request may be: the checks on a submission (title, kind, payload, links,
//! lifetime, threshold) and the limits an administrator sets.

use std::borrow::Cow;

use axum::http::StatusCode;
use keyway_api::auth::PrincipalKind;
use keyway_api::codes;
use keyway_api::reviews::{
    ContentType, MAX_KIND_CHARS, MAX_LINKS, MAX_PAYLOAD_BYTES, MAX_THRESHOLD, MAX_TITLE_CHARS, ReviewRequest,
    ReviewSettings, ReviewStatus, SubmitReview,
};

use super::visibility::actor_of;
use crate::error::Error;
use crate::principal::Principal;
use crate::state::AppState;
use crate::store::{ReviewRecord, Store};

/// Default lifetime of a request, and the default administrator maximum.
pub(crate) const DEFAULT_TTL_SECS: u64 = 3600;
pub(crate) const DEFAULT_MAX_TTL_SECS: u64 = 24 * 3600;
/// No administrator may allow requests to live longer than this.
pub(crate) const TTL_CEILING_SECS: u64 = 30 * 24 * 3600;
const MAX_LINK_LABEL_CHARS: usize = 100;
const MAX_LINK_URL_CHARS: usize = 2048;

/// `422 validation_failed`.
pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Error {
    Error::unprocessable(codes::VALIDATION_FAILED, message)
}

pub(crate) fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

/// `413 payload_too_large`, saying how large `what` was and what is allowed.
pub(crate) fn payload_too_large(what: &str) -> Error {
    Error::api(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!(
            "{what}; a review payload may be at most {} ({MAX_PAYLOAD_BYTES} bytes) of JSON. \
             Put large content elsewhere and add a link to it.",
            kb(MAX_PAYLOAD_BYTES)
        ),
    )
}

/// The administrator's limits, or the defaults when none were set.
pub(crate) async fn settings<S: Store>(state: &AppState<S>) -> Result<ReviewSettings, Error> {
    Ok(state
        .store
        .review_settings()
        .await?
        .unwrap_or(ReviewSettings { default_ttl_secs: DEFAULT_TTL_SECS, max_ttl_secs: DEFAULT_MAX_TTL_SECS }))
}

/// A checked submission: the record to store and the size of its payload in bytes of JSON.
pub(crate) async fn check<S: Store>(
    state: &AppState<S>,
    principal: &Principal,
    req: SubmitReview,
) -> Result<(ReviewRecord, usize), Error> {
    let title = validate_title(&req.title)?;
    let kind = validate_kind(req.kind.as_deref())?;
    let size = serde_json::to_vec(&req.payload).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_PAYLOAD_BYTES {
        return Err(payload_too_large(&format!("The payload is {} ({size} bytes) of JSON", kb(size))));
    }
    let content_type = req.content_type.unwrap_or_default();
    if content_type != ContentType::Json && !req.payload.is_string() {
        return Err(invalid(
            format!(
                "A payload shown as {content_type:?} must be a JSON string; use content type json for other values"
            )
            .to_lowercase(),
        ));
    }
    validate_links(&req.links)?;
    let limits = settings(state).await?;
    let ttl = match req.ttl_secs {
        None => limits.default_ttl_secs.min(limits.max_ttl_secs),
        Some(0) => return Err(invalid("ttl_secs must be at least 1 second")),
        Some(t) if t > limits.max_ttl_secs => {
            return Err(invalid(format!(
                "ttl_secs {t} is above the maximum of {} seconds set by an administrator",
                limits.max_ttl_secs
            )));
        }
        Some(t) => t,
    };
    let threshold = req.threshold.unwrap_or(1);
    if !(1..=MAX_THRESHOLD).contains(&threshold) {
        return Err(invalid(format!("threshold must be between 1 and {MAX_THRESHOLD} approvals, got {threshold}")));
    }
    let now = state.now();
    // Who stands behind the submitter, and so may not approve: an agent's owner, and the person
    // who created a service account.
    let submitter_owner = match principal.kind {
        PrincipalKind::Agent => principal.owner.clone(),
        PrincipalKind::ServiceAccount => state.store.service_account(&principal.id).await?.map(|sa| sa.created_by),
        _ => None,
    };
    let record_in = ReviewRecord {
        seq: 0,
        submitter_owner,
        request: ReviewRequest {
            id: crate::secret::random_id(),
            title,
            kind,
            payload: Some(req.payload),
            content_type,
            links: req.links,
            submitter: actor_of(principal),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            threshold,
            approvals: 0,
            status: ReviewStatus::Pending,
            decided_at: None,
            decisions: vec![],
            may_decide: false,
            asked_of: None,
        },
    };
    Ok((record_in, size))
}

fn validate_title(raw: &str) -> Result<String, Error> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(invalid("A title is required: say in a few words what should be approved"));
    }
    let n = title.chars().count();
    if n > MAX_TITLE_CHARS {
        return Err(invalid(format!("The title is {n} characters long; at most {MAX_TITLE_CHARS} are allowed")));
    }
    if title.chars().any(char::is_control) {
        return Err(invalid("The title must be one line without control characters"));
    }
    Ok(title.to_owned())
}

fn validate_kind(raw: Option<&str>) -> Result<String, Error> {
    let kind = raw.map(str::trim).filter(|k| !k.is_empty()).unwrap_or("general");
    let ok = kind.chars().count() <= MAX_KIND_CHARS
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(invalid(format!(
            "Kind '{kind}' is not valid: use up to {MAX_KIND_CHARS} of a-z, 0-9, '_', '-' and '.'"
        )));
    }
    if kind == keyway_api::ciba::REVIEW_KIND {
        return Err(invalid(format!(
            "Kind '{kind}' is kept for backchannel requests (POST /oauth/bc-authorize), whose approval mints a token"
        )));
    }
    Ok(kind.to_owned())
}

fn validate_links(links: &[keyway_api::reviews::Link]) -> Result<(), Error> {
    if links.len() > MAX_LINKS {
        return Err(invalid(format!("{} links given; at most {MAX_LINKS} are allowed", links.len())));
    }
    for link in links {
        let label = link.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LINK_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(invalid(format!(
                "Every link needs a one-line label of 1 to {MAX_LINK_LABEL_CHARS} characters"
            )));
        }
        let ok = link.url.len() <= MAX_LINK_URL_CHARS
            && url::Url::parse(&link.url).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
        if !ok {
            return Err(invalid(format!(
                "Link '{label}' must be an http(s) URL of at most {MAX_LINK_URL_CHARS} characters"
            )));
        }
    }
    Ok(())
}
