//! Approvals that mint the token: OpenID CIBA in poll mode with RFC 9396 `authorization_details`.
//! An agent asks at the backchannel endpoint for exactly what it wants to do; reviewers approve
//! it in the review queue; the agent polls the token endpoint and gets a short-lived JWT whose
//! `authorization_details` claim is what was approved.

use serde::{Deserialize, Serialize};

/// The backchannel authentication endpoint (CIBA Core §7).
pub const BACKCHANNEL_PATH: &str = "/oauth/bc-authorize";
/// The CIBA grant at the token endpoint (CIBA Core §10.1).
pub const GRANT_CIBA: &str = "urn:openid:params:grant-type:ciba";
/// The review kind of a backchannel request. Ordinary submissions may not use it, so a request
/// of this kind in the queue always mints a token when approved.
pub const REVIEW_KIND: &str = "authorization";
/// Most entries in one `authorization_details` array.
pub const MAX_DETAILS: usize = 8;
/// Most bytes of the `authorization_details` JSON.
pub const MAX_DETAILS_BYTES: usize = 4096;
/// Deepest nesting inside one entry (an object in an array in an object is 3).
pub const MAX_DETAILS_DEPTH: usize = 4;
/// The longest `type` of an entry.
pub const MAX_TYPE_CHARS: usize = 64;
/// The longest `binding_message` (CIBA Core §7.1 asks for a short one).
pub const MAX_BINDING_MESSAGE_CHARS: usize = 140;
/// Seconds a backchannel request waits for its decision unless `requested_expiry` says less.
pub const DEFAULT_EXPIRY_SECS: u64 = 600;
/// The least seconds between two polls, at first (`slow_down` adds 5).
pub const INTERVAL_SECS: u64 = 5;
/// Lifetime of the JWT an approval mints: at most five minutes.
pub const TOKEN_TTL_SECS: u64 = 300;

/// Answer of `POST /oauth/bc-authorize` (CIBA Core §7.3). `auth_req_id` is a secret handle: with
/// the agent's own JWT it redeems the approval once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackchannelAuthorization {
    pub auth_req_id: String,
    pub expires_in: u64,
    pub interval: u64,
    /// The review request the reviewers decide (Keyway's own member).
    pub review_id: String,
}

impl std::fmt::Debug for BackchannelAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelAuthorization")
            .field("auth_req_id", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("review_id", &self.review_id)
            .finish()
    }
}

/// The token endpoint's answer to an approved CIBA poll (CIBA Core §11, RFC 9396 §7): no refresh
/// token, no ID token (the subject is the agent, not the person who approved).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    /// Exactly what the reviewers approved, as the agent sent it.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub authorization_details: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for ApprovalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("authorization_details", &self.authorization_details)
            .finish()
    }
}

/// Why `authorization_details` are refused (RFC 9396 §5: `invalid_authorization_details`), or
/// `None` when they are well formed: a non-empty array of at most [`MAX_DETAILS`] objects, each
/// with a `type` of letters, digits and `_ . : / -`, nested at most [`MAX_DETAILS_DEPTH`] deep,
/// [`MAX_DETAILS_BYTES`] in all. Keyway treats the types as labels for the reviewer: what they
/// mean is for the resource server that reads the token.
pub fn details_problem(details: &serde_json::Value) -> Option<String> {
    let size = serde_json::to_vec(details).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_DETAILS_BYTES {
        return Some(format!("authorization_details is {size} bytes; at most {MAX_DETAILS_BYTES} are accepted"));
    }
    let Some(entries) = details.as_array() else {
        return Some("authorization_details must be a JSON array of objects".to_owned());
    };
    if entries.is_empty() || entries.len() > MAX_DETAILS {
        return Some(format!("authorization_details must hold 1 to {MAX_DETAILS} entries, not {}", entries.len()));
    }
    for (i, entry) in entries.iter().enumerate() {
        let Some(object) = entry.as_object() else {
            return Some(format!("authorization_details[{i}] is not a JSON object"));
        };
        let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
            return Some(format!("authorization_details[{i}] has no string member \"type\""));
        };
        let good = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-');
        if kind.is_empty() || kind.chars().count() > MAX_TYPE_CHARS || !kind.chars().all(good) {
            return Some(format!(
                "authorization_details[{i}].type must be 1 to {MAX_TYPE_CHARS} letters, digits or _ . : / -"
            ));
        }
        if depth(entry) > MAX_DETAILS_DEPTH {
            return Some(format!("authorization_details[{i}] is nested deeper than {MAX_DETAILS_DEPTH} levels"));
        }
    }
    None
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Why a `binding_message` is refused (CIBA Core §13 `invalid_binding_message`): empty, longer
/// than [`MAX_BINDING_MESSAGE_CHARS`], or holding control characters.
pub fn binding_message_problem(message: &str) -> Option<String> {
    let trimmed = message.trim();
    if trimmed.is_empty() {
        Some("binding_message is empty".to_owned())
    } else if trimmed.chars().count() > MAX_BINDING_MESSAGE_CHARS {
        Some(format!("binding_message is longer than {MAX_BINDING_MESSAGE_CHARS} characters"))
    } else if trimmed.chars().any(char::is_control) {
        Some("binding_message holds control characters".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn well_formed_details_pass_and_each_malformed_shape_is_named() {
        let good = json!([{"type": "deployment", "target": "api", "version": "v2", "args_sha256": "ab"}]);
        assert_eq!(details_problem(&good), None);
        let cases = [
            (json!({"type": "x"}), "array"),
            (json!([]), "1 to 8"),
            (json!([1]), "not a JSON object"),
            (json!([{"target": "api"}]), "\"type\""),
            (json!([{"type": "white space"}]), ".type"),
            (json!([{"type": ""}]), ".type"),
            (json!([{"type": "t", "a": {"b": {"c": {"d": {"e": 1}}}}}]), "deeper"),
            (json!([{"type": "t", "blob": "x".repeat(MAX_DETAILS_BYTES)}]), "bytes"),
            (serde_json::Value::Array(vec![json!({"type": "t"}); MAX_DETAILS + 1]), "1 to 8"),
        ];
        for (details, says) in cases {
            let problem = details_problem(&details).unwrap_or_else(|| panic!("{details} passed"));
            assert!(problem.contains(says), "{details}: {problem}");
        }
    }

    #[test]
    fn a_binding_message_is_short_printable_text() {
        assert_eq!(binding_message_problem("Deploy api v2 (build 4411)"), None);
        assert!(binding_message_problem("  ").is_some());
        assert!(binding_message_problem(&"x".repeat(MAX_BINDING_MESSAGE_CHARS + 1)).is_some());
        assert!(binding_message_problem("line\nbreak").is_some());
    }
}
