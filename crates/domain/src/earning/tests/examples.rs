//! Rules as Chinese retail groups configure them.

use super::*;
use time::macros::date;
use time::macros::time as clock;

#[test]
fn one_point_per_yuan_rounds_down_per_line() {
    let order = order(
        SUPERMARKET,
        FRIDAY,
        vec![
            line(1, "牛奶", &["food", "dairy"], 12_999),
            line(2, "口香糖", &["food", "snacks"], 50),
        ],
    );
    let evaluation = run(&[base_rate()], &order, &member(None, &[]), &context());
    // ¥129.99 earns 129; ¥0.50 earns nothing — and rounding is per line, not per order.
    assert_eq!(per_line(&evaluation.accrual), vec![129, 0]);
    assert_eq!(evaluation.accrual.total_points, 129);
    assert_eq!(evaluation.accrual.fired.len(), 1);
    assert_eq!(evaluation.accrual.fired[0].rule_name, "基础积分 1 分/元");
    assert_eq!(evaluation.accrual.fired[0].lines.len(), 2);
}

fn weekend_double() -> EarningRule {
    let mut rule = multiplier(10, "超市周末双倍积分", 2_000);
    rule.conditions.format_ids = set(&[SUPERMARKET]);
    rule.conditions.weekdays = set(&[6, 7]);
    rule
}

#[test]
fn supermarket_doubles_points_on_weekends() {
    let rules = [base_rate(), weekend_double()];
    let lines = vec![line(1, "大米", &["food", "grain"], 10_000)];
    let nobody = member(None, &[]);

    let saturday = run(
        &rules,
        &order(SUPERMARKET, SATURDAY, lines.clone()),
        &nobody,
        &context(),
    );
    assert_eq!(saturday.accrual.total_points, 200);
    assert_eq!(fired_points(&saturday.accrual, 10), Some((100, false)));

    let friday = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, lines.clone()),
        &nobody,
        &context(),
    );
    assert_eq!(friday.accrual.total_points, 100);
    assert_eq!(
        unmet(&friday, 10),
        vec![Unmet::Weekday { local_weekday: 5 }]
    );

    let department = run(
        &rules,
        &order(DEPARTMENT_STORE, SATURDAY, lines.clone()),
        &nobody,
        &context(),
    );
    assert_eq!(department.accrual.total_points, 100);
    assert_eq!(
        unmet(&department, 10),
        vec![Unmet::Format {
            format_id: DEPARTMENT_STORE
        }]
    );

    // 16:30 UTC on Friday is already 00:30 on Saturday in Shanghai.
    let late_friday_utc = datetime!(2026-03-06 16:30 UTC);
    let early_saturday = run(
        &rules,
        &order(SUPERMARKET, late_friday_utc, lines),
        &nobody,
        &context(),
    );
    assert_eq!(early_saturday.accrual.total_points, 200);
}

#[test]
fn gold_tier_earns_one_and_a_half_times() {
    let mut gold = multiplier(20, "金卡 1.5 倍", 1_500);
    gold.conditions.tiers = texts(&["金卡"]);
    let rules = [base_rate(), gold];
    let order = order(
        DEPARTMENT_STORE,
        FRIDAY,
        vec![line(1, "羊绒大衣", &["apparel", "women"], 33_300)],
    );

    let evaluation = run(&rules, &order, &member(Some("金卡"), &[]), &context());
    // 333 base + floor(333 × 0.5) = 333 + 166.
    assert_eq!(evaluation.accrual.total_points, 499);
    assert_eq!(fired_points(&evaluation.accrual, 20), Some((166, false)));

    let silver = run(&rules, &order, &member(Some("银卡"), &[]), &context());
    assert_eq!(silver.accrual.total_points, 333);
    assert_eq!(
        unmet(&silver, 20),
        vec![Unmet::Tier {
            tier_code: Some("银卡".to_owned())
        }]
    );

    let no_tier = run(&rules, &order, &member(None, &[]), &context());
    assert_eq!(unmet(&no_tier, 20), vec![Unmet::Tier { tier_code: None }]);
}

fn bonus_over_500() -> EarningRule {
    let mut rule = bonus(30, "满 500 送 200 积分", 200);
    rule.conditions.min_order_amount_fen = Some(50_000);
    rule
}

