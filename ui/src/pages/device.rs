//! "Approve a device" (RFC 8628): a device that signs in without a browser shows a code; the
//! person types it here (or follows a `keyway://device?code=…` link, which only fills it in),
//! sees which client asks, from where and when, and approves or denies it.
//!
//! Approving takes a click with the pointer: a link, a key (Enter, Space, the approvals page's
//! `a`) or a button that happens to have the focus never approves a device (device-code
//! phishing: someone else's code sent as a link).

use keyway_api::clients::{DeviceDecided, DeviceRequest};
use keyway_api::desktop::{CommandError, Route};
use leptos::ev::{MouseEvent, SubmitEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{Dialog, ErrorBanner, Spinner};
use crate::{Shell, ipc, time};

/// Where the dialog stands.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// Typing the code.
    Code,
    /// Asking the hub what the code is.
    Looking,
    /// What asks: approve or deny.
    Review(DeviceRequest),
    Done(DeviceDecided, String),
}

/// The card on the Account page that opens the dialog, and the dialog itself, which a
/// `keyway://device` link also opens.
#[component]
pub fn DeviceApproval() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let open = RwSignal::new(false);
    let code = RwSignal::new(String::new());
    let step = RwSignal::new(Step::Code);
    let error = RwSignal::new(None::<CommandError>);
    let look_up = move || {
        let typed = code.get_untracked();
        if typed.trim().is_empty() {
            return;
        }
        error.set(None);
        step.set(Step::Looking);
        spawn_local(async move {
            match ipc::device_lookup(&typed).await {
                Ok(request) => {
                    step.try_set(Step::Review(request));
                }
                Err(e) => {
                    step.try_set(Step::Code);
                    error.try_set(Some(e));
                }
            }
        });
    };
    // A link fills the code in and shows what asks: it decides nothing.
    Effect::new(move |_| {
        if let Route::Device { code: linked } = shell.route.get() {
            shell.route.set(Route::Session);
            code.set(linked.clone().unwrap_or_default());
            error.set(None);
            step.set(Step::Code);
            open.set(true);
            if linked.is_some() {
                look_up();
            }
        }
    });
    let close = Callback::new(move |()| {
        open.set(false);
        step.set(Step::Code);
        code.set(String::new());
        error.set(None);
    });
    let start = move |_| {
        error.set(None);
        step.set(Step::Code);
        open.set(true);
    };
    view! {
        <section class="card" id="device-approval">
            <div class="card-head">
                <h2>"Approve a device"</h2>
                <button id="device-open" class="button secondary" on:click=start>"Enter a code…"</button>
            </div>
            <p class="muted">
                "A device or terminal signing in without a browser (for example "<code>"keyway login --device"</code>
                ") shows a code. Enter it here to see what asks, then approve or deny it."
            </p>
        </section>
        {move || open.get().then(|| view! {
            <DeviceDialog code=code step=step error=error look_up=Callback::new(move |()| look_up()) on_close=close/>
        })}
    }
}

