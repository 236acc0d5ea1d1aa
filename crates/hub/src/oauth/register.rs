//! `POST /oauth/register`: dynamic client registration (RFC 7591) for native public clients
//! (RFC 8252), such as MCP clients: no secret (`token_endpoint_auth_method` `none`, PKCE at
//! every sign-in), loopback, claimed `https` or private-use redirect URIs. The client is stored,
//! so every hub of one database knows it; an admin lists and revokes it (`/api/clients`).
//! Registration is counted per client address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyway_api::clients::{
    ClientRegistration, GRANT_DEVICE_CODE, MAX_CLIENT_NAME, MAX_REDIRECT_URIS, RegisteredClientInfo,
};
use keyway_api::codes;
use serde_json::json;

use crate::audit::Audit;
use crate::clients::{REGISTERED_PREFIX, refuse_redirect};
use crate::error::Error;
use crate::http::{Body, no_store};
use crate::secret::random_id;
use crate::state::AppState;
use crate::store::{ClientRecord, Store};
use crate::throttle::{ClientIp, count};

/// Registrations one client address may make in a window (`device::LIMIT_WINDOW_SECS`).
const REGISTRATIONS_PER_ADDRESS: u32 = 20;
const GRANTS: &[&str] = &["authorization_code", "refresh_token", GRANT_DEVICE_CODE];

fn metadata(description: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::oauth(codes::INVALID_CLIENT_METADATA, description)
}

/// What is refused in `reg`, as RFC 7591 §3.2.2 says it; the name to keep otherwise.
fn check(reg: &ClientRegistration) -> Result<String, Error> {
    if reg.redirect_uris.is_empty() {
        return Err(Error::oauth(codes::INVALID_REDIRECT_URI, "redirect_uris is required"));
    }
    if reg.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(Error::oauth(
            codes::INVALID_REDIRECT_URI,
            format!("at most {MAX_REDIRECT_URIS} redirect URIs may be registered"),
        ));
    }
    for uri in &reg.redirect_uris {
        if let Some(reason) = refuse_redirect(uri) {
            return Err(Error::oauth(codes::INVALID_REDIRECT_URI, reason));
        }
    }
    match reg.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(metadata(format!(
                "token_endpoint_auth_method '{other}' is not supported: only public clients ('none') register"
            )));
        }
    }
    if let Some(grant) = reg.grant_types.iter().flatten().find(|g| !GRANTS.contains(&g.as_str())) {
        return Err(metadata(format!("grant type '{grant}' is not supported")));
    }
    if let Some(t) = reg.response_types.iter().flatten().find(|t| t.as_str() != "code") {
        return Err(metadata(format!("response type '{t}' is not supported; only 'code' is")));
    }
    // Which resource the scopes are for is said at authorization (`resource`), where they are
    // checked; here they need only be well formed.
    if let Some(s) = reg.scope.as_deref().and_then(|s| s.split(' ').find(|s| !super::resource::is_scope_token(s))) {
        return Err(metadata(format!("scope '{s}' is not a well-formed scope (RFC 6749 §3.3)")));
    }
    let name = reg.client_name.as_deref().map(str::trim).unwrap_or("");
    if name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(metadata(format!("client_name must be at most {MAX_CLIENT_NAME} printable characters")));
    }
    Ok(if name.is_empty() { "Unnamed application".to_owned() } else { name.to_owned() })
}

pub(crate) async fn register<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    body: Result<Body<Json<ClientRegistration>>, Error>,
) -> Result<Response, Error> {
    let reg = match body {
        Ok(Body(Json(reg))) => reg,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(e),
        Err(e) => return Err(metadata(format!("the registration is not valid client metadata: {e}"))),
    };
    let name = check(&reg)?;
    count(&state, &format!("register:{ip}"), REGISTRATIONS_PER_ADDRESS, "client registrations").await?;
    let now = state.now();
    let record = ClientRecord {
        id: format!("{REGISTERED_PREFIX}{}", random_id()),
        name,
        redirect_uris: reg.redirect_uris.clone(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        address: (!ip.is_unspecified()).then(|| ip.to_string()),
    };
    let event = Audit::by_hub(now, "client.register")
        .target("client", &record.id)
        .detail(json!({ "name": record.name, "redirect_uris": record.redirect_uris, "address": record.address }))
        .event();
    state.store.insert_client(&record, &event).await?;
    tracing::info!(client = %record.id, "client registered");
    let grant_types = reg.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    let body = RegisteredClientInfo {
        client_id: record.id,
        client_id_issued_at: now,
        client_name: record.name,
        redirect_uris: record.redirect_uris,
        token_endpoint_auth_method: "none".to_owned(),
        grant_types,
        response_types: vec!["code".to_owned()],
    };
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}
