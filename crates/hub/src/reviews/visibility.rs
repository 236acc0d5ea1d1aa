//! Who sees which review requests, and what a caller must hold to read the queue.

use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, scopes};
use keyway_api::reviews::{Actor, ReviewRequest};

use super::rules::{Voter, may_decide};
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

/// The caller as a voter of the review rules: a reviewer when it holds the role and the
/// `reviews.decide` scope.
pub(crate) fn voter_of(p: &Principal) -> Voter {
    Voter {
        actor: actor_of(p),
        owner: p.owner.clone(),
        reviewer: p.has_role(Role::Reviewer) && p.has_scope(scopes::REVIEWS_DECIDE),
    }
}

/// The request as the caller gets it: with `may_decide` said for them at `now`.
pub(crate) fn for_caller(p: &Principal, rec: &ReviewRecord, now: i64) -> ReviewRequest {
    let mut request = rec.request.clone();
    request.may_decide = may_decide(&voter_of(p), rec, now);
    request
}

/// Reading the queue needs `reviews.read`, or `reviews.submit` (a submitter follows its own).
pub(crate) fn require_read(p: &Principal) -> Result<(), Error> {
    if p.has_scope(scopes::REVIEWS_READ) || p.has_scope(scopes::REVIEWS_SUBMIT) {
        Ok(())
    } else {
        p.require_scopes(&[scopes::REVIEWS_READ])
    }
}
