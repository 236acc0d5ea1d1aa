//! Admin → Agents & MCP: the OAuth clients that registered themselves (MCP clients, agents'
//! tools; RFC 7591), which admins revoke, and the resources (MCP servers) the hub issues tokens
//! for (RFC 8707), which admins register and delete. Auditors read both.

use keyway_api::clients::{RegisteredClient, ResourceView};
use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner, Spinner};
use crate::{ipc, time};

/// What a confirmation's button does.
type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), CommandError>>>>;

#[derive(Clone, Debug)]
enum Modal {
    RevokeClient(RegisteredClient),
    DeleteResource(ResourceView),
}

#[component]
pub(super) fn ClientsSection(can_change: bool) -> impl IntoView {
    let clients = RwSignal::new(None::<Vec<RegisteredClient>>);
    let resources = RwSignal::new(None::<Vec<ResourceView>>);
    let error = RwSignal::new(None::<CommandError>);
    let modal = RwSignal::new(None::<Modal>);
    let reload = move || {
        spawn_local(async move {
            let (c, r) = (ipc::clients_list().await, ipc::resources_list().await);
            let mut failed = None;
            match c {
                Ok(list) => {
                    clients.try_set(Some(list));
                }
                Err(e) => {
                    clients.try_update(|c| {
                        c.get_or_insert_with(Vec::new);
                    });
                    failed = Some(e);
                }
            }
            match r {
                Ok(list) => {
                    resources.try_set(Some(list));
                }
                Err(e) => {
                    resources.try_update(|r| {
                        r.get_or_insert_with(Vec::new);
                    });
                    failed = failed.or(Some(e));
                }
            }
            error.try_set(failed);
        });
    };
    reload();
    let close = Callback::new(move |()| modal.set(None));
    let done = Callback::new(move |()| {
        modal.set(None);
        reload();
    });
    view! {
        <ErrorBanner error=error/>
        <h2 class="section-heading">"Resources"</h2>
        <p class="muted">
            "The MCP servers and APIs Keyway issues tokens for. A client names one as "
            <span class="mono">"resource"</span>" when it signs in, and its token's audience is that URI."
        </p>
        {can_change.then(|| view! { <ResourceForm error=error on_done=done/> })}
        {move || match resources.get() {
            None => view! { <div class="loading" role="status"><Spinner/>" Loading resources…"</div> }.into_any(),
            Some(list) if list.is_empty() => view! {
                <div id="resources-empty" class="empty">
                    <p><strong>"No resources yet."</strong></p>
                    <p class="muted">"Register an MCP server here before clients ask for tokens for it."</p>
                </div>
            }.into_any(),
            Some(list) => view! { <ResourceTable list=list can_change=can_change modal=modal/> }.into_any(),
        }}
        <h2 class="section-heading">"Registered clients"</h2>
        <p class="muted">"Clients that registered themselves (RFC 7591). Revoking one ends every sign-in it holds."</p>
        {move || match clients.get() {
            None => view! { <div class="loading" role="status"><Spinner/>" Loading clients…"</div> }.into_any(),
            Some(list) if list.is_empty() => view! {
                <div id="clients-empty" class="empty">
                    <p><strong>"No client has registered yet."</strong></p>
                    <p class="muted">"An MCP client appears here after its first registration at this hub."</p>
                </div>
            }.into_any(),
            Some(list) => view! { <ClientTable list=list can_change=can_change modal=modal/> }.into_any(),
        }}
        {move || modal.get().map(|m| match m {
            Modal::RevokeClient(c) => view! { <RevokeClient c=c on_close=close on_done=done/> }.into_any(),
            Modal::DeleteResource(r) => view! { <DeleteResource r=r on_close=close on_done=done/> }.into_any(),
        })}
    }
}

