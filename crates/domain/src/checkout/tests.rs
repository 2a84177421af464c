//! Checkout pricing: worked examples ("100 points + ¥10", the cap, the unit, refusals) and the
//! property that amounts never go negative and always add up.

use super::*;
use crate::coupons::{
    Applicability, AutoIssue, Benefit, CartContext, CartLine, CostBearer, CouponState,
    CouponTemplate, Stacking, TemplateInput, TemplateStatus, Validity,
};
use crate::ids::MemberId;
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

fn now() -> OffsetDateTime {
    datetime!(2026-11-23 04:00 UTC)
}

fn tz() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn template(benefit: Benefit) -> CouponTemplate {
    CouponTemplate {
        id: Uuid::now_v7(),
        spec: TemplateInput {
            name: "券".into(),
            description: String::new(),
            benefit,
            validity: Validity::Relative { days: 30 },
            applicability: Applicability::default(),
            stacking: Stacking::Stackable {
                with_kinds: Default::default(),
            },
            per_member_quota: None,
            total_quota: None,
            cost_bearer: CostBearer::Hq,
            refund_reverses: true,
            issuing_format_id: None,
            auto_issue: AutoIssue::default(),
        },
        status: TemplateStatus::Active,
    }
}

fn offer(template: &CouponTemplate, state: CouponState) -> CouponOffer<'_> {
    CouponOffer {
        coupon_id: Uuid::now_v7(),
        member_id: MemberId(Uuid::nil()),
        state,
        starts_at: now() - time::Duration::days(1),
        expires_at: now() + time::Duration::days(1),
        template,
    }
}

fn cart(amounts: &[i64], shipping_fen: i64) -> Cart {
    Cart {
        lines: amounts
            .iter()
            .enumerate()
            .map(|(i, amount_fen)| CartLine {
                sku: format!("sku{i}"),
                category_path: vec!["food".into()],
                amount_fen: *amount_fen,
                quantity: 1,
                excluded: false,
            })
            .collect(),
        shipping_fen,
        context: CartContext {
            format_id: None,
            store_id: None,
            channel_id: None,
            tier_code: None,
            member_id: Some(MemberId(Uuid::nil())),
            at: now(),
        },
    }
}

/// 100 points = ¥1, half payable by points, whole hundreds.
fn policy() -> PointsAsCash {
    PointsAsCash {
        fen_per_100_points: 100,
        max_share_percent: 50,
        points_unit: 100,
    }
}

#[test]
fn a_hundred_points_and_ten_yuan() {
    // ¥11 cart, 100 points (¥1) + ¥10 cash.
    let q = quote(
        &[],
        &cart(&[1100], 0),
        &tz(),
        &policy(),
        PointsRequest::Exactly(100),
        5000,
    )
    .unwrap();
    assert_eq!(
        (
            q.subtotal_fen,
            q.points_used,
            q.points_value_fen,
            q.cash_due_fen
        ),
        (1100, 100, 100, 1000)
    );
    // The cap: half of ¥11 is ¥5.50, i.e. 500 points in whole hundreds.
    assert_eq!((q.points_cap_fen, q.max_points), (550, 500));
}

#[test]
fn coupons_apply_first_then_points_on_what_is_left() {
    let off = template(Benefit::CashOff {
        amount_fen: 2000,
        threshold_fen: 10000,
    });
    let q = quote(
        &[offer(&off, CouponState::Available)],
        &cart(&[6000, 6000], 1000),
        &tz(),
        &policy(),
        PointsRequest::Max,
        100_000,
    )
    .unwrap();
    // 130 − 20 = 110 payable; half is ¥55 = 5500 points.
    assert_eq!(q.coupon_discount_fen, 2000);
    assert_eq!(q.payable_fen, 11000);
    assert_eq!((q.points_used, q.points_value_fen), (5500, 5500));
    assert_eq!(q.cash_due_fen, 5500);
    assert_eq!(q.coupons.len(), 1);
}

#[test]
fn max_is_limited_by_balance_and_unit() {
    let q = quote(
        &[],
        &cart(&[100_000], 0),
        &tz(),
        &policy(),
        PointsRequest::Max,
        1234,
    )
    .unwrap();
    assert_eq!((q.points_used, q.cash_due_fen), (1200, 98_800));
}

