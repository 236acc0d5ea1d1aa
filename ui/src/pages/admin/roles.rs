//! Keyway's roles as the Admin pages describe them.

use keyway_api::Role;

/// The roles, in the order the pages list them, with what each allows.
pub(crate) const ROLES: [(Role, &str); 4] = [
    (Role::Developer, "mints and manages their own agent tokens, creates agents, submits reviews"),
    (Role::Reviewer, "reads the queue and decides; mints nothing"),
    (Role::Auditor, "reads the audit log, every credential, review and user; changes nothing"),
    (Role::Admin, "users, roles, service accounts, settings, forced logout"),
];
