//! Users, groups and sessions from the client side: the hub's `/api/users`, `/api/groups`,
//! `/api/me/sessions`, `/api/me/password`, `/api/settings/sessions` and `/api/scim/tokens`. Reads use an ordinary
//! JWT; admin changes a `user_admin` one. Passwords travel only in request bodies.

use keyway_api::Role;
use keyway_api::auth::{Page, TokenClass};
use keyway_api::scim::{CreateScimToken, CreatedScimToken, ScimTokenView};
use keyway_api::users::{
    ChangePassword, CreateUser, CreatedUser, Ended, Group, ResetPassword, SessionSettings, SessionView, SetRoles,
    UserView,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::{Auth, Request, path_segment};
use crate::secret::SecretString;
use crate::{Client, Error};

/// What a malformed user or session id is called in the refusal.
const ID: &str = "valid id";

/// `/api/users` with the list's query.
fn users_path(search: Option<&str>, deleted: bool, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = search.filter(|q| !q.is_empty()) {
        query.append_pair("q", q);
    }
    if deleted {
        query.append_pair("deleted", "true");
    }
    if let Some(c) = cursor {
        query.append_pair("cursor", c);
    }
    let query = query.finish();
    if query.is_empty() { "/api/users".to_owned() } else { format!("/api/users?{query}") }
}

impl Client {
    /// A person's own change (their sessions, their password): an ordinary JWT.
    async fn own<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: &B) -> Result<T, Error> {
        self.call(Request::new(method, path, Auth::Jwt(TokenClass::UserAccess)).json(body)?).await
    }

    /// Every user whose name contains `search` (all when `None`), by name, following the
    /// hub's pages; `deleted` adds deleted users' tombstones. Admins and auditors.
    pub async fn list_users(&self, search: Option<&str>, deleted: bool) -> Result<Vec<UserView>, Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: Page<UserView> = self.get(&users_path(search, deleted, cursor.as_deref())).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }

    pub async fn user(&self, id: &str) -> Result<UserView, Error> {
        self.get(&format!("/api/users/{}", path_segment(id, ID)?)).await
    }

    /// The user named `name` (any case), deleted ones included.
    pub async fn user_by_name(&self, name: &str) -> Result<UserView, Error> {
        self.list_users(Some(name), true)
            .await?
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::InvalidInput(format!("There is no user named '{name}'.")))
    }

    /// Creates a user with `password`, or with none for a one-time set-password code (in the
    /// answer, shown once).
    pub async fn create_user(
        &self,
        username: &str,
        roles: Option<Vec<Role>>,
        password: Option<&SecretString>,
    ) -> Result<CreatedUser, Error> {
        let body =
            CreateUser { username: username.to_owned(), roles, password: password.map(|p| p.secret().to_owned()) };
        self.admin(Method::POST, "/api/users", &body).await
    }

    pub async fn disable_user(&self, id: &str) -> Result<UserView, Error> {
        self.admin(Method::POST, &format!("/api/users/{}/disable", path_segment(id, ID)?), &()).await
    }

    pub async fn enable_user(&self, id: &str) -> Result<UserView, Error> {
        self.admin(Method::POST, &format!("/api/users/{}/enable", path_segment(id, ID)?), &()).await
    }

    pub async fn delete_user(&self, id: &str) -> Result<UserView, Error> {
        self.admin(Method::DELETE, &format!("/api/users/{}", path_segment(id, ID)?), &()).await
    }

    pub async fn set_user_roles(&self, id: &str, roles: Vec<Role>) -> Result<UserView, Error> {
        self.admin(Method::PUT, &format!("/api/users/{}/roles", path_segment(id, ID)?), &SetRoles { roles }).await
    }

    /// Resets a password to `password`, or to a one-time code (in the answer, shown once).
    pub async fn reset_password(&self, id: &str, password: Option<&SecretString>) -> Result<CreatedUser, Error> {
        let body = ResetPassword { password: password.map(|p| p.secret().to_owned()) };
        self.admin(Method::POST, &format!("/api/users/{}/password", path_segment(id, ID)?), &body).await
    }

    /// Ends every sign-in of the user (forced logout).
    pub async fn force_logout(&self, id: &str) -> Result<Ended, Error> {
        self.admin(Method::POST, &format!("/api/users/{}/logout", path_segment(id, ID)?), &()).await
    }

    /// Every role and its members.
    pub async fn groups(&self) -> Result<Vec<Group>, Error> {
        self.get("/api/groups").await
    }

    pub async fn add_to_group(&self, role: Role, user_id: &str) -> Result<UserView, Error> {
        let path = format!("/api/groups/{}/members/{}", role.as_str(), path_segment(user_id, ID)?);
        self.admin(Method::PUT, &path, &()).await
    }

    pub async fn remove_from_group(&self, role: Role, user_id: &str) -> Result<UserView, Error> {
        let path = format!("/api/groups/{}/members/{}", role.as_str(), path_segment(user_id, ID)?);
        self.admin(Method::DELETE, &path, &()).await
    }

    /// My own sign-ins, newest first.
    pub async fn my_sessions(&self) -> Result<Vec<SessionView>, Error> {
        self.get("/api/me/sessions").await
    }

    /// Ends one of my sign-ins.
    pub async fn end_session(&self, id: &str) -> Result<Ended, Error> {
        self.own(Method::DELETE, &format!("/api/me/sessions/{}", path_segment(id, ID)?), &()).await
    }

    /// Ends all my sign-ins, this one too.
    pub async fn end_all_sessions(&self) -> Result<Ended, Error> {
        self.own(Method::DELETE, "/api/me/sessions", &()).await
    }

    pub async fn change_password(&self, current: &SecretString, new: &SecretString) -> Result<(), Error> {
        let body = ChangePassword { current: current.secret().to_owned(), new: new.secret().to_owned() };
        let _: Ended = self.own(Method::PUT, "/api/me/password", &body).await?;
        Ok(())
    }

    pub async fn session_settings(&self) -> Result<SessionSettings, Error> {
        self.get("/api/settings/sessions").await
    }

    pub async fn set_session_settings(&self, s: &SessionSettings) -> Result<SessionSettings, Error> {
        self.admin(Method::PUT, "/api/settings/sessions", s).await
    }

    /// The SCIM provisioning tokens, newest first (admins and auditors).
    pub async fn scim_tokens(&self) -> Result<Vec<ScimTokenView>, Error> {
        self.get("/api/scim/tokens").await
    }

    /// A new SCIM token for the IdP named `label`: its secret is in the answer, this once.
    pub async fn create_scim_token(&self, label: Option<&str>) -> Result<CreatedScimToken, Error> {
        self.admin(Method::POST, "/api/scim/tokens", &CreateScimToken { label: label.map(str::to_owned) }).await
    }

    /// Revokes a SCIM token at once.
    pub async fn revoke_scim_token(&self, id: &str) -> Result<ScimTokenView, Error> {
        self.admin(Method::DELETE, &format!("/api/scim/tokens/{}", path_segment(id, ID)?), &()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_path_escapes_the_search() {
        assert_eq!(users_path(None, false, None), "/api/users");
        assert_eq!(users_path(Some("a&b"), true, Some("bob")), "/api/users?q=a%26b&deleted=true&cursor=bob");
    }
}
