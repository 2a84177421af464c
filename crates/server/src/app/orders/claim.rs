//! Claiming an anonymous order for a member (补积分).

use super::views::{OrderView, order_view, visible_order};
use super::{CLAIM_WINDOW_DAYS, COMPLETED};
use crate::app::config_cache::load_tenant;
use crate::app::earning::accrual::{Earner, accrue_order, lock_member};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::identity::view::resolve;
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Principal, RecordClass};
use huiyuan_domain::ids::{FormatId, MemberId, OrderId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::orders::{self, StoredOrder};
use serde_json::json;
use time::Duration;

/// A member claims an anonymous order (补积分) within [`CLAIM_WINDOW_DAYS`] of its time; it earns
/// as of its own time. Claiming again for the same member answers the order unchanged.
pub async fn claim(
    m: &mut Mutation,
    caller: &Principal,
    order_id: OrderId,
    member_id: MemberId,
) -> ApiResult<OrderView> {
    let order = visible_order(&mut m.session, caller, order_id, Access::Write).await?;
    let not_found = || ApiError::from(FieldError::new("member_id", "not_found", "no such member"));
    let (member, _) = resolve(&mut m.session, m.tenant, member_id)
        .await?
        .ok_or_else(not_found)?;
    if !caller.permits(
        Access::Read,
        RecordClass::MemberData,
        &crate::app::identity::view::placement(&member),
    ) {
        return Err(not_found());
    }
    match order.member_id {
        Some(owner) if owner == member.id => {
            return order_view(&mut m.session, m.tenant, order).await;
        }
        Some(_) => {
            return Err(ApiError::conflict(
                "member_id",
                "the order already belongs to a member",
            ));
        }
        None => {}
    }
    if member.status != "active" {
        return Err(
            FieldError::new("member_id", "not_active", "only active members earn points").into(),
        );
    }
    if order.status != COMPLETED {
        return Err(FieldError::new("id", "refunded", "a refunded order cannot be claimed").into());
    }
    if order.occurred_at < m.now - Duration::days(CLAIM_WINDOW_DAYS) {
        return Err(FieldError::new(
            "id",
            "claim_window_passed",
            format!("orders can be claimed within {CLAIM_WINDOW_DAYS} days"),
        )
        .into());
    }
    if !orders::claim_order(&mut m.session, m.tenant, order.id, member.id, m.now).await? {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the order was claimed concurrently; retry",
        ));
    }
    let lines = orders::order_lines(&mut m.session, m.tenant, order.id).await?;
    let claimed = StoredOrder {
        member_id: Some(member.id),
        ..order
    };
    // Claims are rare: their configuration is read in the transaction, not from the cache.
    let config = load_tenant(&mut m.session, m.tenant).await?;
    let tier = crate::app::tiers::earning_tier(
        &mut m.session,
        m.tenant,
        member.id,
        FormatId(claimed.format_id),
    )
    .await?;
    let available = lock_member(m, member.id).await?;
    let earner = Earner {
        config: &config,
        member: &member,
        tier: &tier,
        available,
        counted: None,
    };
    let accrual = accrue_order(m, &claimed, &lines, earner).await?;
    orders::set_accrual(&mut m.session, m.tenant, claimed.id, &accrual, m.now).await?;
    m.audit(
        "order.claimed",
        "order",
        claimed.id,
        json!({ "member_id": member.id, "points": accrual.total_points }),
    )
    .await?;
    let stored = orders::get_order(&mut m.session, m.tenant, claimed.id)
        .await?
        .ok_or_else(|| ApiError::internal("order vanished"))?;
    order_view(&mut m.session, m.tenant, stored).await
}
