//! Who signed in at the IdP, as a Keyway user: linked by (issuer, subject), never by email; a
//! user SCIM provisioned first is found by its `external_id` (the IdP's subject) and linked; a
//! new person is created (`managed_by = 'sso'`). An SSO user's roles are recomputed from the
//! groups at every sign-in, in the one change that also stores the sign-in and its audit rows,
//! and never so that the hub is left without an enabled admin.

use axum::response::Response;
use keyway_api::Role;
use serde_json::json;

use super::error::SsoError;
use super::provider::Idp;
use super::start::{CALLBACK_PATH, state_cookie_name};
use crate::accounts::user_changed;
use crate::audit::{self, Audit};
use crate::oauth::login::SignIn;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::changes::{Applied, Change, Outcome, Write};
use crate::store::{AuditEvent, ManagedBy, PendingAuthorization, Store, UserRecord};
use crate::users::validate_username;

/// The person the IdP vouched for.
#[derive(Debug)]
pub(crate) struct Person {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    /// The groups claim; `None` when the IdP sent none.
    pub(crate) groups: Option<Vec<String>>,
    /// User names to try for a new user, in order (`preferred_username`, `email`).
    pub(crate) names: Vec<String>,
}

fn names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// Records a refused sign-in through the IdP (its own row) and answers the refusal.
async fn refuse<S: Store>(
    state: &AppState<S>,
    pending: &PendingAuthorization,
    person: &Person,
    user: Option<&UserRecord>,
    reason: &str,
    message: String,
) -> Result<Response, SsoError> {
    let now = state.now();
    let detail = json!({
        "reason": reason, "method": "sso", "client": pending.client_id,
        "issuer": person.issuer, "groups": person.groups,
    });
    let row = match user {
        Some(u) => Audit::by_user(&u.id, &u.username, now, "session.sign_in_failed"),
        None => Audit::by_subject("idp", &person.subject, &person.subject, now, "session.sign_in_failed"),
    };
    audit::record(&state.store, row.detail(detail).target("client", &pending.client_id).outcome("refused")).await?;
    Err(SsoError::Denied(message))
}

/// The name of a new user: the first candidate that is a valid user name.
fn new_name(person: &Person) -> Option<String> {
    person.names.iter().map(|n| n.trim()).find(|n| validate_username(n).is_ok()).map(str::to_owned)
}

const NO_ROLE: &str = "You signed in at your organisation's identity provider, but none of your groups gives you \
                       a role at this Keyway hub, so it signs you in to nothing. Ask an administrator to add you \
                       to a group that does.";
const DISABLED: &str = "This account is disabled at this Keyway hub. Ask an administrator.";
const LAST_ADMIN: &str = "Your groups at the identity provider no longer make you an admin, and you are this hub's \
                          last enabled admin: the hub keeps your roles and does not sign you in. Make another user \
                          an admin first, or restore your group.";

