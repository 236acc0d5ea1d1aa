//! Operations of the `/api` routes that manage people and decisions: users, groups, the
//! caller's sessions and password, the session settings, SCIM provisioning tokens, and review
//! requests with their settings.

// The functions only carry their `#[utoipa::path]`: the document reads them, nothing calls them.
#![allow(dead_code)]

use keyway_api::ErrorBody;
use keyway_api::auth::Page;
use keyway_api::reviews::{Decide, ReviewEvent, ReviewQuery, ReviewRequest, ReviewSettings, SubmitReview};
use keyway_api::scim::{CreateScimToken, CreatedScimToken, ScimTokenView};
use keyway_api::users::{
    ChangePassword, CreateUser, CreatedUser, Ended, Group, ResetPassword, SessionSettings, SessionView, SetRoles,
    UserView,
};
use utoipa::OpenApi;

use super::responses::{InputRefusals, JwtRefusals, NotFound};
use crate::api::{UserListParams, WaitParams};

#[derive(OpenApi)]
#[openapi(paths(
    users_list,
    users_create,
    users_one,
    users_delete,
    users_disable,
    users_enable,
    users_roles,
    users_password,
    users_logout,
    groups_list,
    groups_one,
    groups_add,
    groups_remove,
    my_sessions,
    my_sessions_end_all,
    my_session_end,
    my_password,
    session_settings_get,
    session_settings_put,
    scim_tokens_list,
    scim_tokens_create,
    scim_tokens_revoke,
    reviews_submit,
    reviews_list,
    reviews_events,
    reviews_show,
    reviews_decide,
    reviews_cancel,
    reviews_wait,
    review_settings_get,
    review_settings_put,
))]
pub(crate) struct Doc;

/// People, by name (`q`), newest first.
#[utoipa::path(get, path = "/api/users", tag = "admin", security(("jwt" = [])), params(UserListParams),
    responses((status = 200, description = "A page of people.", body = Page<UserView>), JwtRefusals, InputRefusals))]
fn users_list() {}

/// Creates a person with a one-time set-password code (a `user_admin` JWT).
#[utoipa::path(post, path = "/api/users", tag = "admin", security(("jwt" = [])), request_body = CreateUser,
    responses(
        (status = 201, description = "The person and their one-time code.", body = CreatedUser),
        (status = 409, description = "The name is taken.", body = ErrorBody),
        JwtRefusals, InputRefusals,
    ))]
fn users_create() {}

/// One person.
#[utoipa::path(get, path = "/api/users/{id}", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The person's id.")),
    responses((status = 200, description = "The person.", body = UserView), JwtRefusals, NotFound))]
fn users_one() {}

/// Deletes a person (a tombstone stays) and ends their sessions and credentials.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The person's id.")),
    responses(
        (status = 200, description = "The deleted person.", body = UserView),
        (status = 409, description = "The last admin, or a person an IdP manages.", body = ErrorBody),
        JwtRefusals, NotFound,
    ))]
fn users_delete() {}

/// Disables a person: their sessions and tokens stop working.
#[utoipa::path(post, path = "/api/users/{id}/disable", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The person's id.")),
    responses(
        (status = 200, description = "The person.", body = UserView),
        (status = 409, description = "The last admin, or oneself.", body = ErrorBody),
        JwtRefusals, NotFound,
    ))]
fn users_disable() {}

/// Enables a disabled person.
#[utoipa::path(post, path = "/api/users/{id}/enable", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The person's id.")),
    responses((status = 200, description = "The person.", body = UserView), JwtRefusals, NotFound))]
fn users_enable() {}

/// Sets a person's roles.
#[utoipa::path(put, path = "/api/users/{id}/roles", tag = "admin", security(("jwt" = [])), request_body = SetRoles,
    params(("id" = String, Path, description = "The person's id.")),
    responses(
        (status = 200, description = "The person.", body = UserView),
        (status = 409, description = "It would leave no admin.", body = ErrorBody),
        JwtRefusals, InputRefusals, NotFound,
    ))]
fn users_roles() {}

