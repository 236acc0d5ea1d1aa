//! Changes as units of work: the writes of one action and the audit rows that record it,
//! applied by the store in one transaction, all or nothing. This is how every change of
//! credentials, agents, service accounts and settings is audited in the same transaction as
//! the change, on every backend.

use std::future::Future;

use keyway_api::Role;
use keyway_api::credentials::CredentialSettings;
use keyway_api::keys::KeySettings;
use keyway_api::reviews::ReviewSettings;
use keyway_api::users::SessionSettings;

use super::StoreError;
use super::keys::SigningKeyRecord;
use super::scim::ScimTokenRecord;
use super::{
    AgentRecord, AuditEvent, CodeRecord, CredentialRecord, LoginSession, ServiceAccountRecord, TokenHash, UserRecord,
};

/// One write of a [`Change`].
#[derive(Debug)]
pub enum Write<'a> {
    InsertCredential(&'a CredentialRecord),
    /// Sets `revoked_at`; [`Outcome::Unchanged`] if it was already revoked or does not exist.
    RevokeCredential {
        id: &'a str,
        now: i64,
    },
    /// Replaces the secret hash of an unrevoked credential (rotation); `Unchanged` if none.
    ReplaceCredentialSecret {
        id: &'a str,
        hash: &'a TokenHash,
    },
    /// Marks a service token replaced: it expires at `until` at the latest.
    RetireCredential {
        id: &'a str,
        now: i64,
        until: i64,
    },
    /// Marks an unused, unrevoked, unexpired enrollment token used; `Unchanged` otherwise.
    RedeemEnrollment {
        id: &'a str,
        now: i64,
    },
    /// `NameTaken` if the owner has an agent of that name.
    InsertAgent(&'a AgentRecord),
    /// `NameTaken` for a taken name, `Unchanged` for no such agent.
    UpdateAgent {
        id: &'a str,
        name: Option<&'a str>,
        disabled: Option<bool>,
    },
    /// `NameTaken` if the name is taken.
    InsertServiceAccount(&'a ServiceAccountRecord),
    /// Disables the account and revokes all its tokens; `Unchanged` for no such account.
    DisableServiceAccount {
        id: &'a str,
        now: i64,
    },
    SetCredentialSettings(&'a CredentialSettings),
    PutReviewSettings(&'a ReviewSettings),
    /// Makes `next` the current signing key and gives `current` until `verify_until`;
    /// `Unchanged` if `current` is no longer the current key (another hub rotated first).
    RotateSigningKey {
        current: &'a str,
        next: &'a SigningKeyRecord,
        now: i64,
        verify_until: i64,
    },
    PutKeySettings(&'a KeySettings),
    /// Removes a pending authorization that has not expired (single use); `Unchanged` if none.
    TakePending {
        id: &'a str,
        now: i64,
    },
    InsertLoginSession(&'a LoginSession),
    InsertCode(&'a CodeRecord),
    /// Ends a sign-in: marks its token family revoked; `Unchanged` if it was already or is unknown.
    RevokeFamily {
        id: &'a str,
        now: i64,
    },
    /// Records an access token's `jti` as revoked until `expires_at` (idempotent: always `Done`).
    RevokeAccessToken {
        jti: &'a str,
        expires_at: i64,
    },
    /// `NameTaken` if the name is taken (by a user, or a deleted user's tombstone).
    InsertUser(&'a UserRecord),
    /// Replaces the password hash of a user not deleted (`""`: none, until a one-time code is
    /// used); `Unchanged` for no such user.
    SetUserPassword {
        id: &'a str,
        hash: &'a str,
    },
    /// Stores a user's one-time set-password code, replacing any earlier one.
    PutSetPasswordCode {
        user_id: &'a str,
        hash: &'a TokenHash,
        now: i64,
        expires_at: i64,
    },
    /// Removes a user's set-password code; `Done` whether there was one or not.
    ClearSetPasswordCode {
        user_id: &'a str,
    },
    /// `Unchanged` for no such user (or a deleted one).
    SetUserDisabled {
        id: &'a str,
        disabled: bool,
    },
    /// Replaces the user's roles; `Unchanged` for no such user (or a deleted one).
    SetUserRoles {
        id: &'a str,
        roles: &'a [Role],
    },
    /// Makes the user a tombstone: no password, no roles, disabled, `deleted_at` set; revokes
    /// the credentials they minted (not service tokens, which belong to their service
    /// account), disables their agents, ends their sessions. `Unchanged` for no such user.
    DeleteUser {
        id: &'a str,
        now: i64,
    },
    /// Revokes every sign-in (token family) of the user and their browser sessions; `Done`
    /// whether there were any or not.
    EndUserSessions {
        user_id: &'a str,
        now: i64,
    },
    /// Revokes one live sign-in of the user; `Unchanged` if there is no such live one.
    EndSession {
        user_id: &'a str,
        id: &'a str,
        now: i64,
    },
    /// `Unchanged` unless at least one enabled, undeleted user holds `admin` (after the writes
    /// before it): appended to every change that could remove the last admin.
    RequireActiveAdmin,
    PutSessionSettings(&'a SessionSettings),
    /// Marks a user (not deleted) as managed by the IdP, with its `external_id` if given;
    /// `NameTaken` if another user has that `external_id`, `Unchanged` for no such user.
    SetUserManaged {
        id: &'a str,
        managed_by: super::ManagedBy,
        external_id: Option<&'a str>,
    },
    /// Links (`issuer`, `subject`) to a user; `NameTaken` if it is linked already.
    LinkIdentity {
        issuer: &'a str,
        subject: &'a str,
        user_id: &'a str,
        now: i64,
    },
    /// Appends to the audit log.
    Audit(&'a AuditEvent),
    /// Makes a user SCIM-managed (unless the IdP already manages it) and stores what the IdP
    /// said of it, `modified_at` = `now`: `NameTaken` if another user has that `external_id`,
    /// `Unchanged` for no such user (or a deleted one).
    SetScimProfile {
        id: &'a str,
        external_id: Option<&'a str>,
        display_name: Option<&'a str>,
        email: Option<&'a str>,
        now: i64,
    },
    /// Renames a user that is not deleted: `NameTaken` for a taken name, `Unchanged` for no
    /// such user.
    RenameUser {
        id: &'a str,
        username: &'a str,
    },
    /// Clears a user's `external_id` (a deleted user's, so the IdP may provision the person
    /// again); `Done` whether it had one or not.
    ForgetExternalId {
        id: &'a str,
    },
    /// `NameTaken` if the hash is taken.
    InsertScimToken(&'a ScimTokenRecord),
    /// Sets `revoked_at`; `Unchanged` if it was already revoked or does not exist.
    RevokeScimToken {
        id: &'a str,
        now: i64,
    },
}

/// What one write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A unique name is taken.
    NameTaken,
    /// Nothing matched what the write changes (no such row, or already in that state).
    Unchanged,
}

/// The writes of one action, in order.
#[derive(Debug, Default)]
#[must_use = "a change does nothing until the store applies it"]
pub struct Change<'a> {
    pub writes: Vec<Write<'a>>,
}

impl<'a> Change<'a> {
    pub fn new() -> Change<'a> {
        Change::default()
    }

    pub fn then(mut self, write: Write<'a>) -> Change<'a> {
        self.writes.push(write);
        self
    }

    /// The change's audit row.
    pub fn audit(self, event: &'a AuditEvent) -> Change<'a> {
        self.then(Write::Audit(event))
    }
}

/// Outcome of [`ChangeStore::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Every write was done and committed.
    Done,
    /// Write number `at` (0-based) did not apply, with this outcome: nothing was committed.
    Stopped { at: usize, outcome: Outcome },
}

impl Applied {
    pub fn is_done(self) -> bool {
        self == Applied::Done
    }
}

/// A backend that applies [`Change`]s.
pub trait ChangeStore: Send + Sync {
    /// Applies every write of `change` in one transaction, in order. The first write that is
    /// not [`Outcome::Done`] rolls the whole change back and is reported.
    fn apply(&self, change: &Change<'_>) -> impl Future<Output = Result<Applied, StoreError>> + Send;
}
