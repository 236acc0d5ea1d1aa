//! Shows a new secret once, to be copied before the dialog closes.

use leptos::prelude::*;

use crate::components::{Dialog, SecretOnce};

#[component]
pub(super) fn SecretDialog(what: String, secret: String, on_close: Callback<()>) -> impl IntoView {
    view! {
        <Dialog id="secret-dialog" title="Copy your new secret".to_owned() on_close=on_close>
            <SecretOnce what=what secret=secret on_done=on_close/>
        </Dialog>
    }
}
