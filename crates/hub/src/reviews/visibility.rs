//! Who sees which review requests (who may read the queue at all: `crate::policy`).

use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, scopes};
use keyway_api::reviews::{Actor, ReviewRequest};

use super::rules::{Voter, may_decide};
use crate::policy::reads_whole_queue;
use crate::principal::Principal;
use crate::store::ReviewRecord;

/// Reviewers, auditors and admins (and service accounts of those groups) see every request;
/// everyone else, agents included, their own.
pub(crate) fn sees_all(p: &Principal) -> bool {
    reads_whole_queue(p)
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
        reviewer: p.holds(Role::Reviewer) && p.has_scope(scopes::REVIEWS_DECIDE),
    }
}

/// The request as the caller gets it: with `may_decide` said for them at `now`.
pub(crate) fn for_caller(p: &Principal, rec: &ReviewRecord, now: i64) -> ReviewRequest {
    let mut request = rec.request.clone();
    request.may_decide = may_decide(&voter_of(p), rec, now);
    request
}
