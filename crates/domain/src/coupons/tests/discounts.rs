use super::*;
use crate::earning::DateRange;
use time::macros::date;

fn applied(outcome: &Outcome) -> &Applied {
    outcome.result.as_ref().expect("the coupon applies")
}

#[test]
fn cash_off_above_a_threshold_covers_eligible_lines_only() {
    let t = template(spec(cash_off(2_000, 10_000)));
    let member = MemberId::new();
    let mut tobacco = line("cig", &["tobacco"], 5_000);
    tobacco.excluded = true;
    let basket = cart(vec![
        line("a", &["food"], 6_000),
        tobacco,
        line("b", &["food"], 4_000),
    ]);
    let outcomes = compute_discounts(&[offer(&t, member)], &basket, &shanghai());
    let got = applied(&outcomes[0]);
    assert_eq!(got.discount_fen, 2_000);
    assert_eq!(got.eligible_fen, 10_000);
    assert_eq!(got.line_discounts_fen, [1_200, 0, 800]);

    // ¥99.99 of eligible goods is below the ¥100 threshold, whatever the excluded line costs.
    let mut short = basket.clone();
    short.lines[2].amount_fen = 3_999;
    let outcomes = compute_discounts(&[offer(&t, member)], &short, &shanghai());
    assert_eq!(outcomes[0].result, Err(Reason::BelowThreshold));
}

#[test]
fn percent_off_is_capped_and_applies_after_cash_off() {
    let percent = template(spec(Benefit::PercentOff {
        off_permille: 120,
        cap_fen: Some(1_000),
        threshold_fen: 0,
    }));
    let cash = template(spec(cash_off(3_000, 0)));
    let member = MemberId::new();
    let basket = cart(vec![line("a", &[], 12_000)]);
    // Alone: 12% of ¥120 is ¥14.40, capped at ¥10.
    let alone = compute_discounts(&[offer(&percent, member)], &basket, &shanghai());
    assert_eq!(applied(&alone[0]).discount_fen, 1_000);
    // Offered first, still applied second: 12% of the ¥90 left is ¥10.80, capped at ¥10.
    let small = template(spec(Benefit::PercentOff {
        off_permille: 100,
        cap_fen: None,
        threshold_fen: 0,
    }));
    let both = compute_discounts(
        &[offer(&small, member), offer(&cash, member)],
        &basket,
        &shanghai(),
    );
    assert_eq!(both[0].kind, BenefitKind::CashOff);
    assert_eq!(applied(&both[0]).discount_fen, 3_000);
    assert_eq!(applied(&both[1]).eligible_fen, 9_000);
    assert_eq!(applied(&both[1]).discount_fen, 900);
}

#[test]
fn exclusive_coupons_stand_alone_and_stacking_is_mutual() {
    let member = MemberId::new();
    let mut alone = spec(cash_off(1_000, 0));
    alone.stacking = Stacking::Exclusive;
    let alone = template(alone);
    let shipping = template(spec(Benefit::FreeShipping { cap_fen: None }));
    let mut basket = cart(vec![line("a", &[], 5_000)]);
    basket.shipping_fen = 800;
    let outcomes = compute_discounts(
        &[offer(&shipping, member), offer(&alone, member)],
        &basket,
        &shanghai(),
    );
    // Cash off comes first by kind, so the shipping coupon is the one refused.
    assert_eq!(applied(&outcomes[0]).discount_fen, 1_000);
    assert_eq!(outcomes[1].result, Err(Reason::NotStackable));

    // Stackable only with free shipping: a second cash-off coupon is refused, shipping is not.
    let mut picky = spec(cash_off(500, 0));
    picky.stacking = Stacking::Stackable {
        with_kinds: [BenefitKind::FreeShipping].into(),
    };
    let picky = template(picky);
    let other_cash = template(spec(cash_off(700, 0)));
    let outcomes = compute_discounts(
        &[
            offer(&picky, member),
            offer(&other_cash, member),
            offer(&shipping, member),
        ],
        &basket,
        &shanghai(),
    );
    assert_eq!(applied(&outcomes[0]).discount_fen, 500);
    assert_eq!(outcomes[1].result, Err(Reason::NotStackable));
    assert_eq!(applied(&outcomes[2]).shipping_discount_fen, 800);
}

