//! Background work. Each job is safe to run on several nodes at once: the idempotency sweep
//! deletes by age in small batches, so two nodes sweeping together only share the work; points
//! settlement (expiry, release of pending points) changes each lot through guarded updates, so a
//! lot two nodes settle at the same moment is settled once and the other node skips it; expired
//! checkouts are claimed with `FOR UPDATE SKIP LOCKED` and released by compare-and-set.

use crate::app::state::AppState;
use huiyuan_domain::auth::Actor;
use huiyuan_store::{idempotency, utc_now};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often expired idempotency keys are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);
/// How often due points are expired or released.
const SETTLE_INTERVAL: Duration = Duration::from_secs(60);
/// Members settled per tenant per round, so one round stays short.
const SETTLE_BATCH: i64 = 500;
/// Rows deleted per transaction, so a sweep never holds the SQLite writer long.
const SWEEP_BATCH: i64 = 1_000;

/// Starts the background jobs; abort the handle to stop them.
pub fn spawn(app: AppState) -> JoinHandle<()> {
    let settler = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SETTLE_INTERVAL);
        loop {
            tick.tick().await;
            match settle_due_points(&settler, utc_now()).await {
                Ok((released, expired)) if released + expired > 0 => {
                    tracing::info!(released, expired, "points settled")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(?error, "points settlement failed"),
            }
            match crate::app::checkout::close::release_expired(&settler, utc_now()).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "expired checkouts released"),
                Err(error) => tracing::warn!(?error, "checkout expiry failed"),
            }
            crate::app::event_rewards::birthday_tick(&settler, utc_now()).await;
            crate::app::coupons::birthday_tick(&settler, utc_now()).await;
            if let Err(error) = crate::app::tiers::evaluate_due(&settler, utc_now()).await {
                tracing::warn!(?error, "tier evaluation failed");
            }
        }
    });
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

/// Deletes expired keys batch by batch; returns how many went. Housekeeping that no one audits or
/// retries, so it writes directly rather than through `AppState::write_as`.
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

/// Expires and releases every due lot (up to a batch of members per tenant); returns the points
/// (released, expired).
pub async fn settle_due_points(
    app: &AppState,
    now: time::OffsetDateTime,
) -> crate::app::error::ApiResult<(i64, i64)> {
    let mut session = app.store.read().await?;
    let tenants = huiyuan_store::tenants::list(&mut session, 10_000).await?;
    let mut work = Vec::new();
    for tenant in tenants {
        let mut members = huiyuan_store::ledger::members_with_expired_lots(
            &mut session,
            tenant.id,
            now,
            SETTLE_BATCH,
        )
        .await?;
        members.extend(
            huiyuan_store::ledger::members_with_due_pending(
                &mut session,
                tenant.id,
                now,
                SETTLE_BATCH,
            )
            .await?,
        );
        members.sort_unstable();
        members.dedup();
        work.extend(members.into_iter().map(|member| (tenant.id, member)));
    }
    drop(session);
    let (mut released, mut expired) = (0, 0);
    for (tenant, member) in work {
        let (r, e) = app
            .write_as(tenant, Actor::System, None, move |m| {
                Box::pin(async move {
                    m.now = now;
                    crate::app::ledger::settle_member(m, member).await
                })
            })
            .await?;
        released += r;
        expired += e;
    }
    Ok((released, expired))
}
