use super::transfers::points_charge;
use super::*;
use proptest::prelude::*;
use uuid::Uuid;

fn rate(fen: i64, per_points: i64) -> Rate {
    Rate { fen, per_points }
}

#[test]
fn values_round_half_away_from_zero() {
    assert_eq!(value_fen(150, 1, 100), 2);
    assert_eq!(value_fen(149, 1, 100), 1);
    assert_eq!(value_fen(-150, 1, 100), -2);
    assert_eq!(value_fen(1_000, 80, 100), 800);
    assert_eq!(value_fen(7, 3, 0), 0);
    assert_eq!(share_bps(10_005, 500), 500);
    assert_eq!(share_bps(-10_010, 500), -501);
    assert_eq!(value_fen(i64::MAX, MAX, 1), i64::MAX);
}

const MAX: i64 = policy::MAX_RATE_FEN;

#[test]
fn independent_mode_moves_fen_from_issuer_to_spender() {
    let (a, b) = (Some(Uuid::now_v7()), Some(Uuid::now_v7()));
    let charges = [
        points_charge(a, b, 1_000, rate(80, 100)),
        points_charge(b, a, 250, rate(80, 100)),
        points_charge(a, a, 5_000, rate(80, 100)),
        points_charge(None, b, 100, rate(80, 100)),
    ];
    let nets = net_transfers(SettlementMode::Independent, &charges);
    assert_eq!(nets.of(a), -800 + 200);
    assert_eq!(nets.of(b), 800 - 200 + 80);
    assert_eq!(nets.of(None), -80);
    assert_eq!(nets.total(), 0);
    let funded = net_transfers(SettlementMode::HqFunded, &charges);
    assert!(funded.nets.values().all(|net| *net == 0));
    assert_eq!(funded.nets.len(), 3);
}

#[test]
fn split_takes_commission_on_cash_and_points_value() {
    let rule = RevenueSplitRule {
        cash_commission_bps: 500,
        points_commission_bps: 1_000,
        points_rate: rate(1, 1),
    };
    let split = split(2_000, 3_333, &rule);
    assert_eq!(split.points_value_fen, 2_000);
    assert_eq!(split.gross_fen, 5_333);
    assert_eq!(split.platform_fen, 167 + 200);
    assert_eq!(split.merchant_fen, 5_333 - 367);
}

#[test]
fn rules_and_policies_are_validated_with_reasons() {
    let bad = RevenueSplitRule {
        cash_commission_bps: 10_001,
        points_commission_bps: -1,
        points_rate: rate(-1, 0),
    };
    let fields: Vec<String> = bad
        .validate()
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "cash_commission_bps",
            "points_commission_bps",
            "points_rate.fen",
            "points_rate.per_points"
        ]
    );
    assert!(SettlementPolicy::DEFAULT.validate().is_ok());
    let zero_per = SettlementPolicy {
        settlement_rate: rate(1, 0),
        ..SettlementPolicy::DEFAULT
    };
    assert_eq!(
        zero_per.validate().unwrap_err().0[0].field,
        "settlement_rate.per_points"
    );
}

fn party() -> impl Strategy<Value = Party> {
    prop_oneof![
        Just(None),
        (0u8..4).prop_map(|n| Some(Uuid::from_u128(u128::from(n) + 1)))
    ]
}

proptest! {
    #[test]
    fn nets_sum_to_zero_in_independent_mode(
        cells in prop::collection::vec((party(), party(), -1_000_000i64..1_000_000), 0..40),
        fen in 0i64..1_000, per in 1i64..1_000,
    ) {
        let charges: Vec<Charge> = cells
            .iter()
            .map(|(issuer, spender, points)| points_charge(*issuer, *spender, *points, rate(fen, per)))
            .collect();
        let nets = net_transfers(SettlementMode::Independent, &charges);
        prop_assert_eq!(nets.total(), 0);
        // What each party receives from others minus what it pays them, charge by charge.
        for (party, net) in &nets.nets {
            let expected: i64 = charges
                .iter()
                .filter(|c| c.payer != c.payee)
                .map(|c| if c.payee == *party { c.fen } else if c.payer == *party { -c.fen } else { 0 })
                .sum();
            prop_assert_eq!(*net, expected);
        }
        let funded = net_transfers(SettlementMode::HqFunded, &charges);
        prop_assert!(funded.nets.values().all(|net| *net == 0));
    }

    #[test]
    fn splits_add_up_to_the_gross(
        points in -10_000_000i64..10_000_000, cash in -10_000_000i64..10_000_000,
        cash_bps in 0i64..=10_000, points_bps in 0i64..=10_000,
        fen in 0i64..1_000, per in 1i64..1_000,
    ) {
        let rule = RevenueSplitRule { cash_commission_bps: cash_bps, points_commission_bps: points_bps, points_rate: rate(fen, per) };
        let s = split(points, cash, &rule);
        prop_assert_eq!(s.merchant_fen + s.platform_fen, s.gross_fen);
        prop_assert_eq!(s.gross_fen, cash + s.points_value_fen);
        if cash >= 0 && points >= 0 {
            prop_assert!(s.platform_fen >= 0 && s.platform_fen <= s.gross_fen);
        }
    }

    #[test]
    fn valuing_is_within_half_a_fen_and_symmetric(points in -1_000_000_000i64..1_000_000_000, fen in 0i64..10_000, per in 1i64..10_000) {
        let value = value_fen(points, fen, per);
        let exact = i128::from(points) * i128::from(fen);
        let error = (i128::from(value) * i128::from(per) - exact).abs();
        prop_assert!(error * 2 <= i128::from(per));
        prop_assert_eq!(value_fen(-points, fen, per), -value);
    }
}
