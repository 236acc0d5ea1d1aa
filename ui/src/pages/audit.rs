//! Audit (auditors and admins): the hub's audit log, newest first, filtered by actor, action,
//! outcome and time; 200 rows a page with "Load more"; new rows appear on their own while
//! "Follow live" is on; the rows the filter selects export as JSON Lines or CSV.

use std::time::Duration;

use keyway_api::auth::AuditEntry;
use keyway_api::desktop::{AuditQuery, CommandError, Exported};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{ErrorBanner, Spinner};
use crate::{ipc, time};

/// How often the page asks for new rows while following live.
const LIVE_EVERY: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, Default)]
struct Rows {
    items: Vec<AuditEntry>,
    /// The cursor of the next older page, if there is one.
    next: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Loading,
    Empty,
    Rows,
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let (actor, action, outcome) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (since, until) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let rows = RwSignal::new(None::<Rows>);
    let error = RwSignal::new(None::<CommandError>);
    let more_busy = RwSignal::new(false);
    let live = RwSignal::new(true);
    let exported = RwSignal::new(None::<Exported>);
    let exporting = RwSignal::new(false);
    // Bumped on every new query, so an answer to an older one is dropped.
    let generation = RwSignal::new(0u64);

    let query = move || -> Result<AuditQuery, CommandError> {
        Ok(AuditQuery {
            actor: actor.get_untracked(),
            action: action.get_untracked(),
            outcome: outcome.get_untracked(),
            since: day_start(&since.get_untracked(), "From")?,
            until: day_start(&until.get_untracked(), "To")?.map(|t| t + 86_400),
        })
    };

