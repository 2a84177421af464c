//! Refunds of some or all of an order's lines, taking back what they earned.

use super::input::RefundInput;
use super::parse::check_text;
use super::views::{RefundView, visible_order};
use super::{PARTIALLY_REFUNDED, REFUNDED};
use crate::app::earning::accrual::earn_key;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{Posting, clawback};
use crate::app::mutation::Mutation;
use huiyuan_domain::amounts::{Fen, Points};
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::earning::Accrual;
use huiyuan_domain::ids::OrderId;
use huiyuan_domain::orders::{
    RefundRequest, RefundableLine, RefundableOrder, RequestedLine, plan_refund,
};
use huiyuan_domain::validation::FieldErrors;
use huiyuan_store::orders::{self, RefundedLine, RuleAccrual, StoredLine, StoredRefund};
use serde_json::json;
use uuid::Uuid;

/// Refunds lines of an order (all that remains when `lines` is absent): records the refund,
/// takes back exactly the points the refunded units earned (and their share of every rule's
/// counters). A retry with the same external refund id answers the stored refund `(false, …)`.
/// What the refund gives and takes back is [`plan_refund`]'s; this reads the order, writes the
/// plan, and claws the points back through the ledger.
pub async fn refund(
    m: &mut Mutation,
    caller: &Principal,
    order_id: OrderId,
    input: RefundInput,
) -> ApiResult<(bool, RefundView)> {
    let external_refund_id = input.external_refund_id.trim().to_owned();
    let mut errors = FieldErrors::new();
    check_text(
        &mut errors,
        "external_refund_id",
        &external_refund_id,
        64,
        true,
    );
    errors.finish()?;
    let order = visible_order(&mut m.session, caller, order_id, Access::Write).await?;
    if let Some(done) =
        orders::refund_by_external_id(&mut m.session, m.tenant, order.id, &external_refund_id)
            .await?
    {
        return Ok((false, done.into()));
    }
    let lines = orders::order_lines(&mut m.session, m.tenant, order.id).await?;
    let accrual = order.accrual.clone().unwrap_or_default();
    let refundable = RefundableOrder {
        lines: lines
            .iter()
            .map(|line| refundable_line(line, &accrual))
            .collect(),
        total_fen: Fen::new(order.total_fen),
        refunded_fen: Fen::new(order.refunded_fen),
    };
    let request = match &input.lines {
        None => RefundRequest::Everything,
        Some(requested) => RefundRequest::Lines(
            requested
                .iter()
                .map(|line| RequestedLine {
                    line_no: line.line_no,
                    quantity: line.quantity,
                })
                .collect(),
        ),
    };
    let plan = plan_refund(&refundable, &request)?;
    let mut refunded = Vec::with_capacity(plan.lines.len());
    for line in &plan.lines {
        if !orders::refund_line(
            &mut m.session,
            m.tenant,
            order.id,
            line.line_no,
            line.refunded_before,
            line.quantity,
            line.amount_fen.get(),
        )
        .await?
        {
            return Err(ApiError::with_detail(
                ErrorCode::Conflict,
                "the order is being refunded concurrently; retry",
            ));
        }
        refunded.push(RefundedLine {
            line_no: line.line_no,
            quantity: line.quantity,
            amount_fen: line.amount_fen.get(),
            points: line.points.get(),
        });
    }
    let fully = plan.full;
    let amount_fen = plan.amount_fen.get();
    let points = plan.points.get();
    let refund_id = Uuid::now_v7();
    let (reversed, unrecovered, explanation) = match order.member_id {
        Some(member) if points > 0 => {
            let own_lot = huiyuan_store::ledger::entry_by_natural_key(
                &mut m.session,
                m.tenant,
                &earn_key(order.id),
            )
            .await?
            .and_then(|entry| entry.draws.first().map(|draw| draw.lot_id));
            let posting = Posting {
                format_id: Some(order.format_id),
                reference: Some(format!("order:{}", order.id)),
                reason: format!("refund {external_refund_id} of order {}", order.external_id),
                natural_key: Some(format!("order:{}:refund:{refund_id}", order.id)),
            };
            let taken = clawback(m, member, points, own_lot, &posting).await?;
            // Zero shares are already left out of the plan.
            for (rule, back) in &plan.points_by_rule {
                let row = RuleAccrual {
                    id: Uuid::now_v7(),
                    member_id: member,
                    rule_id: *rule,
                    order_id: order.id,
                    points: -back.get(),
                    occurred_at: order.occurred_at,
                };
                orders::insert_rule_accrual(&mut m.session, m.tenant, &row).await?;
            }
            (taken.reversed, taken.unrecovered, taken.explanation)
        }
        Some(_) => (0, 0, "the refunded lines earned no points".to_owned()),
        None => (0, 0, "anonymous order: no points to take back".to_owned()),
    };
    let status = if fully { REFUNDED } else { PARTIALLY_REFUNDED };
    if !orders::add_refund_totals(
        &mut m.session,
        m.tenant,
        order.id,
        amount_fen,
        reversed,
        status,
        m.now,
    )
    .await?
    {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the refund would pass the order total",
        ));
    }
    let stored = StoredRefund {
        id: refund_id,
        order_id: order.id,
        external_refund_id,
        lines: refunded,
        amount_fen,
        points_reversed: reversed,
        unrecovered,
        explanation,
        created_at: m.now,
    };
    if !orders::insert_refund(&mut m.session, m.tenant, &stored).await? {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the same refund is being posted concurrently; retry",
        ));
    }
    if fully {
        crate::app::coupons::on_order_refunded(m, &order).await?;
    }
    let summary = json!({
        "external_refund_id": stored.external_refund_id, "amount_fen": amount_fen, "points_owed": points,
        "points_reversed": reversed, "unrecovered": unrecovered,
    });
    m.audit("order.refunded", "order", order.id, summary)
        .await?;
    Ok((true, stored.into()))
}

/// A stored line with what it earned, by the order's accrual.
fn refundable_line(line: &StoredLine, accrual: &Accrual) -> RefundableLine {
    // Line numbers are stored as i64 but ingested as u32; one out of range matches no request.
    let line_no = u32::try_from(line.line_no).unwrap_or(u32::MAX);
    RefundableLine {
        line_no,
        quantity: line.quantity,
        refunded_quantity: line.refunded_quantity,
        amount_fen: Fen::new(line.amount_fen),
        earned_points: Points::new(accrual.points_for_lines(&[line_no])),
        earned_points_by_rule: accrual
            .rule_points_for_lines(&[line_no])
            .into_iter()
            .map(|(rule, points)| (rule, Points::new(points)))
            .collect(),
    }
}
