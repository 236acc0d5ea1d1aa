//! Refusals that change nothing (a refused exchange) are not written one row each: anyone can
//! send them, unauthenticated, as fast as the hub answers. They are counted in memory and
//! written every flush interval as summary rows, appended to the chain like any other: one
//! row per (action, actor, target, outcome, reason) with `count`, `first_at` and `last_at` in
//! its detail. The buffer holds at most [`MAX_KEYS`] distinct keys; refusals beyond them are
//! counted into one `overflow` row per action. The request path takes one short lock and
//! never waits for the database.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::store::{AuditEvent, Store, StoreError};

/// Distinct refusals held between two flushes.
pub(crate) const MAX_KEYS: usize = 4096;

/// What makes two refusals the same summary row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    actor_kind: String,
    actor_id: Option<String>,
    actor_name: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    outcome: String,
    /// The event's detail, as JSON text.
    detail: String,
}

#[derive(Clone, Copy, Debug)]
struct Tally {
    count: u64,
    first_at: i64,
    last_at: i64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.count += other.count;
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
    }
}

#[derive(Debug, Default)]
struct Buffer {
    /// Each key with its tally and the order it was first seen in.
    counts: HashMap<Key, (u64, Tally)>,
    /// Refusals that found the buffer full, by action.
    overflow: HashMap<String, Tally>,
    seen: u64,
}

impl Buffer {
    fn add(&mut self, key: Key, tally: Tally) {
        if let Some((_, t)) = self.counts.get_mut(&key) {
            t.add(tally);
        } else if self.counts.len() < MAX_KEYS {
            self.seen += 1;
            self.counts.insert(key, (self.seen, tally));
        } else {
            self.overflow.entry(key.action).and_modify(|t| t.add(tally)).or_insert(tally);
        }
    }
}

/// The refusals not yet written.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    buffer: Mutex<Buffer>,
}

fn key_of(event: AuditEvent) -> (Key, i64) {
    let key = Key {
        actor_kind: event.actor_kind,
        actor_id: event.actor_id,
        actor_name: event.actor_name,
        action: event.action,
        target_kind: event.target_kind,
        target_id: event.target_id,
        outcome: event.outcome,
        detail: event.detail.to_string(),
    };
    (key, event.at)
}

fn summary(key: Key, tally: Tally) -> AuditEvent {
    let mut detail = match serde_json::from_str::<Value>(&key.detail) {
        Ok(Value::Object(map)) => map,
        _ => Default::default(),
    };
    detail.insert("count".into(), tally.count.into());
    detail.insert("first_at".into(), tally.first_at.into());
    detail.insert("last_at".into(), tally.last_at.into());
    AuditEvent {
        id: 0,
        at: tally.last_at,
        actor_kind: key.actor_kind,
        actor_id: key.actor_id,
        actor_name: key.actor_name,
        action: key.action,
        target_kind: key.target_kind,
        target_id: key.target_id,
        outcome: key.outcome,
        detail: Value::Object(detail),
    }
}

impl Refusals {
    /// Counts a refusal; it is written at the next flush.
    pub(crate) fn record(&self, event: AuditEvent) {
        let (key, at) = key_of(event);
        let tally = Tally { count: 1, first_at: at, last_at: at };
        if let Ok(mut buffer) = self.buffer.lock() {
            buffer.add(key, tally);
        }
    }

    /// Takes what is buffered as summary rows, in the order first seen, the overflow last.
    fn take(&self) -> Vec<AuditEvent> {
        let Ok(mut buffer) = self.buffer.lock() else { return Vec::new() };
        let Buffer { counts, overflow, .. } = std::mem::take(&mut *buffer);
        drop(buffer);
        let mut rows: Vec<(u64, Key, Tally)> = counts.into_iter().map(|(k, (seen, t))| (seen, k, t)).collect();
        rows.sort_by_key(|(seen, _, _)| *seen);
        let mut events: Vec<AuditEvent> = rows.into_iter().map(|(_, k, t)| summary(k, t)).collect();
        let mut overflow: Vec<(String, Tally)> = overflow.into_iter().collect();
        overflow.sort_by(|a, b| a.0.cmp(&b.0));
        for (action, tally) in overflow {
            let key = Key {
                actor_kind: "hub".into(),
                actor_id: None,
                actor_name: None,
                action,
                target_kind: None,
                target_id: None,
                outcome: "refused".into(),
                detail: json!({ "reason": "overflow", "max_distinct": MAX_KEYS }).to_string(),
            };
            events.push(summary(key, tally));
        }
        events
    }

