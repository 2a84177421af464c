//! Tests of the earning engine: Chinese retail examples, edge cases, validation and properties.

mod edge;
mod examples;
mod props;
mod stacking;
mod validation;

use super::*;
use crate::ids::{ChannelId, FormatId, StoreId};
use jiff::tz::TimeZone;
use std::collections::BTreeSet;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

pub(super) const SUPERMARKET: FormatId = FormatId(Uuid::from_u128(0x5_0001));
pub(super) const DEPARTMENT_STORE: FormatId = FormatId(Uuid::from_u128(0x5_0002));
pub(super) const MINI_PROGRAM: ChannelId = ChannelId(Uuid::from_u128(0xC_0001));
pub(super) const POS: ChannelId = ChannelId(Uuid::from_u128(0xC_0002));
pub(super) const STORE_XUJIAHUI: StoreId = StoreId(Uuid::from_u128(0x57_0001));

/// Saturday 2026-03-07, 10:00 in Shanghai.
pub(super) const SATURDAY: OffsetDateTime = datetime!(2026-03-07 10:00 +08:00);
/// Friday 2026-03-06, 10:00 in Shanghai.
pub(super) const FRIDAY: OffsetDateTime = datetime!(2026-03-06 10:00 +08:00);

pub(super) fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

pub(super) fn context() -> EarningContext {
    EarningContext::new(shanghai())
}

pub(super) fn rule(id: u128, name: &str, priority: i32, effect: Effect) -> EarningRule {
    EarningRule {
        id: Uuid::from_u128(id),
        name: name.to_owned(),
        priority,
        enabled: true,
        conditions: Conditions::default(),
        effect,
        caps: Caps::default(),
        stacking: Stacking::Additive,
        active_from: None,
        active_until: None,
    }
}

/// 1 point per ¥1 everywhere, at priority 0.
pub(super) fn base_rate() -> EarningRule {
    rule(
        1,
        "基础积分 1 分/元",
        0,
        Effect::PointsPerYuan {
            points: 1,
            per_fen: 100,
        },
    )
}

pub(super) fn multiplier(id: u128, name: &str, permille: u32) -> EarningRule {
    rule(id, name, 0, Effect::Multiplier { permille })
}

pub(super) fn bonus(id: u128, name: &str, points: u32) -> EarningRule {
    rule(id, name, 0, Effect::FixedBonus { points })
}

pub(super) fn line(line_no: u32, sku: &str, category: &[&str], amount_fen: i64) -> LineFacts {
    LineFacts {
        line_no,
        sku: sku.to_owned(),
        category_path: category.iter().map(|s| (*s).to_owned()).collect(),
        quantity: 1,
        amount_fen,
        excluded: false,
    }
}

pub(super) fn excluded(mut line: LineFacts) -> LineFacts {
    line.excluded = true;
    line
}

pub(super) fn order(
    format_id: FormatId,
    occurred_at: OffsetDateTime,
    lines: Vec<LineFacts>,
) -> OrderFacts {
    OrderFacts {
        format_id,
        channel_id: Some(POS),
        store_id: Some(STORE_XUJIAHUI),
        occurred_at,
        lines,
        paid_by_points_fen: 0,
        paid_by_coupons_fen: 0,
    }
}

pub(super) fn member(tier: Option<&str>, tags: &[&str]) -> MemberFacts {
    MemberFacts {
        tier_code: tier.map(str::to_owned),
        tags: tags
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>(),
    }
}

pub(super) fn set<T: Ord + Clone>(items: &[T]) -> Option<BTreeSet<T>> {
    Some(items.iter().cloned().collect())
}

pub(super) fn texts(items: &[&str]) -> Option<BTreeSet<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

/// Evaluates and checks the attribution invariants on the way.
pub(super) fn run(
    rules: &[EarningRule],
    order: &OrderFacts,
    member: &MemberFacts,
    context: &EarningContext,
) -> Evaluation {
    let evaluation = evaluate(rules, order, member, context);
    assert_attribution(&evaluation.accrual);
    assert_eq!(accrue(rules, order, member, context), evaluation.accrual);
    evaluation
}

/// `sum(fired) == total == sum(per_line)`, per rule and per line, all non-negative.
pub(super) fn assert_attribution(accrual: &Accrual) {
    let fired: i64 = accrual.fired.iter().map(|f| f.points).sum();
    let lines: i64 = accrual.per_line.iter().map(|l| l.points).sum();
    assert_eq!(fired, accrual.total_points);
    assert_eq!(lines, accrual.total_points);
    assert!(accrual.total_points >= 0);
    for f in &accrual.fired {
        assert!(f.points >= 0);
        assert_eq!(f.lines.iter().map(|l| l.points).sum::<i64>(), f.points);
    }
    for l in &accrual.per_line {
        let from_rules: i64 = accrual
            .fired
            .iter()
            .flat_map(|f| &f.lines)
            .filter(|fl| fl.line_no == l.line_no)
            .map(|fl| fl.points)
            .sum();
        assert_eq!(from_rules, l.points);
    }
}

pub(super) fn outcome(evaluation: &Evaluation, id: u128) -> &Outcome {
    &evaluation
        .rules
        .iter()
        .find(|r| r.rule_id == Uuid::from_u128(id))
        .unwrap()
        .outcome
}

pub(super) fn unmet(evaluation: &Evaluation, id: u128) -> Vec<Unmet> {
    match outcome(evaluation, id) {
        Outcome::NotMatched { unmet } => unmet.clone(),
        other => panic!("rule {id} was expected not to match, got {other:?}"),
    }
}

pub(super) fn per_line(accrual: &Accrual) -> Vec<i64> {
    accrual.per_line.iter().map(|l| l.points).collect()
}

pub(super) fn fired_points(accrual: &Accrual, id: u128) -> Option<(i64, bool)> {
    accrual
        .fired
        .iter()
        .find(|f| f.rule_id == Uuid::from_u128(id))
        .map(|f| (f.points, f.capped))
}
