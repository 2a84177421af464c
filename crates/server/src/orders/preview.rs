//! The dry run of an order through the earning engine.

use super::accrual::evaluate_order;
use super::origin::{order_member, origin};
use super::parse::ParsedOrder;
use crate::error::ApiResult;
use crate::ledger::tenant_zone;
use crate::vault::Vault;
use huiyuan_domain::auth::Principal;
use huiyuan_domain::earning::{Evaluation, LineFacts, OrderFacts};
use huiyuan_store::Session;
use time::OffsetDateTime;

/// The dry run: what the order would earn and why each rule fired or not. Writes nothing.
pub async fn preview(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    parsed: ParsedOrder,
    now: OffsetDateTime,
) -> ApiResult<Evaluation> {
    let origin = origin(session, caller, &parsed.input).await?;
    let member = order_member(session, vault, caller, &parsed.input, now).await?;
    let input = &parsed.input;
    let facts = OrderFacts {
        format_id: origin.format_id,
        channel_id: Some(origin.channel_id),
        store_id: origin.store_id,
        occurred_at: input.occurred_at,
        lines: input
            .lines
            .iter()
            .map(|line| LineFacts {
                line_no: line.line_no,
                sku: line.sku.trim().to_owned(),
                category_path: line
                    .category_path
                    .iter()
                    .map(|c| c.trim().to_owned())
                    .collect(),
                quantity: line.quantity,
                amount_fen: line.amount_fen,
                excluded: line.excluded,
            })
            .collect(),
        paid_by_points_fen: parsed.paid_by_points_fen,
        paid_by_coupons_fen: parsed.paid_by_coupons_fen,
    };
    let tz = tenant_zone(session, caller.tenant_id).await?;
    evaluate_order(
        session,
        caller.tenant_id,
        member.map(|row| row.id),
        &facts,
        &tz,
    )
    .await
}
