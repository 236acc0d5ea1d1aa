//! Operations of Keyway's own routes for callers and their credentials: health and mode, the
//! exchange under `/auth`, and `/api` for the caller, the audit log, credentials, agents,
//! service accounts, registered clients, resources and the key and credential settings.

// The functions only carry their `#[utoipa::path]`: the document reads them, nothing calls them.
#![allow(dead_code)]

use keyway_api::ErrorBody;
use keyway_api::auth::{AuditEntry, Me, Page};
use keyway_api::clients::{CreateResource, RegisteredClient, RegisteredClients, ResourceView, Resources};
use keyway_api::credentials::{
    AgentView, CreateAgent, CreateServiceAccount, CreatedServiceAccount, CredentialSettings, CredentialView, Enroll,
    ExchangeRequest, ExchangeResponse, MintEnrollment, MintPat, MintedSecret, RotateServiceToken, ServiceAccountView,
    UpdateAgent,
};
use keyway_api::keys::KeySettings;
use utoipa::OpenApi;

use super::responses::{InputRefusals, JwtRefusals, NotFound};
use super::schemas::Mode;
use crate::api::{AgentListParams, AuditParams, CredentialListParams};

#[derive(OpenApi)]
#[openapi(paths(
    healthz,
    mode,
    exchange,
    enroll,
    service_account_token,
    me,
    audit,
    credentials_list,
    credentials_mint,
    credentials_enrollment,
    credentials_revoke,
    credentials_rotate,
    credential_settings_get,
    credential_settings_put,
    agents_list,
    agents_create,
    agents_update,
    service_accounts_list,
    service_accounts_create,
    service_accounts_rotate,
    service_accounts_revoke,
    clients_list,
    clients_revoke,
    resources_list,
    resources_create,
    resources_delete,
    key_settings_get,
    key_settings_put,
))]
pub(crate) struct Doc;

/// Liveness: the hub answers.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, description = "`ok`.", body = String, content_type = "text/plain")))]
fn healthz() {}

/// Whether the hub's authentication is on (`protected`) or off (`learning`).
#[utoipa::path(get, path = "/auth/mode", tag = "meta", security(()),
    responses((status = 200, description = "The mode.", body = Mode)))]
fn mode() {}

/// Exchanges a credential (a PAT) or a browser sign-in's access token for a short-lived JWT of
/// the class asked for.
#[utoipa::path(post, path = "/auth/exchange", tag = "auth", security(("pat" = []), ("jwt" = [])),
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "The JWT.", body = ExchangeResponse),
        (status = 400, description = "A body that does not parse, or no bearer token (`invalid_request`).", body = ErrorBody),
        (status = 401, description = "An unknown, revoked or expired credential (`invalid_credential`, `invalid_token`).", body = ErrorBody),
        (status = 403, description = "A class, audience, agent or scope the credential may not have \
            (`user_admin_not_allowed`, `audience_not_allowed`, `insufficient_scope` …).", body = ErrorBody),
        (status = 422, description = "A class that credential cannot be exchanged for (`class_not_allowed`).", body = ErrorBody),
        (status = 429, description = "Too many exchanges (`rate_limited`).", body = ErrorBody),
    ))]
fn exchange() {}

/// Uses up an enrollment token (`kwp_e_…`): creates or names the agent and returns its new PAT.
#[utoipa::path(post, path = "/auth/enroll", tag = "auth", security(("pat" = [])), request_body = Enroll,
    responses(
        (status = 201, description = "The agent's PAT, its secret shown this once.", body = MintedSecret),
        (status = 400, description = "A body that does not parse (`invalid_request`).", body = ErrorBody),
        (status = 401, description = "An unknown, used, revoked or expired enrollment token (`invalid_credential`).", body = ErrorBody),
        (status = 403, description = "A credential that is not an enrollment token.", body = ErrorBody),
        (status = 409, description = "The agent name is taken.", body = ErrorBody),
        (status = 422, description = "An invalid agent name.", body = ErrorBody),
    ))]
fn enroll() {}

