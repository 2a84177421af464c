//! Tiers as a service: the tenant's ladder, upgrading at once after qualifying activity,
//! evaluating due members for retention or downgrade (保级/降级), manual overrides with expiry, the
//! history, and the benefits other modules read (earning multipliers, discounts …).
//!
//! The decisions are the pure functions of [`huiyuan_domain::tiers`]; this module sums the
//! qualifying totals, applies the decisions to the stored state and records every change in the
//! history and the audit log, all inside the caller's [`Mutation`]. A member without a stored
//! state is on the ladder's lowest level; their row is written on their first change.
//!
//! Every state update is guarded by the version that was read (see
//! [`huiyuan_store::tiers::update_state`]): two nodes evaluating the same member at once record
//! the evaluation once, and an order racing an override decides again on what the other wrote.
//!
//! - [`ladder`]: the tenant's ladder as configured.
//! - [`configure`]: the ladder as stored, read and set.
//! - [`member`]: a member's tier as staff see it, its history, overrides set and ended by hand.

pub mod configure;
pub mod ladder;
pub mod member;

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::profile::SectionFuture;
use crate::app::state::AppState;
use crate::app::tenancy::zone::tenant_zone;
use huiyuan_domain::auth::Actor;
use huiyuan_domain::earning::{EarningRule, tier_benefit_rule};
use huiyuan_domain::ids::{FormatId, MemberId, TenantId};
use huiyuan_domain::tiers::{
    Basis, ChangeReason, EffectiveBenefits, Override, TierChange, TierLadder, TierProgress,
    TierState,
};
use huiyuan_store::tiers::{self as store, StoredChange, StoredTier};
use huiyuan_store::{Session, StoreResult, members, org, tenants, utc_now};
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

/// How often a write retries after another writer changed the member's tier state first.
const MAX_ATTEMPTS: usize = 5;
/// Most evaluations caught up for one member in one run (a member whose evaluations were missed
/// for years catches up over several runs).
const MAX_CATCH_UP: usize = 12;
/// Members evaluated per tenant per batch.
const EVALUATION_BATCH: i64 = 500;
/// Most batches per tenant in one run of the job, so one run stays bounded.
const MAX_BATCHES: usize = 20;

/// The qualifying total in `[from, until)` on the ladder's basis.
pub async fn qualifying_total(
    session: &mut Session,
    tenant: TenantId,
    basis: Basis,
    member: MemberId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<i64> {
    match basis {
        Basis::TierPoints => store::tier_points_between(session, tenant, member, from, until).await,
        Basis::SpendFen => store::spend_fen_between(session, tenant, member, from, until).await,
    }
}

/// The total an activity at `at` is judged on: the window containing `at`, `at` included.
async fn window_total(
    session: &mut Session,
    tenant: TenantId,
    ladder: &TierLadder,
    tz: &TimeZone,
    member: MemberId,
    at: OffsetDateTime,
) -> ApiResult<i64> {
    let from = ladder.window_start(at, tz).map_err(ApiError::internal)?;
    let until = at + Duration::microseconds(1);
    Ok(qualifying_total(session, tenant, ladder.basis, member, from, until).await?)
}

/// The member's stored state, or the lowest level since they registered.
pub async fn current_state(
    session: &mut Session,
    tenant: TenantId,
    ladder: &TierLadder,
    member: MemberId,
) -> StoreResult<Option<TierState>> {
    if let Some(stored) = store::state(session, tenant, member).await? {
        return Ok(Some(stored.state));
    }
    let since = members::get_member(session, tenant, member)
        .await?
        .map_or_else(utc_now, |row| row.created_at);
    Ok(ladder.initial_state(since))
}

/// The stored state, placing the member on the lowest level first if they have none.
async fn placed(m: &mut Mutation, ladder: &TierLadder, member: MemberId) -> ApiResult<StoredTier> {
    if let Some(stored) = store::state(&mut m.session, m.tenant, member).await? {
        return Ok(stored);
    }
    let initial = current_state(&mut m.session, m.tenant, ladder, member)
        .await?
        .ok_or_else(|| ApiError::internal("a ladder without levels"))?;
    store::insert_state(&mut m.session, m.tenant, member, &initial, m.now).await?;
    store::state(&mut m.session, m.tenant, member)
        .await?
        .ok_or_else(|| ApiError::internal("a tier state vanished after insert"))
}

/// The audit action recording a change.
fn audit_action(reason: ChangeReason) -> &'static str {
    match reason {
        ChangeReason::Upgrade | ChangeReason::Retained | ChangeReason::Downgrade => "tier.changed",
        ChangeReason::OverrideSet => "tier.override_set",
        ChangeReason::OverrideExpired => "tier.override_expired",
        ChangeReason::OverrideCleared => "tier.override_cleared",
    }
}

