//! What the service offers (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, describing only the attributes Keyway keeps.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::ScimCaller;
use super::error::{ScimError, scim_json};
use super::resources::{GROUP_SCHEMA, USER_SCHEMA, base};
use super::users::{MAX_COUNT, list_response};
use crate::state::AppState;
use crate::store::Store;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// One attribute definition: `(name, type, multiValued, required, mutability, uniqueness)`.
fn attr(name: &str, kind: &str, multi: bool, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required,
        "caseExact": matches!(name, "id" | "externalId" | "value" | "$ref"),
        "mutability": mutability, "returned": "default", "uniqueness": uniqueness,
        "description": format!("{name}"),
    })
}

fn with_subs(mut a: Value, subs: Vec<Value>) -> Value {
    a["subAttributes"] = Value::Array(subs);
    a
}

fn with_refs(mut a: Value, types: &[&str]) -> Value {
    a["referenceTypes"] = json!(types);
    a
}

fn user_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A Keyway user managed by the identity provider",
        "attributes": [
            attr("userName", "string", false, true, "readWrite", "server"),
            attr("displayName", "string", false, false, "readWrite", "none"),
            attr("active", "boolean", false, false, "readWrite", "none"),
            // One email is kept (the primary one given), without its type.
            with_subs(attr("emails", "complex", true, false, "readWrite", "none"), vec![
                attr("value", "string", false, false, "readWrite", "none"),
            ]),
            with_subs(attr("groups", "complex", true, false, "readOnly", "none"), vec![
                attr("value", "string", false, false, "readOnly", "none"),
                with_refs(attr("$ref", "reference", false, false, "readOnly", "none"), &["Group"]),
                attr("display", "string", false, false, "readOnly", "none"),
                attr("type", "string", false, false, "readOnly", "none"),
            ]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}") },
    })
}

fn group_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A Keyway role: developer, reviewer, auditor or admin",
        "attributes": [
            attr("displayName", "string", false, true, "readWrite", "server"),
            with_subs(attr("members", "complex", true, false, "readWrite", "none"), vec![
                attr("value", "string", false, false, "immutable", "none"),
                with_refs(attr("$ref", "reference", false, false, "immutable", "none"), &["User"]),
                attr("display", "string", false, false, "readOnly", "none"),
                attr("type", "string", false, false, "immutable", "none"),
            ]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}") },
    })
}

fn resource_type(base: &str, name: &str, endpoint: &str, schema: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": format!("{name}s"),
        "schema": schema,
        "schemaExtensions": [],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}") },
    })
}

fn resource_types(base: &str) -> Vec<Value> {
    vec![resource_type(base, "User", "/Users", USER_SCHEMA), resource_type(base, "Group", "/Groups", GROUP_SCHEMA)]
}

/// `GET /scim/v2/ServiceProviderConfig`.
pub(crate) async fn config<S: Store>(State(state): State<AppState<S>>, _caller: ScimCaller) -> Response {
    let base = base(&state);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/keyway/keyway#scim-provisioning",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A SCIM token an admin of the hub creates (keyway-hub scim token create)",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
        }),
    )
}

/// `GET /scim/v2/ResourceTypes`.
pub(crate) async fn types<S: Store>(State(state): State<AppState<S>>, _caller: ScimCaller) -> Response {
    let all = resource_types(&base(&state));
    list_response(all.len() as u64, 1, all)
}

/// `GET /scim/v2/ResourceTypes/{id}`.
pub(crate) async fn one_type<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let found = resource_types(&base(&state)).into_iter().find(|t| t["id"] == id.as_str());
    found.map(|t| scim_json(StatusCode::OK, &t)).ok_or_else(|| ScimError::not_found("No such resource type"))
}

/// `GET /scim/v2/Schemas`.
pub(crate) async fn schemas<S: Store>(State(state): State<AppState<S>>, _caller: ScimCaller) -> Response {
    let base = base(&state);
    list_response(2, 1, vec![user_schema(&base), group_schema(&base)])
}

/// `GET /scim/v2/Schemas/{id}`.
pub(crate) async fn one_schema<S: Store>(
    State(state): State<AppState<S>>,
    _caller: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let base = base(&state);
    match id.as_str() {
        USER_SCHEMA => Ok(scim_json(StatusCode::OK, &user_schema(&base))),
        GROUP_SCHEMA => Ok(scim_json(StatusCode::OK, &group_schema(&base))),
        _ => Err(ScimError::not_found("No such schema")),
    }
}
