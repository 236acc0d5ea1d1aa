//! The Keyway mark and the window's header.

use leptos::prelude::*;

/// The keyhole mark, as in icons/.
#[component]
pub fn Mark(#[prop(default = 28)] size: u32) -> impl IntoView {
    view! {
        <svg class="mark" width=size height=size viewBox="0 0 64 64" aria-hidden="true">
            <rect x="2" y="2" width="60" height="60" rx="14" fill="currentColor"></rect>
            <circle cx="32" cy="25.5" r="8.5" fill="#fff"></circle>
            <path d="M28 29.5h8l3 18.5h-14z" fill="#fff"></path>
        </svg>
    }
}

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <div class="brand">
                <Mark/>
                <span class="brand-name">"Keyway"</span>
            </div>
        </header>
    }
}
