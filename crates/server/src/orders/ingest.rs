//! Posting an order: idempotent on the channel and its own order id.

use super::COMPLETED;
use super::accrual::accrue_order;
use super::origin::{order_member, origin};
use super::parse::ParsedOrder;
use super::views::{OrderView, order_view};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mutation::Mutation;
use crate::vault::Vault;
use huiyuan_domain::auth::Principal;
use huiyuan_store::orders::{self, StoredLine, StoredOrder, StoredPayment};
use serde_json::json;
use uuid::Uuid;

/// Posts an order: a new one answers `(true, view)`, a retry of the same (channel, external id)
/// the stored order `(false, view)` without earning again.
pub async fn ingest(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    parsed: ParsedOrder,
) -> ApiResult<(bool, OrderView)> {
    let origin = origin(&mut m.session, caller, &parsed.input).await?;
    if let Some(existing) = orders::order_by_external_id(
        &mut m.session,
        m.tenant,
        origin.channel_id.0,
        &parsed.external_id,
    )
    .await?
    {
        return Ok((false, order_view(&mut m.session, m.tenant, existing).await?));
    }
    let member = order_member(&mut m.session, vault, caller, &parsed.input, m.now).await?;
    let input = &parsed.input;
    let order = StoredOrder {
        id: Uuid::now_v7(),
        member_id: member.as_ref().map(|row| row.id),
        channel_id: origin.channel_id.0,
        external_id: parsed.external_id.clone(),
        store_id: origin.store_id.map(|s| s.0),
        format_id: origin.format_id.0,
        guide_id: input.guide_id.map(|g| g.0),
        occurred_at: input.occurred_at,
        total_fen: input.total_fen,
        paid_by_points_fen: parsed.paid_by_points_fen,
        paid_by_coupons_fen: parsed.paid_by_coupons_fen,
        refunded_fen: 0,
        status: COMPLETED.to_owned(),
        points_earned: 0,
        points_reversed: 0,
        accrual: None,
        claimed_at: None,
        created_at: m.now,
        updated_at: m.now,
    };
    let lines: Vec<StoredLine> = input
        .lines
        .iter()
        .map(|line| StoredLine {
            line_no: i64::from(line.line_no),
            sku: line.sku.trim().to_owned(),
            name: line.name.trim().to_owned(),
            category_path: line
                .category_path
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            quantity: i64::from(line.quantity),
            unit_price_fen: line.unit_price_fen,
            amount_fen: line.amount_fen,
            excluded: line.excluded,
            refunded_quantity: 0,
            refunded_fen: 0,
            points_earned: 0,
        })
        .collect();
    let payments: Vec<StoredPayment> = input
        .payments
        .iter()
        .map(|p| StoredPayment {
            method: p.method.as_str().to_owned(),
            amount_fen: p.amount_fen,
        })
        .collect();
    if !orders::insert_order(&mut m.session, m.tenant, &order, &lines, &payments).await? {
        // A concurrent twin committed first (PostgreSQL waited for it): answer with it.
        let existing = orders::order_by_external_id(
            &mut m.session,
            m.tenant,
            order.channel_id,
            &order.external_id,
        )
        .await?
        .ok_or_else(|| {
            ApiError::with_detail(
                ErrorCode::Conflict,
                "the same order is being posted concurrently; retry",
            )
        })?;
        return Ok((false, order_view(&mut m.session, m.tenant, existing).await?));
    }
    let points = match order.member_id {
        Some(member) => accrue_order(m, &order, &lines, member).await?.total_points,
        None => 0,
    };
    let summary = json!({
        "external_id": order.external_id, "channel_id": order.channel_id, "member_id": order.member_id,
        "total_fen": order.total_fen, "points": points,
    });
    m.audit("order.created", "order", order.id, summary).await?;
    let stored = orders::get_order(&mut m.session, m.tenant, order.id)
        .await?
        .ok_or_else(|| ApiError::internal("order vanished"))?;
    Ok((true, order_view(&mut m.session, m.tenant, stored).await?))
}
