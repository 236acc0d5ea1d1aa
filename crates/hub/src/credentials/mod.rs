//! Credentials: PATs, enrollment tokens and service tokens, the agents they act for, and the
//! PAT → JWT exchange. No HTTP here: the handlers are in `crate::api`.
//!
//! - [`issue`]: owners, agents, minting, allowlists, ids and expiry.
//! - [`cache`]: the in-memory cache the exchange reads, and the last-used buffer.
//! - [`exchange`]: the rules of the exchange.
//!
//! This file says what state a stored credential is in.

pub(crate) mod cache;
pub(crate) mod exchange;
pub(crate) mod issue;

use keyway_api::credentials::{CredentialKind, CredentialStatus, CredentialView};

use crate::store::CredentialRecord;

/// The status a list shows.
pub(crate) fn status(c: &CredentialRecord, now: i64) -> CredentialStatus {
    if c.revoked_at.is_some() {
        CredentialStatus::Revoked
    } else if c.kind == CredentialKind::Enrollment && c.used_at.is_some() {
        CredentialStatus::Used
    } else if c.expires_at.is_some_and(|e| e <= now) {
        CredentialStatus::Expired
    } else if c.retired_at.is_some() {
        CredentialStatus::Retiring
    } else {
        CredentialStatus::Active
    }
}

pub(crate) fn view(c: &CredentialRecord, now: i64) -> CredentialView {
    CredentialView {
        id: c.id.clone(),
        kind: c.kind,
        name: c.name.clone(),
        owner_id: c.owner_id.clone(),
        owner_name: c.owner_name.clone(),
        agent_id: c.agent_id.clone(),
        agent_name: c.agent_name.clone(),
        service_account: c.service_account_name.clone(),
        audience: c.audience,
        scopes: c.scopes.clone(),
        created_at: c.created_at,
        expires_at: c.expires_at,
        last_used_at: c.last_used_at,
        last_fingerprint: c.last_fingerprint.clone(),
        fingerprint_changed_at: c.fingerprint_changed_at,
        revoked_at: c.revoked_at,
        status: status(c, now),
    }
}

/// Why a credential is not usable right now (`None`: it is). Recorded in the audit log only.
pub(crate) fn dead_reason(c: &CredentialRecord, now: i64) -> Option<&'static str> {
    if c.revoked_at.is_some() {
        Some("revoked")
    } else if c.expires_at.is_some_and(|e| e <= now) {
        Some("expired")
    } else if c.kind == CredentialKind::Enrollment && c.used_at.is_some() {
        Some("used")
    } else if c.agent_disabled {
        Some("agent_disabled")
    } else if c.service_account_disabled {
        Some("service_account_disabled")
    } else {
        None
    }
}
