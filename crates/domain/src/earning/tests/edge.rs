//! Empty and degenerate orders, caps, activity windows, refunds, time zones and wire shapes.

use super::*;
use time::macros::date;

fn one_line(amount_fen: i64) -> OrderFacts {
    order(
        SUPERMARKET,
        FRIDAY,
        vec![line(1, "x", &["food"], amount_fen)],
    )
}

#[test]
fn an_order_without_lines_earns_nothing() {
    let rules = [base_rate(), bonus(2, "每单 10 分", 10)];
    let evaluation = run(
        &rules,
        &order(SUPERMARKET, FRIDAY, vec![]),
        &member(None, &[]),
        &context(),
    );
    assert_eq!(evaluation.accrual, Accrual::default());
    assert_eq!(unmet(&evaluation, 1), vec![Unmet::NoEligibleLines]);
    assert_eq!(unmet(&evaluation, 2), vec![Unmet::NoEligibleLines]);
}

#[test]
fn no_rules_earn_nothing() {
    let evaluation = run(&[], &one_line(10_000), &member(None, &[]), &context());
    assert_eq!(evaluation.accrual.total_points, 0);
    assert_eq!(per_line(&evaluation.accrual), vec![0]);
    assert!(evaluation.rules.is_empty());
}

#[test]
fn zero_and_negative_amounts_earn_nothing() {
    let rules = [base_rate(), bonus(2, "每单 10 分", 10)];
    let order = order(
        SUPERMARKET,
        FRIDAY,
        vec![line(1, "赠品", &[], 0), line(2, "退差", &[], -500)],
    );
    let evaluation = run(&rules, &order, &member(None, &[]), &context());
    assert_eq!(evaluation.accrual.total_points, 0);
    assert_eq!(unmet(&evaluation, 2), vec![Unmet::NothingToEarnOn]);
}

#[test]
fn an_order_paid_entirely_by_points_earns_nothing() {
    let rules = [base_rate(), bonus(2, "每单 10 分", 10)];
    let mut order = one_line(10_000);
    order.paid_by_points_fen = 10_000;
    let evaluation = run(&rules, &order, &member(None, &[]), &context());
    assert_eq!(evaluation.accrual.total_points, 0);
    assert_eq!(unmet(&evaluation, 1), vec![Unmet::NothingToEarnOn]);

    // Paying more than the eligible lines cost (the rest went to excluded lines) is clamped.
    order.paid_by_points_fen = 50_000;
    order.paid_by_coupons_fen = -7; // nonsense input counts as zero
    assert_eq!(
        run(&rules, &order, &member(None, &[]), &context())
            .accrual
            .total_points,
        0
    );
}

#[test]
fn a_per_order_cap_reached_exactly_is_not_capped() {
    let mut capped_rate = base_rate();
    capped_rate.caps.per_order_points = Some(100);
    let rules = [capped_rate];
    let exact = run(&rules, &one_line(10_000), &member(None, &[]), &context());
    assert_eq!(fired_points(&exact.accrual, 1), Some((100, false)));
    let over = run(&rules, &one_line(10_100), &member(None, &[]), &context());
    assert_eq!(fired_points(&over.accrual, 1), Some((100, true)));
    assert_eq!(
        over.rules[0].outcome,
        Outcome::Fired {
            points: 100,
            capped: true
        }
    );
}

#[test]
fn a_capped_rule_is_respread_over_its_lines() {
    let mut capped_rate = base_rate();
    capped_rate.caps.per_order_points = Some(100);
    let order = order(
        SUPERMARKET,
        FRIDAY,
        vec![line(1, "a", &[], 15_000), line(2, "b", &[], 5_000)],
    );
    let evaluation = run(&[capped_rate], &order, &member(None, &[]), &context());
    assert_eq!(per_line(&evaluation.accrual), vec![75, 25]);
}

