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
    /// Whose queue this is (the signed-in subject); `None` until the first sign-in.
    listening: StoredValue<Option<String>>,
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
            listening: StoredValue::new(None),
        }
    }

    /// Called each time someone is signed in: loads the queue and (re)subscribes to live events.
    /// A different person starts from empty lists, never from the previous one's.
    pub fn start(self, subject: &str) {
        let first = self.listening.get_value().is_none();
        if self.listening.get_value().as_deref() != Some(subject) {
            self.queue.set(None);
            self.history.set(None);
            self.history_next.set(None);
            self.selected.set(None);
            self.error.set(None);
            self.listening.set_value(Some(subject.to_owned()));
        }
        spawn_local(async move {
            // The listeners live as long as the window: register them once.
            if first {
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
            }
            // Idempotent in the shell; after a sign-out the feed was stopped and starts again.
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
        let query =
            ReviewQuery { decided: Some(true), cursor: cursor.clone(), limit: Some(PAGE), ..Default::default() };
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
