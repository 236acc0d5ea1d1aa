//! The one way an audit row is made: [`Audit`] builds an event from who acted, what they did,
//! to what, and how it ended. Rows are written by the store, in the transaction of the change
//! they record wherever the store method takes them.

pub(crate) mod chain;
pub(crate) mod refusals;

use keyway_api::credentials::CredentialKind;
use serde_json::Value;

use crate::error::Error;
use crate::principal::Principal;
use crate::store::{AuditEvent, CredentialRecord, Store};

/// An audit event under construction. The outcome is `ok` unless [`Audit::outcome`] says
/// otherwise; the detail is an empty object unless given.
#[derive(Clone, Debug)]
#[must_use = "an audit event does nothing until it is written"]
pub(crate) struct Audit(AuditEvent);

impl Audit {
    fn new(at: i64, action: &str, kind: &str, id: Option<String>, name: Option<String>) -> Audit {
        Audit(AuditEvent {
            id: 0,
            at,
            actor_kind: kind.to_owned(),
            actor_id: id,
            actor_name: name,
            action: action.to_owned(),
            target_kind: None,
            target_id: None,
            outcome: "ok".to_owned(),
            detail: Value::Object(Default::default()),
        })
    }

    /// Done by the caller of a route.
    pub(crate) fn by(p: &Principal, at: i64, action: &str) -> Audit {
        Audit::new(at, action, p.kind.as_str(), Some(p.id.clone()), Some(p.name.clone()))
    }

    /// Done by a person known by id and name (not through a bearer JWT).
    pub(crate) fn by_user(id: &str, name: &str, at: i64, action: &str) -> Audit {
        Audit::new(at, action, "user", Some(id.to_owned()), Some(name.to_owned()))
    }

    /// Done by a person known by id only (from a token family; the name is not at hand).
    pub(crate) fn by_user_id(id: &str, at: i64, action: &str) -> Audit {
        Audit::new(at, action, "user", Some(id.to_owned()), None)
    }

    /// Done by whoever a JWT names (its principal kind, subject and name).
    pub(crate) fn by_subject(kind: &str, id: &str, name: &str, at: i64, action: &str) -> Audit {
        Audit::new(at, action, kind, Some(id.to_owned()), Some(name.to_owned()))
    }

    /// Done by an agent known by id and name.
    pub(crate) fn by_agent(id: &str, name: &str, at: i64, action: &str) -> Audit {
        Audit::new(at, action, "agent", Some(id.to_owned()), Some(name.to_owned()))
    }

    /// Done through `keyway-hub` on the database (bootstrap, operations).
    pub(crate) fn by_operator(at: i64, action: &str) -> Audit {
        Audit::new(at, action, "operator", None, None)
    }

    /// Done by the hub itself (expiry).
    pub(crate) fn by_hub(at: i64, action: &str) -> Audit {
        Audit::new(at, action, "hub", None, None)
    }

    /// Tried with a credential: its agent, service account or owner acted; nobody known when
    /// there is no such credential.
    pub(crate) fn by_holder(credential: Option<&CredentialRecord>, at: i64, action: &str) -> Audit {
        let Some(c) = credential else { return Audit::new(at, action, "anonymous", None, None) };
        match c.kind {
            CredentialKind::AgentPat => Audit::new(at, action, "agent", c.agent_id.clone(), c.agent_name.clone()),
            CredentialKind::ServiceToken => {
                Audit::new(at, action, "service_account", c.service_account_id.clone(), c.service_account_name.clone())
            }
            _ => Audit::new(at, action, "user", Some(c.owner_id.clone()), Some(c.owner_name.clone())),
        }
    }

    pub(crate) fn target(mut self, kind: &str, id: impl Into<String>) -> Audit {
        self.0.target_kind = Some(kind.to_owned());
        self.0.target_id = Some(id.into());
        self
    }

    /// A target of this kind, when its id is known.
    pub(crate) fn target_opt(mut self, kind: &str, id: Option<&str>) -> Audit {
        self.0.target_kind = Some(kind.to_owned());
        self.0.target_id = id.map(str::to_owned);
        self
    }

    pub(crate) fn outcome(mut self, outcome: &str) -> Audit {
        self.0.outcome = outcome.to_owned();
        self
    }

    pub(crate) fn detail(mut self, detail: Value) -> Audit {
        self.0.detail = detail;
        self
    }

    pub(crate) fn event(self) -> AuditEvent {
        self.0
    }
}

/// Writes an event that records no change of its own (a refusal). A failure to audit fails the
/// request: an action that cannot be recorded is not taken silently.
pub(crate) async fn record<S: Store>(store: &S, audit: Audit) -> Result<(), Error> {
    store.insert_audit(&audit.event()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_say_who_what_and_how_it_ended() {
        let e = Audit::by_user("u1", "alice", 7, "pat.mint")
            .target("credential", "cr_1")
            .detail(serde_json::json!({ "kind": "agent_pat" }))
            .event();
        assert_eq!(
            (e.actor_kind.as_str(), e.actor_id.as_deref(), e.actor_name.as_deref()),
            ("user", Some("u1"), Some("alice"))
        );
        assert_eq!((e.action.as_str(), e.outcome.as_str(), e.at), ("pat.mint", "ok", 7));
        assert_eq!((e.target_kind.as_deref(), e.target_id.as_deref()), (Some("credential"), Some("cr_1")));
        assert_eq!(e.detail["kind"], "agent_pat");
        let refused = Audit::by_holder(None, 1, "exchange.refused").outcome("invalid_credential").event();
        assert_eq!((refused.actor_kind.as_str(), refused.actor_id), ("anonymous", None));
        assert_eq!(refused.outcome, "invalid_credential");
        assert_eq!(Audit::by_hub(1, "review.expire").event().detail, serde_json::json!({}));
    }
}