#[test]
fn applicability_checks_place_person_date_and_lines() {
    let member = MemberId::new();
    let basket = cart(vec![
        line("lipstick", &["beauty", "makeup"], 30_000),
        line("cream", &["beauty", "skincare"], 20_000),
        line("rice", &["food"], 5_000),
    ]);
    let check = |applicability: Applicability| {
        let mut s = spec(cash_off(1_000, 0));
        s.applicability = applicability;
        let t = template(s);
        compute_discounts(&[offer(&t, member)], &basket, &shanghai())[0]
            .result
            .clone()
    };
    let elsewhere = Applicability {
        store_ids: [StoreId::new()].into(),
        ..Applicability::default()
    };
    assert_eq!(check(elsewhere), Err(Reason::StoreNotApplicable));
    let other_format = Applicability {
        format_ids: [FormatId::new()].into(),
        ..Applicability::default()
    };
    assert_eq!(check(other_format), Err(Reason::FormatNotApplicable));
    let other_channel = Applicability {
        channel_ids: [ChannelId::new()].into(),
        ..Applicability::default()
    };
    assert_eq!(check(other_channel), Err(Reason::ChannelNotApplicable));
    let diamond_only = Applicability {
        tier_codes: ["diamond".to_owned()].into(),
        ..Applicability::default()
    };
    assert_eq!(check(diamond_only), Err(Reason::TierNotEligible));
    // 04:00 UTC on 23 November is noon on 23 November in Shanghai.
    let blackout = Applicability {
        blackout_dates: vec![DateRange {
            from: date!(2026 - 11 - 23),
            until: date!(2026 - 11 - 23),
        }],
        ..Applicability::default()
    };
    assert_eq!(check(blackout), Err(Reason::BlackoutDate));
    let skincare = Applicability {
        category_prefixes: vec![vec!["beauty".into(), "skincare".into()]],
        skus: ["rice".to_owned()].into(),
        ..Applicability::default()
    };
    let got = check(skincare).unwrap();
    assert_eq!(
        (got.eligible_fen, got.line_discounts_fen),
        (25_000, vec![0, 800, 200])
    );
    let no_makeup = Applicability {
        category_prefixes: vec![vec!["beauty".into()]],
        excluded_skus: ["lipstick".to_owned(), "cream".to_owned()].into(),
        ..Applicability::default()
    };
    assert_eq!(check(no_makeup), Err(Reason::NoEligibleItems));
}

#[test]
fn gifts_take_one_unit_and_vouchers_take_nothing_off() {
    let member = MemberId::new();
    let gift = template(spec(Benefit::Gift {
        sku: "cake".into(),
        value_fen: Some(5_000),
    }));
    let parking = template(spec(Benefit::Parking {
        hours: 3,
        value_fen: 1_500,
    }));
    let mut cakes = line("cake", &["bakery"], 12_000);
    cakes.quantity = 2;
    let basket = cart(vec![cakes]);
    let outcomes = compute_discounts(
        &[offer(&parking, member), offer(&gift, member)],
        &basket,
        &shanghai(),
    );
    // One cake is ¥60, the gift is worth at most ¥50.
    assert_eq!(applied(&outcomes[0]).discount_fen, 5_000);
    assert_eq!(applied(&outcomes[0]).gift_sku.as_deref(), Some("cake"));
    assert_eq!(applied(&outcomes[1]).discount_fen, 0);
    assert_eq!(applied(&outcomes[1]).parking_hours, 3);
    let empty = cart(vec![line("bread", &[], 800)]);
    let outcomes = compute_discounts(&[offer(&gift, member)], &empty, &shanghai());
    assert_eq!(outcomes[0].result, Err(Reason::GiftNotInCart));
    let shipping = template(spec(Benefit::FreeShipping { cap_fen: Some(500) }));
    let outcomes = compute_discounts(&[offer(&shipping, member)], &empty, &shanghai());
    assert_eq!(outcomes[0].result, Err(Reason::NoShippingFee));
}

#[test]
fn state_holder_and_duplicates_are_checked_first() {
    let member = MemberId::new();
    let t = template(spec(cash_off(100, 0)));
    let mut basket = cart(vec![line("a", &[], 1_000)]);
    let mut used = offer(&t, member);
    used.state = CouponState::Used;
    let mut expired = offer(&t, member);
    expired.expires_at = now();
    let mut early = offer(&t, member);
    early.starts_at = now() + time::Duration::hours(1);
    let fine = offer(&t, member);
    basket.context.member_id = Some(member);
    let outcomes = compute_discounts(&[used, expired, early, fine, fine], &basket, &shanghai());
    let results: Vec<_> = outcomes.iter().map(|o| o.result.clone().err()).collect();
    assert_eq!(
        results,
        [
            Some(Reason::Used),
            Some(Reason::Expired),
            Some(Reason::NotYetValid),
            None,
            Some(Reason::DuplicateCoupon)
        ]
    );
    basket.context.member_id = Some(MemberId::new());
    let outcomes = compute_discounts(&[fine], &basket, &shanghai());
    assert_eq!(outcomes[0].result, Err(Reason::WrongMember));
}
