//! The dry run of an order through the earning engine.

use super::origin::{order_member, origin};
use super::parse::ParsedOrder;
use crate::app::earning::accrual::{evaluate_order, format_code, member_tier};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use huiyuan_domain::auth::Principal;
use huiyuan_domain::earning::{Evaluation, LineFacts, OrderFacts};
use time::OffsetDateTime;

/// The dry run: what the order would earn and why each rule fired or not. Writes nothing.
pub async fn preview(
    app: &AppState,
    caller: &Principal,
    parsed: ParsedOrder,
    now: OffsetDateTime,
) -> ApiResult<Evaluation> {
    let tenant = caller.tenant_id;
    let origin = origin(app, caller, &parsed.input).await?;
    let config = app.config.tenant(&app.store, tenant).await?;
    let format_code = format_code(app, &config, tenant, origin.format_id).await?;
    let mut session = app.store.read().await?;
    let member = order_member(&mut session, &app.vault, caller, &parsed.input, now).await?;
    let tier = member_tier(
        &mut session,
        tenant,
        &config,
        member.as_ref().map(|row| row.id),
        format_code.as_deref(),
    )
    .await?;
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
    evaluate_order(
        &mut session,
        tenant,
        &config,
        member.as_ref().map(|row| (row.id, &tier)),
        &facts,
        None,
    )
    .await
}
