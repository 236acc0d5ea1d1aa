//! Confirms revoking a credential (for a service token: disabling its service account).

use keyway_api::credentials::{CredentialKind, CredentialView};
use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner};
use crate::ipc;
use crate::pages::credentials::labels::{display_name, kind_label};

#[component]
pub(super) fn RevokeDialog(c: CredentialView, on_close: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let name = display_name(&c);
    let revoke = {
        let c = c.clone();
        move |_| {
            busy.set(true);
            let c = c.clone();
            spawn_local(async move {
                let result = if c.kind == CredentialKind::ServiceToken {
                    match c.service_account.as_deref() {
                        Some(account) => ipc::service_account_revoke(account).await.map(|_| ()),
                        None => ipc::credentials_revoke(&c.id).await.map(|_| ()),
                    }
                } else {
                    ipc::credentials_revoke(&c.id).await.map(|_| ())
                };
                match result {
                    Ok(()) => on_done.run(()),
                    Err(e) => {
                        busy.try_set(false);
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    view! {
        <Dialog id="revoke-dialog" title=format!("Revoke {name}?") on_close=on_close>
            {if c.kind == CredentialKind::ServiceToken {
                view! {
                    <p>
                        "This disables the service account "<strong>{c.service_account.clone().unwrap_or_default()}</strong>
                        " and revokes all its tokens: automation using it stops working now. This cannot be undone."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p>
                        "Anything using this "{kind_label(c.kind).to_lowercase()}" stops working now: its next exchange is refused. This cannot be undone."
                    </p>
                }.into_any()
            }}
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="confirm-revoke" class="button danger-solid" disabled=move || busy.get() on:click=revoke>
                    {move || if busy.get() { "Revoking…" } else { "Revoke" }}
                </button>
                <button class="button secondary" on:click=move |_| on_close.run(())>"Keep it"</button>
            </div>
        </Dialog>
    }
}