#[test]
fn points_requests_are_refused_with_reasons() {
    let ask = |points, available| {
        quote(
            &[],
            &cart(&[1000], 0),
            &tz(),
            &policy(),
            PointsRequest::Exactly(points),
            available,
        )
    };
    assert_eq!(
        ask(150, 10_000),
        Err(QuoteError::PointsNotMultiple { unit: 100 })
    );
    assert_eq!(
        ask(600, 10_000),
        Err(QuoteError::PointsAboveCap { max_points: 500 })
    );
    assert_eq!(
        ask(300, 200),
        Err(QuoteError::InsufficientPoints { available: 200 })
    );
    assert_eq!(ask(0, 200), Err(QuoteError::PointsNotPositive));
    assert_eq!(ask(500, 500).unwrap().cash_due_fen, 500);
}

#[test]
fn a_coupon_that_does_not_apply_refuses_the_quote() {
    let off = template(Benefit::CashOff {
        amount_fen: 2000,
        threshold_fen: 10000,
    });
    let ok = template(Benefit::CashOff {
        amount_fen: 100,
        threshold_fen: 0,
    });
    let offers = [
        offer(&ok, CouponState::Available),
        offer(&off, CouponState::Available),
    ];
    let refused = quote(
        &offers,
        &cart(&[5000], 0),
        &tz(),
        &policy(),
        PointsRequest::None,
        0,
    );
    assert_eq!(
        refused,
        Err(QuoteError::Coupon {
            index: 1,
            reason: Reason::BelowThreshold
        })
    );
    let reserved = quote(
        &[offer(&ok, CouponState::Reserved)],
        &cart(&[5000], 0),
        &tz(),
        &policy(),
        PointsRequest::None,
        0,
    );
    assert_eq!(reserved.unwrap_err().code(), "reserved");
}

#[test]
fn a_fractional_value_rounds_down_and_never_exceeds_the_cap() {
    // 100 points = ¥0.30: 333 points would be 99.9 fen.
    let thirty = PointsAsCash {
        fen_per_100_points: 30,
        max_share_percent: 100,
        points_unit: 1,
    };
    let q = quote(
        &[],
        &cart(&[100], 0),
        &tz(),
        &thirty,
        PointsRequest::Max,
        10_000,
    )
    .unwrap();
    assert_eq!(q.points_value_fen, 100);
    assert_eq!(q.cash_due_fen, 0);
    assert!(points_value_fen(q.points_used + 1, &thirty) > 100);
}

proptest! {
    #[test]
    fn amounts_add_up_and_never_go_negative(
        amounts in proptest::collection::vec(-100i64..200_000, 0..6),
        shipping_fen in -100i64..2_000,
        coupons in proptest::collection::vec((1i64..30_000, 0i64..50_000, any::<bool>()), 0..4),
        fen_per_100_points in 0i64..500,
        max_share_percent in -10i64..120,
        points_unit in 1i64..500,
        available in -50i64..1_000_000,
        asked in proptest::option::of(-10i64..300_000),
    ) {
        let templates: Vec<CouponTemplate> = coupons
            .iter()
            .map(|(amount_fen, threshold_fen, percent)| template(if *percent {
                Benefit::PercentOff { off_permille: (*amount_fen % 1000) as u32, cap_fen: None, threshold_fen: *threshold_fen }
            } else {
                Benefit::CashOff { amount_fen: *amount_fen, threshold_fen: *threshold_fen }
            }))
            .collect();
        let offers: Vec<CouponOffer<'_>> = templates.iter().map(|t| offer(t, CouponState::Available)).collect();
        let policy = PointsAsCash { fen_per_100_points, max_share_percent, points_unit };
        let request = asked.map_or(PointsRequest::Max, PointsRequest::Exactly);
        match quote(&offers, &cart(&amounts, shipping_fen), &tz(), &policy, request, available) {
            Ok(q) => {
                prop_assert_eq!(q.subtotal_fen, q.coupon_discount_fen + q.points_value_fen + q.cash_due_fen);
                for amount in [q.subtotal_fen, q.coupon_discount_fen, q.payable_fen, q.points_used,
                               q.points_value_fen, q.cash_due_fen, q.max_points, q.points_cap_fen] {
                    prop_assert!(amount >= 0);
                }
                prop_assert!(q.points_used <= available.max(0));
                prop_assert_eq!(q.points_used % points_unit, 0);
                prop_assert!(q.points_value_fen <= q.points_cap_fen);
                prop_assert!(q.points_used <= q.max_points);
                prop_assert_eq!(q.points_value_fen, points_value_fen(q.points_used, &policy).min(q.payable_fen));
            }
            Err(QuoteError::Coupon { .. }) => {}
            Err(error) => prop_assert!(asked.is_some(), "{error:?} for a Max request"),
        }
    }
}
