//! The review rules, pure: who may vote on a request, and what a vote does to it.
//!
//! No I/O: the store calls [`decide`] on the request it has locked and applies what it returns,
//! so the rules and the atomicity of a vote stay apart.

use keyway_api::auth::PrincipalKind;
use keyway_api::reviews::{Actor, Decision, ReviewStatus, Verdict};

use crate::store::reviews::{Decided, ReviewRecord};

/// Who votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Voter {
    pub(crate) actor: Actor,
    /// For an agent voter, the user who owns it.
    pub(crate) owner: Option<String>,
    /// Holds the reviewer role and the `reviews.decide` scope.
    pub(crate) reviewer: bool,
}

/// Why a vote is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request is final already.
    NotPending,
    /// The request is past its TTL (it is to be expired, not voted on).
    Expired,
    /// The voter lacks the reviewer role or the `reviews.decide` scope.
    NotReviewer,
    /// The voter submitted the request, owns the agent that did, or is an agent of the user who
    /// did.
    OwnRequest,
    /// The voter has approved or rejected this request already.
    AlreadyVoted,
    /// The request names another reviewer (a backchannel request's `login_hint`).
    AskedOfAnother,
    /// Only `approve` and `reject` are votes.
    NotAVote,
}

/// True if `actor` submitted the request (the same principal, not merely the same name).
pub(crate) fn is_submitter(actor: &Actor, record: &ReviewRecord) -> bool {
    same_actor(actor, &record.request.submitter)
}

fn same_actor(a: &Actor, b: &Actor) -> bool {
    a.kind == b.kind && a.id == b.id
}

/// The voter's own request: they submitted it, or (a person) own the agent that did, or (an
/// agent) belong to the person who did.
fn own_request(voter: &Voter, record: &ReviewRecord) -> bool {
    let submitter = &record.request.submitter;
    is_submitter(&voter.actor, record)
        || (voter.actor.kind == PrincipalKind::User
            && record.submitter_owner.as_deref() == Some(voter.actor.id.as_str()))
        || (submitter.kind == PrincipalKind::User && voter.owner.as_deref() == Some(submitter.id.as_str()))
}

fn already_voted(voter: &Voter, record: &ReviewRecord) -> bool {
    record.request.decisions.iter().any(|d| {
        matches!(d.verdict, Verdict::Approve | Verdict::Reject)
            && d.actor.as_ref().is_some_and(|a| same_actor(a, &voter.actor))
    })
}

/// Why `voter` may not vote on `record` at `now`, if they may not.
fn refusal(voter: &Voter, record: &ReviewRecord, now: i64) -> Option<Refusal> {
    if record.request.status != ReviewStatus::Pending {
        Some(Refusal::NotPending)
    } else if now >= record.request.expires_at {
        Some(Refusal::Expired)
    } else if !voter.reviewer {
        Some(Refusal::NotReviewer)
    } else if own_request(voter, record) {
        Some(Refusal::OwnRequest)
    } else if already_voted(voter, record) {
        Some(Refusal::AlreadyVoted)
    } else if record.request.asked_of.as_ref().is_some_and(|a| !same_actor(a, &voter.actor)) {
        Some(Refusal::AskedOfAnother)
    } else {
        None
    }
}

/// True if `voter` may approve or reject `record` at `now`: it is pending and within its TTL,
/// the voter is a reviewer, it is not their own request and they have not voted on it yet.
pub(crate) fn may_decide(voter: &Voter, record: &ReviewRecord, now: i64) -> bool {
    refusal(voter, record, now).is_none()
}

/// What `voter`'s `verdict` does to `record` at `now`: a reject decides it (rejected), an
/// approval counts and decides it (approved) when the approvals reach the threshold.
pub(crate) fn decide(
    voter: &Voter,
    verdict: Verdict,
    reason: Option<&str>,
    record: &ReviewRecord,
    now: i64,
) -> Result<Decided, Refusal> {
    if let Some(refusal) = refusal(voter, record, now) {
        return Err(refusal);
    }
    let r = &record.request;
    let (status, approvals) = match verdict {
        Verdict::Reject => (ReviewStatus::Rejected, r.approvals),
        Verdict::Approve => {
            let approvals = r.approvals.saturating_add(1);
            (if approvals >= r.threshold { ReviewStatus::Approved } else { ReviewStatus::Pending }, approvals)
        }
        Verdict::Expire | Verdict::Cancel => return Err(Refusal::NotAVote),
    };
    Ok(Decided {
        decision: Decision { verdict, actor: Some(voter.actor.clone()), reason: reason.map(str::to_owned), at: now },
        status,
        approvals,
        decided_at: status.is_final().then_some(now),
    })
}

