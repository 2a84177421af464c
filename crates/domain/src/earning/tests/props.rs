//! Properties over random rules, orders, members and counters.

use super::*;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use time::{Duration, Time};

const NEVER_FORMAT: FormatId = FormatId(Uuid::from_u128(0x5_FFFF));
const CATEGORIES: &[&[&str]] = &[
    &["food"],
    &["food", "dairy"],
    &["beauty"],
    &["beauty", "skincare"],
    &["tobacco"],
    &[],
];
const SKUS: &[&str] = &["A", "B", "C", "D"];
const TIERS: &[&str] = &["普通", "银卡", "金卡"];
const TAGS: &[&str] = &["新客", "宝妈", "高价值"];
/// Orders fall within 60 days from here (a Sunday), so weekdays and dates vary.
const EPOCH: OffsetDateTime = datetime!(2026-03-01 00:00 +08:00);

fn strings(pool: &[&str]) -> impl Strategy<Value = Option<BTreeSet<String>>> + use<> {
    let pool: Vec<String> = pool.iter().map(|s| (*s).to_owned()).collect();
    let len = pool.len();
    sometimes(subsequence(pool, 1..=len).prop_map(|v| v.into_iter().collect()))
}

/// Conditions are present now and then, so that random rules match often enough to combine.
fn sometimes<S: Strategy>(strategy: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::weighted(0.15, strategy)
}

fn effect() -> impl Strategy<Value = Effect> {
    prop_oneof![
        (1u32..=20, select(vec![1u32, 50, 100, 200, 1_000]))
            .prop_map(|(points, per_fen)| Effect::PointsPerYuan { points, per_fen }),
        (1_000u32..=5_000).prop_map(|permille| Effect::Multiplier { permille }),
        (1u32..=500).prop_map(|points| Effect::FixedBonus { points }),
    ]
}

