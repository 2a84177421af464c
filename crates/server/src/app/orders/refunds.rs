//! Refunds of some or all of an order's lines, taking back what they earned.

use super::input::RefundInput;
use super::parse::check_text;
use super::views::{RefundView, visible_order};
use super::{PARTIALLY_REFUNDED, REFUNDED};
use crate::app::earning::accrual::earn_key;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{Posting, clawback};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::orders::{self, RefundedLine, RuleAccrual, StoredLine, StoredRefund};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// `part` of `whole` for `done` of `of` units, rounded down: pro rata shares that add up to the
/// whole once every unit is counted.
fn pro_rata(whole: i64, done: i64, of: i64) -> i64 {
    if of <= 0 {
        return 0;
    }
    let share = i128::from(whole) * i128::from(done) / i128::from(of);
    i64::try_from(share).unwrap_or(i64::MAX)
}

/// Refunds lines of an order (all that remains when `lines` is absent): records the refund,
/// takes back exactly the points the refunded units earned (and their share of every rule's
/// counters). A retry with the same external refund id answers the stored refund `(false, …)`.
pub async fn refund(
    m: &mut Mutation,
    caller: &Principal,
    order_id: Uuid,
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
    let by_no: BTreeMap<u32, &StoredLine> = lines
        .iter()
        .map(|line| (u32::try_from(line.line_no).unwrap_or(u32::MAX), line))
        .collect();
    // What to refund per line.
    let wanted: Vec<(u32, i64)> = match &input.lines {
        None => by_no
            .iter()
            .map(|(no, line)| (*no, line.quantity - line.refunded_quantity))
            .filter(|(_, quantity)| *quantity > 0)
            .collect(),
        Some(requested) => {
            let mut errors = FieldErrors::new();
            let mut seen = BTreeSet::new();
            for (i, line) in requested.iter().enumerate() {
                let field = format!("lines[{i}]");
                if !seen.insert(line.line_no) {
                    errors.push(FieldError::new(
                        format!("{field}.line_no"),
                        "duplicate",
                        "each line once per refund",
                    ));
                }
                match by_no.get(&line.line_no) {
                    None => errors.push(FieldError::new(
                        format!("{field}.line_no"),
                        "not_found",
                        "the order has no such line",
                    )),
                    Some(stored) => {
                        let left = stored.quantity - stored.refunded_quantity;
                        if line.quantity == 0 {
                            errors.push(FieldError::new(
                                format!("{field}.quantity"),
                                "out_of_range",
                                "must be at least 1",
                            ));
                        } else if i64::from(line.quantity) > left {
                            errors.push(FieldError::new(
                                format!("{field}.quantity"),
                                "over_refund",
                                format!("only {left} of {} left to refund", stored.quantity),
                            ));
                        }
                    }
                }
            }
            if requested.is_empty() {
                errors.push(FieldError::new(
                    "lines",
                    "required",
                    "name at least one line, or omit lines for a full refund",
                ));
            }
            errors.finish()?;
            requested
                .iter()
                .map(|line| (line.line_no, i64::from(line.quantity)))
                .collect()
        }
    };
    if wanted.is_empty() {
        return Err(FieldError::new(
            "lines",
            "nothing_to_refund",
            "the order is already fully refunded",
        )
        .into());
    }
    let accrual = order.accrual.clone().unwrap_or_default();
    let mut refunded = Vec::new();
    let mut rule_back: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (line_no, quantity) in &wanted {
        let Some(line) = by_no.get(line_no) else {
            continue;
        };
        let (before, after) = (line.refunded_quantity, line.refunded_quantity + quantity);
        let amount_fen = pro_rata(line.amount_fen, after, line.quantity)
            - pro_rata(line.amount_fen, before, line.quantity);
        let line_points = accrual.points_for_lines(&[*line_no]);
        let points = pro_rata(line_points, after, line.quantity)
            - pro_rata(line_points, before, line.quantity);
        for (rule, rule_points) in accrual.rule_points_for_lines(&[*line_no]) {
            let share = pro_rata(rule_points, after, line.quantity)
                - pro_rata(rule_points, before, line.quantity);
            *rule_back.entry(rule).or_default() += share;
        }
        if !orders::refund_line(
            &mut m.session,
            m.tenant,
            order.id,
            *line_no,
            before,
            *quantity,
            amount_fen,
        )
        .await?
        {
            return Err(ApiError::with_detail(
                ErrorCode::Conflict,
                "the order is being refunded concurrently; retry",
            ));
        }
        refunded.push(RefundedLine {
            line_no: *line_no,
            quantity: *quantity,
            amount_fen,
            points,
        });
    }
    let lines_fen: i64 = refunded.iter().map(|line| line.amount_fen).sum();
    let fully = lines.iter().all(|line| {
        let extra = wanted
            .iter()
            .find(|(no, _)| i64::from(*no) == line.line_no)
            .map_or(0, |(_, q)| *q);
        line.refunded_quantity + extra >= line.quantity
    });
    // A full refund also returns what no line carries (shipping, service fees).
    let amount_fen = if fully {
        order.total_fen - order.refunded_fen
    } else {
        lines_fen
    };
    let points: i64 = refunded.iter().map(|line| line.points).sum();
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
            for (rule, back) in &rule_back {
                if *back != 0 {
                    let row = RuleAccrual {
                        id: Uuid::now_v7(),
                        member_id: member,
                        rule_id: *rule,
                        order_id: order.id,
                        points: -back,
                        occurred_at: order.occurred_at,
                    };
                    orders::insert_rule_accrual(&mut m.session, m.tenant, &row).await?;
                }
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
