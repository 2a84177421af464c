//! The refund plan: given an order's lines — what each cost, earned (in all and per earning
//! rule) and already had refunded — and a request for some lines or everything left, what this
//! refund gives back and takes back.
//!
//! Every share is pro rata by units and rounded toward zero *cumulatively*: the share of the
//! units refunded after this refund minus the share of those refunded before. So however an
//! order is refunded — at once or a unit at a time — the parts add up to exactly what the line
//! cost and earned, and no refund takes more than is left. A refund that leaves every unit
//! refunded also returns what no line carries (shipping, service fees): the order's total less
//! what earlier refunds returned.

use crate::amounts::{Fen, Points};
use crate::validation::{FieldError, FieldErrors};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// An order as a refund sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundableOrder {
    pub lines: Vec<RefundableLine>,
    /// What the order cost, lines and everything else.
    pub total_fen: Fen,
    /// What earlier refunds of the order returned.
    pub refunded_fen: Fen,
}

/// One line of the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundableLine {
    pub line_no: u32,
    pub quantity: i64,
    /// Units earlier refunds took back.
    pub refunded_quantity: i64,
    /// What the whole line cost.
    pub amount_fen: Fen,
    /// What the whole line earned.
    pub earned_points: Points,
    /// What each earning rule gave on the whole line, by rule; sums to `earned_points`.
    pub earned_points_by_rule: Vec<(Uuid, Points)>,
}

/// What to refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundRequest {
    /// Every unit not yet refunded.
    Everything,
    /// These lines, each once, in this order.
    Lines(Vec<RequestedLine>),
}

/// Units of one line to refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedLine {
    pub line_no: u32,
    pub quantity: u32,
}

/// What one refund does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundPlan {
    /// The lines refunded, in the order asked for (line order for [`RefundRequest::Everything`]).
    pub lines: Vec<PlannedLine>,
    /// The money returned: the lines' amounts, or for a refund that completes the order, all
    /// that is left of its total.
    pub amount_fen: Fen,
    /// The points the refunded units earned, to take back from the member.
    pub points: Points,
    /// The same points by earning rule, to take off the rules' counters; rules whose share is
    /// zero are left out.
    pub points_by_rule: BTreeMap<Uuid, Points>,
    /// After this refund every unit of the order is refunded.
    pub full: bool,
}

/// One line of a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLine {
    pub line_no: u32,
    /// Units refunded before this refund: storage refunds the line only if it still says so.
    pub refunded_before: i64,
    /// Units this refund takes back.
    pub quantity: i64,
    pub amount_fen: Fen,
    pub points: Points,
    /// This line's points by earning rule, in the order of `earned_points_by_rule`.
    pub points_by_rule: Vec<(Uuid, Points)>,
}

/// Plans a refund of `request` on `order`, or says what is wrong with the request: lines named
/// twice or not on the order, zero units, more units than are left, an empty list of lines, or
/// nothing left to refund. Every problem with the named lines is reported at once.
pub fn plan_refund(
    order: &RefundableOrder,
    request: &RefundRequest,
) -> Result<RefundPlan, FieldErrors> {
    // A later line with the same number would hide an earlier one; line numbers are unique.
    let by_no: BTreeMap<u32, &RefundableLine> = order
        .lines
        .iter()
        .map(|line| (line.line_no, line))
        .collect();
    let wanted = wanted_units(&by_no, request)?;
    if wanted.is_empty() {
        return Err(FieldErrors::single(FieldError::new(
            "lines",
            "nothing_to_refund",
            "the order is already fully refunded",
        )));
    }
    let mut lines = Vec::with_capacity(wanted.len());
    for &(line_no, quantity) in &wanted {
        if let Some(line) = by_no.get(&line_no) {
            lines.push(plan_line(line, quantity)?);
        }
    }
    let full = order.lines.iter().all(|line| {
        let extra = wanted
            .iter()
            .find(|(no, _)| *no == line.line_no)
            .map_or(0, |(_, quantity)| *quantity);
        line.refunded_quantity + extra >= line.quantity
    });
    let amount_fen = if full {
        order.total_fen.checked_sub(order.refunded_fen)
    } else {
        Fen::checked_sum(lines.iter().map(|line| line.amount_fen))
    }
    .ok_or_else(too_large)?;
    let points = Points::checked_sum(lines.iter().map(|line| line.points)).ok_or_else(too_large)?;
    let mut points_by_rule: BTreeMap<Uuid, Points> = BTreeMap::new();
    for (rule, share) in lines.iter().flat_map(|line| &line.points_by_rule) {
        let sum = points_by_rule.entry(*rule).or_default();
        *sum = sum.checked_add(*share).ok_or_else(too_large)?;
    }
    points_by_rule.retain(|_, points| *points != Points::ZERO);
    Ok(RefundPlan {
        lines,
        amount_fen,
        points,
        points_by_rule,
        full,
    })
}

/// The units to refund per line, checked against what is left.
fn wanted_units(
    by_no: &BTreeMap<u32, &RefundableLine>,
    request: &RefundRequest,
) -> Result<Vec<(u32, i64)>, FieldErrors> {
    let requested = match request {
        RefundRequest::Everything => {
            return Ok(by_no
                .iter()
                .map(|(no, line)| (*no, line.quantity - line.refunded_quantity))
                .filter(|(_, quantity)| *quantity > 0)
                .collect());
        }
        RefundRequest::Lines(requested) => requested,
    };
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
    Ok(requested
        .iter()
        .map(|line| (line.line_no, i64::from(line.quantity)))
        .collect())
}

/// `quantity` more units of `line`: each share is the share of all units refunded after this
/// refund less the share of those refunded before it. Validation keeps `before + quantity`
/// within the line's units, so no share exceeds the whole; the checks only guard stored values
/// that no longer make sense.
fn plan_line(line: &RefundableLine, quantity: i64) -> Result<PlannedLine, FieldErrors> {
    let before = line.refunded_quantity;
    let after = before.checked_add(quantity).ok_or_else(too_large)?;
    let of = line.quantity;
    let step_fen = |whole: Fen| {
        whole
            .pro_rata(after, of)
            .checked_sub(whole.pro_rata(before, of))
            .ok_or_else(too_large)
    };
    let step_points = |whole: Points| {
        whole
            .pro_rata(after, of)
            .checked_sub(whole.pro_rata(before, of))
            .ok_or_else(too_large)
    };
    let mut points_by_rule = Vec::with_capacity(line.earned_points_by_rule.len());
    for (rule, earned) in &line.earned_points_by_rule {
        points_by_rule.push((*rule, step_points(*earned)?));
    }
    Ok(PlannedLine {
        line_no: line.line_no,
        refunded_before: before,
        quantity,
        amount_fen: step_fen(line.amount_fen)?,
        points: step_points(line.earned_points)?,
        points_by_rule,
    })
}

fn too_large() -> FieldErrors {
    FieldErrors::single(FieldError::new(
        "lines",
        "out_of_range",
        "the refund's amounts are too large to add up",
    ))
}