/// Resets a person's password: a new one-time set-password code, their sessions ended.
#[utoipa::path(post, path = "/api/users/{id}/password", tag = "admin", security(("jwt" = [])), request_body = ResetPassword,
    params(("id" = String, Path, description = "The person's id.")),
    responses((status = 201, description = "The person and their new one-time code.", body = CreatedUser), JwtRefusals, InputRefusals, NotFound))]
fn users_password() {}

/// Ends every browser session of a person.
#[utoipa::path(post, path = "/api/users/{id}/logout", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The person's id.")),
    responses((status = 200, description = "How many sessions ended.", body = Ended), JwtRefusals, NotFound))]
fn users_logout() {}

/// Every role as a group, with its members.
#[utoipa::path(get, path = "/api/groups", tag = "admin", security(("jwt" = [])),
    responses((status = 200, description = "The groups.", body = Vec<Group>), JwtRefusals))]
fn groups_list() {}

/// One role's group.
#[utoipa::path(get, path = "/api/groups/{role}", tag = "admin", security(("jwt" = [])),
    params(("role" = String, Path, description = "The role.")),
    responses((status = 200, description = "The group.", body = Group), JwtRefusals, NotFound))]
fn groups_one() {}

/// Adds a person to a role's group.
#[utoipa::path(put, path = "/api/groups/{role}/members/{user_id}", tag = "admin", security(("jwt" = [])),
    params(("role" = String, Path, description = "The role."), ("user_id" = String, Path, description = "The person's id.")),
    responses((status = 200, description = "The person.", body = UserView), JwtRefusals, NotFound))]
fn groups_add() {}

/// Removes a person from a role's group.
#[utoipa::path(delete, path = "/api/groups/{role}/members/{user_id}", tag = "admin", security(("jwt" = [])),
    params(("role" = String, Path, description = "The role."), ("user_id" = String, Path, description = "The person's id.")),
    responses(
        (status = 200, description = "The person.", body = UserView),
        (status = 409, description = "It would leave no admin.", body = ErrorBody),
        JwtRefusals, NotFound,
    ))]
fn groups_remove() {}

/// The caller's browser sessions.
#[utoipa::path(get, path = "/api/me/sessions", tag = "admin", security(("jwt" = [])),
    responses((status = 200, description = "The sessions.", body = Vec<SessionView>), JwtRefusals))]
fn my_sessions() {}

/// Ends every browser session of the caller.
#[utoipa::path(delete, path = "/api/me/sessions", tag = "admin", security(("jwt" = [])),
    responses((status = 200, description = "How many sessions ended.", body = Ended), JwtRefusals))]
fn my_sessions_end_all() {}

/// Ends one browser session of the caller.
#[utoipa::path(delete, path = "/api/me/sessions/{id}", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The session's id.")),
    responses((status = 200, description = "How many sessions ended.", body = Ended), JwtRefusals, NotFound))]
fn my_session_end() {}

/// Changes the caller's password; their other sessions end.
#[utoipa::path(put, path = "/api/me/password", tag = "admin", security(("jwt" = [])), request_body = ChangePassword,
    responses(
        (status = 200, description = "How many sessions ended.", body = Ended),
        (status = 409, description = "A person whose password an IdP manages.", body = ErrorBody),
        JwtRefusals, InputRefusals,
    ))]
fn my_password() {}

/// The browser session settings.
#[utoipa::path(get, path = "/api/settings/sessions", tag = "admin", security(("jwt" = [])),
    responses((status = 200, description = "The settings.", body = SessionSettings), JwtRefusals))]
fn session_settings_get() {}

/// Changes the browser session settings (admins, with a `user_admin` JWT).
#[utoipa::path(put, path = "/api/settings/sessions", tag = "admin", security(("jwt" = [])), request_body = SessionSettings,
    responses((status = 200, description = "The new settings.", body = SessionSettings), JwtRefusals, InputRefusals))]
fn session_settings_put() {}

/// The SCIM provisioning tokens (never their secrets).
#[utoipa::path(get, path = "/api/scim/tokens", tag = "admin", security(("jwt" = [])),
    responses((status = 200, description = "The tokens.", body = Vec<ScimTokenView>), JwtRefusals))]
fn scim_tokens_list() {}

