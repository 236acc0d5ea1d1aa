//! The route × role matrix, in one table: which caller may call which route.
//!
//! Every resource route names its [`Rule`] and calls [`Principal::require`] before it reads its
//! body, so a caller who may not call a route learns nothing more than that. A rule says which
//! roles admit a person (roles add up: holding any one of them is enough), whether agents and
//! service accounts are admitted, whether the route is a change (a `user_admin` JWT), and the
//! scopes the JWT must carry. Which rows a route may then show (one's own, or everyone's) is
//! said by [`reads_all`], [`manages_all`] and [`reads_whole_queue`].
//!
//! - **Agents** act with no roles at all, whatever their owner holds: they are admitted only where
//!   the rule says so (the review queue and their own identity), and see only their own requests.
//! - **Service accounts** act with their group's role ([`service_account_roles`]; never `admin`),
//!   within what a `service_access` JWT carries: no `user_admin`, so never a change, and no
//!   `reviews.decide`, so decisions stay with people.
//! - **`user_admin`** is issued only to a person whose roles allow some change
//!   ([`may_change`]): a reviewer or an auditor alone gets none.

use keyway_api::Role;
use keyway_api::auth::{PrincipalKind, TokenClass, scopes};
use keyway_api::codes;

use crate::error::Error;
use crate::principal::Principal;

/// What a route needs of its caller. The routes of each rule are named on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `GET /api/me`, `POST /oauth/introspect`, `GET /api/settings/reviews`: any verified caller.
    Anyone,
    /// `GET /api/audit`: auditors and admins.
    AuditRead,
    /// `GET /api/credentials`: one's own (developers), everyone's (auditors, admins).
    CredentialsRead,
    /// `GET /api/credentials?all=true`.
    CredentialsReadAll,
    /// `POST /api/credentials`, `POST /api/credentials/enrollment`: developers mint their own.
    CredentialsMint,
    /// `POST /api/credentials/{id}/revoke`: one's own (developers), anyone's (admins).
    CredentialsRevoke,
    /// `POST /api/credentials/{id}/rotate`: one's own (developers), anyone's (admins).
    CredentialsRotate,
    /// `GET /api/agents`: one's own (developers), everyone's (auditors, admins).
    AgentsRead,
    /// `GET /api/agents?all=true`.
    AgentsReadAll,
    /// `POST /api/agents`, and minting with `create_agent`.
    AgentsCreate,
    /// `PATCH /api/agents/{id}`: one's own (developers), anyone's (admins).
    AgentsUpdate,
    /// `GET /api/service-accounts`: auditors and admins.
    ServiceAccountsRead,
    /// `POST /api/service-accounts`, `…/{id}/rotate`, `…/{id}/revoke`, rotating a service
    /// token: admins.
    ServiceAccountsManage,
    /// `GET /api/settings/credentials`, `GET /api/settings/keys`, `GET /api/clients`,
    /// `GET /api/resources`: auditors and admins.
    SettingsRead,
    /// `PUT /api/settings/credentials`, `PUT /api/settings/reviews`, `PUT /api/settings/keys`,
    /// `POST /api/clients/{id}/revoke`, `POST /api/resources`, `DELETE /api/resources/{id}`:
    /// admins.
    SettingsWrite,
    /// `POST /api/reviews`, `POST /api/reviews/{id}/cancel`: developers, agents, service accounts.
    ReviewsSubmit,
    /// `GET /api/reviews`, `…/{id}`, `…/{id}/wait`, `…/events`: everyone with a role, agents
    /// and service accounts (what they see: [`reads_whole_queue`]).
    ReviewsRead,
    /// `POST /api/reviews/{id}/decision`: reviewers (people).
    ReviewsDecide,
    /// `GET /api/users`, `…/{id}`, `GET /api/groups`, `…/{role}`, `GET /api/settings/sessions`,
    /// `GET /api/scim/tokens`: auditors and admins.
    UsersRead,
    /// `POST /api/users`, `DELETE /api/users/{id}`, `…/disable`, `…/enable`, `…/roles`,
    /// `…/password`, `…/logout`, `PUT`/`DELETE /api/groups/{role}/members/{user_id}`,
    /// `PUT /api/settings/sessions`, `POST /api/scim/tokens`, `DELETE /api/scim/tokens/{id}`:
    /// admins.
    UsersManage,
    /// `GET`/`DELETE /api/me/sessions`, `DELETE /api/me/sessions/{id}`, `PUT /api/me/password`:
    /// every person, for their own account.
    Account,
    /// `POST /oauth/device/lookup`, `…/approve`, `…/deny`: every person, for a device that
    /// signs in as them (with the JWT of a sign-in, not of a credential).
    Devices,
}

