//! The refund plan: examples, refused requests, and properties over random orders refunded in
//! random parts.

use super::{
    PlannedLine, RefundPlan, RefundRequest, RefundableLine, RefundableOrder, RequestedLine,
    plan_refund,
};
use crate::amounts::{Fen, Points};
use crate::validation::FieldErrors;
use proptest::prelude::{Strategy, prop_assert, prop_assert_eq, proptest};
use std::collections::BTreeMap;
use uuid::Uuid;

const DOUBLE: Uuid = Uuid::from_u128(0xD0);
const BASE: Uuid = Uuid::from_u128(0xBA);

fn line(line_no: u32, quantity: i64, amount_fen: i64, by_rule: &[(Uuid, i64)]) -> RefundableLine {
    RefundableLine {
        line_no,
        quantity,
        refunded_quantity: 0,
        amount_fen: Fen::new(amount_fen),
        earned_points: Points::new(by_rule.iter().map(|(_, points)| points).sum()),
        earned_points_by_rule: by_rule
            .iter()
            .map(|(rule, points)| (*rule, Points::new(*points)))
            .collect(),
    }
}

/// Three lines and ¥10 shipping: 3 × ¥33.33 earning 100 (base 67, double 33), 1 × ¥50 earning
/// 50 (base), and a free gift.
fn order() -> RefundableOrder {
    RefundableOrder {
        lines: vec![
            line(1, 3, 9999, &[(BASE, 67), (DOUBLE, 33)]),
            line(2, 1, 5000, &[(BASE, 50)]),
            line(3, 2, 0, &[]),
        ],
        total_fen: Fen::new(9999 + 5000 + 1000),
        refunded_fen: Fen::ZERO,
    }
}

fn lines(requested: &[(u32, u32)]) -> RefundRequest {
    RefundRequest::Lines(
        requested
            .iter()
            .map(|&(line_no, quantity)| RequestedLine { line_no, quantity })
            .collect(),
    )
}

/// The order as it stands once `plan` is written.
fn apply(order: &mut RefundableOrder, plan: &RefundPlan) {
    for planned in &plan.lines {
        if let Some(line) = order
            .lines
            .iter_mut()
            .find(|l| l.line_no == planned.line_no)
        {
            line.refunded_quantity += planned.quantity;
        }
    }
    order.refunded_fen = Fen::new(order.refunded_fen.get() + plan.amount_fen.get());
}

fn codes(errors: FieldErrors) -> Vec<(String, &'static str)> {
    errors.0.into_iter().map(|e| (e.field, e.code)).collect()
}

fn planned(plan: &RefundPlan, line_no: u32) -> Option<&PlannedLine> {
    plan.lines.iter().find(|line| line.line_no == line_no)
}

#[test]
fn one_unit_takes_its_rounded_down_share() {
    let plan = plan_refund(&order(), &lines(&[(1, 1)])).unwrap();
    assert_eq!(
        plan.lines,
        [PlannedLine {
            line_no: 1,
            refunded_before: 0,
            quantity: 1,
            amount_fen: Fen::new(3333),
            points: Points::new(33),
            points_by_rule: vec![(BASE, Points::new(22)), (DOUBLE, Points::new(11))],
        }]
    );
    assert_eq!(plan.amount_fen, Fen::new(3333));
    assert_eq!(plan.points, Points::new(33));
    assert_eq!(
        plan.points_by_rule,
        BTreeMap::from([(BASE, Points::new(22)), (DOUBLE, Points::new(11))])
    );
    assert!(!plan.full);
}

#[test]
fn the_last_unit_takes_what_rounding_left() {
    let mut order = order();
    for _ in 0..2 {
        let plan = plan_refund(&order, &lines(&[(1, 1)])).unwrap();
        apply(&mut order, &plan);
    }
    let last = plan_refund(&order, &lines(&[(1, 1)])).unwrap();
    let line = planned(&last, 1).unwrap();
    assert_eq!(line.refunded_before, 2);
    assert_eq!(line.amount_fen, Fen::new(3333));
    assert_eq!(line.points, Points::new(34));
    assert_eq!(
        line.points_by_rule,
        [(BASE, Points::new(23)), (DOUBLE, Points::new(11))]
    );
}

