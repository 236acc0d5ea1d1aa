//! Admin → SCIM: the tokens the company's IdP provisions users with (`/scim/v2`). Admins create
//! one (its secret shown once, with the address to give the IdP) and revoke one; auditors read.

use keyway_api::desktop::CommandError;
use keyway_api::scim::ScimTokenView;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner, SecretOnce, Spinner};
use crate::{ipc, time};

#[derive(Clone, Debug)]
enum Modal {
    Secret { label: String, secret: String },
    Revoke(ScimTokenView),
}

#[component]
pub(super) fn ScimSection(can_change: bool, server: String) -> impl IntoView {
    let tokens = RwSignal::new(None::<Vec<ScimTokenView>>);
    let error = RwSignal::new(None::<CommandError>);
    let label = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let modal = RwSignal::new(None::<Modal>);
    let base = format!("{}/scim/v2", server.trim_end_matches('/'));
    let reload = move || {
        spawn_local(async move {
            match ipc::scim_tokens_list().await {
                Ok(list) => {
                    tokens.try_set(Some(list));
                    error.try_set(None);
                }
                Err(e) => {
                    tokens.try_update(|t| {
                        t.get_or_insert_with(Vec::new);
                    });
                    error.try_set(Some(e));
                }
            }
        });
    };
    reload();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        spawn_local(async move {
            match ipc::scim_token_create(&label.get_untracked()).await {
                Ok(created) => {
                    label.try_set(String::new());
                    modal.try_set(Some(Modal::Secret { label: created.token.label, secret: created.secret }));
                    reload();
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let close = Callback::new(move |()| modal.set(None));
    let base_for_modal = StoredValue::new(base.clone());
    view! {
        <p class="muted">
            "Your identity provider creates, updates and removes Keyway users over SCIM 2.0 at "
            <span id="scim-base" class="mono">{base}</span>
            ", with one of these tokens as its bearer token."
        </p>
        <ErrorBanner error=error/>
        {can_change.then(|| view! {
            <form class="toolbar" on:submit=create>
                <input id="scim-label" type="text" placeholder="IdP name, e.g. Okta"
                    aria-label="Label of the new token" maxlength="64"
                    prop:value=move || label.get() on:input=move |ev| label.set(event_target_value(&ev))/>
                <button id="scim-create" class="button primary" type="submit" disabled=move || busy.get()>
                    "Create SCIM token"
                </button>
            </form>
        })}
        {move || match tokens.get() {
            None => view! { <div class="loading" role="status"><Spinner/>" Loading SCIM tokens…"</div> }.into_any(),
            Some(list) if list.is_empty() => view! {
                <div id="scim-empty" class="empty">
                    <p><strong>"No SCIM tokens yet."</strong></p>
                    <p class="muted">"Create one when your identity provider should provision people here."</p>
                </div>
            }.into_any(),
            Some(list) => view! {
                <div class="table-wrap">
                    <table id="scim-table" class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Label"</th>
                                <th scope="col">"Id"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|t| {
                                let active = t.revoked_at.is_none();
                                let for_revoke = t.clone();
                                view! {
                                    <tr id=format!("scim-{}", t.id) class:inactive=!active>
                                        <td class="cell-name">{t.label.clone()}</td>
                                        <td class="mono small">{t.id.clone()}</td>
                                        <td title=time::local_date_time(t.created_at)>{time::relative(t.created_at)}</td>
                                        <td>{match t.revoked_at {
                                            None => view! { <span class="chip chip-ok">"active"</span> }.into_any(),
                                            Some(at) => view! {
                                                <span class="chip chip-muted">{format!("revoked {}", time::relative(at))}</span>
                                            }.into_any(),
                                        }}</td>
                                        <td>
                                            <div class="row-actions">
                                                {(can_change && active).then(|| view! {
                                                    <button class="button link danger" id=format!("scim-revoke-{}", t.id)
                                                        on:click=move |_| modal.set(Some(Modal::Revoke(for_revoke.clone())))>
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
            }.into_any(),
        }}
        {move || modal.get().map(|m| match m {
            Modal::Secret { label, secret } => view! {
                <Dialog id="scim-secret-dialog" title="Give this token to your identity provider".to_owned() on_close=close>
                    <p class="hint">{format!("SCIM base URL: {}", base_for_modal.get_value())}</p>
                    <SecretOnce what=format!("SCIM token “{label}”") secret=secret on_done=close
                        if_lost="revoke it and create another"/>
                </Dialog>
            }.into_any(),
            Modal::Revoke(t) => view! { <RevokeDialog t=t on_close=close on_done=Callback::new(move |()| { modal.set(None); reload(); })/> }.into_any(),
        })}
    }
}

#[component]
fn RevokeDialog(t: ScimTokenView, on_close: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<CommandError>);
    let busy = RwSignal::new(false);
    let id = t.id.clone();
    let revoke = move |_| {
        busy.set(true);
        let id = id.clone();
        spawn_local(async move {
            match ipc::scim_token_revoke(&id).await {
                Ok(_) => on_done.run(()),
                Err(e) => {
                    busy.try_set(false);
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Dialog id="scim-revoke-dialog" title=format!("Revoke the SCIM token “{}”?", t.label) on_close=on_close>
            <p>"The identity provider that uses it can no longer provision anyone, from its next request on. The users it made stay."</p>
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="scim-revoke-confirm" class="button danger" disabled=move || busy.get() on:click=revoke>"Revoke"</button>
                <button class="button secondary" type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </Dialog>
    }
}