/// Exchanges a service account's token for a JWT; the body is optional (default: the account's
/// `service_access` JWT).
#[utoipa::path(post, path = "/auth/service-account/token", tag = "auth", security(("service_account" = [])),
    request_body(content = Option<ExchangeRequest>, description = "Optional."),
    responses(
        (status = 200, description = "The JWT.", body = ExchangeResponse),
        (status = 400, description = "Malformed Basic credentials or body (`invalid_request`).", body = ErrorBody),
        (status = 401, description = "No Basic credentials, or a token not of that account (`invalid_credential`).", body = ErrorBody),
        (status = 403, description = "Scopes the account's group does not hold.", body = ErrorBody),
        (status = 422, description = "A class a service token cannot be exchanged for (`class_not_allowed`).", body = ErrorBody),
        (status = 429, description = "Too many exchanges (`rate_limited`).", body = ErrorBody),
    ))]
fn service_account_token() {}

/// The identity behind the bearer JWT.
#[utoipa::path(get, path = "/api/me", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "The caller.", body = Me), JwtRefusals))]
fn me() {}

/// The audit log, newest first (auditors and admins).
#[utoipa::path(get, path = "/api/audit", tag = "api", security(("jwt" = [])), params(AuditParams),
    responses((status = 200, description = "A page of entries.", body = Page<AuditEntry>), JwtRefusals, InputRefusals))]
fn audit() {}

/// The caller's credentials (`all`: everyone's, for auditors and admins).
#[utoipa::path(get, path = "/api/credentials", tag = "api", security(("jwt" = [])), params(CredentialListParams),
    responses((status = 200, description = "A page of credentials.", body = Page<CredentialView>), JwtRefusals, InputRefusals))]
fn credentials_list() {}

/// Mints a PAT for the caller or one of their agents (a `user_admin` JWT).
#[utoipa::path(post, path = "/api/credentials", tag = "api", security(("jwt" = [])), request_body = MintPat,
    responses((status = 201, description = "The PAT, its secret shown this once.", body = MintedSecret), JwtRefusals, InputRefusals))]
fn credentials_mint() {}

/// Mints a short-lived enrollment token an agent trades for its PAT at `/auth/enroll`.
#[utoipa::path(post, path = "/api/credentials/enrollment", tag = "api", security(("jwt" = [])), request_body = MintEnrollment,
    responses((status = 201, description = "The enrollment token, shown this once.", body = MintedSecret), JwtRefusals, InputRefusals))]
fn credentials_enrollment() {}

/// Revokes a credential (its owner's, or anyone's for an admin).
#[utoipa::path(post, path = "/api/credentials/{id}/revoke", tag = "api", security(("jwt" = [])),
    params(("id" = String, Path, description = "The credential's id.")),
    responses((status = 200, description = "The revoked credential.", body = CredentialView), JwtRefusals, NotFound))]
fn credentials_revoke() {}

/// Replaces a credential's secret (its owner only); the old one stops working.
#[utoipa::path(post, path = "/api/credentials/{id}/rotate", tag = "api", security(("jwt" = [])),
    params(("id" = String, Path, description = "The credential's id.")),
    responses(
        (status = 201, description = "The credential with its new secret, shown this once.", body = MintedSecret),
        (status = 409, description = "A revoked or expired credential.", body = ErrorBody),
        JwtRefusals, NotFound,
    ))]
fn credentials_rotate() {}

/// The credential settings (PAT lifetimes).
#[utoipa::path(get, path = "/api/settings/credentials", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "The settings.", body = CredentialSettings), JwtRefusals))]
fn credential_settings_get() {}

/// Changes the credential settings (admins, with a `user_admin` JWT).
#[utoipa::path(put, path = "/api/settings/credentials", tag = "api", security(("jwt" = [])), request_body = CredentialSettings,
    responses((status = 200, description = "The new settings.", body = CredentialSettings), JwtRefusals, InputRefusals))]
fn credential_settings_put() {}

/// The caller's agents (`all`: everyone's, for auditors and admins).
#[utoipa::path(get, path = "/api/agents", tag = "api", security(("jwt" = [])), params(AgentListParams),
    responses((status = 200, description = "A page of agents.", body = Page<AgentView>), JwtRefusals, InputRefusals))]
fn agents_list() {}

/// Creates an agent owned by the caller.
#[utoipa::path(post, path = "/api/agents", tag = "api", security(("jwt" = [])), request_body = CreateAgent,
    responses(
        (status = 201, description = "The agent.", body = AgentView),
        (status = 409, description = "The name is taken.", body = ErrorBody),
        JwtRefusals, InputRefusals,
    ))]