/// A new SCIM provisioning token for an IdP.
#[utoipa::path(post, path = "/api/scim/tokens", tag = "admin", security(("jwt" = [])), request_body = CreateScimToken,
    responses((status = 201, description = "The token, its secret shown this once.", body = CreatedScimToken), JwtRefusals, InputRefusals))]
fn scim_tokens_create() {}

/// Revokes a SCIM provisioning token.
#[utoipa::path(delete, path = "/api/scim/tokens/{id}", tag = "admin", security(("jwt" = [])),
    params(("id" = String, Path, description = "The token's id.")),
    responses((status = 200, description = "The revoked token.", body = ScimTokenView), JwtRefusals, NotFound))]
fn scim_tokens_revoke() {}

/// Submits something for review.
#[utoipa::path(post, path = "/api/reviews", tag = "reviews", security(("jwt" = [])), request_body = SubmitReview,
    responses(
        (status = 201, description = "The review request.", body = ReviewRequest),
        (status = 413, description = "The request is too large.", body = ErrorBody),
        JwtRefusals, InputRefusals,
    ))]
fn reviews_submit() {}

/// Review requests the caller may see, newest first.
#[utoipa::path(get, path = "/api/reviews", tag = "reviews", security(("jwt" = [])), params(ReviewQuery),
    responses((status = 200, description = "A page of review requests.", body = Page<ReviewRequest>), JwtRefusals, InputRefusals))]
fn reviews_list() {}

/// Server-sent events of the review requests the caller may see (`Last-Event-ID` resumes);
/// each event's data is a `ReviewEvent`.
#[utoipa::path(get, path = "/api/reviews/events", tag = "reviews", security(("jwt" = [])),
    responses((status = 200, description = "An event stream.", body = ReviewEvent, content_type = "text/event-stream"), JwtRefusals))]
fn reviews_events() {}

/// One review request.
#[utoipa::path(get, path = "/api/reviews/{id}", tag = "reviews", security(("jwt" = [])),
    params(("id" = String, Path, description = "The request's id.")),
    responses((status = 200, description = "The review request.", body = ReviewRequest), JwtRefusals, NotFound))]
fn reviews_show() {}

/// Approves or rejects a review request (reviewers; never one's own).
#[utoipa::path(post, path = "/api/reviews/{id}/decision", tag = "reviews", security(("jwt" = [])), request_body = Decide,
    params(("id" = String, Path, description = "The request's id.")),
    responses(
        (status = 200, description = "The review request.", body = ReviewRequest),
        (status = 409, description = "Already decided, expired or cancelled.", body = ErrorBody),
        JwtRefusals, InputRefusals, NotFound,
    ))]
fn reviews_decide() {}

/// Cancels the caller's own pending review request.
#[utoipa::path(post, path = "/api/reviews/{id}/cancel", tag = "reviews", security(("jwt" = [])),
    params(("id" = String, Path, description = "The request's id.")),
    responses(
        (status = 200, description = "The review request.", body = ReviewRequest),
        (status = 409, description = "Already decided, expired or cancelled.", body = ErrorBody),
        JwtRefusals, NotFound,
    ))]
fn reviews_cancel() {}

/// Waits (long poll) until a review request is decided or `timeout` passes.
#[utoipa::path(get, path = "/api/reviews/{id}/wait", tag = "reviews", security(("jwt" = [])), params(("id" = String, Path, description = "The request's id."), WaitParams),
    responses((status = 200, description = "The review request, decided or not.", body = ReviewRequest), JwtRefusals, InputRefusals, NotFound))]
fn reviews_wait() {}

/// The review settings (lifetimes, approvals needed).
#[utoipa::path(get, path = "/api/settings/reviews", tag = "reviews", security(("jwt" = [])),
    responses((status = 200, description = "The settings.", body = ReviewSettings), JwtRefusals))]
fn review_settings_get() {}

/// Changes the review settings (admins, with a `user_admin` JWT).
#[utoipa::path(put, path = "/api/settings/reviews", tag = "reviews", security(("jwt" = [])), request_body = ReviewSettings,
    responses((status = 200, description = "The new settings.", body = ReviewSettings), JwtRefusals, InputRefusals))]
fn review_settings_put() {}