/// Applies `changes` to `stored` with one guarded update and records each in the history and
/// the audit log. `false` (and nothing written) when another writer changed the state first.
async fn record(
    m: &mut Mutation,
    member: MemberId,
    stored: &StoredTier,
    changes: &[TierChange],
) -> ApiResult<bool> {
    if changes.is_empty() {
        return Ok(true);
    }
    let next = changes
        .iter()
        .fold(stored.state.clone(), |state, change| state.apply(change));
    if !store::update_state(
        &mut m.session,
        m.tenant,
        member,
        stored.version,
        &next,
        m.now,
    )
    .await?
    {
        return Ok(false);
    }
    for change in changes {
        let id = Uuid::now_v7();
        store::insert_change(&mut m.session, m.tenant, member, id, change, m.now).await?;
        let summary = json!({
            "change_id": id,
            "from": change.from,
            "to": change.to,
            "reason": change.reason,
            "at": change.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "qualifying_total": change.qualifying_total,
            "override": change.r#override,
        });
        m.audit(audit_action(change.reason), "member", member, summary)
            .await?;
    }
    Ok(true)
}

fn raced() -> ApiError {
    ApiError::with_detail(
        ErrorCode::Conflict,
        "the member's tier changed concurrently; retry",
    )
}

/// After qualifying activity (an order's points, an event reward, a refund's claw-back) posted in
/// `m`: upgrades the member at once when the total over the window reaches a higher level, to the
/// highest level reached. Never downgrades. `None` when nothing changed or no ladder is set.
pub async fn on_qualifying_activity(
    m: &mut Mutation,
    member: MemberId,
) -> ApiResult<Option<TierChange>> {
    let Some(ladder) = ladder::load(&mut m.session, m.tenant).await? else {
        return Ok(None);
    };
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    on_qualifying_activity_with(m, member, Some(&ladder), &tz).await
}

/// [`on_qualifying_activity`] with the tenant's ladder and zone already at hand (from the
/// configuration cache: a ladder changed a moment ago applies from the next activity on).
pub async fn on_qualifying_activity_with(
    m: &mut Mutation,
    member: MemberId,
    ladder: Option<&TierLadder>,
    tz: &TimeZone,
) -> ApiResult<Option<TierChange>> {
    let Some(ladder) = ladder else {
        return Ok(None);
    };
    for _ in 0..MAX_ATTEMPTS {
        let stored = placed(m, ladder, member).await?;
        let mut changes = Vec::new();
        let mut state = stored.state.clone();
        if let Some(expired) = ladder.expire_override(&state, m.now) {
            state = state.apply(&expired);
            changes.push(expired);
        }
        let total = window_total(&mut m.session, m.tenant, ladder, tz, member, m.now).await?;
        let upgrade = ladder.on_activity(&state, total, m.now, tz);
        changes.extend(upgrade.clone());
        if record(m, member, &stored, &changes).await? {
            if let Some(change) = &upgrade {
                crate::app::coupons::on_tier_upgrade(m, member, change).await?;
            }
            return Ok(upgrade);
        }
    }
    Err(raced())
}