#[test]
fn everything_refunds_every_line_left_with_the_shipping() {
    let mut order = order();
    let first = plan_refund(&order, &lines(&[(2, 1)])).unwrap();
    apply(&mut order, &first);
    let rest = plan_refund(&order, &RefundRequest::Everything).unwrap();
    let refunded: Vec<(u32, i64)> = rest.lines.iter().map(|l| (l.line_no, l.quantity)).collect();
    assert_eq!(refunded, [(1, 3), (3, 2)]);
    assert!(rest.full);
    // ¥99.99 of line 1, the free gift, and the ¥10 no line carries.
    assert_eq!(rest.amount_fen, Fen::new(9999 + 1000));
    assert_eq!(rest.points, Points::new(100));
}

#[test]
fn naming_every_remaining_unit_is_a_full_refund_too() {
    let plan = plan_refund(&order(), &lines(&[(3, 2), (1, 3), (2, 1)])).unwrap();
    assert!(plan.full);
    assert_eq!(plan.amount_fen, Fen::new(15_999));
    // In the order asked for.
    let order_asked: Vec<u32> = plan.lines.iter().map(|l| l.line_no).collect();
    assert_eq!(order_asked, [3, 1, 2]);
}

#[test]
fn a_zero_amount_line_refunds_nothing_but_its_units() {
    let plan = plan_refund(&order(), &lines(&[(3, 1)])).unwrap();
    let line = planned(&plan, 3).unwrap();
    assert_eq!(
        (line.quantity, line.amount_fen, line.points),
        (1, Fen::ZERO, Points::ZERO)
    );
    assert!(plan.points_by_rule.is_empty());
    assert_eq!(plan.amount_fen, Fen::ZERO);
}

#[test]
fn rules_whose_share_rounds_to_zero_are_left_out() {
    let order = RefundableOrder {
        lines: vec![line(1, 10, 1000, &[(BASE, 5), (DOUBLE, 20)])],
        total_fen: Fen::new(1000),
        refunded_fen: Fen::ZERO,
    };
    let plan = plan_refund(&order, &lines(&[(1, 1)])).unwrap();
    assert_eq!(
        plan.points_by_rule,
        BTreeMap::from([(DOUBLE, Points::new(2))])
    );
    assert_eq!(
        planned(&plan, 1).unwrap().points_by_rule,
        [(BASE, Points::ZERO), (DOUBLE, Points::new(2))]
    );
}

#[test]
fn bad_lines_are_all_reported_at_once() {
    let errors = plan_refund(&order(), &lines(&[(1, 4), (9, 1), (1, 1), (2, 0)])).unwrap_err();
    assert_eq!(
        codes(errors),
        [
            ("lines[0].quantity".to_owned(), "over_refund"),
            ("lines[1].line_no".to_owned(), "not_found"),
            ("lines[2].line_no".to_owned(), "duplicate"),
            ("lines[3].quantity".to_owned(), "out_of_range"),
        ]
    );
    let over = plan_refund(&order(), &lines(&[(1, 4)])).unwrap_err();
    assert_eq!(over.0[0].message, "only 3 of 3 left to refund");
}

#[test]
fn an_empty_list_or_nothing_left_is_refused() {
    assert_eq!(
        codes(plan_refund(&order(), &lines(&[])).unwrap_err()),
        [("lines".to_owned(), "required")]
    );
    let mut order = order();
    let all = plan_refund(&order, &RefundRequest::Everything).unwrap();
    apply(&mut order, &all);
    assert_eq!(
        codes(plan_refund(&order, &RefundRequest::Everything).unwrap_err()),
        [("lines".to_owned(), "nothing_to_refund")]
    );
    assert_eq!(
        codes(plan_refund(&order, &lines(&[(2, 1)])).unwrap_err()),
        [("lines[0].quantity".to_owned(), "over_refund")]
    );
}

#[test]
fn sums_that_do_not_fit_are_refused() {
    let order = RefundableOrder {
        lines: vec![line(1, 1, i64::MAX, &[]), line(2, 1, i64::MAX, &[])],
        total_fen: Fen::new(i64::MAX),
        refunded_fen: Fen::ZERO,
    };
    // Full: the total less what was refunded fits.
    assert!(plan_refund(&order, &RefundRequest::Everything).is_ok());
    let mut partly = order.clone();
    partly.lines.push(line(3, 1, 0, &[]));
    let errors = plan_refund(&partly, &lines(&[(1, 1), (2, 1)])).unwrap_err();
    assert_eq!(codes(errors), [("lines".to_owned(), "out_of_range")]);
}

// ---- properties ----

const RULES: [Uuid; 3] = [
    Uuid::from_u128(0xA1),
    Uuid::from_u128(0xA2),
    Uuid::from_u128(0xA3),
];

