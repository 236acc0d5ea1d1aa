//! Confirms rotating a credential; a service token's old secret may keep working for a while.

use keyway_api::credentials::{CredentialKind, CredentialView, MAX_GRACE_SECS, RotateServiceToken};
use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner};
use crate::ipc;
use crate::pages::credentials::labels::{DAY, display_name};

#[component]
pub(super) fn RotateDialog(
    c: CredentialView,
    on_close: Callback<()>,
    on_rotated: Callback<(String, String)>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let grace = RwSignal::new(0u64);
    let name = display_name(&c);
    let is_service = c.kind == CredentialKind::ServiceToken;
    let rotate = {
        let c = c.clone();
        let name = name.clone();
        move |_| {
            busy.set(true);
            let c = c.clone();
            let name = name.clone();
            spawn_local(async move {
                let result = match (is_service, c.service_account.as_deref()) {
                    (true, Some(account)) => {
                        ipc::service_account_rotate(account, &RotateServiceToken { grace_secs: grace.get_untracked() })
                            .await
                    }
                    _ => ipc::credentials_rotate(&c.id).await,
                };
                match result {
                    Ok(m) => on_rotated.run((format!("New secret for {name}"), m.secret)),
                    Err(e) => {
                        busy.try_set(false);
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    view! {
        <Dialog id="rotate-dialog" title=format!("Rotate {name}?") on_close=on_close>
            <p>"A new secret replaces this one. Update everything that uses it."</p>
            {(!is_service).then(|| view! { <p class="muted">"The old secret stops working at once."</p> })}
            {is_service.then(|| view! {
                <div class="field">
                    <label class="label" for="rotate-grace">"The old token keeps working for"</label>
                    <select id="rotate-grace" on:change=move |ev| grace.set(event_target_value(&ev).parse().unwrap_or(0))>
                        <option value="0" selected=true>"no time: it stops now"</option>
                        <option value="3600">"1 hour"</option>
                        <option value="86400">"1 day"</option>
                        // The longest grace the hub allows.
                        <option value=MAX_GRACE_SECS.to_string()>{format!("{} days", MAX_GRACE_SECS / DAY as u64)}</option>
                    </select>
                </div>
            })}
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="confirm-rotate" class="button primary" disabled=move || busy.get() on:click=rotate>
                    {move || if busy.get() { "Rotating…" } else { "Rotate" }}
                </button>
                <button class="button secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
        </Dialog>
    }
}
