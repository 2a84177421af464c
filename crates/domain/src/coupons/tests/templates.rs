use super::*;
use crate::earning::DateRange;
use time::macros::date;

fn fields(result: Result<(), crate::validation::FieldErrors>) -> Vec<(String, &'static str)> {
    result
        .err()
        .map(|errors| errors.0.into_iter().map(|e| (e.field, e.code)).collect())
        .unwrap_or_default()
}

#[test]
fn a_valid_template_passes_and_every_bad_field_is_named() {
    assert_eq!(fields(spec(cash_off(2_000, 10_000)).validate(now())), []);

    let mut bad = spec(cash_off(20_000, 10_000));
    bad.name = "  ".into();
    bad.validity = Validity::Fixed {
        starts_at: now() - time::Duration::days(10),
        ends_at: now() - time::Duration::days(1),
    };
    bad.per_member_quota = Some(0);
    bad.total_quota = Some(-1);
    bad.applicability.category_prefixes = vec![vec![]];
    bad.applicability.blackout_dates = vec![DateRange {
        from: date!(2026 - 12 - 25),
        until: date!(2026 - 12 - 24),
    }];
    bad.auto_issue.on_tier_upgrade_to.insert(String::new());
    assert_eq!(
        fields(bad.validate(now())),
        [
            ("name".to_owned(), "required"),
            ("benefit.amount_fen".to_owned(), "exceeds_threshold"),
            ("validity.ends_at".to_owned(), "in_the_past"),
            (
                "applicability.category_prefixes[0]".to_owned(),
                "invalid_length"
            ),
            (
                "applicability.blackout_dates[0].until".to_owned(),
                "before_start"
            ),
            ("per_member_quota".to_owned(), "out_of_range"),
            ("total_quota".to_owned(), "out_of_range"),
            ("auto_issue.on_tier_upgrade_to[0]".to_owned(), "required"),
        ]
    );
}

#[test]
fn each_benefit_kind_checks_its_own_fields() {
    let cases = [
        (cash_off(0, 0), "benefit.amount_fen"),
        (
            Benefit::PercentOff {
                off_permille: 1000,
                cap_fen: None,
                threshold_fen: 0,
            },
            "benefit.off_permille",
        ),
        (
            Benefit::PercentOff {
                off_permille: 100,
                cap_fen: Some(0),
                threshold_fen: 0,
            },
            "benefit.cap_fen",
        ),
        (
            Benefit::Gift {
                sku: " ".into(),
                value_fen: None,
            },
            "benefit.sku",
        ),
        (
            Benefit::FreeShipping { cap_fen: Some(-5) },
            "benefit.cap_fen",
        ),
        (
            Benefit::Parking {
                hours: 0,
                value_fen: 0,
            },
            "benefit.hours",
        ),
        (
            Benefit::ServiceVoucher {
                service: String::new(),
                value_fen: 0,
            },
            "benefit.service",
        ),
    ];
    for (benefit, field) in cases {
        let errors = fields(spec(benefit.clone()).validate(now()));
        assert_eq!(errors.len(), 1, "{benefit:?}: {errors:?}");
        assert_eq!(errors[0].0, field);
    }
    let mut relative = spec(cash_off(100, 0));
    relative.validity = Validity::Relative { days: 0 };
    assert_eq!(
        fields(relative.validate(now())),
        [("validity.days".to_owned(), "out_of_range")]
    );
}

#[test]
fn the_wire_format_is_tagged_and_strict() {
    let json = serde_json::json!({
        "name": "满100减20", "benefit": { "kind": "cash_off", "amount_fen": 2000, "threshold_fen": 10000 },
        "validity": { "kind": "relative", "days": 7 },
        "stacking": { "mode": "stackable", "with_kinds": ["free_shipping"] },
        "cost_bearer": { "kind": "format", "format_id": FormatId::new() },
    });
    let input: TemplateInput = serde_json::from_value(json.clone()).unwrap();
    assert!(input.refund_reverses, "refunds reverse by default");
    assert_eq!(input.benefit.kind(), BenefitKind::CashOff);
    assert_eq!(input.benefit.face_value_fen(), 2000);
    let mut unknown = json;
    unknown["cashback"] = serde_json::json!(1);
    assert!(serde_json::from_value::<TemplateInput>(unknown).is_err());
}

#[test]
fn relative_validity_ends_at_a_local_midnight() {
    let mut week = spec(cash_off(100, 0));
    week.validity = Validity::Relative { days: 7 };
    let tz = shanghai();
    // Issued 23:30 in Shanghai on 23 November: valid through 29 November, local time.
    let issued = datetime!(2026-11-23 15:30 UTC);
    let (starts, ends) = week
        .window_at(issued, |at, days| calendar::end_of_local_day(at, days, &tz))
        .unwrap();
    assert_eq!(starts, issued);
    assert_eq!(ends, datetime!(2026-11-29 16:00 UTC));
}

#[test]
fn the_state_machine_allows_only_its_transitions() {
    use CouponState::*;
    assert_eq!(Available.after(Transition::Redeem), Some(Used));
    assert_eq!(Used.after(Transition::Reverse), Some(Available));
    assert_eq!(Available.after(Transition::Void), Some(Voided));
    assert_eq!(Used.after(Transition::Redeem), None);
    assert_eq!(Available.after(Transition::Reverse), None);
    assert_eq!(Voided.after(Transition::Reverse), None);
    assert_eq!(Used.after(Transition::Void), None);
    // A checkout's hold: reserve, then release or redeem; nothing else touches it.
    assert_eq!(Available.after(Transition::Reserve), Some(Reserved));
    assert_eq!(Reserved.after(Transition::Release), Some(Available));
    assert_eq!(Reserved.after(Transition::Redeem), Some(Used));
    assert_eq!(Reserved.after(Transition::Reserve), None);
    assert_eq!(Reserved.after(Transition::Void), None);
    assert_eq!(Used.after(Transition::Release), None);
    let (start, end) = (now(), now() + time::Duration::days(1));
    assert_eq!(Available.redeemable(start, end, now()), Ok(()));
    assert_eq!(
        Available.redeemable(start, end, start - time::Duration::seconds(1)),
        Err(Reason::NotYetValid)
    );
    assert_eq!(Available.redeemable(start, end, end), Err(Reason::Expired));
    assert_eq!(Used.redeemable(start, end, now()), Err(Reason::Used));
    assert_eq!(
        Reserved.redeemable(start, end, now()),
        Err(Reason::Reserved)
    );
    assert_eq!(Reserved.effective(end, end), EffectiveState::Reserved);
    assert_eq!(Available.effective(end, end), EffectiveState::Expired);
    assert_eq!(Available.effective(end, now()), EffectiveState::Available);
}