#[test]
fn day_caps_use_the_storage_counters() {
    let mut daily = bonus(5, "每日首单礼", 50);
    daily.caps.per_member_day_points = Some(100);
    let rules = [daily];
    let with_today = |earned: i64| {
        let mut context = context();
        context.earned_so_far.insert(
            Uuid::from_u128(5),
            EarnedSoFar {
                already_earned_today: earned,
                already_earned_in_period: 0,
            },
        );
        fired_points(
            &run(&rules, &one_line(1_000), &member(None, &[]), &context).accrual,
            5,
        )
    };
    assert_eq!(with_today(0), Some((50, false)));
    assert_eq!(with_today(50), Some((50, false)));
    assert_eq!(with_today(60), Some((40, true)));
    // Used up: the rule still fires, with nothing, so the accrual shows why.
    assert_eq!(with_today(100), Some((0, true)));
    assert_eq!(with_today(500), Some((0, true)));
}

#[test]
fn period_caps_use_the_storage_counters_and_the_tightest_cap_wins() {
    let mut monthly = multiplier(6, "月度双倍（每月上限 1000 分）", 2_000);
    monthly.caps.per_member_period = Some(PeriodCap {
        points: 1_000,
        period: CapPeriod::Month,
    });
    monthly.caps.per_order_points = Some(80);
    let rules = [base_rate(), monthly];
    let mut context = context();
    context.earned_so_far.insert(
        Uuid::from_u128(6),
        EarnedSoFar {
            already_earned_today: 0,
            already_earned_in_period: 950,
        },
    );
    let evaluation = run(&rules, &one_line(10_000), &member(None, &[]), &context);
    assert_eq!(fired_points(&evaluation.accrual, 6), Some((50, true)));
    assert_eq!(evaluation.accrual.total_points, 150);

    context.earned_so_far.clear();
    let evaluation = run(&rules, &one_line(10_000), &member(None, &[]), &context);
    assert_eq!(fired_points(&evaluation.accrual, 6), Some((80, true)));
}

#[test]
fn the_tenant_order_cap_shares_the_cut_over_the_rules() {
    let rules = [base_rate(), bonus(2, "满额礼", 200)];
    let order = order(
        SUPERMARKET,
        FRIDAY,
        vec![line(1, "a", &[], 7_500), line(2, "b", &[], 2_500)],
    );
    let mut context = context();
    context.order_cap_points = Some(150);
    let evaluation = run(&rules, &order, &member(None, &[]), &context);
    assert!(evaluation.accrual.order_capped);
    assert_eq!(evaluation.accrual.total_points, 150);
    // 300 cut to 150 in proportion: base 100 → 50, bonus 200 → 100.
    assert_eq!(fired_points(&evaluation.accrual, 1), Some((50, true)));
    assert_eq!(fired_points(&evaluation.accrual, 2), Some((100, true)));

    context.order_cap_points = Some(300);
    let evaluation = run(&rules, &order, &member(None, &[]), &context);
    assert!(!evaluation.accrual.order_capped);
    assert_eq!(evaluation.accrual.total_points, 300);
}

#[test]
fn paused_and_inactive_rules_explain_why() {
    let mut paused = bonus(1, "已暂停", 10);
    paused.enabled = false;
    let mut future = bonus(2, "未开始", 10);
    future.active_from = Some(datetime!(2026-04-01 00:00 +08:00));
    let mut ended = bonus(3, "已结束", 10);
    ended.active_until = Some(FRIDAY); // half-open: ends at the order's own instant
    let mut running = bonus(4, "进行中", 10);
    running.active_from = Some(FRIDAY);
    running.active_until = Some(SATURDAY);
    let rules = [paused, future, ended, running];
    let evaluation = run(&rules, &one_line(1_000), &member(None, &[]), &context());
    assert_eq!(unmet(&evaluation, 1), vec![Unmet::Disabled]);
    assert_eq!(
        unmet(&evaluation, 2),
        vec![Unmet::NotYetActive {
            active_from: datetime!(2026-04-01 00:00 +08:00)
        }]
    );
    assert_eq!(
        unmet(&evaluation, 3),
        vec![Unmet::NoLongerActive {
            active_until: FRIDAY
        }]
    );
    assert_eq!(evaluation.accrual.total_points, 10);
}