#[test]
fn orders_of_500_yuan_earn_200_bonus_points() {
    let rules = [base_rate(), bonus_over_500()];
    let nobody = member(None, &[]);
    let exactly_500 = order(
        DEPARTMENT_STORE,
        FRIDAY,
        vec![
            line(1, "护肤套装", &["beauty", "skincare"], 30_000),
            line(2, "口红", &["beauty", "makeup"], 20_000),
        ],
    );
    let evaluation = run(&rules, &exactly_500, &nobody, &context());
    assert_eq!(evaluation.accrual.total_points, 700);
    // The bonus is spread pro rata by amount: 120 on the ¥300 line, 80 on the ¥200 line.
    let bonus = evaluation
        .accrual
        .fired
        .iter()
        .find(|f| f.rule_id == Uuid::from_u128(30))
        .unwrap();
    assert_eq!(
        bonus.lines,
        vec![
            LinePoints {
                line_no: 1,
                points: 120
            },
            LinePoints {
                line_no: 2,
                points: 80
            }
        ]
    );
    assert_eq!(per_line(&evaluation.accrual), vec![420, 280]);

    let mut just_below = exactly_500.clone();
    just_below.lines[1].amount_fen = 19_999;
    let evaluation = run(&rules, &just_below, &nobody, &context());
    assert_eq!(evaluation.accrual.total_points, 499);
    assert_eq!(
        unmet(&evaluation, 30),
        vec![Unmet::MinOrderAmount {
            min_fen: 50_000,
            order_net_fen: 49_999
        }]
    );

    // ¥520 of goods with a ¥30 coupon: the member paid ¥490, below the threshold.
    let mut with_coupon = exactly_500;
    with_coupon.lines[1].amount_fen = 22_000;
    with_coupon.paid_by_coupons_fen = 3_000;
    let evaluation = run(&rules, &with_coupon, &nobody, &context());
    // The coupon splits 1 731 / 1 269 fen; nets 28 269 and 20 731 fen earn 282 + 207.
    assert_eq!(evaluation.accrual.total_points, 489);
    assert!(matches!(
        unmet(&evaluation, 30)[..],
        [Unmet::MinOrderAmount {
            order_net_fen: 49_000,
            ..
        }]
    ));
}

fn skincare_festival() -> EarningRule {
    let mut rule = multiplier(40, "三八节护肤 3 倍积分", 3_000);
    rule.conditions.categories = Some(
        [vec!["beauty".to_owned(), "skincare".to_owned()]]
            .into_iter()
            .collect(),
    );
    rule.conditions.dates = Some(DateRange {
        from: date!(2026 - 03 - 01),
        until: date!(2026 - 03 - 08),
    });
    rule
}

#[test]
fn skincare_triples_during_the_festival_dates() {
    let rules = [base_rate(), skincare_festival()];
    let lines = vec![
        line(1, "精华液", &["beauty", "skincare", "serum"], 20_000),
        line(2, "眼影", &["beauty", "makeup"], 10_000),
        line(3, "化妆包", &["beauty"], 5_000),
    ];
    let nobody = member(None, &[]);
    let last_evening = datetime!(2026-03-08 23:59 +08:00);
    let evaluation = run(
        &rules,
        &order(DEPARTMENT_STORE, last_evening, lines.clone()),
        &nobody,
        &context(),
    );
    // Only the skincare line is tripled: 200 + 400 extra; makeup 100, the bag 50.
    assert_eq!(per_line(&evaluation.accrual), vec![600, 100, 50]);
    assert_eq!(fired_points(&evaluation.accrual, 40), Some((400, false)));

    let next_morning = datetime!(2026-03-09 00:00 +08:00);
    let evaluation = run(
        &rules,
        &order(DEPARTMENT_STORE, next_morning, lines.clone()),
        &nobody,
        &context(),
    );
    assert_eq!(evaluation.accrual.total_points, 350);
    assert_eq!(
        unmet(&evaluation, 40),
        vec![Unmet::Dates {
            local_date: date!(2026 - 03 - 09)
        }]
    );

    let no_skincare = vec![lines[1].clone(), lines[2].clone()];
    let evaluation = run(
        &rules,
        &order(DEPARTMENT_STORE, last_evening, no_skincare),
        &nobody,
        &context(),
    );
    assert_eq!(unmet(&evaluation, 40), vec![Unmet::Categories]);
}

#[test]
fn tobacco_lines_earn_nothing() {
    let mut tobacco_promo = multiplier(50, "香烟 2 倍", 2_000);
    tobacco_promo.conditions.categories = Some([vec!["tobacco".to_owned()]].into_iter().collect());
    let rules = [base_rate(), tobacco_promo, bonus(51, "每单送 10 分", 10)];
    let lines = vec![
        excluded(line(1, "中华香烟", &["tobacco"], 9_000)),
        line(2, "矿泉水", &["food", "drinks"], 300),
    ];
    let evaluation = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, lines.clone()),
        &member(None, &[]),
        &context(),
    );
    assert_eq!(per_line(&evaluation.accrual), vec![0, 13]);
    assert_eq!(unmet(&evaluation, 50), vec![Unmet::Categories]);
    // The per-order bonus lands on the water, the only line that earns.
    assert_eq!(fired_points(&evaluation.accrual, 51), Some((10, false)));

    let only_tobacco = vec![lines[0].clone()];
    let evaluation = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, only_tobacco),
        &member(None, &[]),
        &context(),
    );
    assert_eq!(evaluation.accrual.total_points, 0);
    assert!(evaluation.accrual.fired.is_empty());
    assert_eq!(unmet(&evaluation, 51), vec![Unmet::NoEligibleLines]);
}

