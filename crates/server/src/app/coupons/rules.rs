//! Coupons issued by rule: templates configured with `auto_issue` give one coupon on
//! registration, on each upgrade to named tier levels, and once a year on the member's birthday.
//! Each issue has a natural key, so a retried event never issues twice; a template that refuses
//! (quota used up, validity ended) is skipped and logged instead of failing the event.

use crate::app::coupons::issue::{is_refusal, issue_in_tx};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::auth::Actor;
use huiyuan_domain::coupons::IssueSource;
use huiyuan_domain::coupons::calendar::{local_date, start_of_local_date};
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::tiers::TierChange;
use huiyuan_store::coupons::{self as store, AutoRule};
use std::sync::Mutex;
use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;

/// Members given birthday coupons per template per round.
const BIRTHDAY_BATCH: i64 = 1_000;
/// How often a node looks for birthdays.
const BIRTHDAY_INTERVAL: time::Duration = time::Duration::hours(1);

/// Issues one coupon of `template` unless the template refuses; a fault still fails the caller.
async fn issue_or_skip(
    m: &mut Mutation,
    template: Uuid,
    member: MemberId,
    source: IssueSource,
    key: &str,
) -> ApiResult<bool> {
    match issue_in_tx(m, template, member, source, Some(key)).await {
        Ok(_) => Ok(true),
        Err(error) if is_refusal(&error) => {
            tracing::info!(%template, %member, source = source.as_str(), code = error.code.as_str(),
                detail = ?error.detail, "rule-based coupon skipped");
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// The registration coupons, the same from every channel; called once a member is created.
pub async fn on_registered(m: &mut Mutation, member: MemberId) -> ApiResult<()> {
    for template in store::auto_templates(&mut m.session, m.tenant, AutoRule::Registration).await? {
        let id = template.template.id;
        let key = format!("registration:{id}:{member}");
        issue_or_skip(m, id, member, IssueSource::Registration, &key).await?;
    }
    Ok(())
}

/// The coupons of an upgrade to `change.to`; called after an upgrade is recorded.
pub async fn on_tier_upgrade(
    m: &mut Mutation,
    member: MemberId,
    change: &TierChange,
) -> ApiResult<()> {
    for template in store::auto_templates(&mut m.session, m.tenant, AutoRule::TierUpgrade).await? {
        if !template
            .template
            .spec
            .auto_issue
            .on_tier_upgrade_to
            .contains(&change.to)
        {
            continue;
        }
        let id = template.template.id;
        let key = format!(
            "tier_upgrade:{id}:{member}:{}:{}",
            change.to,
            change.at.unix_timestamp()
        );
        issue_or_skip(m, id, member, IssueSource::TierUpgrade, &key).await?;
    }
    Ok(())
}

/// Every `MM-DD` that counts as a birthday on `today`: 29 February birthdays are kept on 28
/// February in years without one.
fn birthday_keys(today: Date) -> Vec<String> {
    let mut keys = vec![format!("{:02}-{:02}", u8::from(today.month()), today.day())];
    if today.month() == Month::February
        && today.day() == 28
        && !time::util::is_leap_year(today.year())
    {
        keys.push("02-29".to_owned());
    }
    keys
}

/// Gives every active member whose birthday is today (tenant time zone) one coupon of each
/// birthday template, once a year; answers how many were issued. Safe on several nodes: the
/// natural key `birthday:<template>:<member>:<year>` makes a twin run find them issued.
pub async fn issue_birthday_coupons(app: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let mut work: Vec<(TenantId, Uuid, MemberId, i32)> = Vec::new();
    {
        let mut session = app.store.read().await?;
        for tenant in huiyuan_store::tenants::list(&mut session, 10_000).await? {
            let templates =
                store::auto_templates(&mut session, tenant.id, AutoRule::Birthday).await?;
            if templates.is_empty() {
                continue;
            }
            let tz = crate::app::tenancy::zone::tenant_zone(&mut session, tenant.id).await?;
            let today =
                local_date(now, &tz).ok_or_else(|| ApiError::internal("date out of range"))?;
            let year_start = today
                .replace_ordinal(1)
                .ok()
                .and_then(|day| start_of_local_date(day, &tz))
                .ok_or_else(|| ApiError::internal("date out of range"))?;
            for template in templates {
                let id = template.template.id;
                let due = store::birthday_members_without(
                    &mut session,
                    tenant.id,
                    id,
                    &birthday_keys(today),
                    year_start,
                    None,
                    BIRTHDAY_BATCH,
                )
                .await?;
                work.extend(
                    due.into_iter()
                        .map(|member| (tenant.id, id, member, today.year())),
                );
            }
        }
    }
    let mut issued = 0;
    for (tenant, template, member, year) in work {
        // One member's failure does not hold up the others.
        let result = app
            .write_as(tenant, Actor::System, None, move |m| {
                Box::pin(async move {
                    m.now = now;
                    let key = format!("birthday:{template}:{member}:{year}");
                    issue_or_skip(m, template, member, IssueSource::Birthday, &key).await
                })
            })
            .await;
        match result {
            Ok(true) => issued += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(?error, %member, "birthday coupon failed"),
        }
    }
    Ok(issued)
}

/// The background loop's hook: looks for birthdays at most once an hour per node, and logs
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
    match issue_birthday_coupons(app, now).await {
        Ok(0) => {}
        Ok(issued) => tracing::info!(issued, "birthday coupons issued"),
        Err(error) => tracing::warn!(?error, "birthday coupons failed"),
    }
}
