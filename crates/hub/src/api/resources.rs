//! Resources (RFC 8707), the MCP servers the hub issues tokens for: `GET /api/resources`
//! (auditors, admins) lists those an admin registered and those of the hub's settings;
//! `POST /api/resources` and `DELETE /api/resources/{id}` (admins, with a `user_admin` JWT)
//! register and remove one. A client then names it in `resource` and may ask for its scopes.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use keyway_api::clients::{CreateResource, MAX_RESOURCE_NAME, MAX_RESOURCE_SCOPES, ResourceView, Resources};
use keyway_api::codes;
use serde_json::json;

use super::access::{change_event, created};
use crate::error::Error;
use crate::http::Body;
use crate::oauth::resource::{check_uri, is_scope_token};
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::{ResourceRecord, Store};

/// The prefix of a registered resource's id.
const ID_PREFIX: &str = "kwr_";

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/resources", get(list::<S>).post(create::<S>))
        .route("/api/resources/{id}", delete(remove::<S>))
}

fn view(r: ResourceRecord) -> ResourceView {
    ResourceView {
        id: Some(r.id),
        uri: r.uri,
        name: r.name,
        scopes: r.scopes,
        configured: false,
        created_at: Some(r.created_at),
        created_by: r.created_by,
    }
}

fn configured(uri: &str) -> ResourceView {
    ResourceView {
        id: None,
        uri: uri.to_owned(),
        name: uri.to_owned(),
        scopes: Vec::new(),
        configured: true,
        created_at: None,
        created_by: None,
    }
}

/// `GET /api/resources`: the registered ones by URI, then those of the settings.
async fn list<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<Resources>, Error> {
    p.require(Rule::SettingsRead)?;
    let mut resources: Vec<ResourceView> = state.store.resources().await?.into_iter().map(view).collect();
    for uri in &state.settings.resources {
        if !resources.iter().any(|r| &r.uri == uri) {
            resources.push(configured(uri));
        }
    }
    Ok(Json(Resources { resources }))
}

fn invalid(message: String) -> Error {
    Error::unprocessable(codes::VALIDATION_FAILED, message)
}

/// The scopes, checked and deduplicated in order.
fn scopes_of(scopes: &[String]) -> Result<Vec<String>, Error> {
    if scopes.len() > MAX_RESOURCE_SCOPES {
        return Err(invalid(format!("a resource has at most {MAX_RESOURCE_SCOPES} scopes")));
    }
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !is_scope_token(s) {
            return Err(invalid(format!("scope '{s}' is not a well-formed scope (RFC 6749 §3.3)")));
        }
        if crate::oauth::discovery::SCOPES_SUPPORTED.contains(&s.as_str()) {
            return Err(invalid(format!("scope '{s}' is one of the hub's own, not a resource's")));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// `POST /api/resources`: registers a resource. `422 validation_failed` for a URI that is not
/// absolute, has a fragment or is the hub's own, a bad name or scope; `409 conflict` for a URI
/// registered or configured already.
async fn create<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<CreateResource>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::SettingsWrite)?;
    let Body(Json(body)) = body?;
    let uri = body.uri.as_str();
    if let Err(why) = check_uri(uri) {
        return Err(invalid(format!("uri '{uri}' {why}: a resource is an absolute URI without a fragment (RFC 8707)")));
    }
    if crate::oauth::resource::target(&state, Some(uri)).await.is_ok_and(|t| t.audience.is_none()) {
        return Err(invalid(format!("uri '{uri}' is the hub itself")));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_RESOURCE_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("name must be 1 to {MAX_RESOURCE_NAME} printable characters")));
    }
    let scopes = scopes_of(&body.scopes)?;
    if state.settings.resources.iter().any(|r| r == uri) {
        return Err(Error::conflict(format!("'{uri}' is a resource of the hub's settings already")));
    }
    let now = state.now();
    let record = ResourceRecord {
        id: format!("{ID_PREFIX}{}", random_id()),
        uri: uri.to_owned(),
        name: name.to_owned(),
        scopes,
        created_at: now,
        created_by: Some(p.name.clone()),
    };
    let detail = json!({ "uri": record.uri, "name": record.name, "scopes": record.scopes });
    let event = change_event(&p, now, "resource.create", "resource", &record.id, detail);
    if !state.store.insert_resource(&record, &event).await? {
        return Err(Error::conflict(format!("a resource '{uri}' is registered already")));
    }
    tracing::info!(resource = %record.id, uri = %record.uri, "resource registered");
    Ok(created(view(record)))
}

/// `DELETE /api/resources/{id}`: no more tokens are issued for it: the sign-ins for it end
/// (access tokens issued run out).
async fn remove<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ResourceView>, Error> {
    p.require(Rule::SettingsWrite)?;
    let now = state.now();
    let removed = state
        .store
        .delete_resource(&id, now, |r| {
            let detail = json!({ "uri": r.uri, "name": r.name });
            change_event(&p, now, "resource.delete", "resource", &r.id, detail)
        })
        .await?;
    match removed {
        Some(r) => {
            tracing::info!(resource = %r.id, uri = %r.uri, "resource removed");
            Ok(Json(view(r)))
        }
        None => Err(Error::missing("no such registered resource")),
    }
}
