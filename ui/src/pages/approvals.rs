//! Approvals: the review queue, live, keyboard first. `j`/`k` move, `a` approves, `r` asks for
//! a reason and rejects (Enter sends, Esc cancels), `/` filters, `?` shows the keys. Decided and
//! expired requests are in History with who decided what and why. Only reviewers decide;
//! auditors read everything; others see their own requests.

use keyway_api::desktop::{CommandError, Route};
use keyway_api::reviews::{Decide, ReviewRequest, ReviewStatus, Verdict};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::components::{ErrorBanner, Spinner};
use crate::payload::{AuthorizationDetails, Payload};
use crate::reviews::Reviews;
use crate::{Shell, ipc, time};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Queue,
    History,
}

#[component]
pub fn ApprovalsPage(roles: Vec<String>) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let reviews = expect_context::<Reviews>();
    let is_reviewer = roles.iter().any(|r| r == "reviewer");
    let reads_all = is_reviewer || roles.iter().any(|r| r == "auditor" || r == "admin");
    let tab = RwSignal::new(Tab::Queue);
    let filter = RwSignal::new(String::new());
    let help = RwSignal::new(false);
    // A decision key came while the keys were not armed.
    let keys_waited = RwSignal::new(false);
    Effect::new(move |_| {
        if shell.keys_armed.get() {
            keys_waited.set(false);
        }
    });
    let rejecting = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<CommandError>);
    let detail = RwSignal::new(None::<ReviewRequest>);
    let filter_ref = NodeRef::<leptos::html::Input>::new();
    let reason_ref = NodeRef::<leptos::html::Textarea>::new();

    let items = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        let list = match tab.get() {
            Tab::Queue => reviews.queue.get(),
            Tab::History => reviews.history.get(),
        };
        list.map(|list| {
            list.into_iter()
                .filter(|r| {
                    needle.is_empty()
                        || format!("{} {} {}", r.title, r.kind, r.submitter.name).to_lowercase().contains(&needle)
                })
                .collect::<Vec<_>>()
        })
    });

    // The detail pane: the selected request with its payload, fetched when the selection
    // changes and again when a live event changes the request.
    Effect::new(move |_| {
        let Some(id) = reviews.selected.get() else {
            detail.set(None);
            return;
        };
        // Re-run on changes to the listed copy (a vote, a decision).
        let listed = reviews.find(&id);
        let listed_status = listed.as_ref().map(|r| (r.status, r.approvals));
        let current = detail.get_untracked();
        if current.as_ref().is_some_and(|d| d.id == id && Some((d.status, d.approvals)) == listed_status) {
            return;
        }
        spawn_local(async move {
            match ipc::review_get(&id).await {
                Ok(r) => {
                    // The person may have moved on meanwhile.
                    if reviews.selected.get_untracked().as_deref() == Some(&r.id) {
                        detail.try_set(Some(r));
                    }
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    });

    let move_selection = move |step: isize| {
        let Some(list) = items.get_untracked() else { return };
        if list.is_empty() {
            return;
        }
        let current = reviews.selected.get_untracked();
        let index = current.and_then(|id| list.iter().position(|r| r.id == id));
        let next = match index {
            None => 0,
            Some(i) => (i as isize + step).clamp(0, list.len() as isize - 1) as usize,
        };
        let id = list[next].id.clone();
        select(reviews, shell, &id);
        scroll_into_view(&format!("review-{id}"));
    };

    // The hub says whether this person may vote on the request now (its rule, not a copy).
    let can_decide = move || detail.with(|d| d.as_ref().is_some_and(|d| d.may_decide));
    let can_decide = StoredValue::new(can_decide);

    let decide = move |verdict: Verdict| {
        let Some(request) = detail.get_untracked() else { return };
        let why = reason.get_untracked().trim().to_owned();
        if verdict == Verdict::Reject && why.is_empty() {
            error.set(Some(CommandError {
                kind: keyway_api::desktop::ErrorKind::InvalidInput,
                message: "Say why you reject it: the submitter sees your reason.".into(),
            }));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let decision = Decide { verdict, reason: (!why.is_empty()).then_some(why) };
            match ipc::review_decide(&request.id, &decision).await {
                Ok(updated) => {
                    rejecting.try_set(false);
                    reason.try_set(String::new());
                    let finished = updated.status.is_final();
                    detail.try_set(Some(updated.clone()));
                    if finished {
                        // Live events will say the same; apply now so the queue moves at once.
                        reviews.apply(keyway_api::reviews::ReviewEvent::Decided { request: updated });
                        // Go on with the next request, as a reviewer working a queue expects.
                        if let Some(next) = reviews.queue.get_untracked().and_then(|q| q.first().cloned()) {
                            select(reviews, shell, &next.id);
                        }
                    }
                }
                Err(e) => {
                    error.try_set(Some(e));
                    // Someone else may have decided: show the request as it is now.
                    if let Ok(now) = ipc::review_get(&request.id).await {
                        if now.status.is_final() {
                            reviews.apply(keyway_api::reviews::ReviewEvent::Decided { request: now.clone() });
                        }
                        detail.try_set(Some(now));
                    }
                }
            }
            busy.try_set(false);
        });
    };

    let start_reject = move || {
        rejecting.set(true);
        error.set(None);
    };
    // The reason field takes the focus as soon as it is on the page.
    Effect::new(move |_| {
        if let Some(el) = reason_ref.get() {
            let _ = el.focus();
        }
    });

    let handle = window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.default_prevented() {
            return;
        }
        // Keys typed into a field belong to the field, except Escape.
        let in_field = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if in_field {
            if ev.key() == "Escape" {
                if rejecting.get_untracked() {
                    rejecting.set(false);
                    reason.set(String::new());
                }
                if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                    let _ = el.blur();
                }
                ev.prevent_default();
            }
            return;
        }
        // While a rejection is being written, no key decides anything: a slipped focus must
        // never turn the reason's letters into an approval.
        if rejecting.get_untracked() {
            if ev.key() == "Escape" {
                rejecting.set(false);
                reason.set(String::new());
                ev.prevent_default();
            }
            return;
        }
        // Right after a link or the focus arrived, a decision key is not the person's answer
        // to this request: it is ignored, and the page says why.
        if matches!(ev.key().as_str(), "a" | "r") && !shell.keys_armed.get_untracked() {
            keys_waited.set(true);
            ev.prevent_default();
            return;
        }
        let handled = match ev.key().as_str() {
            "j" | "ArrowDown" => {
                move_selection(1);
                true
            }
            "k" | "ArrowUp" => {
                move_selection(-1);
                true
            }
            "a" if can_decide.with_value(|f| f()) && !busy.get_untracked() => {
                decide(Verdict::Approve);
                true
            }
            "r" if can_decide.with_value(|f| f()) && !busy.get_untracked() => {
                start_reject();
                true
            }
            "/" => {
                if let Some(el) = filter_ref.get_untracked() {
                    let _ = el.focus();
                }
                true
            }
            "?" => {
                help.update(|h| *h = !*h);
                true
            }
            "Escape" => {
                help.set(false);
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    });
    on_cleanup(move || handle.remove());

    let tab_button = move |value: Tab, id: &'static str, label: &'static str| {
        view! {
            <button id=id role="tab" class="tab small" class:current=move || tab.get() == value
                aria-selected=move || (tab.get() == value).to_string()
                on:click=move |_| tab.set(value)>
                {label}
                {(value == Tab::Queue).then_some(move || reviews.pending_count().map(|n| view! {
                    <span id="queue-count" class="badge badge-soft">{n.to_string()}</span>
                }))}
            </button>
        }
    };

    view! {
        <section class="page approvals">
            <div class="page-head">
                <div>
                    <h1>{if reads_all { "Approvals" } else { "My review requests" }}</h1>
                    <p class="muted">
                        {if is_reviewer {
                            "Requests from agents and people waiting for a decision. Press ? for the keys."
                        } else if reads_all {
                            "Every request and decision, read-only."
                        } else {
                            "The requests you submitted and what reviewers decided."
                        }}
                    </p>
                </div>
                <span id="live-indicator" class="live" class:on=move || reviews.live.get()
                    title=move || if reviews.live.get() { "Updates arrive as they happen" } else { "Reconnecting to live updates…" }>
                    {move || if reviews.live.get() { "● Live" } else { "○ Offline" }}
                </span>
            </div>
            <ErrorBanner error=Signal::derive(move || error.get().or_else(|| reviews.error.get()))/>
            {move || keys_waited.get().then(|| view! {
                <div id="keys-wait" class="banner banner-info" role="status">
                    <p class="banner-text">
                        "Keyway just came to the front, so that key decided nothing. Press it again, or use the buttons."
                    </p>
                </div>
            })}
            <div class="split">
                <div class="list-pane">
                    <div class="tabs tabs-inline" role="tablist">
                        {tab_button(Tab::Queue, "tab-queue", "Queue")}
                        {tab_button(Tab::History, "tab-history", "History")}
                    </div>
                    <input id="review-filter" node_ref=filter_ref type="search" placeholder="Filter  ( / )"
                        aria-label="Filter requests"
                        prop:value=move || filter.get() on:input=move |ev| filter.set(event_target_value(&ev))/>
                    {move || match items.get() {
                        None => view! { <div class="loading" role="status"><Spinner/>" Loading…"</div> }.into_any(),
                        Some(list) if list.is_empty() => view! {
                            <p id="queue-empty" class="empty muted">
                                {match tab.get() {
                                    Tab::Queue if filter.with(String::is_empty) => "Nothing waiting. New requests appear here as they arrive.",
                                    Tab::History if filter.with(String::is_empty) => "No decided requests yet.",
                                    _ => "Nothing matches the filter.",
                                }}
                            </p>
                        }.into_any(),
                        Some(list) => view! {
                            <ul id="queue-list" class="queue" role="listbox" aria-label="Requests">
                                {list.into_iter().map(|r| {
                                    let id = r.id.clone();
                                    let selected = {
                                        let id = id.clone();
                                        move || reviews.selected.get().as_deref() == Some(id.as_str())
                                    };
                                    let click_id = id.clone();
                                    view! {
                                        <li id=format!("review-{id}") role="option" class="queue-item"
                                            class:selected=selected.clone()
                                            aria-selected=move || selected().to_string()
                                            data-status=r.status.as_str()
                                            on:click=move |_| select(reviews, shell, &click_id)>
                                            <div class="queue-title">{r.title.clone()}</div>
                                            <div class="queue-meta muted small">
                                                <span class="chip">{r.kind.clone()}</span>
                                                " "{r.submitter.name.clone()}" · "{time::relative(r.created_at)}
                                                {(r.status != ReviewStatus::Pending).then(|| view! {
                                                    " · "<span class=format!("status status-{}", r.status.as_str())>{r.status.as_str()}</span>
                                                })}
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                    {move || (tab.get() == Tab::History && reviews.history_next.get().is_some()).then(|| view! {
                        <button id="history-more" class="button link" on:click=move |_| {
                            let cursor = reviews.history_next.get_untracked();
                            spawn_local(async move { reviews.load_history(cursor).await });
                        }>"Load more"</button>
                    })}
                </div>
                <div id="review-detail" class="detail-pane" aria-live="polite">
                    {move || match detail.get() {
                        None => view! {
                            <p class="muted empty">
                                {if is_reviewer { "Select a request (j / k) to read it and decide." } else { "Select a request to read it." }}
                            </p>
                        }.into_any(),
                        Some(r) => view! {
                            <Detail r=r/>
                            {move || can_decide.with_value(|f| f()).then(|| view! {
                                <div class="decide">
                                    {move || if rejecting.get() {
                                        view! {
                                            <form class="form" on:submit=move |ev| { ev.prevent_default(); decide(Verdict::Reject); }>
                                                <label class="label" for="reject-reason">"Why do you reject it?"</label>
                                                <textarea id="reject-reason" node_ref=reason_ref rows="3"
                                                    prop:value=move || reason.get()
                                                    on:input=move |ev| reason.set(event_target_value(&ev))
                                                    on:keydown=move |ev: KeyboardEvent| {
                                                        if ev.key() == "Enter" && !ev.shift_key() {
                                                            ev.prevent_default();
                                                            decide(Verdict::Reject);
                                                        }
                                                    }></textarea>
                                                <p class="hint">"Enter sends · Shift+Enter for a new line · Esc cancels"</p>
                                                <div class="actions">
                                                    <button id="reject-send" type="submit" class="button danger-solid" disabled=move || busy.get()>"Reject"</button>
                                                    <button type="button" class="button secondary" on:click=move |_| { rejecting.set(false); reason.set(String::new()); }>"Cancel"</button>
                                                </div>
                                            </form>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <div class="actions">
                                                <button id="approve" class="button primary" disabled=move || busy.get()
                                                    on:click=move |_| decide(Verdict::Approve)>"Approve "<kbd>"a"</kbd></button>
                                                <button id="reject" class="button danger" disabled=move || busy.get()
                                                    on:click=move |_| start_reject()>"Reject… "<kbd>"r"</kbd></button>
                                            </div>
                                        }.into_any()
                                    }}
                                </div>
                            })}
                        }.into_any(),
                    }}
                </div>
            </div>
        </section>
        {move || help.get().then(|| view! {
            <div class="overlay" on:click=move |_| help.set(false)>
                <div id="keys-help" class="dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts">
                    <h2>"Keys"</h2>
                    <dl class="keys">
                        <dt><kbd>"j"</kbd>" "<kbd>"k"</kbd></dt><dd>"next / previous request"</dd>
                        <dt><kbd>"a"</kbd></dt><dd>"approve"</dd>
                        <dt><kbd>"r"</kbd></dt><dd>"reject with a reason (Enter sends, Esc cancels)"</dd>
                        <dt><kbd>"/"</kbd></dt><dd>"filter"</dd>
                        <dt><kbd>"?"</kbd></dt><dd>"show or hide these keys"</dd>
                    </dl>
                </div>
            </div>
        })}
    }
}

#[component]
fn Detail(r: ReviewRequest) -> impl IntoView {
    let status = r.status.as_str();
    let votes = (r.threshold > 1).then(|| format!("{} of {} approvals", r.approvals, r.threshold));
    let decisions = r.decisions.clone();
    view! {
        <article class="detail" data-id=r.id.clone() data-status=status>
            <header class="detail-head">
                <h2 id="detail-title">{r.title.clone()}</h2>
                <span id="detail-status" class=format!("status status-{status}")>{status}</span>
            </header>
            <dl class="facts compact">
                <div class="fact"><dt>"From"</dt><dd>{r.submitter.name.clone()}" "<span class="muted small">"("{r.submitter.kind.as_str().replace('_', " ")}")"</span></dd></div>
                <div class="fact"><dt>"Kind"</dt><dd><span class="chip">{r.kind.clone()}</span></dd></div>
                <div class="fact"><dt>"Submitted"</dt><dd title=time::local_date_time(r.created_at)>{time::relative(r.created_at)}</dd></div>
                {(r.status == ReviewStatus::Pending).then(|| view! {
                    <div class="fact"><dt>"Expires"</dt><dd title=time::local_date_time(r.expires_at)>{time::relative(r.expires_at)}</dd></div>
                })}
                {votes.map(|v| view! { <div class="fact"><dt>"Votes"</dt><dd>{v}</dd></div> })}
                {r.asked_of.clone().map(|a| view! {
                    <div class="fact"><dt>"Asked of"</dt><dd id="detail-asked-of">{a.name}</dd></div>
                })}
            </dl>
            {(!r.links.is_empty()).then(|| view! {
                <ul class="links">
                    {r.links.iter().map(|l| view! {
                        <li>{l.label.clone()}" "<span class="mono small muted">{l.url.clone()}</span></li>
                    }).collect_view()}
                </ul>
            })}
            <div id="payload" class="payload-wrap">
                {if r.kind == keyway_api::ciba::REVIEW_KIND {
                    view! {
                        <AuthorizationDetails
                            details=r.payload.clone().unwrap_or(serde_json::Value::Null)
                            agent=r.submitter.name.clone()
                        />
                    }.into_any()
                } else {
                    view! { <Payload payload=r.payload.clone().unwrap_or(serde_json::Value::Null) content_type=r.content_type/> }.into_any()
                }}
            </div>
            {(!decisions.is_empty()).then(|| view! {
                <h3 class="small-heading">"Decisions"</h3>
                <ol id="decisions" class="decisions">
                    {decisions.into_iter().map(|d| {
                        let who = d.actor.map(|a| a.name).unwrap_or_else(|| "Keyway".to_owned());
                        let what = match d.verdict {
                            Verdict::Approve => "approved",
                            Verdict::Reject => "rejected",
                            Verdict::Expire => "expired it",
                            Verdict::Cancel => "cancelled it",
                        };
                        view! {
                            <li class=format!("decision decision-{what}")>
                                <strong>{who}</strong>" "{what}" "<span class="muted small" title=time::local_date_time(d.at)>{time::relative(d.at)}</span>
                                {d.reason.map(|reason| view! { <blockquote class="reason">{reason}</blockquote> })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            })}
        </article>
    }
}

/// Selects a request and keeps the route in step (so the page can be linked).
fn select(reviews: Reviews, shell: Shell, id: &str) {
    reviews.selected.set(Some(id.to_owned()));
    let route = Route::Approvals { id: Some(id.to_owned()) };
    if shell.route.get_untracked() != route {
        shell.route.set(route);
    }
}

fn scroll_into_view(element_id: &str) {
    let element_id = element_id.to_owned();
    request_animation_frame(move || {
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(&element_id)) {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            el.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
}