#[cfg(test)]
mod tests {
    use keyway_api::reviews::{ContentType, ReviewRequest};

    use super::*;

    const NOW: i64 = 1_000;

    fn actor(kind: PrincipalKind, id: &str) -> Actor {
        Actor { kind, id: id.to_owned(), name: format!("{id}-name") }
    }

    fn reviewer(id: &str) -> Voter {
        Voter { actor: actor(PrincipalKind::User, id), owner: None, reviewer: true }
    }

    /// A pending request by user `dev`, expiring at 2000, needing `threshold` approvals.
    fn record(threshold: u32) -> ReviewRecord {
        ReviewRecord {
            seq: 1,
            submitter_owner: None,
            request: ReviewRequest {
                id: "r1".into(),
                title: "t".into(),
                kind: "general".into(),
                payload: None,
                content_type: ContentType::Json,
                links: vec![],
                submitter: actor(PrincipalKind::User, "dev"),
                created_at: 0,
                expires_at: 2_000,
                threshold,
                approvals: 0,
                status: ReviewStatus::Pending,
                decided_at: None,
                decisions: vec![],
                may_decide: false,
                asked_of: None,
            },
        }
    }

    /// `record` with `decided` applied, as the store does.
    fn apply(mut record: ReviewRecord, decided: Decided) -> ReviewRecord {
        record.request.status = decided.status;
        record.request.approvals = decided.approvals;
        record.request.decided_at = decided.decided_at;
        record.request.decisions.push(decided.decision);
        record
    }

    #[test]
    fn one_approval_of_one_approves() {
        let d = decide(&reviewer("alice"), Verdict::Approve, None, &record(1), NOW).unwrap();
        assert_eq!(d.status, ReviewStatus::Approved);
        assert_eq!(d.approvals, 1);
        assert_eq!(d.decided_at, Some(NOW));
        assert_eq!(d.decision.verdict, Verdict::Approve);
        assert_eq!(d.decision.actor.as_ref().map(|a| a.id.as_str()), Some("alice"));
        assert_eq!(d.decision.at, NOW);
    }

    #[test]
    fn approvals_below_the_threshold_stay_pending_until_it_is_reached() {
        let rec = record(2);
        let first = decide(&reviewer("alice"), Verdict::Approve, None, &rec, NOW).unwrap();
        assert_eq!((first.status, first.approvals, first.decided_at), (ReviewStatus::Pending, 1, None));
        let rec = apply(rec, first);
        let second = decide(&reviewer("bob"), Verdict::Approve, None, &rec, NOW + 1).unwrap();
        assert_eq!((second.status, second.approvals, second.decided_at), (ReviewStatus::Approved, 2, Some(NOW + 1)));
    }

    #[test]
    fn a_single_reject_decides_and_keeps_its_reason() {
        let rec = apply(record(3), decide(&reviewer("alice"), Verdict::Approve, None, &record(3), NOW).unwrap());
        let d = decide(&reviewer("bob"), Verdict::Reject, Some("no"), &rec, NOW).unwrap();
        assert_eq!((d.status, d.approvals, d.decided_at), (ReviewStatus::Rejected, 1, Some(NOW)));
        assert_eq!(d.decision.reason.as_deref(), Some("no"));
    }

    #[test]
    fn the_submitter_cannot_vote() {
        let voter = reviewer("dev");
        assert_eq!(decide(&voter, Verdict::Approve, None, &record(1), NOW), Err(Refusal::OwnRequest));
        assert!(!may_decide(&voter, &record(1), NOW));
    }

    #[test]
    fn the_owner_of_the_submitting_agent_cannot_vote() {
        let mut rec = record(1);
        rec.request.submitter = actor(PrincipalKind::Agent, "ag_1");
        rec.submitter_owner = Some("alice".into());
        assert_eq!(decide(&reviewer("alice"), Verdict::Approve, None, &rec, NOW), Err(Refusal::OwnRequest));
        assert!(may_decide(&reviewer("bob"), &rec, NOW));
    }

