//! The review queue as the whole UI sees it: loaded once when signed in, then kept current by
//! the hub's live events (`EVENT_REVIEW`), so the badge and the Approvals page never poll.

use keyway_api::auth::Page;
use keyway_api::desktop::{CommandError, EVENT_REVIEW, EVENT_REVIEWS_LIVE};
use keyway_api::reviews::{ReviewEvent, ReviewQuery, ReviewRequest, ReviewStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc;

/// Page size of the queue and history lists.
const PAGE: u32 = 100;

#[derive(Clone, Copy)]
pub struct Reviews {
    /// Pending requests, newest first; `None` until loaded.
    pub queue: RwSignal<Option<Vec<ReviewRequest>>>,
    /// Final requests, newest decision first; `None` until loaded.
    pub history: RwSignal<Option<Vec<ReviewRequest>>>,
    pub history_next: RwSignal<Option<String>>,
    pub error: RwSignal<Option<CommandError>>,
    /// The live stream is connected.
    pub live: RwSignal<bool>,
    pub selected: RwSignal<Option<String>>,
    started: StoredValue<bool>,
}

impl Reviews {
    pub fn new() -> Reviews {
        Reviews {
            queue: RwSignal::new(None),
            history: RwSignal::new(None),
            history_next: RwSignal::new(None),
            error: RwSignal::new(None),
            live: RwSignal::new(false),
            selected: RwSignal::new(None),
            started: StoredValue::new(false),
        }
    }

    /// Loads the queue and subscribes to live events; only the first call does anything.
    pub fn start(self) {
        if self.started.get_value() {
            return;
        }
        self.started.set_value(true);
        spawn_local(async move {
            ipc::listen::<ReviewEvent>(EVENT_REVIEW, move |event| self.apply(event)).await;
            ipc::listen::<bool>(EVENT_REVIEWS_LIVE, move |live| {
                let was = self.live.get_untracked();
                self.live.set(live);
                // Events may have been missed while disconnected: read the lists again.
                if live && !was {
                    self.reload();
                }
            })
            .await;
            if let Err(e) = ipc::reviews_subscribe().await {
                self.error.set(Some(e));
            }
            self.reload();
        });
    }

    pub fn reload(self) {
        spawn_local(async move {
            let pending = ReviewQuery { status: Some(ReviewStatus::Pending), limit: Some(PAGE), ..Default::default() };
            match ipc::reviews_list(&pending).await {
                Ok(page) => {
                    self.queue.set(Some(page.items));
                    self.error.set(None);
                }
                Err(e) => {
                    self.queue.update(|q| {
                        q.get_or_insert_with(Vec::new);
                    });
                    self.error.set(Some(e));
                }
            }
            self.load_history(None).await;
        });
    }

    /// The next page of history (`cursor` from the last page), or the first.
    pub async fn load_history(self, cursor: Option<String>) {
        let query = ReviewQuery { decided: Some(true), cursor: cursor.clone(), limit: Some(PAGE), ..Default::default() };
        match ipc::reviews_list(&query).await {
            Ok(Page { items, next }) => {
                let finals: Vec<ReviewRequest> = items.into_iter().filter(|r| r.status.is_final()).collect();
                self.history.update(|h| {
                    let h = h.get_or_insert_with(Vec::new);
                    if cursor.is_none() {
                        h.clear();
                    }
                    for r in finals {
                        if !h.iter().any(|x| x.id == r.id) {
                            h.push(r);
                        }
                    }
                });
                self.history_next.set(next);
            }
            Err(e) => {
                self.history.update(|h| {
                    h.get_or_insert_with(Vec::new);
                });
                self.error.set(Some(e));
            }
        }
    }

    /// Folds one live event into the lists.
    pub fn apply(self, event: ReviewEvent) {
        let request = event.request().clone();
        let id = request.id.clone();
        match event {
            ReviewEvent::Created { .. } | ReviewEvent::Voted { .. } => {
                self.queue.update(|q| {
                    let q = q.get_or_insert_with(Vec::new);
                    match q.iter_mut().find(|r| r.id == id) {
                        Some(existing) => *existing = request,
                        None => q.insert(0, request),
                    }
                });
            }
            ReviewEvent::Decided { .. } | ReviewEvent::Expired { .. } | ReviewEvent::Cancelled { .. } => {
                self.queue.update(|q| {
                    if let Some(q) = q {
                        q.retain(|r| r.id != id);
                    }
                });
                self.history.update(|h| {
                    let h = h.get_or_insert_with(Vec::new);
                    h.retain(|r| r.id != id);
                    h.insert(0, request);
                });
            }
        }
    }

    pub fn pending_count(self) -> Option<usize> {
        self.queue.with(|q| q.as_ref().map(Vec::len))
    }

    /// A request from either list.
    pub fn find(self, id: &str) -> Option<ReviewRequest> {
        let in_queue = self.queue.with(|q| q.as_ref().and_then(|q| q.iter().find(|r| r.id == id).cloned()));
        in_queue.or_else(|| self.history.with(|h| h.as_ref().and_then(|h| h.iter().find(|r| r.id == id).cloned())))
    }
}
