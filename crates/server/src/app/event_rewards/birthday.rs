//! Birthday rewards, once a year, granted in batches by the background loop.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::activity::once;
use crate::app::event_rewards::days::local_day;
use crate::app::event_rewards::posting::Award;
use crate::app::event_rewards::{BIRTHDAY_BATCH, BIRTHDAY_INTERVAL};
use crate::app::state::AppState;
use crate::app::tenancy::zone::tenant_zone;
use huiyuan_domain::auth::Actor;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_store::event_rewards;
use std::sync::Mutex;
use time::{Date, Month, OffsetDateTime};

/// Every `MM-DD` that counts as a birthday on `today`: 29 February birthdays are kept on 28
/// February in years without one.
pub(super) fn birthday_keys(today: Date) -> Vec<String> {
    let mut keys = vec![format!("{:02}-{:02}", u8::from(today.month()), today.day())];
    if today.month() == Month::February
        && today.day() == 28
        && !time::util::is_leap_year(today.year())
    {
        keys.push("02-29".to_owned());
    }
    keys
}

/// Grants the birthday reward to every active member whose birthday is today in their tenant's
/// time zone (once a year each); returns how many were rewarded. Safe on several nodes at once:
/// a member's birthday event and ledger key are unique, so a twin run only finds them taken.
pub async fn grant_birthday_rewards(app: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let mut session = app.store.read().await?;
    let tenants = huiyuan_store::tenants::list(&mut session, 10_000).await?;
    let mut work = Vec::new();
    for tenant in tenants {
        let points = crate::app::event_rewards::config::load(&mut session, tenant.id)
            .await?
            .birthday_points;
        if points <= 0 {
            continue;
        }
        let tz = tenant_zone(&mut session, tenant.id).await?;
        let today = local_day(now, &tz)?;
        let year_start = today.replace_ordinal(1).map_err(ApiError::internal)?;
        let due = event_rewards::members_due_birthday(
            &mut session,
            tenant.id,
            &birthday_keys(today),
            year_start,
            None,
            BIRTHDAY_BATCH,
        )
        .await?;
        work.extend(due.into_iter().map(|member| (tenant.id, member, today)));
    }
    drop(session);
    let mut rewarded = 0;
    for (tenant, member, today) in work {
        // One member's failure (a twin run on another node) does not hold up the others.
        match birthday_reward(app, tenant, member, today, now).await {
            Ok(true) => rewarded += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(?error, %member, "birthday reward failed"),
        }
    }
    Ok(rewarded)
}

/// One member's birthday reward of the year, in its own transaction; `false` when already given.
pub(super) async fn birthday_reward(
    app: &AppState,
    tenant: TenantId,
    member: MemberId,
    today: Date,
    now: OffsetDateTime,
) -> ApiResult<bool> {
    app.write_as(tenant, Actor::System, None, move |m| {
        Box::pin(async move {
            m.now = now;
            let points = crate::app::event_rewards::config::load(&mut m.session, m.tenant)
                .await?
                .birthday_points;
            let year = today.year();
            let award = Award::new(
                "birthday",
                points,
                format!("birthday:{member}:{year}"),
                format!("birthday reward {year}"),
            );
            Ok(once(m, member, "birthday", String::new(), award)
                .await?
                .is_some())
        })
    })
    .await
}

/// The settlement loop's hook: looks for birthdays at most once an hour per node, and logs
/// instead of failing the loop.
pub async fn birthday_tick(app: &AppState, now: OffsetDateTime) {
    static LAST_RUN: Mutex<Option<OffsetDateTime>> = Mutex::new(None);
    {
        let Ok(mut last) = LAST_RUN.lock() else {
            return;
        };
        if last.is_some_and(|at| now - at < BIRTHDAY_INTERVAL) {
            return;
        }
        *last = Some(now);
    }
    match grant_birthday_rewards(app, now).await {
        Ok(0) => {}
        Ok(rewarded) => tracing::info!(rewarded, "birthday rewards granted"),
        Err(error) => tracing::warn!(?error, "birthday rewards failed"),
    }
}