    #[test]
    fn an_agent_of_the_submitting_user_cannot_vote() {
        let voter = Voter { actor: actor(PrincipalKind::Agent, "ag_1"), owner: Some("dev".into()), reviewer: true };
        assert_eq!(decide(&voter, Verdict::Approve, None, &record(1), NOW), Err(Refusal::OwnRequest));
        let other = Voter { owner: Some("someone".into()), ..voter };
        assert!(may_decide(&other, &record(1), NOW));
    }

    #[test]
    fn a_same_id_of_another_kind_is_not_the_submitter() {
        let voter = Voter { actor: actor(PrincipalKind::ServiceAccount, "dev"), owner: None, reviewer: true };
        assert!(!is_submitter(&voter.actor, &record(1)));
        assert!(may_decide(&voter, &record(1), NOW));
        assert!(is_submitter(&actor(PrincipalKind::User, "dev"), &record(1)));
    }

    #[test]
    fn a_second_vote_is_refused_whatever_its_verdict() {
        let rec = apply(record(2), decide(&reviewer("alice"), Verdict::Approve, None, &record(2), NOW).unwrap());
        for verdict in [Verdict::Approve, Verdict::Reject] {
            assert_eq!(decide(&reviewer("alice"), verdict, Some("x"), &rec, NOW), Err(Refusal::AlreadyVoted));
        }
        assert!(!may_decide(&reviewer("alice"), &rec, NOW));
        assert!(may_decide(&reviewer("bob"), &rec, NOW));
    }

    #[test]
    fn an_expiry_or_cancel_decision_by_the_voter_is_not_a_vote() {
        let mut rec = record(1);
        rec.request.decisions.push(Decision {
            verdict: Verdict::Cancel,
            actor: Some(actor(PrincipalKind::User, "alice")),
            reason: None,
            at: 0,
        });
        assert!(may_decide(&reviewer("alice"), &rec, NOW));
    }

    #[test]
    fn only_reviewers_vote() {
        let voter = Voter { reviewer: false, ..reviewer("alice") };
        assert_eq!(decide(&voter, Verdict::Approve, None, &record(1), NOW), Err(Refusal::NotReviewer));
        assert!(!may_decide(&voter, &record(1), NOW));
    }

    #[test]
    fn final_requests_take_no_votes() {
        for status in [ReviewStatus::Approved, ReviewStatus::Rejected, ReviewStatus::Expired, ReviewStatus::Cancelled] {
            let mut rec = record(1);
            rec.request.status = status;
            assert_eq!(decide(&reviewer("alice"), Verdict::Approve, None, &rec, NOW), Err(Refusal::NotPending));
            assert!(!may_decide(&reviewer("alice"), &rec, NOW));
        }
    }

    #[test]
    fn a_request_past_its_ttl_takes_no_votes() {
        let rec = record(1);
        let at = rec.request.expires_at;
        assert!(may_decide(&reviewer("alice"), &rec, at - 1));
        assert_eq!(decide(&reviewer("alice"), Verdict::Approve, None, &rec, at), Err(Refusal::Expired));
        assert!(!may_decide(&reviewer("alice"), &rec, at));
    }

    #[test]
    fn expire_and_cancel_are_not_votes() {
        for verdict in [Verdict::Expire, Verdict::Cancel] {
            assert_eq!(decide(&reviewer("alice"), verdict, None, &record(1), NOW), Err(Refusal::NotAVote));
        }
    }

    #[test]
    fn a_request_asked_of_one_reviewer_is_theirs_alone_to_decide() {
        let mut rec = record(1);
        rec.request.asked_of = Some(actor(PrincipalKind::User, "alice"));
        assert_eq!(decide(&reviewer("bob"), Verdict::Approve, None, &rec, NOW), Err(Refusal::AskedOfAnother));
        assert_eq!(decide(&reviewer("bob"), Verdict::Reject, Some("x"), &rec, NOW), Err(Refusal::AskedOfAnother));
        assert!(!may_decide(&reviewer("bob"), &rec, NOW));
        assert!(may_decide(&reviewer("alice"), &rec, NOW));
        assert_eq!(
            decide(&reviewer("alice"), Verdict::Approve, None, &rec, NOW).unwrap().status,
            ReviewStatus::Approved
        );
        // The same id as another kind of principal is not the reviewer asked.
        let agent = Voter { actor: actor(PrincipalKind::Agent, "alice"), owner: None, reviewer: true };
        assert_eq!(decide(&agent, Verdict::Approve, None, &rec, NOW), Err(Refusal::AskedOfAnother));
    }
}