    /// Puts rows that could not be written back, to be tried again at the next flush.
    fn put_back(&self, events: Vec<AuditEvent>) {
        let Ok(mut buffer) = self.buffer.lock() else { return };
        for event in events {
            let tally = Tally {
                count: event.detail["count"].as_u64().unwrap_or(1),
                first_at: event.detail["first_at"].as_i64().unwrap_or(event.at),
                last_at: event.detail["last_at"].as_i64().unwrap_or(event.at),
            };
            let mut event = event;
            if let Value::Object(map) = &mut event.detail {
                for field in ["count", "first_at", "last_at"] {
                    map.remove(field);
                }
            }
            let (key, _) = key_of(event);
            buffer.add(key, tally);
        }
    }

    /// Writes what is buffered, in one transaction; on failure keeps it for the next flush.
    /// Returns how many summary rows were written.
    pub(crate) async fn flush<S: Store>(&self, store: &S) -> Result<usize, StoreError> {
        let events = self.take();
        if events.is_empty() {
            return Ok(0);
        }
        match store.insert_audits(&events).await {
            Ok(()) => Ok(events.len()),
            Err(e) => {
                self.put_back(events);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Audit;

    fn refused(at: i64, id: &str, reason: &str) -> AuditEvent {
        Audit::by_holder(None, at, "exchange.refused")
            .target("credential", id)
            .outcome("invalid_credential")
            .detail(json!({ "reason": reason }))
            .event()
    }

    #[test]
    fn the_same_refusal_is_one_row_with_its_count_and_times() {
        let r = Refusals::default();
        for at in [5, 3, 9] {
            r.record(refused(at, "cr_a", "unknown"));
        }
        r.record(refused(4, "cr_a", "secret_mismatch"));
        r.record(refused(6, "cr_b", "unknown"));
        let rows = r.take();
        assert_eq!(rows.len(), 3);
        let first = &rows[0];
        assert_eq!((first.target_id.as_deref(), first.at), (Some("cr_a"), 9));
        assert_eq!(first.detail, json!({"reason": "unknown", "count": 3, "first_at": 3, "last_at": 9}));
        assert_eq!(rows[1].detail["reason"], "secret_mismatch");
        assert_eq!(rows[2].target_id.as_deref(), Some("cr_b"));
        assert!(r.take().is_empty(), "taken once");
    }

    #[test]
    fn the_buffer_is_bounded_and_counts_what_it_cannot_hold() {
        let r = Refusals::default();
        let n = MAX_KEYS + 100;
        for i in 0..n {
            r.record(refused(i as i64, &format!("cr_{i}"), "unknown"));
        }
        let rows = r.take();
        assert_eq!(rows.len(), MAX_KEYS + 1);
        let overflow = rows.last().unwrap();
        assert_eq!(overflow.detail["reason"], "overflow");
        assert_eq!(overflow.detail["count"], 100);
        let total: u64 = rows.iter().map(|e| e.detail["count"].as_u64().unwrap()).sum();
        assert_eq!(total, n as u64);
    }

    #[test]
    fn rows_put_back_merge_with_new_ones() {
        let r = Refusals::default();
        r.record(refused(1, "cr_a", "unknown"));
        let rows = r.take();
        r.record(refused(7, "cr_a", "unknown"));
        r.put_back(rows);
        let rows = r.take();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].detail, json!({"reason": "unknown", "count": 2, "first_at": 1, "last_at": 7}));
    }
}