/// A line with 1–6 units (or none, when `allow_empty`), an amount that may be zero, and up to
/// three rules' points that may be zero.
fn random_line(allow_empty: bool) -> impl Strategy<Value = (i64, i64, Vec<i64>)> {
    let least = if allow_empty { 0 } else { 1 };
    (
        least..=6i64,
        proptest::prop_oneof![
            1 => proptest::strategy::Just(0i64),
            4 => 0..=1_000_000i64
        ],
        proptest::collection::vec(0..=5_000i64, 0..=3),
    )
}

fn random_order(allow_empty: bool) -> impl Strategy<Value = RefundableOrder> {
    (
        proptest::collection::vec(random_line(allow_empty), 1..=5),
        0..=2_000i64,
    )
        .prop_map(|(lines, extra_fen)| {
            let lines: Vec<RefundableLine> = lines
                .into_iter()
                .enumerate()
                .map(|(i, (quantity, amount_fen, points))| {
                    let by_rule: Vec<(Uuid, i64)> = RULES.iter().copied().zip(points).collect();
                    line(i as u32 + 1, quantity, amount_fen, &by_rule)
                })
                .collect();
            let lines_fen: i64 = lines.iter().map(|l| l.amount_fen.get()).sum();
            RefundableOrder {
                lines,
                total_fen: Fen::new(lines_fen + extra_fen),
                refunded_fen: Fen::ZERO,
            }
        })
}

