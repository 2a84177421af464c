//! Per-member redemption limits. A member's use of a reward in a period is one counter row,
//! taken with a single guarded upsert: the row is created with the units redeemed, or its `used`
//! grows, only while it stays within the limit. Two concurrent redemptions by one member can
//! therefore never both fit where only one does — there is no count-then-insert.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use huiyuan_domain::ids::{MemberId, RewardId, TenantId};
use uuid::Uuid;

/// Takes `quantity` units of the member's counter `period_key` for `reward` unless that would
/// exceed `limit`; `false` (nothing written) when it would.
pub async fn take(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    reward: RewardId,
    period_key: &str,
    quantity: i64,
    limit: i64,
) -> StoreResult<bool> {
    if quantity > limit {
        return Ok(false);
    }
    let affected = on_backend!(s, c => sqlx::query(
        "INSERT INTO reward_limit_counters (tenant_id, member_id, id, reward_id, period_key, used) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, member_id, reward_id, period_key) \
         DO UPDATE SET used = reward_limit_counters.used + $6 WHERE reward_limit_counters.used + $6 <= $7")
        .bind(tenant.0).bind(member.0).bind(Uuid::now_v7()).bind(reward.0).bind(period_key).bind(quantity).bind(limit)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected == 1)
}

/// Gives `quantity` units back (a cancelled redemption); `false` when the counter holds fewer,
/// which only a counter left behind by a member merge can cause — it is then left as it is.
pub async fn give_back(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    reward: RewardId,
    period_key: &str,
    quantity: i64,
) -> StoreResult<bool> {
    let affected = on_backend!(s, c => sqlx::query(
        "UPDATE reward_limit_counters SET used = used - $5 \
         WHERE tenant_id = $1 AND member_id = $2 AND reward_id = $3 AND period_key = $4 AND used >= $5")
        .bind(tenant.0).bind(member.0).bind(reward.0).bind(period_key).bind(quantity)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected == 1)
}

/// Units the member used of `reward` in `period_key` (0 without a counter).
pub async fn used(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    reward: RewardId,
    period_key: &str,
) -> StoreResult<i64> {
    let used: Option<i64> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT used FROM reward_limit_counters WHERE tenant_id = $1 AND member_id = $2 AND reward_id = $3 \
         AND period_key = $4")
        .bind(tenant.0).bind(member.0).bind(reward.0).bind(period_key).fetch_optional(&mut *c).await)?;
    Ok(used.unwrap_or(0))
}
