//! Agents under `/api/agents`: the non-human identities a person owns, which act only through
//! agent PATs bound to them.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, patch};
use axum::{Json, Router};
use keyway_api::Role;
use keyway_api::auth::{Page, scopes};
use keyway_api::credentials::{AgentView, CreateAgent, UpdateAgent};
use serde::Deserialize;
use serde_json::json;

use super::access::{can_read, change, created, owner_of};
use crate::audit::{self, Audit};
use crate::credentials::issue::{agent_for, validate_name};
use crate::error::Error;
use crate::http::{Body, query};
use crate::principal::Principal;
use crate::state::AppState;
use crate::store::{AgentRecord, Store, Written};

pub(crate) fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/agents", get(list_agents::<S>).post(create_agent::<S>))
        .route("/api/agents/{id}", patch(update_agent::<S>))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(default)]
    all: bool,
}

fn agent_view(a: &AgentRecord) -> AgentView {
    AgentView {
        id: a.id.clone(),
        name: a.name.clone(),
        owner_id: a.owner_id.clone(),
        owner_name: a.owner_name.clone(),
        disabled: a.disabled,
        created_at: a.created_at,
        active_credentials: a.active_credentials,
    }
}

/// `GET /api/agents[?all=true]`.
async fn list_agents<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<AgentView>>, Error> {
    can_read(&p)?;
    let q = query(q)?;
    if q.all {
        p.require_role(Role::Admin)?;
    }
    let owner = owner_of(&p)?;
    let agents = state.store.agents((!q.all).then_some(owner.id.as_str()), state.now()).await?;
    Ok(Json(Page { items: agents.iter().map(agent_view).collect(), next: None }))
}

/// `POST /api/agents`.
async fn create_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Body(Json(body)): Body<Json<CreateAgent>>,
) -> Result<Response, Error> {
    p.require_admin(&[scopes::AGENTS_CREATE])?;
    let owner = owner_of(&p)?;
    let name = body.name.trim();
    validate_name(name, "agent name")?;
    let now = state.now();
    if state.store.agent_by_name(&owner.id, name).await?.is_some() {
        return Err(Error::conflict(format!("you already have an agent named '{name}'")));
    }
    let by_owner = Audit::by_user(&owner.id, &owner.name, now, "agent.create");
    let agent = agent_for(&state.store, now, &owner, name, Some(by_owner)).await?;
    Ok(created(agent_view(&agent)))
}

/// `PATCH /api/agents/{id}`: rename and/or disable; disabling stops its PATs' exchanges at once.
async fn update_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    Body(Json(body)): Body<Json<UpdateAgent>>,
) -> Result<Json<AgentView>, Error> {
    p.require_admin(&[scopes::AGENTS_BIND])?;
    owner_of(&p)?;
    let agent = match state.store.agent(&id).await? {
        Some(a) if a.owner_id == p.id || p.has_role(Role::Admin) => a,
        _ => return Err(Error::missing("no such agent")),
    };
    let name = body.name.as_deref().map(str::trim);
    if let Some(n) = name {
        validate_name(n, "agent name")?;
    }
    match state.store.update_agent(&agent.id, name, body.disabled).await? {
        Written::Done => {}
        Written::NameTaken => return Err(Error::conflict("that agent name is taken")),
        Written::Missing => return Err(Error::missing("no such agent")),
    }
    state.credentials.cache.invalidate_agent(&agent.id);
    let action = match body.disabled {
        Some(true) => "agent.disable",
        Some(false) => "agent.enable",
        None => "agent.rename",
    };
    let detail = json!({ "name": name, "disabled": body.disabled, "previous_name": agent.name });
    audit::record(&state.store, change(&p, state.now(), action, "agent", &agent.id, detail)).await?;
    let agent = state.store.agent(&agent.id).await?.ok_or_else(|| Error::missing("no such agent"))?;
    Ok(Json(agent_view(&agent)))
}