#[test]
fn part_paid_with_points_earns_on_the_cash_part() {
    let mut order = order(
        SUPERMARKET,
        FRIDAY,
        vec![
            line(1, "食用油", &["food", "oil"], 6_000),
            line(2, "酱油", &["food", "sauce"], 4_000),
        ],
    );
    order.paid_by_points_fen = 2_000; // 2 000 points as ¥20
    order.paid_by_coupons_fen = 1_000;
    let evaluation = run(&[base_rate()], &order, &member(None, &[]), &context());
    // ¥30 shared 60:40 → ¥18 and ¥12; the lines earn on ¥42 and ¥28.
    assert_eq!(per_line(&evaluation.accrual), vec![42, 28]);

    // Three equal lines and ¥10 of points: the fen that does not divide goes to the first line.
    let mut order = order.clone();
    order.lines = vec![
        line(1, "a", &[], 1_000),
        line(2, "b", &[], 1_000),
        line(3, "c", &[], 1_000),
    ];
    order.paid_by_points_fen = 1_000;
    order.paid_by_coupons_fen = 0;
    let ten_per_yuan = rule(
        2,
        "10 分/元",
        0,
        Effect::PointsPerYuan {
            points: 10,
            per_fen: 100,
        },
    );
    let evaluation = run(&[ten_per_yuan], &order, &member(None, &[]), &context());
    // Nets 666, 667, 667 fen → 66, 66, 66 points.
    assert_eq!(per_line(&evaluation.accrual), vec![66, 66, 66]);
}

#[test]
fn channel_store_and_member_tag_conditions() {
    let mut first_order = bonus(100, "小程序新客首单礼", 50);
    first_order.conditions.channel_ids = set(&[MINI_PROGRAM]);
    first_order.conditions.store_ids = set(&[STORE_XUJIAHUI]);
    first_order.conditions.member_tags = texts(&["新客", "回流"]);
    let rules = [first_order];
    let mut order = order(SUPERMARKET, FRIDAY, vec![line(1, "x", &[], 1_000)]);
    order.channel_id = Some(MINI_PROGRAM);

    let new_member = run(&rules, &order, &member(None, &["新客", "宝妈"]), &context());
    assert_eq!(new_member.accrual.total_points, 50);

    let regular = run(&rules, &order, &member(None, &["宝妈"]), &context());
    assert_eq!(unmet(&regular, 100), vec![Unmet::MemberTags]);

    order.channel_id = None;
    order.store_id = None;
    let offline = run(&rules, &order, &member(None, &["新客"]), &context());
    assert_eq!(
        unmet(&offline, 100),
        vec![
            Unmet::Channel { channel_id: None },
            Unmet::Store { store_id: None }
        ]
    );
}

#[test]
fn sku_promotion_applies_to_that_sku_only() {
    let mut featured = multiplier(110, "爆品 5 倍", 5_000);
    featured.conditions.skus = texts(&["6901234567890"]);
    featured.conditions.categories = Some([vec!["food".to_owned()]].into_iter().collect());
    let rules = [base_rate(), featured];
    let lines = vec![
        line(1, "6901234567890", &["food", "snacks"], 1_000),
        line(2, "6909999999999", &["food"], 1_000),
    ];
    let evaluation = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, lines.clone()),
        &member(None, &[]),
        &context(),
    );
    assert_eq!(per_line(&evaluation.accrual), vec![50, 10]);

    let other = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, vec![lines[1].clone()]),
        &member(None, &[]),
        &context(),
    );
    assert_eq!(unmet(&other, 110), vec![Unmet::Skus]);
}

#[test]
fn night_market_hours_wrap_past_midnight() {
    let mut night = bonus(120, "夜市加赠", 20);
    night.conditions.time_of_day = Some(TimeOfDayRange {
        from: clock!(22:00),
        until: clock!(02:00),
    });
    let rules = [night];
    let at = |moment: OffsetDateTime| {
        run(
            &rules,
            &order(SUPERMARKET, moment, vec![line(1, "x", &[], 1_000)]),
            &member(None, &[]),
            &context(),
        )
        .accrual
        .total_points
    };
    assert_eq!(at(datetime!(2026-03-06 22:00 +08:00)), 20);
    assert_eq!(at(datetime!(2026-03-06 23:30 +08:00)), 20);
    assert_eq!(at(datetime!(2026-03-07 01:59:59 +08:00)), 20);
    assert_eq!(at(datetime!(2026-03-07 02:00 +08:00)), 0);
    assert_eq!(at(datetime!(2026-03-06 21:59 +08:00)), 0);
}
