//! How credentials are named and dated on the page and in its dialogs.

use keyway_api::credentials::{CredentialKind, CredentialStatus, CredentialView};

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

pub(super) fn display_name(c: &CredentialView) -> String {
    c.service_account
        .clone()
        .or_else(|| c.agent_name.clone())
        .filter(|_| c.name.is_empty())
        .unwrap_or_else(|| c.name.clone())
}

pub(super) fn kind_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::UserPat => "Personal token",
        CredentialKind::AgentPat => "Agent token",
        CredentialKind::Enrollment => "Enrollment token",
        CredentialKind::ServiceToken => "Service token",
    }
}

pub(super) fn status_label(status: CredentialStatus) -> &'static str {
    match status {
        CredentialStatus::Active => "active",
        CredentialStatus::Expired => "expired",
        CredentialStatus::Revoked => "revoked",
        CredentialStatus::Used => "used",
        CredentialStatus::Retiring => "retiring",
    }
}

pub(super) fn status_code(status: CredentialStatus) -> &'static str {
    status_label(status)
}
