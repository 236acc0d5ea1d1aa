//! A new secret, shown exactly once: select it, or copy it to a clipboard that forgets it.

use keyway_api::desktop::CommandError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ErrorBanner;
use crate::ipc;

#[component]
pub fn SecretOnce(
    /// What the secret is, e.g. "Agent token for deploy-bot".
    what: String,
    secret: String,
    /// Called when the person says they have stored it.
    on_done: Callback<()>,
    /// What to do if it is lost.
    #[prop(default = "rotate or mint a new one")]
    if_lost: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(None::<u64>);
    let error = RwSignal::new(None::<CommandError>);
    let secret_for_copy = secret.clone();
    let copy = move |_| {
        let secret = secret_for_copy.clone();
        spawn_local(async move {
            match ipc::copy_secret(&secret).await {
                Ok(c) => {
                    error.try_set(None);
                    copied.try_set(Some(c.clear_after_secs));
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <div class="secret-once">
            <p class="lead">{what}</p>
            <p class="hint">
                {format!("This is the only time it is shown. Keyway keeps only a hash of it; if it is lost, {if_lost}.")}
            </p>
            <input id="new-secret" class="mono secret-field" type="text" readonly=true value=secret
                aria-label="The new secret" spellcheck="false" autocomplete="off"
                on:focus=move |ev| {
                    use wasm_bindgen::JsCast;
                    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                        input.select();
                    }
                }/>
            {move || copied.get().map(|secs| view! {
                <p id="copied" class="hint" role="status">
                    {format!("Copied. The clipboard will be cleared in {secs} seconds.")}
                </p>
            })}
            <ErrorBanner error=error/>
            <div class="actions">
                <button id="copy-secret" class="button secondary" on:click=copy>"Copy"</button>
                <button id="secret-done" class="button primary" on:click=move |_| on_done.run(())>
                    "I have stored it"
                </button>
            </div>
        </div>
    }
}
