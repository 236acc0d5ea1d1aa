//! The hub's background work besides the review sweeper: purging expired rows, writing
//! credential and client last-used times and refusal summaries behind, expiring registered
//! clients unused for long, and watching the signing keys.

use std::time::Duration;

use tokio::sync::watch;

use crate::audit::Audit;
use crate::credentials::cache::FLUSH_INTERVAL;
use crate::error::report;
use crate::state::AppState;
use crate::store::Store;

/// How often expired codes, sessions and tokens are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes expired rows every [`PURGE_INTERVAL`] until `stop`, on the hub holding the
/// periodic-work lease.
pub(crate) async fn purge_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            // Only `true` is ever sent; an error means the sender is gone: stop either way.
            _ = stop.changed() => return,
            _ = interval.tick() => {
                if !crate::notices::leads(&state).await {
                    continue;
                }
                crate::notices::prune(&state).await;
                match state.store.purge_expired(state.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %report(&e), "purging expired rows failed"),
                }
                if let Err(e) = crate::throttle::purge(&state.store, state.now()).await {
                    tracing::warn!(error = %report(&e), "purging sign-in counters failed");
                }
                if let Err(e) = purge_unused_clients(&state).await {
                    tracing::warn!(error = %report(&e), "purging unused registered clients failed");
                }
            }
        }
    }
}

/// Deletes the dynamically registered clients unused for `Settings::unused_client_days`
/// (`0`: never), after writing the last uses this hub holds, with one audit row.
async fn purge_unused_clients<S: Store>(state: &AppState<S>) -> Result<(), crate::store::StoreError> {
    let days = state.settings.unused_client_days;
    if days == 0 {
        return Ok(());
    }
    state.client_usage.flush(&state.store).await?;
    let now = state.now();
    let before = now - i64::from(days) * 24 * 3600;
    let deleted = state
        .store
        .purge_unused_clients(before, now, |clients| {
            let ids: Vec<&str> = clients.iter().take(100).map(|c| c.id.as_str()).collect();
            Audit::by_hub(now, "client.expire")
                .detail(serde_json::json!({ "count": clients.len(), "clients": ids, "unused_days": days }))
                .event()
        })
        .await?;
    if !deleted.is_empty() {
        tracing::info!(clients = deleted.len(), days, "deleted registered clients unused for too long");
    }
    Ok(())
}

/// Writes the usage buffer every [`FLUSH_INTERVAL`] until `stop`, then once more.
pub(crate) async fn flush_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(FLUSH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            _ = interval.tick() => false,
        };
        if let Err(e) = state.credentials.usage.flush(&state.store).await {
            tracing::warn!(error = %report(&e), "writing credential last-used times failed");
        }
        if let Err(e) = state.client_usage.flush(&state.store).await {
            tracing::warn!(error = %report(&e), "writing registered clients' last uses failed");
        }
        if stopping {
            return;
        }
    }
}

/// Every `Settings::key_refresh_interval` until `stop`: re-reads the signing keys (a rotation
/// by another process on the database), rotates the key when the admin's period says it is
/// due, and drops the sealed seeds of keys past their overlap.
pub(crate) async fn key_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(state.settings.key_refresh_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the keys were just loaded.
    interval.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {
                if let Err(e) = check_keys(&state).await {
                    tracing::warn!(error = %report(&e), "checking the signing keys failed");
                }
            }
        }
    }
}

async fn check_keys<S: Store>(state: &AppState<S>) -> Result<(), crate::error::Error> {
    state.keys.refresh(&state.store).await?;
    // Rotating and dropping old seeds is periodic work for one hub; every hub re-reads.
    if !crate::notices::leads(state).await {
        return Ok(());
    }
    let now = state.now();
    let settings = state.store.key_settings().await?;
    if state.keys.due_for_rotation(settings.rotation_days, now) {
        let days = settings.rotation_days;
        // Another hub on the database may rotate at the same moment: only one rotation applies.
        state
            .keys
            .rotate(&state.store, now, |kid, previous, verify_until| {
                Audit::by_hub(now, "key.rotate")
                    .target("signing_key", kid)
                    .detail(serde_json::json!({
                        "previous": previous, "previous_verifies_until": verify_until, "rotation_days": days
                    }))
                    .event()
            })
            .await?;
        crate::notices::changed(state, &[crate::notices::Notice::Keys]).await;
    }
    let dropped = state.store.drop_expired_seeds(now).await?;
    if dropped > 0 {
        tracing::info!(keys = dropped, "dropped the seeds of signing keys past their overlap");
        crate::notices::changed(state, &[crate::notices::Notice::Keys]).await;
    }
    Ok(())
}
/// Writes the refusals counted for the audit log every [`FLUSH_INTERVAL`] until `stop`, then
/// once more (`crate::audit::refusals`).
pub(crate) async fn refusal_flush_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(FLUSH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            _ = interval.tick() => false,
        };
        if let Err(e) = state.refusals.flush(&state.store).await {
            tracing::warn!(error = %report(&e), "writing refusal summaries to the audit log failed; kept for the next try");
        }
        if stopping {
            return;
        }
    }
}
