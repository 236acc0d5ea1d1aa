//! Operations of SCIM 2.0 provisioning under `/scim/v2` (`crate::scim`): every one takes a
//! SCIM token and answers `application/scim+json`, errors as RFC 7644 §3.12 says.

// The functions only carry their `#[utoipa::path]`: the document reads them, nothing calls them.
#![allow(dead_code)]

use utoipa::OpenApi;

use super::responses::{ScimBadRequest, ScimNotFound, ScimRefusals};
use super::schemas::{ScimDiscovery, ScimError, ScimGroup, ScimListResponse, ScimPatchOp, ScimSearchRequest, ScimUser};
use crate::scim::ListParams;

#[derive(OpenApi)]
#[openapi(paths(
    users_list,
    users_create,
    users_search,
    search,
    users_one,
    users_replace,
    users_patch,
    users_delete,
    groups_list,
    groups_create,
    groups_one,
    groups_replace,
    groups_patch,
    groups_delete,
    service_provider_config,
    resource_types,
    resource_type,
    schemas,
    schema,
    unknown,
))]
pub(crate) struct Doc;

/// Users, filtered (`userName eq "…"`, `externalId eq "…"` …) and paged (RFC 7644 §3.4.2).
#[utoipa::path(get, path = "/scim/v2/Users", tag = "scim", security(("scim" = [])), params(ListParams),
    responses((status = 200, description = "A list of Users.", body = ScimListResponse, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest))]
fn users_list() {}

/// Creates a user the IdP manages (RFC 7644 §3.3).
#[utoipa::path(post, path = "/scim/v2/Users", tag = "scim", security(("scim" = [])),
    request_body(content = ScimUser, content_type = "application/scim+json"),
    responses(
        (status = 201, description = "The User.", body = ScimUser, content_type = "application/scim+json"),
        (status = 409, description = "The userName is taken (`uniqueness`).", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest,
    ))]
fn users_create() {}

/// Searches Users by POST (RFC 7644 §3.4.3).
#[utoipa::path(post, path = "/scim/v2/Users/.search", tag = "scim", security(("scim" = [])),
    request_body(content = ScimSearchRequest, content_type = "application/scim+json"),
    responses((status = 200, description = "A list of Users.", body = ScimListResponse, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest))]
fn users_search() {}

/// Searches from the root (RFC 7644 §3.4.3): Users only.
#[utoipa::path(post, path = "/scim/v2/.search", tag = "scim", security(("scim" = [])),
    request_body(content = ScimSearchRequest, content_type = "application/scim+json"),
    responses((status = 200, description = "A list of Users.", body = ScimListResponse, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest))]
fn search() {}

/// One User (`attributes`, `excludedAttributes` narrow it).
#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The User's id."), ListParams),
    responses((status = 200, description = "The User.", body = ScimUser, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound))]
fn users_one() {}

/// Replaces a User (RFC 7644 §3.5.1).
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The User's id.")),
    request_body(content = ScimUser, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The User.", body = ScimUser, content_type = "application/scim+json"),
        (status = 409, description = "The userName is taken (`uniqueness`), or the last admin.", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound,
    ))]
fn users_replace() {}

/// Changes a User (RFC 7644 §3.5.2): `active`, `userName`, `displayName`, `emails` …
#[utoipa::path(patch, path = "/scim/v2/Users/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The User's id.")),
    request_body(content = ScimPatchOp, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The User.", body = ScimUser, content_type = "application/scim+json"),
        (status = 409, description = "The userName is taken (`uniqueness`), or the last admin.", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound,
    ))]
fn users_patch() {}

/// Deletes a User the IdP manages.
#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The User's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "The last admin.", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimNotFound,
    ))]
fn users_delete() {}

/// The groups: one per Keyway role.
#[utoipa::path(get, path = "/scim/v2/Groups", tag = "scim", security(("scim" = [])), params(ListParams),
    responses((status = 200, description = "A list of Groups.", body = ScimListResponse, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest))]
fn groups_list() {}

/// Refused: the groups are Keyway's four roles (`uniqueness` for a role's name).
#[utoipa::path(post, path = "/scim/v2/Groups", tag = "scim", security(("scim" = [])),
    request_body(content = ScimGroup, content_type = "application/scim+json"),
    responses(
        (status = 409, description = "The group exists (`uniqueness`).", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest,
    ))]
fn groups_create() {}

/// One role's group.
#[utoipa::path(get, path = "/scim/v2/Groups/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The role."), ListParams),
    responses((status = 200, description = "The Group.", body = ScimGroup, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound))]
fn groups_one() {}

/// Sets a role's members (RFC 7644 §3.5.1).
#[utoipa::path(put, path = "/scim/v2/Groups/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The role.")),
    request_body(content = ScimGroup, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The Group.", body = ScimGroup, content_type = "application/scim+json"),
        (status = 409, description = "It would leave no admin.", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound,
    ))]
fn groups_replace() {}

/// Adds or removes a role's members (RFC 7644 §3.5.2).
#[utoipa::path(patch, path = "/scim/v2/Groups/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The role.")),
    request_body(content = ScimPatchOp, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The Group.", body = ScimGroup, content_type = "application/scim+json"),
        (status = 409, description = "It would leave no admin.", body = ScimError, content_type = "application/scim+json"),
        ScimRefusals, ScimBadRequest, ScimNotFound,
    ))]
fn groups_patch() {}

/// Refused: a role cannot be deleted (`mutability`).
#[utoipa::path(delete, path = "/scim/v2/Groups/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The role.")),
    responses(ScimRefusals, ScimBadRequest, ScimNotFound))]
fn groups_delete() {}

/// What this service provider supports (RFC 7644 §5).
#[utoipa::path(get, path = "/scim/v2/ServiceProviderConfig", tag = "scim", security(("scim" = [])),
    responses((status = 200, description = "The configuration.", body = ScimDiscovery, content_type = "application/scim+json"), ScimRefusals))]
fn service_provider_config() {}

/// The resource types: User and Group (RFC 7644 §6).
#[utoipa::path(get, path = "/scim/v2/ResourceTypes", tag = "scim", security(("scim" = [])),
    responses((status = 200, description = "A list of ResourceTypes.", body = ScimListResponse, content_type = "application/scim+json"), ScimRefusals))]
fn resource_types() {}

/// One resource type.
#[utoipa::path(get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "`User` or `Group`.")),
    responses((status = 200, description = "The ResourceType.", body = ScimDiscovery, content_type = "application/scim+json"),
        ScimRefusals, ScimNotFound))]
fn resource_type() {}

/// The schemas of User and Group (RFC 7644 §7).
#[utoipa::path(get, path = "/scim/v2/Schemas", tag = "scim", security(("scim" = [])),
    responses((status = 200, description = "A list of Schemas.", body = ScimListResponse, content_type = "application/scim+json"), ScimRefusals))]
fn schemas() {}

/// One schema, by its URN.
#[utoipa::path(get, path = "/scim/v2/Schemas/{id}", tag = "scim", security(("scim" = [])),
    params(("id" = String, Path, description = "The schema's URN.")),
    responses((status = 200, description = "The Schema.", body = ScimDiscovery, content_type = "application/scim+json"),
        ScimRefusals, ScimNotFound))]
fn schema() {}

/// Any other path under `/scim/v2` (the router's `{*rest}`): a SCIM `404`, with any method.
#[utoipa::path(method(get, post, put, patch, delete, options, trace), path = "/scim/v2/{rest}", tag = "scim", security(()),
    params(("rest" = String, Path, description = "The rest of the path (may hold `/`).")),
    responses(ScimNotFound))]
fn unknown() {}
