//! Counters of failed attempts (sign-in throttling), shared by the hubs of one database.

use std::future::Future;

use super::error::StoreError;

/// The failures counted under one key in the current window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleRecord {
    /// Failures since `window_start`.
    pub failures: u32,
    pub window_start: i64,
    /// No attempt is taken before this time (0: none).
    pub locked_until: i64,
}

/// Storage of failure counters. Keys are opaque to the store.
pub trait ThrottleStore: Send + Sync {
    /// The counter of `key`, if any.
    fn throttle(&self, key: &str) -> impl Future<Output = Result<Option<ThrottleRecord>, StoreError>> + Send;
    /// Counts one failure at `now`: a counter whose window started at or before
    /// `now - window_secs` starts again at 1. Returns the counter after the change.
    fn throttle_fail(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> impl Future<Output = Result<ThrottleRecord, StoreError>> + Send;
    /// Refuses attempts under `key` until `until` (a later lock is kept).
    fn throttle_lock(&self, key: &str, until: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Forgets the counter of `key` (a success).
    fn throttle_clear(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes counters whose window started before `window_before` and whose lock ended
    /// before `now`; returns how many.
    fn throttle_purge(&self, window_before: i64, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