/// After `source` was merged into `survivor` in `m` (合并取高): the survivor keeps the better
/// computed level of the two, and — its tier total now counting the alias's tier points too (see
/// [`store::alias_family`]) — upgrades further when the combined total reaches a higher level.
/// Undoing the merge leaves the level to the next evaluation, like a refund does: no flapping.
pub async fn on_merge(m: &mut Mutation, survivor: MemberId, source: MemberId) -> ApiResult<()> {
    let Some(ladder) = ladder::load(&mut m.session, m.tenant).await? else {
        return Ok(());
    };
    let Some(source_state) = current_state(&mut m.session, m.tenant, &ladder, source).await? else {
        return Ok(());
    };
    for _ in 0..MAX_ATTEMPTS {
        let stored = placed(m, &ladder, survivor).await?;
        let changes: Vec<TierChange> = ladder
            .merge(&stored.state, &source_state, m.now)
            .into_iter()
            .collect();
        if record(m, survivor, &stored, &changes).await? {
            on_qualifying_activity(m, survivor).await?;
            return Ok(());
        }
    }
    Err(raced())
}

/// Sets (or replaces) a manual override; errors name the fields of [`Override`].
pub async fn set_override(
    m: &mut Mutation,
    ladder: &TierLadder,
    member: MemberId,
    manual: Override,
) -> ApiResult<TierChange> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = placed(m, ladder, member).await?;
        let mut changes = Vec::new();
        let mut state = stored.state.clone();
        if let Some(expired) = ladder.expire_override(&state, m.now) {
            state = state.apply(&expired);
            changes.push(expired);
        }
        let change = ladder.set_override(&state, manual.clone(), m.now)?;
        changes.push(change.clone());
        if record(m, member, &stored, &changes).await? {
            return Ok(change);
        }
    }
    Err(raced())
}

/// Ends an active override now; `None` when the member has none.
pub async fn clear_override(
    m: &mut Mutation,
    ladder: &TierLadder,
    member: MemberId,
) -> ApiResult<Option<TierChange>> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(stored) = store::state(&mut m.session, m.tenant, member).await? else {
            return Ok(None);
        };
        let Some(change) = ladder.clear_override(&stored.state, m.now) else {
            return Ok(None);
        };
        if record(m, member, &stored, std::slice::from_ref(&change)).await? {
            return Ok(Some(change));
        }
    }
    Err(raced())
}

/// What one run of [`evaluate_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvaluationReport {
    /// Members whose due evaluations or expired overrides this run recorded.
    pub members: u64,
    /// History entries recorded (evaluations and override expiries).
    pub changes: u64,
    /// Members another node handled first.
    pub skipped: u64,
}