/// Each line's units cut into parts of 1 or more: the k-th refund asks for every line's k-th
/// part. `cuts` are per line, raw numbers reduced to valid part sizes.
fn split_into_refunds(order: &RefundableOrder, cuts: &[Vec<u32>]) -> Vec<RefundRequest> {
    let mut parts_by_line: Vec<Vec<u32>> = Vec::new();
    for (i, line) in order.lines.iter().enumerate() {
        let mut left = u32::try_from(line.quantity).unwrap_or(0);
        let mut parts = Vec::new();
        for cut in cuts.get(i).into_iter().flatten() {
            if left == 0 {
                break;
            }
            let part = 1 + cut % left;
            parts.push(part);
            left -= part;
        }
        if left > 0 {
            parts.push(left);
        }
        parts_by_line.push(parts);
    }
    let steps = parts_by_line.iter().map(Vec::len).max().unwrap_or(0);
    (0..steps)
        .map(|k| {
            RefundRequest::Lines(
                order
                    .lines
                    .iter()
                    .zip(&parts_by_line)
                    .filter_map(|(line, parts)| {
                        parts.get(k).map(|&quantity| RequestedLine {
                            line_no: line.line_no,
                            quantity,
                        })
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Runs the refunds one after the other, checking each plan's per-step bounds on the way.
fn refund_in_steps(order: &RefundableOrder, requests: &[RefundRequest]) -> Vec<RefundPlan> {
    let mut state = order.clone();
    let mut plans = Vec::new();
    for request in requests {
        let plan = plan_refund(&state, request).unwrap();
        apply(&mut state, &plan);
        plans.push(plan);
    }
    plans
}

/// Per line: (units, fen, points, points by rule) summed over the plans.
type Totals = BTreeMap<u32, (i64, i64, i64, BTreeMap<Uuid, i64>)>;

fn totals(plans: &[RefundPlan]) -> Totals {
    let mut totals = Totals::new();
    for line in plans.iter().flat_map(|plan| &plan.lines) {
        let entry = totals.entry(line.line_no).or_default();
        entry.0 += line.quantity;
        entry.1 += line.amount_fen.get();
        entry.2 += line.points.get();
        for (rule, points) in &line.points_by_rule {
            *entry.3.entry(*rule).or_default() += points.get();
        }
    }
    totals
}

proptest! {
    /// However an order is cut into refunds, every line gives back exactly what it cost and
    /// takes back exactly what it earned, per rule too; the money sums to the order's total and
    /// only the last refund is full.
    #[test]
    fn refunding_everything_in_parts_sums_to_the_whole(
        order in random_order(false),
        cuts in proptest::collection::vec(proptest::collection::vec(0..=u32::MAX, 0..=5), 5),
    ) {
        let plans = refund_in_steps(&order, &split_into_refunds(&order, &cuts));
        let totals = totals(&plans);
        for line in &order.lines {
            let (units, fen, points, by_rule) = totals.get(&line.line_no).cloned().unwrap_or_default();
            prop_assert_eq!(units, line.quantity);
            prop_assert_eq!(fen, line.amount_fen.get());
            prop_assert_eq!(points, line.earned_points.get());
            for (rule, earned) in &line.earned_points_by_rule {
                prop_assert_eq!(by_rule.get(rule).copied().unwrap_or(0), earned.get());
            }
        }
        let fen: i64 = plans.iter().map(|plan| plan.amount_fen.get()).sum();
        prop_assert_eq!(fen, order.total_fen.get());
        let points: i64 = plans.iter().map(|plan| plan.points.get()).sum();
        let earned: i64 = order.lines.iter().map(|l| l.earned_points.get()).sum();
        prop_assert_eq!(points, earned);
        let fulls: Vec<bool> = plans.iter().map(|plan| plan.full).collect();
        prop_assert_eq!(fulls.iter().filter(|full| **full).count(), 1);
        prop_assert_eq!(fulls.last().copied(), Some(true));
    }

    /// A refund in one step takes what the same units refunded in several steps take.
    #[test]
    fn one_refund_equals_the_sum_of_partial_refunds_of_the_same_units(
        order in random_order(false),
        cuts in proptest::collection::vec(proptest::collection::vec(0..=u32::MAX, 0..=5), 5),
        chosen in proptest::collection::vec(proptest::bool::ANY, 5),
    ) {
        // Some of the lines; per line both ways agree (a full refund's plan total also carries
        // the shipping, so plan totals are not compared).
        let subset = RefundableOrder {
            lines: order.lines.iter().zip(&chosen).filter(|(_, c)| **c).map(|(l, _)| l.clone()).collect(),
            ..order.clone()
        };
        let at_once = RefundRequest::Lines(
            subset.lines.iter().map(|l| RequestedLine { line_no: l.line_no, quantity: l.quantity as u32 }).collect(),
        );
        if subset.lines.is_empty() {
            return Ok(());
        }
        let whole = refund_in_steps(&order, &[at_once]);
        let parts = refund_in_steps(&order, &split_into_refunds(&subset, &cuts));
        prop_assert_eq!(totals(&whole), totals(&parts));
        let by_rule = |plans: &[RefundPlan]| {
            let mut sum: BTreeMap<Uuid, i64> = BTreeMap::new();
            for (rule, points) in plans.iter().flat_map(|plan| &plan.points_by_rule) {
                *sum.entry(*rule).or_default() += points.get();
            }
            sum.retain(|_, points| *points != 0);
            sum
        };
        prop_assert_eq!(by_rule(&whole), by_rule(&parts));
    }

    /// No refund takes back more than a line (or a rule on it) earned, none goes negative, and
    /// what all refunds so far took never passes what was earned.
    #[test]
    fn no_refund_takes_more_than_was_earned_nor_goes_negative(
        order in random_order(true),
        cuts in proptest::collection::vec(proptest::collection::vec(0..=u32::MAX, 0..=5), 5),
    ) {
        let mut state = order.clone();
        let mut taken: BTreeMap<(u32, Option<Uuid>), i64> = BTreeMap::new();
        for request in split_into_refunds(&order, &cuts) {
            let plan = plan_refund(&state, &request).unwrap();
            prop_assert!(plan.amount_fen.get() >= 0);
            prop_assert!(plan.points.get() >= 0);
            prop_assert!(plan.points_by_rule.values().all(|p| p.get() > 0));
            for planned in &plan.lines {
                let line = order.lines.iter().find(|l| l.line_no == planned.line_no).unwrap();
                prop_assert!(planned.amount_fen.get() >= 0 && planned.amount_fen <= line.amount_fen);
                prop_assert!(planned.points.get() >= 0);
                let sum = taken.entry((line.line_no, None)).or_default();
                *sum += planned.points.get();
                prop_assert!(*sum <= line.earned_points.get());
                for ((rule, points), (_, earned)) in planned.points_by_rule.iter().zip(&line.earned_points_by_rule) {
                    prop_assert!(points.get() >= 0);
                    let sum = taken.entry((line.line_no, Some(*rule))).or_default();
                    *sum += points.get();
                    prop_assert!(*sum <= earned.get());
                }
            }
            apply(&mut state, &plan);
        }
    }

    /// Asking a line for more units than it has left is refused with `over_refund`.
    #[test]
    fn asking_for_more_than_is_left_is_refused(
        order in random_order(false),
        which in 0usize..5,
        extra in 1u32..=3,
    ) {
        let line = &order.lines[which % order.lines.len()];
        let request = RefundRequest::Lines(vec![RequestedLine {
            line_no: line.line_no,
            quantity: line.quantity as u32 + extra,
        }]);
        let errors = plan_refund(&order, &request).unwrap_err();
        prop_assert_eq!(errors.0.len(), 1);
        prop_assert_eq!(errors.0[0].code, "over_refund");
    }
}
