//! Who sees which review requests, and what a caller must hold to read the queue.

use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, scopes};
use keyway_api::reviews::{Actor, ReviewRequest};

use crate::error::Error;
use crate::principal::Principal;
use crate::store::ReviewRecord;

/// Reviewers, auditors and admins (people) see every request; everyone else, agents and
/// service accounts included, their own.
pub(crate) fn sees_all(p: &Principal) -> bool {
    p.kind == PrincipalKind::User
        && (p.has_role(Role::Reviewer) || p.has_role(Role::Auditor) || p.has_role(Role::Admin))
}

fn is_submitter(p: &Principal, r: &ReviewRequest) -> bool {
    r.submitter.kind == p.kind && r.submitter.id == p.id
}

/// The caller submitted it, or (a person) owns the agent that did.
fn owns(p: &Principal, record_owner: Option<&str>, r: &ReviewRequest) -> bool {
    is_submitter(p, r) || (p.kind == PrincipalKind::User && record_owner == Some(p.id.as_str()))
}

pub(crate) fn visible(p: &Principal, rec: &ReviewRecord) -> bool {
    sees_all(p) || owns(p, rec.submitter_owner.as_deref(), &rec.request)
}

/// Events carry the owner beside the request: a request is visible in an event to whoever
/// may list it.
pub(crate) fn event_visible(p: &Principal, r: &ReviewRequest, owner: Option<&str>) -> bool {
    sees_all(p) || owns(p, owner, r)
}

/// The caller as the actor of a review transition.
pub(crate) fn actor_of(p: &Principal) -> Actor {
    Actor { kind: p.kind, id: p.id.clone(), name: p.name.clone() }
}

/// Reading the queue needs `reviews.read`, or `reviews.submit` (a submitter follows its own).
pub(crate) fn require_read(p: &Principal) -> Result<(), Error> {
    if p.has_scope(scopes::REVIEWS_READ) || p.has_scope(scopes::REVIEWS_SUBMIT) {
        Ok(())
    } else {
        p.require_scopes(&[scopes::REVIEWS_READ])
    }
}