#[test]
fn the_explanation_lists_every_failed_condition() {
    let mut picky = multiplier(7, "挑剔的规则", 2_000);
    picky.conditions.format_ids = set(&[DEPARTMENT_STORE]);
    picky.conditions.weekdays = set(&[6, 7]);
    picky.conditions.tiers = texts(&["钻石"]);
    picky.conditions.min_order_amount_fen = Some(100_000);
    let evaluation = run(
        &[base_rate(), picky],
        &one_line(1_000),
        &member(Some("普通"), &[]),
        &context(),
    );
    assert_eq!(
        unmet(&evaluation, 7),
        vec![
            Unmet::Format {
                format_id: SUPERMARKET
            },
            Unmet::Tier {
                tier_code: Some("普通".to_owned())
            },
            Unmet::Weekday { local_weekday: 5 },
            Unmet::MinOrderAmount {
                min_fen: 100_000,
                order_net_fen: 1_000
            },
        ]
    );
    // Reports come in evaluation order: priority, then id.
    let ids: Vec<Uuid> = evaluation.rules.iter().map(|r| r.rule_id).collect();
    assert_eq!(ids, vec![Uuid::from_u128(1), Uuid::from_u128(7)]);
}

#[test]
fn a_refund_takes_back_exactly_what_its_lines_earned() {
    let mut gold = multiplier(20, "金卡 1.5 倍", 1_500);
    gold.conditions.tiers = texts(&["金卡"]);
    let mut over_500 = bonus(30, "满 500 送 200", 200);
    over_500.conditions.min_order_amount_fen = Some(50_000);
    let rules = [base_rate(), gold, over_500];
    let order = order(
        DEPARTMENT_STORE,
        FRIDAY,
        vec![
            line(1, "大衣", &["apparel"], 39_900),
            line(2, "围巾", &["apparel"], 12_900),
            excluded(line(3, "礼品卡", &["gift_card"], 50_000)),
            line(4, "袜子", &["apparel"], 1_999),
        ],
    );
    let evaluation = run(&rules, &order, &member(Some("金卡"), &[]), &context());
    let accrual = &evaluation.accrual;
    let scarf = points_for_lines(accrual, &[2]);
    let rest = accrual.points_for_lines(&[1, 3, 4]);
    assert_eq!(scarf + rest, accrual.total_points);
    assert_eq!(
        accrual.points_for_lines(&[2, 2]),
        scarf,
        "a line listed twice counts once"
    );
    assert_eq!(accrual.points_for_lines(&[3]), 0);
    assert_eq!(accrual.points_for_lines(&[99]), 0);
    let by_rule = accrual.rule_points_for_lines(&[2]);
    assert_eq!(by_rule.iter().map(|(_, p)| p).sum::<i64>(), scarf);
    assert_eq!(by_rule.len(), 3);
    // Scarf: 129 base + 64 gold + its share of the bonus, 200 × 12 900 / 54 799 = 47.08 → 47.
    assert_eq!(scarf, 129 + 64 + 47);
}

#[test]
fn a_multiplier_without_a_base_rate_gives_nothing() {
    let rules = [multiplier(8, "双倍", 2_000)];
    let evaluation = run(&rules, &one_line(10_000), &member(None, &[]), &context());
    assert_eq!(evaluation.accrual.total_points, 0);
    assert_eq!(fired_points(&evaluation.accrual, 8), Some((0, false)));
}

#[test]
fn invalid_rules_never_panic() {
    let mut negative_cap = bonus(4, "负上限", 10);
    negative_cap.caps.per_order_points = Some(-5);
    let rules = [
        rule(
            1,
            "per_fen 0",
            5,
            Effect::PointsPerYuan {
                points: 1,
                per_fen: 0,
            },
        ),
        rule(2, "×0", 0, Effect::Multiplier { permille: 0 }),
        rule(3, "×0.5", 0, Effect::Multiplier { permille: 500 }),
        negative_cap,
        base_rate(),
    ];
    for rule in &rules[..4] {
        assert!(
            rule.validate().is_err(),
            "{} should be rejected on save",
            rule.name
        );
    }
    let evaluation = run(&rules, &one_line(i64::MAX), &member(None, &[]), &context());
    assert_eq!(fired_points(&evaluation.accrual, 4), Some((0, true)));
    let mut context = context();
    context.order_cap_points = Some(-1);
    assert_eq!(
        run(&rules, &one_line(10_000), &member(None, &[]), &context)
            .accrual
            .total_points,
        0
    );
}

