//! Saving a rule: every bad field is reported at once; the wire format is strict.

use super::*;
use time::macros::{date, time as clock};

fn codes(rule: &EarningRule) -> Vec<(String, &'static str)> {
    match rule.validate() {
        Ok(()) => vec![],
        Err(errors) => errors.0.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn pair(field: &str, code: &'static str) -> (String, &'static str) {
    (field.to_owned(), code)
}

#[test]
fn a_well_formed_rule_is_valid() {
    let mut rule = multiplier(1, "金卡周末护肤 3 倍", 3_000);
    rule.conditions = Conditions {
        format_ids: set(&[DEPARTMENT_STORE]),
        channel_ids: set(&[POS, MINI_PROGRAM]),
        store_ids: set(&[STORE_XUJIAHUI]),
        categories: Some(
            [vec!["beauty".to_owned(), "skincare".to_owned()]]
                .into_iter()
                .collect(),
        ),
        skus: texts(&["6901234567890"]),
        tiers: texts(&["金卡", "钻石"]),
        member_tags: texts(&["高价值"]),
        dates: Some(DateRange {
            from: date!(2026 - 03 - 01),
            until: date!(2026 - 03 - 01),
        }),
        weekdays: set(&[1, 7]),
        time_of_day: Some(TimeOfDayRange {
            from: clock!(22:00),
            until: clock!(02:00),
        }),
        min_order_amount_fen: Some(1),
    };
    rule.caps = Caps {
        per_order_points: Some(1_000),
        per_member_day_points: Some(2_000),
        per_member_period: Some(PeriodCap {
            points: 10_000,
            period: CapPeriod::Year,
        }),
    };
    rule.stacking = Stacking::BestOf {
        group: "三八节".to_owned(),
    };
    rule.active_from = Some(FRIDAY);
    rule.active_until = Some(SATURDAY);
    assert_eq!(codes(&rule), vec![]);
    assert_eq!(codes(&base_rate()), vec![]);
    assert_eq!(codes(&bonus(2, "满额礼", 200)), vec![]);
}

#[test]
fn empty_effects_are_rejected() {
    let no_points = rule(
        1,
        "零积分",
        0,
        Effect::PointsPerYuan {
            points: 0,
            per_fen: 100,
        },
    );
    assert_eq!(
        codes(&no_points),
        vec![pair("effect.points", "out_of_range")]
    );
    assert_eq!(
        codes(&bonus(1, "零奖励", 0)),
        vec![pair("effect.points", "out_of_range")]
    );
    assert_eq!(
        codes(&bonus(1, "太多", 1_000_001)),
        vec![pair("effect.points", "out_of_range")]
    );
}

#[test]
fn per_fen_must_be_positive_and_bounded() {
    let zero = rule(
        1,
        "除零",
        0,
        Effect::PointsPerYuan {
            points: 1,
            per_fen: 0,
        },
    );
    assert_eq!(codes(&zero), vec![pair("effect.per_fen", "out_of_range")]);
    let huge = rule(
        1,
        "太大",
        0,
        Effect::PointsPerYuan {
            points: 10_001,
            per_fen: 1_000_001,
        },
    );
    assert_eq!(
        codes(&huge),
        vec![
            pair("effect.points", "out_of_range"),
            pair("effect.per_fen", "out_of_range")
        ]
    );
}

#[test]
fn multipliers_run_from_one_to_a_hundred_times() {
    for bad in [0, 1, 999, 100_001, u32::MAX] {
        assert_eq!(
            codes(&multiplier(1, "倍率", bad)),
            vec![pair("effect.permille", "out_of_range")],
            "{bad}"
        );
    }
    for good in [1_000, 1_500, 100_000] {
        assert_eq!(codes(&multiplier(1, "倍率", good)), vec![], "{good}");
    }
}

#[test]
fn inverted_ranges_are_rejected() {
    let mut rule = bonus(1, "反了", 10);
    rule.conditions.dates = Some(DateRange {
        from: date!(2026 - 03 - 09),
        until: date!(2026 - 03 - 08),
    });
    rule.conditions.time_of_day = Some(TimeOfDayRange {
        from: clock!(10:00),
        until: clock!(10:00),
    });
    rule.active_from = Some(SATURDAY);
    rule.active_until = Some(FRIDAY);
    assert_eq!(
        codes(&rule),
        vec![
            pair("conditions.dates.until", "inverted_range"),
            pair("conditions.time_of_day.until", "empty_range"),
            pair("active_until", "inverted_range"),
        ]
    );
}

#[test]
fn unknown_weekdays_are_rejected() {
    let mut rule = bonus(1, "周几", 10);
    rule.conditions.weekdays = set(&[0, 3, 8]);
    assert_eq!(
        codes(&rule),
        vec![
            pair("conditions.weekdays[0]", "unknown_value"),
            pair("conditions.weekdays[2]", "unknown_value")
        ]
    );
}

#[test]
fn caps_must_be_positive() {
    let mut rule = bonus(1, "上限", 10);
    rule.caps = Caps {
        per_order_points: Some(0),
        per_member_day_points: Some(-1),
        per_member_period: Some(PeriodCap {
            points: 0,
            period: CapPeriod::Month,
        }),
    };
    assert_eq!(
        codes(&rule),
        vec![
            pair("caps.per_order_points", "out_of_range"),
            pair("caps.per_member_day_points", "out_of_range"),
            pair("caps.per_member_period.points", "out_of_range"),
        ]
    );
}

#[test]
fn condition_lists_must_be_non_empty_and_clean() {
    let mut rule = bonus(1, "条件", 10);
    rule.conditions.format_ids = Some(BTreeSet::new());
    rule.conditions.tiers = texts(&[" 金卡"]);
    rule.conditions.member_tags = texts(&[""]);
    rule.conditions.skus = texts(&[&"9".repeat(65)]);
    rule.conditions.categories = Some(
        [vec![], vec!["beauty".to_owned(), "".to_owned()]]
            .into_iter()
            .collect(),
    );
    rule.conditions.min_order_amount_fen = Some(0);
    assert_eq!(
        codes(&rule),
        vec![
            pair("conditions.format_ids", "required"),
            pair("conditions.skus[0]", "too_long"),
            pair("conditions.tiers[0]", "invalid_characters"),
            pair("conditions.member_tags[0]", "required"),
            pair("conditions.categories[0]", "out_of_range"),
            pair("conditions.categories[1][1]", "required"),
            pair("conditions.min_order_amount_fen", "out_of_range"),
        ]
    );
}

#[test]
fn names_and_groups_are_checked() {
    let mut rule = base_rate();
    rule.name = "  ".to_owned();
    rule.stacking = Stacking::BestOf {
        group: String::new(),
    };
    assert_eq!(
        codes(&rule),
        vec![
            pair("name", "required"),
            pair("stacking", "not_applicable"),
            pair("stacking.group", "required")
        ]
    );
}

#[test]
fn the_wire_format_is_strict_snake_case() {
    let json = serde_json::json!({
        "id": "0196b4a0-0000-7000-8000-000000000001",
        "name": "超市周末双倍",
        "priority": 5,
        "conditions": {
            "format_ids": ["00000000-0000-0000-0000-000000050001"],
            "weekdays": [6, 7],
            "dates": { "from": "2026-03-01", "until": "2026-03-31" },
            "time_of_day": { "from": "22:00", "until": "02:00" },
        },
        "effect": { "kind": "multiplier", "permille": 2000 },
        "caps": { "per_member_period": { "points": 5000, "period": "month" } },
        "stacking": { "kind": "best_of", "group": "weekend" },
        "active_from": "2026-03-01T00:00:00+08:00",
    });
    let rule: EarningRule = serde_json::from_value(json.clone()).unwrap();
    assert!(rule.enabled, "rules are enabled unless paused");
    assert_eq!(rule.conditions.format_ids, set(&[SUPERMARKET]));
    assert_eq!(
        rule.conditions.time_of_day,
        Some(TimeOfDayRange {
            from: clock!(22:00),
            until: clock!(02:00)
        })
    );
    assert_eq!(rule.effect, Effect::Multiplier { permille: 2_000 });
    assert_eq!(rule.validate(), Ok(()));
    let back = serde_json::to_value(&rule).unwrap();
    assert_eq!(back["effect"], json["effect"]);
    assert_eq!(back["conditions"]["dates"], json["conditions"]["dates"]);
    assert_eq!(
        back["conditions"]["time_of_day"],
        json["conditions"]["time_of_day"]
    );
    assert_eq!(back["stacking"], json["stacking"]);
    assert!(
        back["conditions"].get("skus").is_none(),
        "absent conditions stay absent"
    );
    assert_eq!(serde_json::from_value::<EarningRule>(back).unwrap(), rule);

    let mut typo = json.clone();
    typo["conditions"]["weekday"] = serde_json::json!([1]);
    assert!(serde_json::from_value::<EarningRule>(typo).is_err());
    let mut unknown_effect_field = json.clone();
    unknown_effect_field["effect"]["factor"] = serde_json::json!(2);
    assert!(serde_json::from_value::<EarningRule>(unknown_effect_field).is_err());
    let mut unknown_kind = json;
    unknown_kind["effect"] = serde_json::json!({ "kind": "cashback", "permille": 2000 });
    assert!(serde_json::from_value::<EarningRule>(unknown_kind).is_err());
}

#[test]
fn the_post_body_becomes_a_rule_or_field_errors() {
    let input: EarningRuleInput = serde_json::from_value(serde_json::json!({
        "name": "  会员日 2 倍  ",
        "effect": { "kind": "multiplier", "permille": 2000 },
    }))
    .unwrap();
    let rule = input.clone().into_rule(Uuid::from_u128(7)).unwrap();
    assert_eq!(rule.name, "会员日 2 倍");
    assert_eq!(rule.id, Uuid::from_u128(7));
    assert_eq!(rule.stacking, Stacking::Additive);
    assert_eq!(rule.priority, 0);

    let mut bad = input;
    bad.effect = Effect::Multiplier { permille: 0 };
    bad.caps.per_order_points = Some(0);
    let errors = bad.into_rule(Uuid::from_u128(7)).unwrap_err();
    assert_eq!(errors.0.len(), 2);
    assert!(
        serde_json::from_value::<EarningRuleInput>(serde_json::json!({
            "id": "0196b4a0-0000-7000-8000-000000000001",
            "name": "x",
            "effect": { "kind": "fixed_bonus", "points": 1 },
        }))
        .is_err()
    );
}

#[test]
fn schemas_describe_the_wire_format() {
    use utoipa::PartialSchema;
    let json = |schema| serde_json::to_value(schema).unwrap();
    let time_range = json(TimeOfDayRange::schema());
    assert_eq!(time_range["properties"]["from"]["type"], "string");
    let dates = json(DateRange::schema());
    assert_eq!(dates["properties"]["from"]["format"], "date");
    let rule = json(EarningRule::schema());
    for field in [
        "id",
        "name",
        "priority",
        "conditions",
        "effect",
        "caps",
        "stacking",
        "active_from",
    ] {
        assert!(
            rule["properties"].get(field).is_some(),
            "{field} missing from the schema"
        );
    }
    let effect = serde_json::to_string(&json(Effect::schema())).unwrap();
    assert!(effect.contains("points_per_yuan") && effect.contains("fixed_bonus"));
    let unmet = serde_json::to_string(&json(Unmet::schema())).unwrap();
    assert!(unmet.contains("min_order_amount") && unmet.contains("local_time"));
    assert!(
        json(Evaluation::schema())["properties"]
            .get("rules")
            .is_some()
    );
}