/// The scopes a rule needs of the JWT.
#[derive(Clone, Copy, Debug)]
enum Scopes {
    None,
    /// Every one of these.
    All(&'static [&'static str]),
    /// One of these.
    OneOf(&'static [&'static str]),
    /// This one, or a `user_admin` JWT (which reads what its person reads).
    OrUserAdmin(&'static str),
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
struct Need {
    /// A person or service account must hold one of these; empty: any caller of an admitted kind.
    roles: &'static [Role],
    agents: bool,
    service_accounts: bool,
    /// A change: only with a `user_admin` JWT (so only people).
    change: bool,
    scopes: Scopes,
}

const DEVELOPER: &[Role] = &[Role::Developer];
const REVIEWER: &[Role] = &[Role::Reviewer];
const ADMIN: &[Role] = &[Role::Admin];
const AUDIT: &[Role] = &[Role::Auditor, Role::Admin];
const OWN_OR_ALL: &[Role] = &[Role::Developer, Role::Auditor, Role::Admin];
const OWN_OR_ANY: &[Role] = &[Role::Developer, Role::Admin];

const fn read(roles: &'static [Role], scopes: Scopes) -> Need {
    Need { roles, agents: false, service_accounts: false, change: false, scopes }
}

const fn change(roles: &'static [Role], needed: &'static [&'static str]) -> Need {
    Need { roles, agents: false, service_accounts: false, change: true, scopes: Scopes::All(needed) }
}

const fn queue(roles: &'static [Role], scopes: Scopes) -> Need {
    Need { roles, agents: true, service_accounts: true, change: false, scopes }
}

impl Rule {
    pub(crate) const ALL: [Rule; 22] = [
        Rule::Anyone,
        Rule::AuditRead,
        Rule::CredentialsRead,
        Rule::CredentialsReadAll,
        Rule::CredentialsMint,
        Rule::CredentialsRevoke,
        Rule::CredentialsRotate,
        Rule::AgentsRead,
        Rule::AgentsReadAll,
        Rule::AgentsCreate,
        Rule::AgentsUpdate,
        Rule::ServiceAccountsRead,
        Rule::ServiceAccountsManage,
        Rule::SettingsRead,
        Rule::SettingsWrite,
        Rule::ReviewsSubmit,
        Rule::ReviewsRead,
        Rule::ReviewsDecide,
        Rule::UsersRead,
        Rule::UsersManage,
        Rule::Account,
        Rule::Devices,
    ];

    /// The matrix.
    const fn need(self) -> Need {
        use Scopes::{All, None, OneOf, OrUserAdmin};
        match self {
            Rule::Anyone => queue(&[], None),
            Rule::AuditRead => Need { service_accounts: true, ..read(AUDIT, None) },
            Rule::CredentialsRead => read(OWN_OR_ALL, OrUserAdmin(scopes::CREDENTIALS_READ)),
            Rule::CredentialsReadAll => read(AUDIT, OrUserAdmin(scopes::CREDENTIALS_READ)),
            Rule::CredentialsMint => change(DEVELOPER, &[scopes::CREDENTIALS_ISSUE_AGENT]),
            Rule::CredentialsRevoke => change(OWN_OR_ANY, &[scopes::CREDENTIALS_REVOKE]),
            Rule::CredentialsRotate => {
                change(OWN_OR_ANY, &[scopes::CREDENTIALS_ISSUE_AGENT, scopes::CREDENTIALS_REVOKE])
            }
            Rule::AgentsRead => read(OWN_OR_ALL, OrUserAdmin(scopes::CREDENTIALS_READ)),
            Rule::AgentsReadAll => read(AUDIT, OrUserAdmin(scopes::CREDENTIALS_READ)),
            Rule::AgentsCreate => change(DEVELOPER, &[scopes::AGENTS_CREATE]),
            Rule::AgentsUpdate => change(OWN_OR_ANY, &[scopes::AGENTS_BIND]),
            Rule::ServiceAccountsRead => read(AUDIT, None),
            Rule::ServiceAccountsManage => change(ADMIN, &[scopes::SERVICE_ACCOUNTS_MANAGE]),
            Rule::SettingsRead => read(AUDIT, None),
            Rule::SettingsWrite => change(ADMIN, &[]),
            Rule::ReviewsSubmit => queue(DEVELOPER, All(&[scopes::REVIEWS_SUBMIT])),
            Rule::ReviewsRead => queue(&Role::ALL, OneOf(&[scopes::REVIEWS_READ, scopes::REVIEWS_SUBMIT])),
            Rule::ReviewsDecide => read(REVIEWER, All(&[scopes::REVIEWS_DECIDE])),
            Rule::UsersRead => read(AUDIT, None),
            Rule::UsersManage => change(ADMIN, &[]),
            Rule::Account | Rule::Devices => read(&[], None),
        }
    }
}

fn role_list(roles: &[Role]) -> String {
    let names: Vec<String> = roles.iter().map(|r| format!("'{r}'")).collect();
    names.join(" or ")
}

impl Principal {
    /// Checks `rule` for this caller, in this order: a change needs a `user_admin` JWT
    /// (`admin_required`); the caller's kind must be admitted (`principal_not_allowed`); a person
    /// or service account must hold one of the rule's roles (`role_required`); the JWT must carry
    /// the scopes (`insufficient_scope`). All refusals are `403`.
    pub(crate) fn require(&self, rule: Rule) -> Result<(), Error> {
        let need = rule.need();
        if need.change {
            self.require_admin(&[])?;
        }
        let admitted = match self.kind {
            PrincipalKind::User => true,
            PrincipalKind::Agent => need.agents,
            PrincipalKind::ServiceAccount => need.service_accounts,
        };
        if !admitted {
            return Err(Error::forbidden(
                codes::PRINCIPAL_NOT_ALLOWED,
                format!("This route is for people, not for a caller of kind {}", self.kind.as_str()),
            ));
        }
        match need.roles {
            _ if self.kind == PrincipalKind::Agent => {}
            [] => {}
            [one] => self.require_role(*one)?,
            many if many.iter().any(|r| self.holds(*r)) => {}
            many => {
                return Err(Error::forbidden(codes::ROLE_REQUIRED, format!("This needs the {} role", role_list(many))));
            }
        }
        match need.scopes {
            Scopes::None => Ok(()),
            Scopes::All(needed) => self.require_scopes(needed),
            Scopes::OneOf(any) if any.iter().any(|s| self.has_scope(s)) => Ok(()),
            Scopes::OneOf(any) => self.require_scopes(&any[..1]),
            Scopes::OrUserAdmin(_) if self.class == TokenClass::UserAdmin => Ok(()),
            Scopes::OrUserAdmin(scope) => self.require_scopes(&[scope]),
        }
    }

    /// True if the caller acts with `role`: people and service accounts with the roles their JWT
    /// carries; agents with none.
    pub(crate) fn holds(&self, role: Role) -> bool {
        self.kind != PrincipalKind::Agent && self.has_role(role)
    }
}

/// True if the caller sees every credential, agent and service account (not only its own):
/// auditors and admins, people only.
pub(crate) fn reads_all(p: &Principal) -> bool {
    p.kind == PrincipalKind::User && (p.holds(Role::Auditor) || p.holds(Role::Admin))
}

/// True if the caller may change other people's credentials and agents: admins.
pub(crate) fn manages_all(p: &Principal) -> bool {
    p.kind == PrincipalKind::User && p.holds(Role::Admin)
}

/// True if the caller sees the whole review queue, not only its own requests: reviewers,
/// auditors and admins, and service accounts of those groups; never an agent.
pub(crate) fn reads_whole_queue(p: &Principal) -> bool {
    p.holds(Role::Reviewer) || p.holds(Role::Auditor) || p.holds(Role::Admin)
}

/// True if a person holding `roles` may make some change, and so may get a `user_admin` JWT:
/// some change rule of the matrix admits one of the roles.
pub(crate) fn may_change(roles: &[Role]) -> bool {
    Rule::ALL.iter().map(|r| r.need()).any(|n| n.change && n.roles.iter().any(|r| roles.contains(r)))
}

/// `403 user_admin_not_allowed`: the refusal of a `user_admin` JWT to a person whose roles
/// allow no change.
pub(crate) fn user_admin_refused(roles: &[Role]) -> Error {
    let held = if roles.is_empty() { "none".to_owned() } else { role_list(roles).replace(" or ", ", ") };
    Error::forbidden(
        codes::USER_ADMIN_NOT_ALLOWED,
        format!(
            "Your roles ({held}) allow no changes, so no user_admin token is issued: changes need the 'developer' or 'admin' role"
        ),
    )
}

/// The roles a service account acts with: its group's, never `admin`.
pub(crate) fn service_account_roles(group: Option<Role>) -> Vec<Role> {
    group.into_iter().filter(|g| *g != Role::Admin).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_developers_and_admins_may_change() {
        assert!(may_change(&[Role::Developer]));
        assert!(may_change(&[Role::Admin]));
        assert!(may_change(&[Role::Reviewer, Role::Developer]));
        assert!(!may_change(&[Role::Reviewer]));
        assert!(!may_change(&[Role::Auditor]));
        assert!(!may_change(&[Role::Reviewer, Role::Auditor]));
        assert!(!may_change(&[]));
    }

    #[test]
    fn a_service_account_never_acts_as_admin() {
        assert_eq!(service_account_roles(Some(Role::Developer)), vec![Role::Developer]);
        assert!(service_account_roles(Some(Role::Admin)).is_empty());
        assert!(service_account_roles(None).is_empty());
    }
}