#[test]
fn local_conditions_follow_the_tenant_zone() {
    let mut weekend = bonus(9, "周末礼", 10);
    weekend.conditions.weekdays = set(&[6, 7]);
    let rules = [weekend];
    // Friday 20:00 in New York is Saturday 09:00 in Shanghai.
    let order = order(
        SUPERMARKET,
        datetime!(2026-03-06 20:00 -05:00),
        vec![line(1, "x", &[], 1_000)],
    );
    assert_eq!(
        run(&rules, &order, &member(None, &[]), &context())
            .accrual
            .total_points,
        10
    );
    let new_york = EarningContext::new(TimeZone::get("America/New_York").unwrap());
    let evaluation = run(&rules, &order, &member(None, &[]), &new_york);
    assert_eq!(
        unmet(&evaluation, 9),
        vec![Unmet::Weekday { local_weekday: 5 }]
    );
}

#[test]
fn counter_windows_follow_the_tenant_calendar() {
    let tz = shanghai();
    // Sunday 2026-03-08 00:30 in Shanghai (still Saturday in UTC).
    let at = datetime!(2026-03-07 16:30 UTC);
    let window = |start: OffsetDateTime, end: OffsetDateTime| Some(CounterWindow { start, end });
    assert_eq!(
        day_window(at, &tz),
        window(
            datetime!(2026-03-08 00:00 +08:00),
            datetime!(2026-03-09 00:00 +08:00)
        )
    );
    assert_eq!(
        CapPeriod::Week.window(at, &tz),
        window(
            datetime!(2026-03-02 00:00 +08:00),
            datetime!(2026-03-09 00:00 +08:00)
        )
    );
    assert_eq!(
        CapPeriod::Month.window(at, &tz),
        window(
            datetime!(2026-03-01 00:00 +08:00),
            datetime!(2026-04-01 00:00 +08:00)
        )
    );
    assert_eq!(
        CapPeriod::Year.window(at, &tz),
        window(
            datetime!(2026-01-01 00:00 +08:00),
            datetime!(2027-01-01 00:00 +08:00)
        )
    );
    assert_eq!(CapPeriod::Lifetime.window(at, &tz), None);
    let mut rule = base_rate();
    assert!(!rule.caps.needs_counters());
    rule.caps.per_member_day_points = Some(10);
    assert!(rule.caps.needs_counters());
}

#[test]
fn the_accrual_round_trips_as_json() {
    let rules = [base_rate(), bonus(2, "满额礼", 200)];
    let accrual = run(&rules, &one_line(12_345), &member(None, &[]), &context()).accrual;
    let json = serde_json::to_value(&accrual).unwrap();
    assert_eq!(json["total_points"], 323);
    assert_eq!(
        json["per_line"][0],
        serde_json::json!({ "line_no": 1, "points": 323 })
    );
    let back: Accrual = serde_json::from_value(json).unwrap();
    assert_eq!(back, accrual);
}

#[test]
fn the_explanation_serialises_for_the_preview_endpoint() {
    let mut festival = multiplier(3, "节日", 2_000);
    festival.conditions.dates = Some(DateRange {
        from: date!(2026 - 05 - 01),
        until: date!(2026 - 05 - 05),
    });
    festival.conditions.time_of_day = Some(TimeOfDayRange {
        from: time::macros::time!(18:00),
        until: time::macros::time!(20:00),
    });
    let evaluation = run(
        &[base_rate(), festival],
        &one_line(1_000),
        &member(None, &[]),
        &context(),
    );
    let json = serde_json::to_value(&evaluation).unwrap();
    assert_eq!(
        json["rules"][0]["outcome"],
        serde_json::json!({ "status": "fired", "points": 10, "capped": false })
    );
    assert_eq!(json["rules"][1]["effect"], "multiplier");
    assert_eq!(
        json["rules"][1]["outcome"],
        serde_json::json!({
            "status": "not_matched",
            "unmet": [
                { "condition": "dates", "local_date": "2026-03-06" },
                { "condition": "time_of_day", "local_time": "10:00" },
            ],
        })
    );
}
