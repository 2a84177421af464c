//! The tier benefit "earning multiplier" (e.g. 金卡 ×1.5) as one more multiplier rule, so it goes
//! through the same stacking, caps and per-line attribution as the tenant's own rules and every
//! accrual and preview names it.

use super::rule::{Caps, Conditions, EarningRule, Effect, Stacking};
use uuid::Uuid;

/// The id the tier-benefit rule fires under in accruals and rule counters. Fixed, so refunds and
/// merges find its counters like any other rule's.
pub const TIER_BENEFIT_RULE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_7469_6572_0001);

/// The rule for a member whose level `level_code` multiplies earning by `permille`; `None` for ×1
/// or less, which adds nothing. Lowest priority and additive: it multiplies whatever base rate
/// applies to each line, on every line, and stacks with campaign multipliers.
pub fn tier_benefit_rule(level_code: &str, permille: u32) -> Option<EarningRule> {
    if permille <= 1_000 {
        return None;
    }
    Some(EarningRule {
        id: TIER_BENEFIT_RULE_ID,
        name: format!("tier benefit {level_code} ×{}", multiplier_text(permille)),
        priority: i32::MIN,
        enabled: true,
        conditions: Conditions::default(),
        effect: Effect::Multiplier { permille },
        caps: Caps::default(),
        stacking: Stacking::Additive,
        active_from: None,
        active_until: None,
    })
}

/// `1500` → `1.5`, `2000` → `2`, `1250` → `1.25`.
fn multiplier_text(permille: u32) -> String {
    let whole = permille / 1_000;
    let fraction = permille % 1_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::earning::evaluate;
    use crate::earning::facts::{EarningContext, LineFacts, MemberFacts, OrderFacts};
    use crate::ids::FormatId;
    use time::macros::datetime;

    fn order(amounts: &[i64]) -> OrderFacts {
        OrderFacts {
            format_id: FormatId(Uuid::from_u128(1)),
            channel_id: None,
            store_id: None,
            occurred_at: datetime!(2026-11-23 10:00 UTC),
            lines: amounts
                .iter()
                .enumerate()
                .map(|(i, &amount_fen)| LineFacts {
                    line_no: i as u32 + 1,
                    sku: format!("sku-{i}"),
                    category_path: vec![],
                    quantity: 1,
                    amount_fen,
                    excluded: false,
                })
                .collect(),
            paid_by_points_fen: 0,
            paid_by_coupons_fen: 0,
        }
    }

    fn base_rate() -> EarningRule {
        EarningRule {
            id: Uuid::from_u128(7),
            name: "1 point per yuan".into(),
            priority: 0,
            enabled: true,
            conditions: Conditions::default(),
            effect: Effect::PointsPerYuan {
                points: 1,
                per_fen: 100,
            },
            caps: Caps::default(),
            stacking: Stacking::Additive,
            active_from: None,
            active_until: None,
        }
    }

    fn context() -> EarningContext {
        EarningContext {
            time_zone: jiff::tz::TimeZone::UTC,
            order_cap_points: None,
            earned_so_far: Default::default(),
        }
    }

    #[test]
    fn multiplies_the_base_points_of_every_line_and_is_named_in_the_accrual() {
        let mut rules = vec![base_rate()];
        rules.extend(tier_benefit_rule("gold", 1_500));
        let evaluation = evaluate(
            &rules,
            &order(&[10_000, 3_300]),
            &MemberFacts::default(),
            &context(),
        );
        let accrual = evaluation.accrual;
        // 100 + 33 base points; the ×1.5 adds 50 + 16 (rounded down per line).
        assert_eq!(accrual.total_points, 199);
        let tier = accrual
            .fired
            .iter()
            .find(|f| f.rule_id == TIER_BENEFIT_RULE_ID)
            .expect("the tier benefit fired");
        assert_eq!(tier.points, 66);
        assert_eq!(tier.rule_name, "tier benefit gold ×1.5");
    }

    #[test]
    fn adds_nothing_without_a_base_rate_and_nothing_at_times_one() {
        assert!(tier_benefit_rule("silver", 1_000).is_none());
        let rules: Vec<EarningRule> = tier_benefit_rule("gold", 2_000).into_iter().collect();
        let evaluation = evaluate(
            &rules,
            &order(&[10_000]),
            &MemberFacts::default(),
            &context(),
        );
        assert_eq!(evaluation.accrual.total_points, 0);
    }

    #[test]
    fn names_multipliers_without_trailing_zeros() {
        assert_eq!(multiplier_text(1_500), "1.5");
        assert_eq!(multiplier_text(2_000), "2");
        assert_eq!(multiplier_text(1_250), "1.25");
        assert_eq!(multiplier_text(1_005), "1.005");
    }
}
