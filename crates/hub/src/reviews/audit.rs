//! The audit rows of review transitions, which the store writes in the transaction of the
//! transition itself.

use serde_json::json;

use crate::audit::Audit;
use crate::principal::Principal;
use crate::store::{AuditEvent, ReviewAudit, ReviewRecord};

/// The audit rows a store call writes with its transition: `change` builds the caller's own,
/// and a request found past its TTL is audited as expired by the hub.
pub(crate) struct TransitionAudit<F> {
    pub(crate) now: i64,
    pub(crate) change: F,
}

impl<F: Fn(&ReviewRecord) -> AuditEvent + Send + Sync> ReviewAudit for TransitionAudit<F> {
    fn change(&self, after: &ReviewRecord) -> AuditEvent {
        (self.change)(after)
    }

    fn expiry(&self, expired: &ReviewRecord) -> AuditEvent {
        expiry_event(self.now, expired)
    }
}

/// The audit row of a request that expired, noticed at `now`.
pub(crate) fn expiry_event(now: i64, expired: &ReviewRecord) -> AuditEvent {
    Audit::by_hub(now, "review.expire")
        .target("review", &expired.request.id)
        .detail(json!({ "expires_at": expired.request.expires_at, "approvals": expired.request.approvals }))
        .event()
}

/// The caller's own transition of request `id` (submit, decide, cancel).
pub(crate) fn by(p: &Principal, at: i64, action: &str, id: &str) -> Audit {
    Audit::by(p, at, action).target("review", id)
}
