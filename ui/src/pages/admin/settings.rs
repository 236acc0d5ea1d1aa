//! Admin → Settings: credential lifetimes, review request lifetimes and session lifetimes. Each
//! part saves on its own, so a refused value changes nothing else; auditors read them.

use keyway_api::credentials::CredentialSettings;
use keyway_api::desktop::{AdminSettings, CommandError, ErrorKind};
use keyway_api::reviews::ReviewSettings;
use keyway_api::users::SessionSettings;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner};
use crate::ipc;

#[component]
pub(super) fn SettingsSection(can_change: bool) -> impl IntoView {
    let settings = RwSignal::new(None::<AdminSettings>);
    let error = RwSignal::new(None::<CommandError>);
    spawn_local(async move {
        match ipc::admin_settings().await {
            Ok(s) => {
                settings.try_set(Some(s));
            }
            Err(e) => {
                error.try_set(Some(e));
            }
        }
    });
    view! {
        <ErrorBanner error=error/>
        {move || match settings.get() {
            None if error.get().is_some() => ().into_any(),
            None => view! { <div class="loading" role="status"><Spinner/>" Loading settings…"</div> }.into_any(),
            Some(s) => view! {
                <div class="settings">
                    <Part id="credentials" title="Credentials" can_change=can_change
                        fields=vec![
                            ("default-pat-days", "Default PAT lifetime", "days", u64::from(s.credentials.default_pat_days)),
                            ("max-pat-days", "Longest PAT lifetime", "days", u64::from(s.credentials.max_pat_days)),
                        ]
                        save=Callback::new(move |(v, done): SaveCall| {
                            let (Ok(default_pat_days), Ok(max_pat_days)) = (u32::try_from(v[0]), u32::try_from(v[1])) else {
                                done.run(Err(invalid("A lifetime in days that large is not possible.")));
                                return;
                            };
                            spawn_local(async move {
                                let r = ipc::settings_set_credentials(&CredentialSettings { default_pat_days, max_pat_days }).await;
                                done.run(r.map(|s| format!("Saved: new PATs live {} days by default, {} at most.", s.default_pat_days, s.max_pat_days)));
                            });
                        })/>
                    <Part id="reviews" title="Review requests" can_change=can_change
                        fields=vec![
                            ("review-default-ttl", "Default time to decide", "minutes", s.reviews.default_ttl_secs / 60),
                            ("review-max-ttl", "Longest time to decide", "minutes", s.reviews.max_ttl_secs / 60),
                        ]
                        save=Callback::new(move |(v, done): SaveCall| {
                            let r = ReviewSettings { default_ttl_secs: v[0].saturating_mul(60), max_ttl_secs: v[1].saturating_mul(60) };
                            spawn_local(async move {
                                let r = ipc::settings_set_reviews(&r).await;
                                done.run(r.map(|s| format!("Saved: requests wait {} minutes by default, {} at most.", s.default_ttl_secs / 60, s.max_ttl_secs / 60)));
                            });
                        })/>
                    <Part id="sessions" title="Sign-in sessions" can_change=can_change
                        fields=vec![
                            ("session-absolute", "A sign-in ends after", "hours", s.sessions.absolute_secs / 3600),
                            ("session-idle", "…or when unused for", "minutes", s.sessions.idle_secs / 60),
                        ]
                        save=Callback::new(move |(v, done): SaveCall| {
                            let r = SessionSettings { absolute_secs: v[0].saturating_mul(3600), idle_secs: v[1].saturating_mul(60) };
                            spawn_local(async move {
                                let r = ipc::settings_set_sessions(&r).await;
                                done.run(r.map(|s| format!("Saved: sign-ins end after {} hours, or {} minutes unused.", s.absolute_secs / 3600, s.idle_secs / 60)));
                            });
                        })/>
                </div>
            }.into_any(),
        }}
    }
}

type Field = (&'static str, &'static str, &'static str, u64);
/// What a part's Save hands over: the numbers entered, and where to say how it went.
type SaveCall = (Vec<u64>, Callback<Result<String, CommandError>>);

/// One part of the settings: its number fields and a Save button (admins).
#[component]
fn Part(
    id: &'static str,
    title: &'static str,
    can_change: bool,
    fields: Vec<Field>,
    save: Callback<SaveCall>,
) -> impl IntoView {
    let values: Vec<RwSignal<String>> = fields.iter().map(|f| RwSignal::new(f.3.to_string())).collect();
    let error = RwSignal::new(None::<CommandError>);
    let saved = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let labels: Vec<&'static str> = fields.iter().map(|f| f.1).collect();
    let read = values.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut numbers = Vec::new();
        for (value, label) in read.iter().zip(&labels) {
            match value.get_untracked().trim().parse::<u64>() {
                Ok(n) if n > 0 => numbers.push(n),
                _ => {
                    error.set(Some(invalid(&format!("“{label}” needs a whole number above 0."))));
                    return;
                }
            }
        }
        busy.set(true);
        saved.set(None);
        save.run((
            numbers,
            Callback::new(move |r: Result<String, CommandError>| {
                busy.try_set(false);
                match r {
                    Ok(text) => {
                        error.try_set(None);
                        saved.try_set(Some(text));
                    }
                    Err(e) => {
                        error.try_set(Some(e));
                    }
                }
            }),
        ));
    };
    view! {
        <form class="card settings-part" id=format!("settings-{id}") on:submit=submit>
            <h2>{title}</h2>
            {fields.into_iter().zip(values).map(|((field, label, unit, _), value)| view! {
                <label class="field field-inline" for=field>
                    <span class="field-label">{label}</span>
                    <input id=field type="number" min="1" inputmode="numeric" disabled=!can_change
                        prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                    <span class="muted">{unit}</span>
                </label>
            }).collect_view()}
            <ErrorBanner error=error/>
            {move || saved.get().map(|text| view! { <p class="saved" role="status">{text}</p> })}
            {can_change.then(|| view! {
                <div class="actions">
                    <button id=format!("save-{id}") class="button primary" type="submit" disabled=move || busy.get()>
                        {move || if busy.get() { "Saving…" } else { "Save" }}
                    </button>
                </div>
            })}
        </form>
    }
}

fn invalid(message: &str) -> CommandError {
    CommandError { kind: ErrorKind::InvalidInput, message: message.to_owned() }
}