/// Signs `person` in for `pending`: the user found or created, roles recomputed, Keyway's code
/// issued, all in one change with its audit rows.
pub(crate) async fn sign_in<S: Store>(
    state: &AppState<S>,
    idp: &Idp,
    pending: &PendingAuthorization,
    person: &Person,
) -> Result<Response, SsoError> {
    let s = &idp.settings;
    let now = state.now();
    let groups = person.groups.clone().unwrap_or_default();
    let mapped = s.roles_for(&groups);

    let linked = state.store.identity_user(&person.issuer, &person.subject).await?;
    let (found, link) = match linked {
        Some(id) => (state.store.user_by_id(&id).await?, false),
        None => match state.store.user_by_external_id(&person.subject).await? {
            Some(id) => (state.store.user_by_id(&id).await?, true),
            None => (None, true),
        },
    };

    let (user, created, managed) = match found {
        Some(u) => {
            if !u.is_active() {
                return refuse(state, pending, person, Some(&u), "disabled", DISABLED.into()).await;
            }
            let managed = state.store.user_managed_by(&u.id).await?;
            (u, false, managed)
        }
        None => {
            if mapped.is_empty() {
                return refuse(state, pending, person, None, "no_role", NO_ROLE.into()).await;
            }
            let Some(username) = new_name(person) else {
                let message = "The identity provider named you with neither a usable preferred_username nor an \
                               email address, so the hub cannot create your account. Ask an administrator.";
                return refuse(state, pending, person, None, "no_name", message.into()).await;
            };
            if state.store.user_by_name(&username).await?.is_some() {
                let message = format!(
                    "A different account is already named '{username}' at this Keyway hub, and the hub never links \
                     people by name. Ask an administrator."
                );
                return refuse(state, pending, person, None, "name_taken", message).await;
            }
            let user = UserRecord {
                id: random_id(),
                username,
                password_hash: String::new(),
                roles: mapped.clone(),
                created_at: now,
                disabled: false,
                deleted_at: None,
                managed_by: Some(ManagedBy::Sso.as_str().to_owned()),
            };
            (user, true, Some(ManagedBy::Sso))
        }
    };

    // The IdP decides an SSO user's roles; a SCIM user's follow SCIM, a local one's Keyway.
    let roles = if managed == Some(ManagedBy::Sso) { mapped.clone() } else { user.roles.clone() };
    let roles_change = !created && roles != user.roles;
    if roles.is_empty() {
        if roles_change {
            // Removed from every group: the roles go now (their tokens with them), refused all the same.
            let event = Audit::by_hub(now, "user.roles")
                .target("user", &user.id)
                .detail(json!({ "from": names(&user.roles), "to": [], "source": "sso" }))
                .event();
            let change = Change::new()
                .then(Write::SetUserRoles { id: &user.id, roles: &[] })
                .then(Write::RequireActiveAdmin)
                .audit(&event);
            state.store.apply(&change).await?;
            user_changed(state, &user.id).await;
        }
        return refuse(state, pending, person, Some(&user), "no_role", NO_ROLE.into()).await;
    }

    let sign_in = SignIn::new(state, pending, &user.id, now);
    let created_event: Option<AuditEvent> = created.then(|| {
        Audit::by_hub(now, "user.create")
            .target("user", &user.id)
            .detail(json!({ "username": user.username, "roles": names(&roles), "source": "sso" }))
            .event()
    });
    let roles_event: Option<AuditEvent> = roles_change.then(|| {
        Audit::by_hub(now, "user.roles")
            .target("user", &user.id)
            .detail(json!({ "from": names(&user.roles), "to": names(&roles), "source": "sso" }))
            .event()
    });
    let signed_in = Audit::by_user(&user.id, &user.username, now, "session.sign_in")
        .target("client", &pending.client_id)
        .detail(json!({ "method": "sso", "issuer": person.issuer, "groups": groups, "roles": names(&roles) }))
        .event();

    let mut writes: Vec<Write<'_>> = Vec::new();
    if created {
        writes.push(Write::InsertUser(&user));
        writes.push(Write::SetUserManaged {
            id: &user.id,
            managed_by: ManagedBy::Sso,
            external_id: Some(&person.subject),
        });
    }
    if link {
        writes.push(Write::LinkIdentity { issuer: &person.issuer, subject: &person.subject, user_id: &user.id, now });
    }
    if roles_change {
        writes.push(Write::SetUserRoles { id: &user.id, roles: &roles });
        writes.push(Write::RequireActiveAdmin);
    }
    writes.extend(sign_in.writes(now));
    writes.extend(created_event.iter().chain(roles_event.iter()).map(Write::Audit));
    writes.push(Write::Audit(&signed_in));
    let change = Change { writes };
    let applied = state.store.apply(&change).await?;
    if created || roles_change {
        user_changed(state, &user.id).await;
    }
    match applied {
        Applied::Done => {}
        Applied::Stopped { at, outcome } => {
            return match (change.writes.get(at), outcome) {
                (Some(Write::RequireActiveAdmin), _) => {
                    refuse(state, pending, person, Some(&user), "last_admin", LAST_ADMIN.into()).await
                }
                (Some(Write::TakePending { .. }), _) => Err(SsoError::Expired),
                (_, Outcome::NameTaken) => Err(SsoError::Denied(
                    "Another sign-in of this person created their account at the same moment. Please sign in again."
                        .into(),
                )),
                _ => Err(SsoError::Expired),
            };
        }
    }
    tracing::info!(user = %user.id, created, roles_changed = roles_change, "signed in through the identity provider");
    let mut response = sign_in.response(state);
    // The hand-off's state cookie has done its work.
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let clear =
        format!("{}=; Path={CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax{secure}", state_cookie_name(&pending.id));
    if let Ok(v) = axum::http::HeaderValue::from_str(&clear) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    Ok(response)
}
