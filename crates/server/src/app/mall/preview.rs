//! Whether a member could redeem a reward now, without taking anything: what the mini-program
//! shows before the member confirms. The redemption itself decides again, under its guards.

use super::redeem::member_facts;
use crate::app::error::{ApiError, ApiResult};
use huiyuan_domain::ids::{MemberId, RewardId, TenantId};
use huiyuan_domain::mall::{Eligibility, limit_counters};
use huiyuan_store::Session;
use huiyuan_store::mall::{StoredReward, limits};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// One reason a redemption would be refused now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    /// `archived`, `not_yet_available`, `no_longer_available`, `tier_too_low`, `out_of_range`,
    /// `out_of_stock`, `limit_reached`, `insufficient_points`.
    pub code: &'static str,
    pub message: String,
}

/// A per-member limit and how much of it the member used.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitUse {
    /// `total`, or the period (`m2026-11` …) in the tenant's time zone.
    pub period_key: String,
    pub limit: i64,
    pub used: i64,
}

/// The answer of an eligibility check.
#[derive(Debug, Serialize, ToSchema)]
pub struct EligibilityView {
    pub reward_id: RewardId,
    pub member_id: MemberId,
    pub quantity: i64,
    pub eligible: bool,
    pub reasons: Vec<Reason>,
    pub points_required: i64,
    pub points_available: i64,
    pub cash_fen_required: i64,
    /// Units left; absent when unlimited.
    pub stock: Option<i64>,
    pub limits: Vec<LimitUse>,
}

/// Checks `quantity` units of `reward` for `member` at `now`, collecting every reason.
pub async fn preview(
    session: &mut Session,
    tenant: TenantId,
    reward: &StoredReward,
    member: MemberId,
    quantity: i64,
    now: OffsetDateTime,
) -> ApiResult<EligibilityView> {
    let spec = &reward.spec;
    let mut reasons = Vec::new();
    let facts = member_facts(session, tenant, spec, member, now).await?;
    let check = Eligibility {
        reward: spec,
        archived: reward.archived,
        member: facts,
    };
    if let Err(why) = check.check(quantity, now) {
        reasons.push(Reason {
            code: why.code(),
            message: why.to_string(),
        });
    }
    if reward.stock.is_some_and(|stock| stock < quantity) {
        reasons.push(Reason {
            code: "out_of_stock",
            message: format!("fewer than {quantity} units are left"),
        });
    }
    let tz = crate::app::tenancy::zone::tenant_zone(session, tenant).await?;
    let counters = limit_counters(spec, now, &tz)
        .ok_or_else(|| ApiError::internal("the current instant is outside the calendar"))?;
    let mut uses = Vec::new();
    for (period_key, limit) in counters {
        let used = limits::used(session, tenant, member, reward.id, &period_key).await?;
        if used + quantity > limit {
            reasons.push(Reason {
                code: "limit_reached",
                message: format!(
                    "at most {limit} per member ({period_key}); {used} already redeemed"
                ),
            });
        }
        uses.push(LimitUse {
            period_key,
            limit,
            used,
        });
    }
    let points_required = spec.points.saturating_mul(quantity.max(0));
    let points_available = huiyuan_store::ledger::balance(session, tenant, member)
        .await?
        .available;
    if points_available < points_required {
        reasons.push(Reason {
            code: "insufficient_points",
            message: format!("{points_required} points needed, {points_available} available"),
        });
    }
    Ok(EligibilityView {
        reward_id: reward.id,
        member_id: member,
        quantity,
        eligible: reasons.is_empty(),
        reasons,
        points_required,
        points_available,
        cash_fen_required: spec.cash_fen.saturating_mul(quantity.max(0)),
        stock: reward.stock,
        limits: uses,
    })
}