#[component]
fn ResourceForm(error: RwSignal<Option<CommandError>>, on_done: Callback<()>) -> impl IntoView {
    let (uri, name, scopes) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        spawn_local(async move {
            match ipc::resource_create(&uri.get_untracked(), &name.get_untracked(), &scopes.get_untracked()).await {
                Ok(_) => {
                    for s in [uri, name, scopes] {
                        s.try_set(String::new());
                    }
                    error.try_set(None);
                    on_done.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let field = |id: &'static str, label: &'static str, placeholder: &'static str, value: RwSignal<String>| {
        view! {
            <input id=id type="text" placeholder=placeholder aria-label=label
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <form class="toolbar" on:submit=submit>
            {field("resource-uri", "Canonical URI", "https://mcp.example.com", uri)}
            {field("resource-name", "Name", "Name, e.g. Deploy MCP", name)}
            {field("resource-scopes", "Scopes", "Scopes, e.g. deploy.run", scopes)}
            <button id="resource-create" class="button primary" type="submit" disabled=move || busy.get()>
                "Register resource"
            </button>
        </form>
    }
}

#[component]
fn ResourceTable(list: Vec<ResourceView>, can_change: bool, modal: RwSignal<Option<Modal>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table id="resources-table" class="table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"URI"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Added"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|r| {
                        let row_id = format!("resource-{}", r.id.clone().unwrap_or_else(|| "configured".to_owned()));
                        let scopes = if r.scopes.is_empty() { "—".to_owned() } else { r.scopes.join(" ") };
                        let added = match (r.configured, r.created_at) {
                            (true, _) => view! { <span class="chip chip-muted">"hub setting"</span> }.into_any(),
                            (false, Some(at)) => view! {
                                <span title=time::local_date_time(at)>
                                    {time::relative(at)}{r.created_by.clone().map(|by| format!(" by {by}"))}
                                </span>
                            }.into_any(),
                            (false, None) => view! { <span>"—"</span> }.into_any(),
                        };
                        let for_delete = r.clone();
                        let deletable = can_change && !r.configured && r.id.is_some();
                        view! {
                            <tr id=row_id>
                                <td class="cell-name">{r.name.clone()}</td>
                                <td class="mono small">{r.uri.clone()}</td>
                                <td class="mono small">{scopes}</td>
                                <td>{added}</td>
                                <td>
                                    <div class="row-actions">
                                        {deletable.then(|| view! {
                                            <button class="button link danger"
                                                id=format!("resource-delete-{}", r.id.clone().unwrap_or_default())
                                                on:click=move |_| modal.set(Some(Modal::DeleteResource(for_delete.clone())))>
                                                "Delete"
                                            </button>
                                        })}
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn ClientTable(list: Vec<RegisteredClient>, can_change: bool, modal: RwSignal<Option<Modal>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table id="clients-table" class="table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Client id"</th>
                        <th scope="col">"Registered"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|c| {
                        let active = c.revoked_at.is_none();
                        let for_revoke = c.clone();
                        let from = c.address.clone().map(|a| format!(" from {a}")).unwrap_or_default();
                        view! {
                            <tr id=format!("client-{}", c.client_id) class:inactive=!active>
                                <td class="cell-name" title=c.redirect_uris.join("\n")>{c.client_name.clone()}</td>
                                <td class="mono small">{c.client_id.clone()}</td>
                                <td title=time::local_date_time(c.created_at)>{time::relative(c.created_at)}{from}</td>
                                <td>{match c.last_used_at {
                                    Some(at) => view! { <span title=time::local_date_time(at)>{time::relative(at)}</span> }.into_any(),
                                    None => view! { <span class="muted">"never"</span> }.into_any(),
                                }}</td>
                                <td>{match c.revoked_at {
                                    None => view! { <span class="chip chip-ok">"active"</span> }.into_any(),
                                    Some(at) => view! {
                                        <span class="chip chip-muted">{format!("revoked {}", time::relative(at))}</span>
                                    }.into_any(),
                                }}</td>
                                <td>
                                    <div class="row-actions">
                                        {(can_change && active).then(|| view! {
                                            <button class="button link danger" id=format!("client-revoke-{}", c.client_id)
                                                on:click=move |_| modal.set(Some(Modal::RevokeClient(for_revoke.clone())))>
                                                "Revoke"
                                            </button>
                                        })}
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// A confirmation dialog whose button runs `act`; its refusal is shown in the dialog.
#[component]
fn Confirm(
    id: &'static str,
    title: String,
    text: String,
    button: &'static str,
    act: Callback<(), Work>,
    on_close: Callback<()>,
    on_done: Callback<()>,
) -> impl IntoView {
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let go = move |_| {
        busy.set(true);
        let work = act.run(());
        spawn_local(async move {
            match work.await {
                Ok(()) => on_done.run(()),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Dialog id=id title=title on_close=on_close>
            <p>{text}</p>
            <ErrorBanner error=error/>
            <div class="actions">
                <button id=format!("{id}-confirm") class="button danger" disabled=move || busy.get() on:click=go>{button}</button>
                <button class="button secondary" type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </Dialog>
    }
}

#[component]
fn RevokeClient(c: RegisteredClient, on_close: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let id = c.client_id.clone();
    let act = Callback::new(move |()| {
        let id = id.clone();
        Box::pin(async move { ipc::client_revoke(&id).await.map(drop) }) as Work
    });
    view! {
        <Confirm id="client-revoke-dialog" title=format!("Revoke the client “{}”?", c.client_name)
            text="Every sign-in it holds ends now, and it can neither sign anyone in nor refresh a token again.".to_owned()
            button="Revoke" act=act on_close=on_close on_done=on_done/>
    }
}

#[component]
fn DeleteResource(r: ResourceView, on_close: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let id = r.id.clone().unwrap_or_default();
    let act = Callback::new(move |()| {
        let id = id.clone();
        Box::pin(async move { ipc::resource_delete(&id).await.map(drop) }) as Work
    });
    view! {
        <Confirm id="resource-delete-dialog" title=format!("Delete the resource “{}”?", r.name)
            text=format!("Clients can no longer get tokens for {}, and the sign-ins for it end. Tokens already issued run until they expire.", r.uri)
            button="Delete" act=act on_close=on_close on_done=on_done/>
    }
}
