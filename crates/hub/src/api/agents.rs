//! Agents under `/api/agents`: the non-human identities a person owns, which act only through
//! agent PATs bound to them.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, patch};
use keyway_api::auth::Page;
use keyway_api::credentials::{AgentView, CreateAgent, UpdateAgent};
use serde::Deserialize;
use serde_json::json;

use super::access::{change_event, created, owner_of};
use crate::audit::Audit;
use crate::credentials::issue::{AgentChoice, agent_created, agent_for, agent_name_taken, apply, validate_name};
use crate::error::Error;
use crate::http::{Body, query};
use crate::notices::Notice;
use crate::policy::{Rule, manages_all};
use crate::principal::Principal;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::changes::{Change, Outcome, Write};
use crate::store::{AgentRecord, Store};

pub(crate) fn router<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/api/agents", get(list_agents::<S>).post(create_agent::<S>))
        .route("/api/agents/{id}", patch(update_agent::<S>))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Every owner's agents, not only the caller's (auditors and admins).
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
    p.require(Rule::AgentsRead)?;
    let q = query(q)?;
    if q.all {
        p.require(Rule::AgentsReadAll)?;
    }
    let owner = owner_of(&p)?;
    let agents = state.store.agents((!q.all).then_some(owner.id.as_str()), state.now()).await?;
    Ok(Json(Page { items: agents.iter().map(agent_view).collect(), next: None }))
}

/// `POST /api/agents`.
async fn create_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    body: Result<Body<Json<CreateAgent>>, Error>,
) -> Result<Response, Error> {
    p.require(Rule::AgentsCreate)?;
    let Body(Json(body)) = body?;
    let owner = owner_of(&p)?;
    let name = body.name.trim();
    validate_name(name, "agent name")?;
    let now = state.now();
    if state.store.agent_by_name(&owner.id, name, now).await?.is_some() {
        return Err(Error::conflict(format!("you already have an agent named '{name}'")));
    }
    let agent = agent_for(&state.store, now, &owner, name, true).await?;
    if let AgentChoice::New(a) = &agent {
        let event = agent_created(Audit::by(&p, now, "agent.create"), a);
        let writes = Change::new().then(Write::InsertAgent(a)).audit(&event);
        apply(&state.store, &writes, |_, _| agent_name_taken(name)).await?;
    }
    Ok(created(agent_view(agent.record())))
}

/// `PATCH /api/agents/{id}`: rename and/or disable; disabling stops its PATs' exchanges at once.
async fn update_agent<S: Store>(
    State(state): State<AppState<S>>,
    p: Principal,
    Path(id): Path<String>,
    body: Result<Body<Json<UpdateAgent>>, Error>,
) -> Result<Json<AgentView>, Error> {
    p.require(Rule::AgentsUpdate)?;
    owner_of(&p)?;
    let Body(Json(body)) = body?;
    let agent = match state.store.agent(&id, state.now()).await? {
        Some(a) if a.owner_id == p.id || manages_all(&p) => a,
        _ => return Err(Error::missing("no such agent")),
    };
    let name = body.name.as_deref().map(str::trim);
    if let Some(n) = name {
        validate_name(n, "agent name")?;
    }
    let action = match body.disabled {
        Some(true) => "agent.disable",
        Some(false) => "agent.enable",
        None => "agent.rename",
    };
    let detail = json!({ "name": name, "disabled": body.disabled, "previous_name": agent.name });
    let event = change_event(&p, state.now(), action, "agent", &agent.id, detail);
    let update = Write::UpdateAgent { id: &agent.id, name, disabled: body.disabled };
    apply(&state.store, &Change::new().then(update).audit(&event), |_, outcome| match outcome {
        Outcome::NameTaken => Error::conflict("that agent name is taken"),
        _ => Error::missing("no such agent"),
    })
    .await?;
    crate::notices::changed(&state, &[Notice::Agent(&agent.id)]).await;
    let agent = state.store.agent(&agent.id, state.now()).await?.ok_or_else(|| Error::missing("no such agent"))?;
    Ok(Json(agent_view(&agent)))
}
