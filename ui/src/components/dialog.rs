//! A modal dialog: an overlay with `role="dialog"`, closed by Escape or its Cancel button.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

#[component]
pub fn Dialog(
    id: &'static str,
    title: String,
    /// Called on Escape (and by the dialog's own Cancel buttons through the caller).
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    // On the window, not the overlay: Escape must close the dialog wherever the focus is, also
    // after a button that held it was disabled while it worked (the focus then falls to the body).
    let listener = window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            on_close.run(());
        }
    });
    on_cleanup(move || listener.remove());
    view! {
        <div class="overlay">
            <div id=id class="dialog" role="dialog" aria-modal="true" aria-labelledby=labelled_by>
                <h2 id=title_id>{title}</h2>
                {children()}
            </div>
        </div>
    }
}
