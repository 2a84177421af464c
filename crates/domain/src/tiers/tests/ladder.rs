use super::*;

fn errors_of(ladder: &TierLadder) -> Vec<(String, &'static str)> {
    match ladder.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), *c))
        .collect()
}

#[test]
fn the_example_ladders_are_valid() {
    assert_eq!(ladder().validate(), Ok(()));
    assert_eq!(calendar_ladder().validate(), Ok(()));
    let single = TierLadder {
        levels: vec![level("member", "会员", 0, 0, Benefits::default())],
        ..ladder()
    };
    assert_eq!(single.validate(), Ok(()));
}

#[test]
fn a_ladder_needs_levels_and_a_sane_window() {
    let empty = TierLadder {
        window: Window::RollingDays { days: 0 },
        levels: Vec::new(),
        ..ladder()
    };
    assert_eq!(
        errors_of(&empty),
        pairs(&[("window.days", "out_of_range"), ("levels", "required")])
    );
    let long = TierLadder {
        window: Window::RollingDays { days: 1831 },
        ..ladder()
    };
    assert_eq!(errors_of(&long), pairs(&[("window.days", "out_of_range")]));
    let mut many = ladder();
    many.levels = (0..21)
        .map(|i| level(&format!("l{i}"), "级", i * 10, 0, Benefits::default()))
        .collect();
    assert_eq!(errors_of(&many), pairs(&[("levels", "too_many")]));
}

#[test]
fn thresholds_start_at_zero_and_strictly_increase() {
    let mut bad = ladder();
    bad.levels[0].threshold = 100;
    bad.levels[0].retention = 0;
    bad.levels[2].threshold = 1000; // equal to silver's
    bad.levels[2].retention = 1000;
    bad.levels[3].threshold = MAX_THRESHOLD_PLUS_ONE;
    assert_eq!(
        errors_of(&bad),
        pairs(&[
            ("levels[0].threshold", "out_of_range"),
            ("levels[2].threshold", "not_increasing"),
            ("levels[3].threshold", "out_of_range"),
        ])
    );
}

const MAX_THRESHOLD_PLUS_ONE: i64 = crate::tiers::ladder::MAX_THRESHOLD + 1;

#[test]
fn retention_is_at_most_the_threshold_and_never_decreases() {
    let mut bad = ladder();
    bad.levels[1].retention = -1;
    bad.levels[2].retention = 5001; // above gold's threshold
    bad.levels[3].retention = 500; // below gold's retention
    assert_eq!(
        errors_of(&bad),
        pairs(&[
            ("levels[1].retention", "out_of_range"),
            ("levels[2].retention", "out_of_range"),
            ("levels[3].retention", "not_increasing"),
        ])
    );
    // Retention below the previous level's threshold is allowed (see `validate`).
    let mut lenient = ladder();
    lenient.levels[2].retention = 800;
    lenient.levels[3].retention = 900;
    assert_eq!(lenient.validate(), Ok(()));
    // Retention equal to the threshold: no easier to keep than to reach.
    let mut strict = ladder();
    strict.levels[2].retention = 5000;
    assert_eq!(strict.validate(), Ok(()));
}

#[test]
fn codes_are_unique_keys_and_names_are_required() {
    let mut bad = ladder();
    bad.levels[1].code = "gold".into();
    bad.levels[3].code = " diamond".into();
    bad.levels[0].code = String::new();
    bad.levels[2].name = "  ".into();
    assert_eq!(
        errors_of(&bad),
        pairs(&[
            ("levels[0].code", "required"),
            ("levels[2].code", "duplicate"),
            ("levels[2].name", "required"),
            ("levels[3].code", "invalid_format"),
        ])
    );
}

#[test]
fn benefit_errors_carry_the_level_path() {
    let mut bad = ladder();
    bad.levels[2].benefits.earning_multiplier_permille = 10_001;
    bad.levels[3].benefits.discount_permille = 0;
    bad.levels[3]
        .benefits
        .per_format
        .get_mut("mall")
        .unwrap()
        .parking_hours = 10_000;
    assert_eq!(
        errors_of(&bad),
        pairs(&[
            (
                "levels[2].benefits.earning_multiplier_permille",
                "out_of_range"
            ),
            ("levels[3].benefits.discount_permille", "out_of_range"),
            (
                "levels[3].benefits.per_format.mall.parking_hours",
                "out_of_range"
            ),
        ])
    );
}

#[test]
fn the_wire_format_round_trips_and_rejects_unknown_fields() {
    let json = serde_json::json!({
        "basis": "spend_fen",
        "window": { "kind": "calendar_year" },
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0,
              "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } },
            { "code": "gold", "name": "金卡", "threshold": 500000, "retention": 300000,
              "benefits": { "earning_multiplier_permille": 1500, "discount_permille": 950,
                            "per_format": { "mall": { "parking_hours": 3 } } } }
        ]
    });
    let parsed: TierLadder = serde_json::from_value(json).unwrap();
    assert_eq!(parsed.evaluation, Evaluation::WindowEnd);
    assert_eq!(parsed.validate(), Ok(()));
    assert_eq!(
        parsed.levels[1]
            .benefits
            .for_format(Some("mall"))
            .parking_hours,
        3
    );
    let back: TierLadder = serde_json::from_value(serde_json::to_value(ladder()).unwrap()).unwrap();
    assert_eq!(back, ladder());
    let rolling = serde_json::to_value(Window::RollingDays { days: 365 }).unwrap();
    assert_eq!(
        rolling,
        serde_json::json!({ "kind": "rolling_days", "days": 365 })
    );

    let mut unknown = serde_json::to_value(ladder()).unwrap();
    unknown["levels"][0]["colour"] = "grey".into();
    assert!(serde_json::from_value::<TierLadder>(unknown).is_err());
    let unknown_window = serde_json::json!({ "kind": "rolling_days", "days": 30, "hours": 1 });
    assert!(serde_json::from_value::<Window>(unknown_window).is_err());
    assert!(serde_json::from_value::<Basis>("points".into()).is_err());
}

#[test]
fn the_state_serialises_its_override_as_override() {
    let at = time::macros::datetime!(2025-06-01 10:00 +8);
    let mut state = TierState::new("silver", at);
    state.r#override = Some(Override {
        level_code: "diamond".into(),
        expires_at: time::macros::datetime!(2025-09-01 00:00 +8),
        reason: "体验卡".into(),
    });
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["override"]["level_code"], "diamond");
    assert_eq!(json["since"], "2025-06-01T10:00:00+08:00");
    assert_eq!(json["next_evaluation_at"], serde_json::Value::Null);
    let back: TierState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
    assert_eq!(
        serde_json::to_value(ChangeReason::OverrideExpired).unwrap(),
        "override_expired"
    );
}

#[test]
fn schemas_name_the_wire_fields() {
    use utoipa::PartialSchema;
    let state = serde_json::to_value(TierState::schema()).unwrap();
    assert!(state["properties"].get("override").is_some(), "{state}");
    let ladder_schema = serde_json::to_value(TierLadder::schema()).unwrap();
    assert!(ladder_schema["properties"].get("levels").is_some());
    let change = serde_json::to_value(TierChange::schema()).unwrap();
    assert!(change["properties"].get("qualifying_total").is_some());
}
