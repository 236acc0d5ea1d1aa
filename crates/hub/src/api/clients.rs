//! Clients registered dynamically (RFC 7591): `GET /api/clients` (auditors, admins; with each
//! client's last use, a token issued or refreshed for it) and
//! `POST /api/clients/{id}/revoke` (admins, with a `user_admin` JWT), which also ends every
//! sign-in issued to the client.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use keyway_api::clients::{RegisteredClient, RegisteredClients};

use crate::audit::Audit;
use crate::error::Error;
use crate::policy::Rule;
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::{ClientRecord, Store};

/// The most clients one listing shows.
const LIST_LIMIT: u32 = 500;

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new().route("/api/clients", get(list::<S>)).route("/api/clients/{id}/revoke", post(revoke::<S>))
}

fn view(r: ClientRecord) -> RegisteredClient {
    RegisteredClient {
        client_id: r.id,
        client_name: r.name,
        redirect_uris: r.redirect_uris,
        created_at: r.created_at,
        last_used_at: r.last_used_at,
        revoked_at: r.revoked_at,
        address: r.address,
    }
}

async fn list<S: Store>(State(state): State<AppState<S>>, p: Principal) -> Result<Json<RegisteredClients>, Error> {
    p.require(Rule::SettingsRead)?;
    // The last uses this hub holds, written first so the listing shows them.
    state.client_usage.flush(&state.store).await?;
    let clients = state.store.registered_clients(LIST_LIMIT).await?;
    Ok(Json(RegisteredClients { clients: clients.into_iter().map(view).collect() }))
}

async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RegisteredClient>, Error> {
    p.require(Rule::SettingsWrite)?;
    let now = state.now();
    let revoked = state
        .store
        .revoke_client(&id, now, |c| {
            Audit::by(&p, now, "client.revoke")
                .target("client", &c.id)
                .detail(serde_json::json!({ "name": c.name }))
                .event()
        })
        .await?;
    match revoked {
        Some(client) => {
            tracing::info!(client = %client.id, "registered client revoked");
            Ok(Json(view(client)))
        }
        None => Err(Error::missing("no such registered client, or it is revoked already")),
    }
}
