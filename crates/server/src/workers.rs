//! Background work. Each job is safe to run on several nodes at once: the idempotency sweep
//! deletes by age in small batches, so two nodes sweeping together only share the work.

use crate::state::AppState;
use huiyuan_store::{idempotency, utc_now};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often expired idempotency keys are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);
/// Rows deleted per transaction, so a sweep never holds the SQLite writer long.
const SWEEP_BATCH: i64 = 1_000;

/// Starts the background jobs; abort the handle to stop them.
pub fn spawn(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(error) = sweep_idempotency_keys(&app).await {
                tracing::warn!(%error, "idempotency key sweep failed");
            }
        }
    })
}

/// Deletes expired keys batch by batch; returns how many went.
pub async fn sweep_idempotency_keys(app: &AppState) -> Result<u64, huiyuan_store::StoreError> {
    let mut total = 0;
    loop {
        let mut session = app.store.write().await?;
        let deleted = idempotency::purge_expired(&mut session, utc_now(), SWEEP_BATCH).await?;
        session.commit().await?;
        total += deleted;
        if deleted < SWEEP_BATCH as u64 {
            return Ok(total);
        }
    }
}