/// The evaluation job: every member whose evaluation is due by `now` (or whose override expired)
/// is evaluated, each in their own transaction, batch by batch. Safe on several nodes: the state
/// update is guarded by the version read, so each evaluation is recorded once and a node that
/// loses the race skips the member.
pub async fn evaluate_due(app: &AppState, now: OffsetDateTime) -> ApiResult<EvaluationReport> {
    let mut report = EvaluationReport::default();
    let tenant_ids: Vec<TenantId> = {
        let mut session = app.store.read().await?;
        tenants::list(&mut session, 10_000)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    for tenant in tenant_ids {
        for _ in 0..MAX_BATCHES {
            let due = {
                let mut session = app.store.read().await?;
                if store::ladder(&mut session, tenant).await?.is_none() {
                    break;
                }
                store::due_members(&mut session, tenant, now, EVALUATION_BATCH).await?
            };
            let mut progressed = false;
            for member in &due {
                match evaluate_member(app, tenant, *member, now).await? {
                    Some(0) => {}
                    Some(changes) => {
                        progressed = true;
                        report.members += 1;
                        report.changes += changes;
                    }
                    None => report.skipped += 1,
                }
            }
            if (due.len() as i64) < EVALUATION_BATCH || !progressed {
                break;
            }
        }
    }
    Ok(report)
}

/// Evaluates one member as of `now`, catching up due evaluations one period at a time and
/// recording expired overrides, in time order. `Some(n)` with the changes recorded, `None` when
/// another writer changed the state first.
pub async fn evaluate_member(
    app: &AppState,
    tenant: TenantId,
    member: MemberId,
    now: OffsetDateTime,
) -> ApiResult<Option<u64>> {
    // A state another writer changed first answers `None` before anything is written.
    app.write_as(tenant, Actor::System, None, move |m| {
        Box::pin(async move {
            m.now = now;
            let Some(ladder) = ladder::load(&mut m.session, tenant).await? else {
                return Ok(Some(0));
            };
            let tz = tenant_zone(&mut m.session, tenant).await?;
            let Some(stored) = store::state(&mut m.session, tenant, member).await? else {
                return Ok(Some(0));
            };
            let mut state = stored.state.clone();
            let mut changes = Vec::new();
            for _ in 0..MAX_CATCH_UP {
                let due = state.evaluation_due(now);
                let expiry = state
                    .r#override
                    .as_ref()
                    .map(|manual| manual.expires_at)
                    .filter(|at| *at <= now);
                // Whichever came first: an evaluation, or the expiry of an override.
                let change = match (due, expiry) {
                    (Some(due), expiry) if expiry.is_none_or(|expiry| due < expiry) => {
                        let from = ladder
                            .evaluation_period_start(due, &tz)
                            .map_err(ApiError::internal)?;
                        let total = qualifying_total(
                            &mut m.session,
                            tenant,
                            ladder.basis,
                            member,
                            from,
                            due,
                        )
                        .await?;
                        ladder.on_evaluation(&state, total, due, &tz)
                    }
                    (_, Some(_)) => ladder.expire_override(&state, now),
                    _ => None,
                };
                let Some(change) = change else { break };
                state = state.apply(&change);
                changes.push(change);
            }
            if changes.is_empty() {
                return Ok(Some(0));
            }
            if !record(m, member, &stored, &changes).await? {
                return Ok(None);
            }
            Ok(Some(changes.len() as u64))
        })
    })
    .await
}

/// The benefits a member has now in the format `format_code` (group-wide for `None`), for the
/// earning, checkout and coupon modules. `None` when the tenant has no ladder.
pub async fn effective_benefits(
    session: &mut Session,
    tenant: TenantId,
    member: MemberId,
    format_code: Option<&str>,
) -> ApiResult<Option<EffectiveBenefits>> {
    let Some(ladder) = ladder::load(session, tenant).await? else {
        return Ok(None);
    };
    let Some(state) = current_state(session, tenant, &ladder, member).await? else {
        return Ok(None);
    };
    Ok(ladder.effective_benefits(&state, utc_now(), format_code))
}

/// The level code a member has now (an active override's, else the computed one), for tier
/// conditions in earning rules, coupons and the mall. `None` when the tenant has no ladder.
pub async fn effective_level_code(
    session: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> ApiResult<Option<String>> {
    let Some(ladder) = ladder::load(session, tenant).await? else {
        return Ok(None);
    };
    let Some(state) = current_state(session, tenant, &ladder, member).await? else {
        return Ok(None);
    };
    Ok(ladder
        .effective_level(&state, utc_now())
        .map(|level| level.code.clone()))
}

/// What earning needs of a member's tier for an order in `format`: the level code (for rules with
/// a tier condition) and the level's earning multiplier in that format as a rule (see
/// [`tier_benefit_rule`]). Nothing when the tenant has no ladder.
pub async fn earning_tier(
    session: &mut Session,
    tenant: TenantId,
    member: MemberId,
    format: FormatId,
) -> ApiResult<(Option<String>, Option<EarningRule>)> {
    let Some(ladder) = ladder::load(session, tenant).await? else {
        return Ok((None, None));
    };
    let Some(state) = current_state(session, tenant, &ladder, member).await? else {
        return Ok((None, None));
    };
    let now = utc_now();
    if ladder.effective_level(&state, now).is_none() {
        return Ok((None, None));
    }
    let format_code = org::get_format(session, tenant, format)
        .await?
        .map(|f| f.code.as_str().to_owned());
    Ok(tier_earning(&ladder, &state, format_code.as_deref(), now))
}

/// [`earning_tier`] from a ladder and state at hand: the level code and the level's earning
/// multiplier in the format `format_code` as a rule.
pub fn tier_earning(
    ladder: &TierLadder,
    state: &TierState,
    format_code: Option<&str>,
    now: OffsetDateTime,
) -> (Option<String>, Option<EarningRule>) {
    let Some(level) = ladder.effective_level(state, now).map(|l| l.code.clone()) else {
        return (None, None);
    };
    let rule = ladder
        .effective_benefits(state, now, format_code)
        .and_then(|benefits| tier_benefit_rule(&level, benefits.earning_multiplier_permille));
    (Some(level), rule)
}

/// Progress towards the next level and towards keeping the current one.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProgressView {
    #[serde(flatten)]
    pub progress: TierProgress,
    /// What counts: `tier_points` or `spend_fen`.
    pub basis: Basis,
    /// The qualifying total over the current window (towards the next level).
    pub window_total: i64,
    /// The qualifying total so far of the period the next evaluation judges (towards keeping
    /// the level).
    pub period_total: i64,
}

/// Progress for `state` as of `now`.
pub async fn progress(
    session: &mut Session,
    tenant: TenantId,
    ladder: &TierLadder,
    tz: &TimeZone,
    member: MemberId,
    state: &TierState,
    now: OffsetDateTime,
) -> ApiResult<Option<ProgressView>> {
    let window_total = window_total(session, tenant, ladder, tz, member, now).await?;
    let period_total = match state.next_evaluation_at {
        Some(next) => {
            let from = ladder
                .evaluation_period_start(next, tz)
                .map_err(ApiError::internal)?;
            let until = now.min(next) + Duration::microseconds(1);
            qualifying_total(session, tenant, ladder.basis, member, from, until).await?
        }
        None => window_total,
    };
    Ok(ladder
        .progress(state, window_total, period_total)
        .map(|progress| ProgressView {
            progress,
            basis: ladder.basis,
            window_total,
            period_total,
        }))
}

/// A history entry as shown.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub id: Uuid,
    #[serde(flatten)]
    pub change: TierChange,
    /// When the change was recorded (an evaluation is dated at its scheduled instant).
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

impl From<StoredChange> for ChangeView {
    fn from(stored: StoredChange) -> Self {
        Self {
            id: stored.id,
            change: stored.change,
            recorded_at: stored.created_at,
        }
    }
}

/// The member profile's `tier` summary: current level, since, next evaluation, progress.
pub fn tier_section(s: &mut Session, tenant: TenantId, member: MemberId) -> SectionFuture<'_> {
    Box::pin(async move {
        let Some(stored) = store::ladder(s, tenant).await? else {
            return Ok(None);
        };
        let ladder = stored.ladder;
        let Some(state) = current_state(s, tenant, &ladder, member).await? else {
            return Ok(None);
        };
        let tz = tenant_zone(s, tenant).await?;
        let now = utc_now();
        let level = ladder.effective_level(&state, now);
        // A failure to sum the progress leaves it out rather than failing the whole profile.
        let progress = progress(s, tenant, &ladder, &tz, member, &state, now)
            .await
            .ok()
            .flatten();
        let rfc3339 = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        Ok(Some(json!({
            "level_code": level.map(|level| level.code.clone()),
            "level_name": level.map(|level| level.name.clone()),
            "computed_level_code": state.level_code,
            "since": rfc3339(state.since),
            "next_evaluation_at": state.next_evaluation_at.map(rfc3339),
            "override_active": state.active_override(now).is_some(),
            "progress": progress,
        })))
    })
}