fn agents_create() {}

/// Renames, disables or enables one of the caller's agents.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "api", security(("jwt" = [])), request_body = UpdateAgent,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent.", body = AgentView),
        (status = 409, description = "The name is taken.", body = ErrorBody),
        JwtRefusals, InputRefusals, NotFound,
    ))]
fn agents_update() {}

/// The service accounts, with their tokens.
#[utoipa::path(get, path = "/api/service-accounts", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "A page of service accounts.", body = Page<ServiceAccountView>), JwtRefusals))]
fn service_accounts_list() {}

/// Creates a service account of one group and its first token (admins).
#[utoipa::path(post, path = "/api/service-accounts", tag = "api", security(("jwt" = [])), request_body = CreateServiceAccount,
    responses(
        (status = 201, description = "The account and its token, shown this once.", body = CreatedServiceAccount),
        (status = 409, description = "The name is taken.", body = ErrorBody),
        JwtRefusals, InputRefusals,
    ))]
fn service_accounts_create() {}

/// A new token for a service account; the old one works on for `grace_secs`.
#[utoipa::path(post, path = "/api/service-accounts/{id}/rotate", tag = "api", security(("jwt" = [])),
    request_body = RotateServiceToken,
    params(("id" = String, Path, description = "The account's id or name.")),
    responses((status = 201, description = "The new token, shown this once.", body = MintedSecret), JwtRefusals, InputRefusals, NotFound))]
fn service_accounts_rotate() {}

/// Revokes a service account and its tokens.
#[utoipa::path(post, path = "/api/service-accounts/{id}/revoke", tag = "api", security(("jwt" = [])),
    params(("id" = String, Path, description = "The account's id or name.")),
    responses((status = 200, description = "The revoked account.", body = ServiceAccountView), JwtRefusals, NotFound))]
fn service_accounts_revoke() {}

/// The dynamically registered clients (RFC 7591).
#[utoipa::path(get, path = "/api/clients", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "The clients.", body = RegisteredClients), JwtRefusals))]
fn clients_list() {}

/// Revokes a registered client and the tokens issued to it.
#[utoipa::path(post, path = "/api/clients/{id}/revoke", tag = "api", security(("jwt" = [])),
    params(("id" = String, Path, description = "The client's id.")),
    responses((status = 200, description = "The revoked client.", body = RegisteredClient), JwtRefusals, NotFound))]
fn clients_revoke() {}

/// The resources (RFC 8707, MCP servers) the hub issues tokens for: those admins registered and
/// those of the hub's settings (`configured`).
#[utoipa::path(get, path = "/api/resources", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "The resources.", body = Resources), JwtRefusals))]
fn resources_list() {}

/// Registers a resource (admins, with a `user_admin` JWT): its canonical URI (an absolute URI
/// without a fragment), name and scopes. `422 validation_failed` for bad input, `409 conflict`
/// for a URI registered or configured already.
#[utoipa::path(post, path = "/api/resources", tag = "api", security(("jwt" = [])), request_body = CreateResource,
    responses((status = 201, description = "The registered resource.", body = ResourceView),
        (status = 409, description = "A resource with that URI exists (`conflict`).", body = ErrorBody),
        JwtRefusals, InputRefusals))]
fn resources_create() {}

/// Deletes a registered resource (admins, with a `user_admin` JWT): no more tokens are issued
/// for it.
#[utoipa::path(delete, path = "/api/resources/{id}", tag = "api", security(("jwt" = [])),
    params(("id" = String, Path, description = "The resource's id.")),
    responses((status = 200, description = "The deleted resource.", body = ResourceView), JwtRefusals, NotFound))]
fn resources_delete() {}

/// The signing key settings (rotation).
#[utoipa::path(get, path = "/api/settings/keys", tag = "api", security(("jwt" = [])),
    responses((status = 200, description = "The settings.", body = KeySettings), JwtRefusals))]
fn key_settings_get() {}

/// Changes the signing key settings (admins, with a `user_admin` JWT).
#[utoipa::path(put, path = "/api/settings/keys", tag = "api", security(("jwt" = [])), request_body = KeySettings,
    responses((status = 200, description = "The new settings.", body = KeySettings), JwtRefusals, InputRefusals))]
fn key_settings_put() {}
