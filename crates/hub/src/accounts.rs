//! Managing users: the rules of a new password, one-time set-password codes, the user view,
//! and how a user change is applied (all or nothing, never leaving the hub without an enabled
//! admin) and then made visible at once. No HTTP here: the routes are in `crate::api::users`,
//! `crate::api::groups` and `crate::api::sessions`.

use axum::http::StatusCode;
use keyway_api::codes;
use keyway_api::users::UserView;

use crate::error::Error;
use crate::secret::{Password, TokenHash, random_base62};
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Outcome, Write};
use crate::store::{SetPasswordCode, Store, UserRecord};
use crate::users::MAX_PASSWORD_BYTES;

/// Characters of a set-password code: 24 base62 characters, 142 bits from the OS CSPRNG.
const CODE_CHARS: usize = 24;

pub(crate) fn unknown_user() -> Error {
    Error::api(StatusCode::NOT_FOUND, codes::UNKNOWN_USER, "No such user")
}

pub(crate) fn user_exists(name: &str) -> Error {
    Error::api(
        StatusCode::CONFLICT,
        codes::USER_EXISTS,
        format!("A user named '{name}' exists (or existed: a deleted user's name stays taken)"),
    )
}

pub(crate) fn last_admin() -> Error {
    Error::api(
        StatusCode::CONFLICT,
        codes::LAST_ADMIN,
        "This would leave the hub without an enabled admin: make another user an admin first",
    )
}

pub(crate) fn self_demotion(what: &str) -> Error {
    Error::api(
        StatusCode::CONFLICT,
        codes::SELF_DEMOTION,
        format!("You cannot {what} yourself: ask another admin to do it"),
    )
}

/// Refuses a change Keyway does not make for a user the IdP manages (`what`: "roles", "password").
pub(crate) async fn require_local<S: Store>(state: &AppState<S>, u: &UserRecord, what: &str) -> Result<(), Error> {
    let Some(managed) = state.store.user_managed_by(&u.id).await? else { return Ok(()) };
    let by = match managed {
        crate::store::ManagedBy::Sso => "single sign-on",
        crate::store::ManagedBy::Scim => "SCIM provisioning",
    };
    let how = if what == "roles" {
        "change their groups at the identity provider instead"
    } else {
        "they sign in through the identity provider, which holds their password"
    };
    Err(Error::api(
        StatusCode::CONFLICT,
        codes::MANAGED_EXTERNALLY,
        format!(
            "{}'s {what} {} managed by the organisation's identity provider ({by}): {how}",
            u.username,
            if what == "roles" { "are" } else { "is" }
        ),
    ))
}

/// A password a person chooses or an admin gives ([`crate::users::validate_password`]), as the
/// API's `422 weak_password`.
pub(crate) fn validate_new_password(username: &str, password: &Password) -> Result<(), Error> {
    crate::users::validate_password(username, password).map_err(|e| match e {
        Error::WeakPassword(why) => Error::unprocessable(codes::WEAK_PASSWORD, format!("The password {why}")),
        Error::PasswordTooLong => Error::unprocessable(
            codes::WEAK_PASSWORD,
            format!("The password must be at most {MAX_PASSWORD_BYTES} bytes long"),
        ),
        e => e,
    })
}

/// A new one-time set-password code and its hash.
pub(crate) fn new_code() -> (String, TokenHash) {
    let code = random_base62(CODE_CHARS);
    let hash = TokenHash::of(&code);
    (code, hash)
}

/// True if `typed` is the code (constant time; the stored code has not expired, or the store
/// would not have returned it).
pub(crate) fn code_matches(code: &SetPasswordCode, typed: &str) -> bool {
    let typed = TokenHash::of(typed);
    ct_eq_bytes(typed.as_bytes(), code.code_hash.as_bytes())
}

fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

pub(crate) fn view(u: &UserRecord) -> UserView {
    UserView {
        id: u.id.clone(),
        username: u.username.clone(),
        roles: u.roles.clone(),
        created_at: u.created_at,
        disabled: u.disabled,
        deleted_at: u.deleted_at,
        password_set: !u.password_hash.is_empty(),
        managed_by: u.managed_by.clone(),
    }
}

/// After any change of user `id` (roles, disabled, deleted, password): forget what is cached
/// about them and the credentials they own, here and on the other hubs of the database, so
/// the next request reads them again.
pub(crate) async fn user_changed<S: Store>(state: &AppState<S>, id: &str) {
    crate::notices::changed(state, &[crate::notices::Notice::User(id)]).await;
}

/// The user `id`, not deleted, or `unknown_user`.
pub(crate) async fn live<S: Store>(state: &AppState<S>, id: &str) -> Result<UserRecord, Error> {
    match state.store.user_by_id(id).await? {
        Some(u) if u.deleted_at.is_none() => Ok(u),
        _ => Err(unknown_user()),
    }
}

/// Applies a change of user `id` in one transaction, then forgets what is cached about them
/// so the next request sees it. A stop is answered: the last-admin guard as `last_admin`, a
/// taken name as `user_exists`, anything else (the user is gone) as `unknown_user`.
pub(crate) async fn apply<S: Store>(
    state: &AppState<S>,
    change: &Change<'_>,
    id: &str,
    name: &str,
) -> Result<(), Error> {
    let applied = state.store.apply(change).await?;
    user_changed(state, id).await;
    match applied {
        Applied::Done => Ok(()),
        Applied::Stopped { at, .. } if matches!(change.writes.get(at), Some(Write::RequireActiveAdmin)) => {
            Err(last_admin())
        }
        Applied::Stopped { outcome: Outcome::NameTaken, .. } => Err(user_exists(name)),
        Applied::Stopped { .. } => Err(unknown_user()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_are_long_and_not_the_username() {
        assert!(validate_new_password("bob", &Password::new("short-pass")).is_err());
        assert!(validate_new_password("bob", &Password::new("Bob-is-my-name-1")).is_err());
        assert!(validate_new_password("bob", &Password::new("x".repeat(1025))).is_err());
        validate_new_password("bob", &Password::new("correct horse battery")).unwrap();
        let (code, hash) = new_code();
        assert_eq!(code.len(), CODE_CHARS);
        let stored = SetPasswordCode { user_id: "u".into(), code_hash: hash, expires_at: 1, request_id: None };
        assert!(code_matches(&stored, &code));
        assert!(!code_matches(&stored, "wrong"));
    }
}