#[component]
fn DeviceDialog(
    code: RwSignal<String>,
    step: RwSignal<Step>,
    error: RwSignal<Option<CommandError>>,
    look_up: Callback<()>,
    on_close: Callback<()>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    // Set when Approve was pressed with a key: it says why nothing happened.
    let keyed = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        look_up.run(());
    };
    let decide = move |request: DeviceRequest, approve: bool| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = if approve {
                ipc::device_approve(&request.user_code).await
            } else {
                ipc::device_deny(&request.user_code).await
            };
            busy.try_set(false);
            match result {
                Ok(decided) => {
                    step.try_set(Step::Done(decided, request.client_name.clone()));
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Dialog id="device-dialog" title="Approve a device".to_owned() on_close=on_close>
            {move || match step.get() {
                Step::Code | Step::Looking => {
                    let looking = step.get() == Step::Looking;
                    view! {
                        <form class="form" on:submit=submit novalidate=true>
                            <label class="field" for="device-code">
                                <span class="field-label">"Code shown on the device"</span>
                                <input id="device-code" type="text" autocomplete="off" spellcheck="false"
                                    autocapitalize="characters" placeholder="BCDF-GHJK" maxlength="20"
                                    class="mono" prop:value=move || code.get()
                                    on:input=move |ev| code.set(event_target_value(&ev))/>
                                <span class="hint">"Nothing is approved until you have seen what asks and clicked Approve."</span>
                            </label>
                            <ErrorBanner error=error/>
                            <div class="actions">
                                <button id="device-lookup" type="submit" class="button primary"
                                    disabled=move || looking || code.get().trim().is_empty()>
                                    {if looking { "Looking up…" } else { "Continue" }}
                                </button>
                                <button type="button" class="button secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
                            </div>
                            {looking.then(|| view! { <div class="loading" role="status"><Spinner/>" Asking the hub…"</div> })}
                        </form>
                    }.into_any()
                }
                Step::Review(request) => review(request, busy, keyed, error, decide, on_close),
                Step::Done(decided, client) => {
                    let text = if decided.approved {
                        format!("Approved: {client} is signed in as you.")
                    } else {
                        format!("Denied: {client} was not signed in.")
                    };
                    view! {
                        <p id="device-done" role="status">{text}</p>
                        <div class="actions">
                            <button id="device-close" class="button secondary" on:click=move |_| on_close.run(())>"Close"</button>
                        </div>
                    }.into_any()
                }
            }}
        </Dialog>
    }
}

/// What asks, and the decision.
fn review(
    request: DeviceRequest,
    busy: RwSignal<bool>,
    keyed: RwSignal<bool>,
    error: RwSignal<Option<CommandError>>,
    decide: impl Fn(DeviceRequest, bool) + Copy + 'static,
    on_close: Callback<()>,
) -> AnyView {
    let scope = if request.scope.is_empty() { "none".to_owned() } else { request.scope.clone() };
    let resource = request.resource.clone().unwrap_or_else(|| "this hub's API".to_owned());
    let address = request.address.clone().unwrap_or_else(|| "an unknown address".to_owned());
    let approve_request = request.clone();
    let deny_request = request.clone();
    // A click with the pointer has a click count; one made with a key (Enter, Space) has none.
    let approve = move |ev: MouseEvent| {
        if ev.detail() < 1 {
            keyed.set(true);
            return;
        }
        keyed.set(false);
        decide(approve_request.clone(), true);
    };
    view! {
        <p>
            <strong id="device-client">{request.client_name.clone()}</strong>" ("<code>{request.client_id.clone()}</code>
            ") asks to sign in as you."
        </p>
        <dl class="facts compact" id="device-facts">
            <div class="fact"><dt>"From"</dt><dd id="device-address" class="mono">{address}</dd></div>
            <div class="fact">
                <dt>"Asked"</dt>
                <dd id="device-asked">
                    {time::local_date_time(request.created_at)}<span class="muted">" · "{time::relative(request.created_at)}</span>
                </dd>
            </div>
            <div class="fact"><dt>"Scopes"</dt><dd class="mono">{scope}</dd></div>
            <div class="fact"><dt>"For"</dt><dd>{resource}</dd></div>
            <div class="fact"><dt>"Code"</dt><dd id="device-user-code" class="mono">{request.user_code.clone()}</dd></div>
            <div class="fact"><dt>"Expires"</dt><dd>{time::relative(request.expires_at)}</dd></div>
        </dl>
        <p class="hint">
            "Approve only if you started this sign-in yourself, on a device you trust, and it shows this code. "
            "If someone sent you this code or link, deny it."
        </p>
        <ErrorBanner error=error/>
        {move || keyed.get().then(|| view! {
            <p id="device-keyed" class="hint invalid" role="alert">"Click Approve with the pointer: a key never approves a device."</p>
        })}
        <div class="actions">
            <button id="device-approve" class="button primary" disabled=move || busy.get() on:click=approve>
                {move || if busy.get() { "Working…" } else { "Approve" }}
            </button>
            <button id="device-deny" class="button danger-solid" disabled=move || busy.get()
                on:click=move |_| decide(deny_request.clone(), false)>"Deny"</button>
            <button type="button" class="button secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
        </div>
    }
    .into_any()
}
