//! Whatever the coupons and the cart: no discount is negative, none exceeds what its coupon was
//! judged on, no line is discounted below zero, and the total never exceeds what the eligible
//! lines and the shipping fee cost.

use super::*;
use proptest::prelude::*;

fn benefit() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (1i64..50_000, 0i64..60_000).prop_map(|(amount_fen, threshold_fen)| Benefit::CashOff {
            amount_fen,
            threshold_fen
        }),
        (1u32..1000, proptest::option::of(1i64..20_000), 0i64..30_000).prop_map(
            |(off_permille, cap_fen, threshold_fen)| Benefit::PercentOff {
                off_permille,
                cap_fen,
                threshold_fen
            }
        ),
        (0usize..4, proptest::option::of(1i64..20_000)).prop_map(|(sku, value_fen)| {
            Benefit::Gift {
                sku: format!("sku{sku}"),
                value_fen,
            }
        }),
        proptest::option::of(1i64..2_000).prop_map(|cap_fen| Benefit::FreeShipping { cap_fen }),
        (1u32..10).prop_map(|hours| Benefit::Parking {
            hours,
            value_fen: 0
        }),
    ]
}

fn coupon() -> impl Strategy<Value = (Benefit, bool, Vec<usize>)> {
    (
        benefit(),
        any::<bool>(),
        proptest::collection::vec(0usize..4, 0..2),
    )
}

fn cart_line() -> impl Strategy<Value = CartLine> {
    (
        0usize..4,
        0usize..3,
        -500i64..100_000,
        1u32..4,
        any::<bool>(),
    )
        .prop_map(|(sku, category, amount_fen, quantity, excluded)| CartLine {
            sku: format!("sku{sku}"),
            category_path: vec![format!("c{category}"), "x".into()],
            amount_fen,
            quantity,
            excluded,
        })
}

proptest! {
    #[test]
    fn discounts_stay_within_what_is_eligible(
        coupons in proptest::collection::vec(coupon(), 0..6),
        lines in proptest::collection::vec(cart_line(), 0..8),
        shipping_fen in -100i64..3_000,
    ) {
        let templates: Vec<CouponTemplate> = coupons
            .iter()
            .map(|(benefit, exclusive, skus)| {
                let mut s = spec(benefit.clone());
                if *exclusive {
                    s.stacking = Stacking::Exclusive;
                }
                s.applicability.skus = skus.iter().map(|i| format!("sku{i}")).collect();
                template(s)
            })
            .collect();
        let member = MemberId::new();
        let offers: Vec<CouponOffer<'_>> = templates.iter().map(|t| offer(t, member)).collect();
        let mut basket = cart(lines);
        basket.shipping_fen = shipping_fen;
        let outcomes = compute_discounts(&offers, &basket, &shanghai());
        prop_assert_eq!(outcomes.len(), offers.len());

        let mut per_line = vec![0i64; basket.lines.len()];
        let mut shipping = 0i64;
        let mut exclusive_accepted = 0;
        let mut accepted = 0;
        for (outcome, index) in outcomes.iter().zip(0..) {
            let _ = index;
            if let Ok(applied) = &outcome.result {
                accepted += 1;
                let t = templates.iter().zip(&offers).find(|(_, o)| o.coupon_id == outcome.coupon_id).map(|(t, _)| t).unwrap();
                if t.spec.stacking == Stacking::Exclusive {
                    exclusive_accepted += 1;
                }
                prop_assert!(applied.discount_fen >= 0);
                prop_assert!(applied.shipping_discount_fen >= 0);
                prop_assert!(applied.line_discounts_fen.iter().all(|fen| *fen >= 0));
                let goods: i64 = applied.line_discounts_fen.iter().sum();
                prop_assert_eq!(goods + applied.shipping_discount_fen, applied.discount_fen);
                prop_assert!(goods <= applied.eligible_fen.max(0));
                for (sum, fen) in per_line.iter_mut().zip(&applied.line_discounts_fen) {
                    *sum += fen;
                }
                shipping += applied.shipping_discount_fen;
            }
        }
        // No line below zero, excluded lines untouched, shipping at most the fee.
        for (line, taken) in basket.lines.iter().zip(&per_line) {
            prop_assert!(*taken <= line.amount_fen.max(0));
            if line.excluded {
                prop_assert_eq!(*taken, 0);
            }
        }
        prop_assert!(shipping <= shipping_fen.max(0));
        // An exclusive coupon, when accepted, is the only one.
        if exclusive_accepted > 0 {
            prop_assert_eq!(accepted, 1);
        }
        // Outcomes come in application order: by kind rank.
        let ranks: Vec<u8> = outcomes.iter().map(|o| o.kind.application_rank()).collect();
        prop_assert!(ranks.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
