//! How rules combine: base rates by priority, additive and best-of multipliers and bonuses.

use super::*;

#[test]
fn additive_multipliers_add_their_extras() {
    let rules = [
        base_rate(),
        multiplier(60, "会员日 2 倍", 2_000),
        multiplier(61, "店庆 3 倍", 3_000),
    ];
    let order = order(SUPERMARKET, FRIDAY, vec![line(1, "x", &[], 10_000)]);
    let evaluation = run(&rules, &order, &member(None, &[]), &context());
    // ×2 and ×3 additive → base × (1 + 1 + 2) = ×4.
    assert_eq!(evaluation.accrual.total_points, 400);
    assert_eq!(fired_points(&evaluation.accrual, 60), Some((100, false)));
    assert_eq!(fired_points(&evaluation.accrual, 61), Some((200, false)));
}

#[test]
fn best_of_keeps_the_largest_multiplier_per_line() {
    let group = || Stacking::BestOf {
        group: "campaign".to_owned(),
    };
    let mut double = multiplier(70, "全场 2 倍", 2_000);
    double.stacking = group();
    let mut triple_skincare = multiplier(71, "护肤 3 倍", 3_000);
    triple_skincare.stacking = group();
    triple_skincare.conditions.categories = Some(
        [vec!["beauty".to_owned(), "skincare".to_owned()]]
            .into_iter()
            .collect(),
    );
    let mut weak = multiplier(72, "护肤 1.2 倍", 1_200);
    weak.stacking = group();
    weak.conditions.categories = triple_skincare.conditions.categories.clone();
    let mut gold = multiplier(73, "金卡 1.5 倍", 1_500);
    gold.conditions.tiers = texts(&["金卡"]);
    let rules = [base_rate(), double, triple_skincare, weak, gold];
    let order = order(
        DEPARTMENT_STORE,
        FRIDAY,
        vec![
            line(1, "面霜", &["beauty", "skincare"], 10_000),
            line(2, "T 恤", &["apparel"], 10_000),
        ],
    );
    let evaluation = run(&rules, &order, &member(Some("金卡"), &[]), &context());
    // Skincare: 100 + 200 (×3 wins the group) + 50 (gold); T-shirt: 100 + 100 (×2) + 50.
    assert_eq!(per_line(&evaluation.accrual), vec![350, 250]);
    assert_eq!(fired_points(&evaluation.accrual, 70), Some((100, false)));
    assert_eq!(fired_points(&evaluation.accrual, 71), Some((200, false)));
    assert_eq!(
        outcome(&evaluation, 72),
        &Outcome::BeatenInGroup {
            group: "campaign".to_owned(),
            by_rule_id: Uuid::from_u128(71)
        }
    );
}

#[test]
fn best_of_bonuses_keep_the_largest() {
    let group = || Stacking::BestOf {
        group: "满额礼".to_owned(),
    };
    let mut over_300 = bonus(80, "满 300 送 100", 100);
    over_300.conditions.min_order_amount_fen = Some(30_000);
    over_300.stacking = group();
    let mut over_500 = bonus(81, "满 500 送 200", 200);
    over_500.conditions.min_order_amount_fen = Some(50_000);
    over_500.stacking = group();
    let birthday = bonus(82, "生日礼 50 分", 50);
    let rules = [over_300, over_500, birthday];
    let nobody = member(None, &[]);

    let big = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, vec![line(1, "x", &[], 60_000)]),
        &nobody,
        &context(),
    );
    assert_eq!(big.accrual.total_points, 250);
    assert_eq!(
        outcome(&big, 80),
        &Outcome::BeatenInGroup {
            group: "满额礼".to_owned(),
            by_rule_id: Uuid::from_u128(81)
        }
    );

    let medium = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, vec![line(1, "x", &[], 40_000)]),
        &nobody,
        &context(),
    );
    assert_eq!(medium.accrual.total_points, 150);
    assert_eq!(fired_points(&medium.accrual, 80), Some((100, false)));
}

#[test]
fn highest_priority_base_rate_wins_per_line() {
    let group_wide = base_rate();
    let mut department = rule(
        90,
        "百货 2 分/元",
        10,
        Effect::PointsPerYuan {
            points: 2,
            per_fen: 100,
        },
    );
    department.conditions.format_ids = set(&[DEPARTMENT_STORE]);
    let mut clearance = rule(
        91,
        "特价商品 1 分/2 元",
        20,
        Effect::PointsPerYuan {
            points: 1,
            per_fen: 200,
        },
    );
    clearance.conditions.categories = Some([vec!["clearance".to_owned()]].into_iter().collect());
    let rules = [group_wide, department, clearance];
    let lines = vec![
        line(1, "特价外套", &["clearance", "apparel"], 10_000),
        line(2, "衬衫", &["apparel"], 10_000),
    ];
    let nobody = member(None, &[]);

    let in_department = run(
        &rules,
        &order(DEPARTMENT_STORE, FRIDAY, lines.clone()),
        &nobody,
        &context(),
    );
    assert_eq!(per_line(&in_department.accrual), vec![50, 200]);
    assert_eq!(
        outcome(&in_department, 1),
        &Outcome::Outranked {
            by_rule_id: Uuid::from_u128(91)
        }
    );

    let in_supermarket = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, lines),
        &nobody,
        &context(),
    );
    assert_eq!(per_line(&in_supermarket.accrual), vec![50, 100]);
    assert_eq!(fired_points(&in_supermarket.accrual, 1), Some((100, false)));
}
