use keyway_api::desktop::ProfileView;
use leptos::prelude::*;

/// The "Server" row of a page's facts list: the server's address, marked when it is the hub
/// inside this app.
#[component]
pub fn ServerFact(profile: ProfileView) -> impl IntoView {
    view! {
        <div class="fact">
            <dt>"Server"</dt>
            <dd>
                <span id="server" class="mono">{profile.server}</span>
                {profile.local.then(|| view! { <span class="tag">"On this computer"</span> })}
            </dd>
        </div>
    }
}