fn conditions() -> impl Strategy<Value = Conditions> {
    let categories: Vec<Vec<String>> = CATEGORIES
        .iter()
        .filter(|path| !path.is_empty())
        .map(|path| path.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    (
        sometimes(subsequence(vec![SUPERMARKET, DEPARTMENT_STORE], 1..=2)),
        sometimes(subsequence(vec![POS, MINI_PROGRAM], 1..=2)),
        sometimes(subsequence(categories, 1..=3)),
        strings(SKUS),
        strings(TIERS),
        strings(TAGS),
        sometimes(subsequence((1u8..=7).collect::<Vec<_>>(), 1..=7)),
        sometimes((0u8..24, 1u8..24)),
        sometimes(1i64..100_000),
        sometimes((0i64..60, 0i64..30)),
    )
        .prop_map(
            |(formats, channels, categories, skus, tiers, tags, weekdays, hours, min, dates)| {
                Conditions {
                    format_ids: formats.map(|v| v.into_iter().collect()),
                    channel_ids: channels.map(|v| v.into_iter().collect()),
                    store_ids: None,
                    categories: categories.map(|v| v.into_iter().collect()),
                    skus,
                    tiers,
                    member_tags: tags,
                    dates: dates.map(|(start, length)| {
                        let from = EPOCH.date() + Duration::days(start);
                        DateRange {
                            from,
                            until: from + Duration::days(length),
                        }
                    }),
                    weekdays: weekdays.map(|v| v.into_iter().collect()),
                    time_of_day: hours.map(|(from, span)| TimeOfDayRange {
                        from: Time::from_hms(from, 0, 0).unwrap(),
                        until: Time::from_hms((from + span) % 24, 0, 0).unwrap(),
                    }),
                    min_order_amount_fen: min,
                }
            },
        )
}

fn caps() -> impl Strategy<Value = Caps> {
    (
        sometimes(1i64..500),
        sometimes(1i64..500),
        sometimes((
            1i64..2_000,
            select(vec![CapPeriod::Week, CapPeriod::Month, CapPeriod::Lifetime]),
        )),
    )
        .prop_map(|(order, day, period)| Caps {
            per_order_points: order,
            per_member_day_points: day,
            per_member_period: period.map(|(points, period)| PeriodCap { points, period }),
        })
}

/// A valid rule, id left to the caller.
fn rule_body() -> impl Strategy<Value = EarningRule> {
    (
        effect(),
        conditions(),
        caps(),
        prop::option::of(select(vec!["a", "b"])),
        -3i32..=3,
        prop::bool::weighted(0.9),
    )
        .prop_map(|(effect, conditions, caps, group, priority, enabled)| {
            let stacking = match (group, effect) {
                (Some(group), Effect::Multiplier { .. } | Effect::FixedBonus { .. }) => {
                    Stacking::BestOf {
                        group: group.to_owned(),
                    }
                }
                _ => Stacking::Additive,
            };
            let mut rule = rule(0, "随机规则", priority, effect);
            rule.enabled = enabled;
            rule.conditions = conditions;
            rule.caps = caps;
            rule.stacking = stacking;
            rule
        })
}

fn rules() -> impl Strategy<Value = Vec<EarningRule>> {
    prop::collection::vec(rule_body(), 0..8).prop_map(|mut rules| {
        for (index, rule) in rules.iter_mut().enumerate() {
            rule.id = Uuid::from_u128(index as u128 + 1);
        }
        rules
    })
}

fn line_facts() -> impl Strategy<Value = (String, Vec<String>, i64, bool)> {
    (
        select(SKUS.to_vec()),
        select(CATEGORIES.to_vec()),
        prop_oneof![4 => 0i64..100_000, 1 => -100i64..=0],
        prop::bool::weighted(0.25),
    )
        .prop_map(|(sku, path, amount, excluded)| {
            (
                sku.to_owned(),
                path.iter().map(|s| (*s).to_owned()).collect(),
                amount,
                excluded,
            )
        })
}

fn order_facts() -> impl Strategy<Value = OrderFacts> {
    (
        select(vec![SUPERMARKET, DEPARTMENT_STORE]),
        prop::option::of(select(vec![POS, MINI_PROGRAM])),
        0i64..60 * 24 * 60,
        prop::collection::vec(line_facts(), 0..6),
        prop_oneof![2 => Just(0i64), 1 => 0i64..60_000],
        prop_oneof![2 => Just(0i64), 1 => 0i64..60_000],
    )
        .prop_map(
            |(format_id, channel_id, minutes, lines, points, coupons)| OrderFacts {
                format_id,
                channel_id,
                store_id: Some(STORE_XUJIAHUI),
                occurred_at: EPOCH + Duration::minutes(minutes),
                lines: lines
                    .into_iter()
                    .enumerate()
                    .map(
                        |(index, (sku, category_path, amount_fen, excluded))| LineFacts {
                            line_no: index as u32 + 1,
                            sku,
                            category_path,
                            quantity: 1,
                            amount_fen,
                            excluded,
                        },
                    )
                    .collect(),
                paid_by_points_fen: points,
                paid_by_coupons_fen: coupons,
            },
        )
}

fn member_facts() -> impl Strategy<Value = MemberFacts> {
    (prop::option::of(select(TIERS.to_vec())), strings(TAGS)).prop_map(|(tier, tags)| MemberFacts {
        tier_code: tier.map(str::to_owned),
        tags: tags.unwrap_or_default(),
    })
}

fn context_facts() -> impl Strategy<Value = EarningContext> {
    (
        prop::option::weighted(0.2, 0i64..2_000),
        prop::collection::vec((0i64..600, 0i64..3_000), 8),
    )
        .prop_map(|(order_cap_points, counters)| {
            let mut context = context();
            context.order_cap_points = order_cap_points;
            for (index, (today, period)) in counters.into_iter().enumerate() {
                context.earned_so_far.insert(
                    Uuid::from_u128(index as u128 + 1),
                    EarnedSoFar {
                        already_earned_today: today,
                        already_earned_in_period: period,
                    },
                );
            }
            context
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn attribution_always_adds_up_and_respects_caps(
        rules in rules(),
        order in order_facts(),
        member in member_facts(),
        context in context_facts(),
    ) {
        let evaluation = evaluate(&rules, &order, &member, &context);
        let accrual = &evaluation.accrual;
        assert_attribution(accrual);
        prop_assert!(accrual.total_points >= 0);
        prop_assert_eq!(accrual.per_line.len(), order.lines.len());
        prop_assert_eq!(evaluation.rules.len(), rules.len());
        for (line, points) in order.lines.iter().zip(&accrual.per_line) {
            if line.excluded || line.amount_fen <= 0 {
                prop_assert_eq!(points.points, 0);
            }
        }
        if let Some(cap) = context.order_cap_points {
            prop_assert!(accrual.total_points <= cap);
        }
        for fired in &accrual.fired {
            let rule = rules.iter().find(|r| r.id == fired.rule_id).unwrap();
            let so_far = context.earned_so_far(rule.id);
            if let Some(cap) = rule.caps.per_order_points {
                prop_assert!(fired.points <= cap);
            }
            if let Some(cap) = rule.caps.per_member_day_points {
                prop_assert!(fired.points <= (cap - so_far.already_earned_today).max(0));
            }
            if let Some(cap) = rule.caps.per_member_period {
                prop_assert!(fired.points <= (cap.points - so_far.already_earned_in_period).max(0));
            }
        }
        // Any split of the lines into refunds partitions the total.
        let (odd, even): (Vec<u32>, Vec<u32>) =
            order.lines.iter().map(|l| l.line_no).partition(|n| n % 2 == 1);
        prop_assert_eq!(accrual.points_for_lines(&odd) + accrual.points_for_lines(&even), accrual.total_points);
    }

    #[test]
    fn removing_excluded_lines_never_changes_the_total(
        rules in rules(),
        order in order_facts(),
        member in member_facts(),
        context in context_facts(),
    ) {
        let mut without = order.clone();
        without.lines.retain(|line| !line.excluded);
        let before = accrue(&rules, &order, &member, &context);
        let after = accrue(&rules, &without, &member, &context);
        prop_assert_eq!(before.total_points, after.total_points);
        prop_assert_eq!(before.fired, after.fired);
    }

    #[test]
    fn adding_a_non_matching_rule_never_changes_the_result(
        rules in rules(),
        extra in rule_body(),
        order in order_facts(),
        member in member_facts(),
        context in context_facts(),
    ) {
        let before = accrue(&rules, &order, &member, &context);

        let mut never = extra.clone();
        never.id = Uuid::from_u128(1_000);
        never.conditions.format_ids = set(&[NEVER_FORMAT]);
        let with_never = [rules.clone(), vec![never]].concat();
        prop_assert_eq!(&accrue(&with_never, &order, &member, &context), &before);

        // Any random rule that turns out not to match leaves the result alone too.
        let mut maybe = extra;
        maybe.id = Uuid::from_u128(1_001);
        let with_maybe = [rules, vec![maybe]].concat();
        let evaluation = evaluate(&with_maybe, &order, &member, &context);
        let report = evaluation.rules.iter().find(|r| r.rule_id == Uuid::from_u128(1_001)).unwrap();
        if matches!(report.outcome, Outcome::NotMatched { .. }) {
            prop_assert_eq!(&evaluation.accrual, &before);
        }
    }

    #[test]
    fn the_order_of_the_rules_does_not_matter(
        rules in rules(),
        order in order_facts(),
        member in member_facts(),
        context in context_facts(),
    ) {
        let mut reversed = rules.clone();
        reversed.reverse();
        prop_assert_eq!(evaluate(&rules, &order, &member, &context), evaluate(&reversed, &order, &member, &context));
    }

    #[test]
    fn payments_by_points_and_coupons_are_never_earned_on(
        rules in rules(),
        order in order_facts(),
        member in member_facts(),
    ) {
        // With only base rates of at most 20 points per fen and no bonuses, a fully paid order
        // earns nothing, and the net amount never exceeds what was paid in cash.
        let base_rates: Vec<EarningRule> =
            rules.into_iter().filter(|r| matches!(r.effect, Effect::PointsPerYuan { .. })).collect();
        let mut paid = order.clone();
        let eligible: i64 = order.lines.iter().filter(|l| !l.excluded).map(|l| l.amount_fen.max(0)).sum();
        paid.paid_by_points_fen = eligible;
        paid.paid_by_coupons_fen = 0;
        prop_assert_eq!(accrue(&base_rates, &paid, &member, &context()).total_points, 0);
    }
}