    let load = move || {
        let q = match query() {
            Ok(q) => q,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        let this = generation.get_untracked() + 1;
        generation.set(this);
        rows.set(None);
        // The notice of an earlier export spoke of the earlier filter.
        exported.set(None);
        spawn_local(async move {
            let page = ipc::audit_page(&q, None).await;
            if generation.get_untracked() != this {
                return;
            }
            match page {
                Ok(page) => {
                    rows.try_set(Some(Rows { items: page.items, next: page.next }));
                    error.try_set(None);
                }
                Err(e) => {
                    rows.try_set(Some(Rows::default()));
                    error.try_set(Some(e));
                }
            }
        });
    };
    load();

    let load_more = move |_| {
        let Some(cursor) = rows.get_untracked().and_then(|r| r.next) else { return };
        let Ok(q) = query() else { return };
        let this = generation.get_untracked();
        more_busy.set(true);
        spawn_local(async move {
            let page = ipc::audit_page(&q, Some(&cursor)).await;
            more_busy.try_set(false);
            if generation.get_untracked() != this {
                return;
            }
            match page {
                Ok(page) => rows.update(|r| {
                    if let Some(r) = r {
                        r.items.extend(page.items);
                        r.next = page.next;
                    }
                }),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };

    // Following live: the newest page again, and whatever is newer than the top row goes on top.
    let poll = move || {
        if !live.get_untracked() {
            return;
        }
        let Some(top) = rows.get_untracked().map(|r| r.items.first().map_or(0, |e| e.id)) else { return };
        let Ok(q) = query() else { return };
        let this = generation.get_untracked();
        spawn_local(async move {
            let Ok(page) = ipc::audit_page(&q, None).await else { return };
            if generation.get_untracked() != this {
                return;
            }
            let fresh: Vec<AuditEntry> = page.items.iter().filter(|e| e.id > top).cloned().collect();
            if fresh.is_empty() {
                return;
            }
            if fresh.len() == page.items.len() {
                // More arrived than a page holds: start again from the newest page.
                rows.try_set(Some(Rows { items: page.items, next: page.next }));
            } else {
                rows.try_update(|r| {
                    if let Some(r) = r {
                        r.items.splice(0..0, fresh);
                    }
                });
            }
        });
    };
    if let Ok(handle) = set_interval_with_handle(poll, LIVE_EVERY) {
        on_cleanup(move || handle.clear());
    }

    let export = move |format: &'static str| {
        let q = match query() {
            Ok(q) => q,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        exporting.set(true);
        exported.set(None);
        spawn_local(async move {
            match ipc::audit_export(&q, format).await {
                Ok(done) => {
                    exported.try_set(Some(done));
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            exporting.try_set(false);
        });
    };

    let shape = Memo::new(move |_| {
        rows.with(|r| match r {
            None => Shape::Loading,
            Some(r) if r.items.is_empty() => Shape::Empty,
            Some(_) => Shape::Rows,
        })
    });

    let text_filter = move |id: &'static str, label: &'static str, hint: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field" for=id>
                <span class="field-label">{label}</span>
                <input id=id type="search" placeholder=hint prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    let date_filter = move |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field" for=id>
                <span class="field-label">{label}</span>
                <input id=id type="date" prop:value=move || value.get()
                    on:change=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };

    view! {
        <section class="page">
            <div class="page-head">
                <div>
                    <h1>"Audit"</h1>
                    <p class="muted">"Every security event the hub recorded, newest first. The log is append-only and hash-chained."</p>
                </div>
                <div class="actions">
                    <button id="export-jsonl" class="button secondary" disabled=move || exporting.get()
                        on:click=move |_| export("jsonl")>"Export JSON Lines"</button>
                    <button id="export-csv" class="button secondary" disabled=move || exporting.get()
                        on:click=move |_| export("csv")>"Export CSV"</button>
                </div>
            </div>
            <ErrorBanner error=error/>
            {move || exported.get().map(|done| view! {
                <div id="export-done" class="banner banner-info" role="status">
                    <p class="banner-text">
                        {format!("Exported {} {} to ", done.rows, if done.rows == 1 { "row" } else { "rows" })}
                        <span id="export-path" class="mono">{done.path}</span>
                        " (readable by you only)."
                    </p>
                </div>
            })}
            <form class="filters" on:submit=move |ev| { ev.prevent_default(); load(); }>
                {text_filter("audit-actor", "Actor", "name or id", actor)}
                {text_filter("audit-action", "Action", "e.g. session. or credential.mint", action)}
                {text_filter("audit-outcome", "Outcome", "ok or an error code", outcome)}
                {date_filter("audit-since", "From", since)}
                {date_filter("audit-until", "To", until)}
                <div class="filter-actions">
                    <button id="audit-apply" class="button primary" type="submit">"Apply"</button>
                    <label class="check">
                        <input id="audit-live" type="checkbox" prop:checked=move || live.get()
                            on:change=move |ev| live.set(event_target_checked(&ev))/>
                        " Follow live"
                    </label>
                </div>
            </form>
            {move || match shape.get() {
                Shape::Loading => view! { <div class="loading" role="status"><Spinner/>" Loading the audit log…"</div> }.into_any(),
                Shape::Empty => view! {
                    <div id="audit-empty" class="empty">
                        <p><strong>"No audit rows match."</strong></p>
                        <p class="muted">"Change or clear the filters above."</p>
                    </div>
                }.into_any(),
                Shape::Rows => view! {
                    <div class="table-wrap">
                        <table id="audit-table" class="table">
                            <thead>
                                <tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Actor"</th>
                                    <th scope="col">"Action"</th>
                                    <th scope="col">"Target"</th>
                                    <th scope="col">"Outcome"</th>
                                    <th scope="col">"Detail"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || rows.get().map(|r| r.items).unwrap_or_default() key=|e| e.id let:e>
                                    <Row e=e/>
                                </For>
                            </tbody>
                        </table>
                    </div>
                    <div class="table-foot">
                        <span id="audit-count" class="muted">{move || {
                            let shown = rows.with(|r| r.as_ref().map_or(0, |r| r.items.len()));
                            format!("{shown} {} shown", if shown == 1 { "row" } else { "rows" })
                        }}</span>
                        {move || rows.with(|r| r.as_ref().is_some_and(|r| r.next.is_some())).then(|| view! {
                            <button id="audit-more" class="button secondary" disabled=move || more_busy.get()
                                on:click=load_more>
                                {move || if more_busy.get() { "Loading…" } else { "Load more" }}
                            </button>
                        })}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Row(e: AuditEntry) -> impl IntoView {
    let actor = e.actor_name.clone().or_else(|| e.actor_id.clone()).unwrap_or_else(|| "—".to_owned());
    let target = match (&e.target_kind, &e.target_id) {
        (Some(kind), Some(id)) => format!("{kind} {id}"),
        (Some(kind), None) => kind.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => String::new(),
    };
    let ok = e.outcome == "ok";
    let detail = match &e.detail {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        other => other.to_string(),
    };
    view! {
        <tr id=format!("audit-{}", e.id) data-action=e.action.clone() data-outcome=e.outcome.clone()>
            <td title=time::relative(e.at)>{time::local_date_time(e.at)}</td>
            <td>
                <div class="cell-name">{actor}</div>
                <div class="muted small">{e.actor_kind.clone()}</div>
            </td>
            <td class="mono small">{e.action.clone()}</td>
            <td class="small">{target}</td>
            <td><span class=if ok { "chip chip-ok" } else { "chip chip-danger" }>{e.outcome.clone()}</span></td>
            <td class="mono small detail" title=detail.clone()>{detail.clone()}</td>
        </tr>
    }
}

/// `YYYY-MM-DD` from a date input as the Unix time of that day's local midnight.
fn day_start(value: &str, label: &str) -> Result<Option<i64>, CommandError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let ms = js_sys::Date::parse(&format!("{value}T00:00"));
    if ms.is_nan() {
        return Err(CommandError {
            kind: keyway_api::desktop::ErrorKind::InvalidInput,
            message: format!("“{label}” is not a date: {value}"),
        });
    }
    Ok(Some((ms / 1000.0) as i64))
}
