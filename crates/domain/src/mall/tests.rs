//! Points mall rules: reward validation, eligibility, limit periods in Shanghai, the redemption
//! state machine, and properties over arbitrary rewards and action sequences.

use super::*;
use crate::mall::reward::MAX_POINTS;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn goods() -> RewardSpec {
    serde_json::from_value(serde_json::json!({
        "kind": "goods",
        "name": "保温杯",
        "points": 1000,
        "fulfilment": "ship_or_collect",
    }))
    .unwrap()
}

fn codes(spec: &RewardSpec) -> Vec<(String, &'static str)> {
    match spec.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

#[test]
fn a_plain_goods_reward_is_valid_with_defaults() {
    let spec = goods();
    assert_eq!(codes(&spec), []);
    assert_eq!(spec.max_quantity, 10);
    assert_eq!(spec.cash_fen, 0);
    assert_eq!(spec.supplier(), Supplier::Group);
}

#[test]
fn validation_reports_every_field() {
    let spec = RewardSpec {
        name: " ".into(),
        points: 0,
        cash_fen: -1,
        max_quantity: 0,
        fulfilment: None,
        coupon_template_id: Some(uuid::Uuid::now_v7()),
        available_from: Some(datetime!(2026-12-01 0:00 UTC)),
        available_until: Some(datetime!(2026-11-01 0:00 UTC)),
        limit_total: Some(1),
        limit_per_period: Some(PeriodLimit {
            period: LimitPeriod::Month,
            quantity: 2,
        }),
        image_url: Some("javascript:alert(1)".into()),
        ..goods()
    };
    let found = codes(&spec);
    for expected in [
        ("name", "required"),
        ("points", "out_of_range"),
        ("cash_fen", "out_of_range"),
        ("max_quantity", "out_of_range"),
        ("fulfilment", "invalid_for_kind"),
        ("coupon_template_id", "invalid_for_kind"),
        ("available_until", "before_start"),
        ("limit_per_period.quantity", "above_total"),
        ("image_url", "invalid_format"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} in {found:?}"
        );
    }
}

#[test]
fn kinds_constrain_fulfilment_cash_and_template() {
    let donation = RewardSpec {
        kind: RewardKind::Donation,
        fulfilment: None,
        cash_fen: 100,
        ..goods()
    };
    assert_eq!(
        codes(&donation),
        [("cash_fen".to_owned(), "invalid_for_kind")]
    );
    let coupon = RewardSpec {
        kind: RewardKind::Coupon,
        fulfilment: None,
        ..goods()
    };
    assert_eq!(
        codes(&coupon),
        [("coupon_template_id".to_owned(), "required")]
    );
    let service = RewardSpec {
        kind: RewardKind::Service,
        fulfilment: Some(Fulfilment::Ship),
        ..goods()
    };
    assert_eq!(
        codes(&service),
        [("fulfilment".to_owned(), "invalid_for_kind")]
    );
    assert_eq!(
        RewardSpec::validate_stock(Some(-1)).unwrap_err().code,
        "out_of_range"
    );
    assert!(RewardSpec::validate_stock(None).is_ok());
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    assert!(
        serde_json::from_value::<RewardSpec>(serde_json::json!({
            "kind": "goods", "name": "x", "points": 1, "fulfilment": "ship", "price": 3
        }))
        .is_err()
    );
    assert!(
        serde_json::from_value::<RewardSpec>(serde_json::json!({
            "kind": "lottery", "name": "x", "points": 1
        }))
        .is_err()
    );
}

#[test]
fn a_patch_changes_only_what_it_names() {
    let spec = RewardSpec {
        min_tier_code: Some("gold".into()),
        limit_total: Some(5),
        ..goods()
    };
    let patch = RewardPatch {
        points: Some(800),
        clear_min_tier: true,
        ..RewardPatch::default()
    };
    let next = patch.apply(&spec);
    assert_eq!(next.points, 800);
    assert_eq!(next.min_tier_code, None);
    assert_eq!(next.limit_total, Some(5));
    assert_eq!(next.name, spec.name);
    let cleared = RewardPatch {
        clear_limits: true,
        ..RewardPatch::default()
    }
    .apply(&spec);
    assert_eq!(cleared.limit_total, None);
    let bad = RewardPatch {
        unlimited_stock: Some(true),
        stock_delta: Some(5),
        ..RewardPatch::default()
    };
    assert!(bad.validate_stock().is_err());
}

fn eligibility(spec: &RewardSpec, tier_rank: Option<usize>) -> Eligibility<'_> {
    Eligibility {
        reward: spec,
        archived: false,
        member: MemberFacts {
            tier_rank,
            required_rank: Some(2),
        },
    }
}

#[test]
fn eligibility_checks_archive_window_quantity_and_tier() {
    let now = datetime!(2026-11-23 10:00 UTC);
    let mut spec = RewardSpec {
        available_from: Some(datetime!(2026-11-01 0:00 UTC)),
        available_until: Some(datetime!(2026-12-01 0:00 UTC)),
        min_tier_code: Some("gold".into()),
        max_quantity: 3,
        ..goods()
    };
    assert_eq!(eligibility(&spec, Some(2)).check(3, now), Ok(()));
    assert_eq!(eligibility(&spec, Some(3)).check(1, now), Ok(()));
    assert_eq!(
        eligibility(&spec, Some(1)).check(1, now),
        Err(Ineligible::TierTooLow("gold".into()))
    );
    assert_eq!(
        eligibility(&spec, None).check(1, now).unwrap_err().code(),
        "tier_too_low"
    );
    assert_eq!(
        eligibility(&spec, Some(2)).check(4, now),
        Err(Ineligible::Quantity(3))
    );
    assert_eq!(
        eligibility(&spec, Some(2)).check(0, now),
        Err(Ineligible::Quantity(3))
    );
    assert_eq!(
        eligibility(&spec, Some(2))
            .check(1, datetime!(2026-12-01 0:00 UTC))
            .unwrap_err()
            .code(),
        "no_longer_available"
    );
    assert_eq!(
        eligibility(&spec, Some(2))
            .check(1, datetime!(2026-10-31 23:59 UTC))
            .unwrap_err()
            .code(),
        "not_yet_available"
    );
    let archived = Eligibility {
        archived: true,
        ..eligibility(&spec, Some(2))
    };
    assert_eq!(archived.check(1, now), Err(Ineligible::Archived));
    // A tier code no longer on the ladder lets nobody in.
    spec.min_tier_code = Some("retired".into());
    let gone = Eligibility {
        member: MemberFacts {
            tier_rank: Some(5),
            required_rank: None,
        },
        ..eligibility(&spec, Some(5))
    };
    assert_eq!(gone.check(1, now).unwrap_err().code(), "tier_too_low");
}

#[test]
fn limit_periods_follow_the_shanghai_calendar() {
    let tz = shanghai();
    // 2026-11-30 16:30 UTC is already 1 December in Shanghai.
    let at = datetime!(2026-11-30 16:30 UTC);
    assert_eq!(
        period_key(LimitPeriod::Day, at, &tz).unwrap(),
        "d2026-12-01"
    );
    assert_eq!(period_key(LimitPeriod::Month, at, &tz).unwrap(), "m2026-12");
    assert_eq!(period_key(LimitPeriod::Year, at, &tz).unwrap(), "y2026");
    assert_eq!(period_key(LimitPeriod::Week, at, &tz).unwrap(), "w2026-W49");
    // 2027-01-01 (a Friday) belongs to ISO week 53 of 2026.
    assert_eq!(
        period_key(LimitPeriod::Week, datetime!(2027-01-01 04:00 UTC), &tz).unwrap(),
        "w2026-W53"
    );
    assert_eq!(
        period_key(LimitPeriod::Month, at, &TimeZone::UTC).unwrap(),
        "m2026-11"
    );
    let spec = RewardSpec {
        limit_total: Some(3),
        limit_per_period: Some(PeriodLimit {
            period: LimitPeriod::Month,
            quantity: 1,
        }),
        ..goods()
    };
    assert_eq!(
        limit_counters(&spec, at, &tz).unwrap(),
        [("total".to_owned(), 3), ("m2026-12".to_owned(), 1)]
    );
    assert_eq!(limit_counters(&goods(), at, &tz).unwrap(), []);
}

#[test]
fn deliveries_must_suit_the_reward() {
    let ship = Delivery::Ship {
        address: ShippingAddress {
            recipient: " 张三 ".into(),
            phone: "138-0013-8000".into(),
            province: "上海市".into(),
            city: "上海市".into(),
            district: "黄浦区".into(),
            address: "南京东路1号".into(),
        },
    };
    let parsed = ship
        .parse_for(RewardKind::Goods, Some(Fulfilment::Ship))
        .unwrap();
    let Delivery::Ship { address } = parsed else {
        panic!("a shipment")
    };
    assert_eq!(
        (address.recipient.as_str(), address.phone.as_str()),
        ("张三", "+8613800138000")
    );
    let errors = ship
        .parse_for(RewardKind::Goods, Some(Fulfilment::Collect))
        .unwrap_err();
    assert_eq!(errors.0[0].code, "invalid_for_reward");
    assert!(Delivery::None.parse_for(RewardKind::Service, None).is_ok());
    assert!(
        Delivery::None
            .parse_for(RewardKind::Goods, Some(Fulfilment::ShipOrCollect))
            .is_err()
    );
    let bad = Delivery::Ship {
        address: ShippingAddress {
            recipient: String::new(),
            phone: "12".into(),
            province: String::new(),
            city: String::new(),
            district: String::new(),
            address: "x".repeat(301),
        },
    };
    let fields: Vec<String> = bad
        .parse_for(RewardKind::Goods, Some(Fulfilment::Ship))
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "delivery.address.recipient",
            "delivery.address.phone",
            "delivery.address.address"
        ]
    );
}

#[test]
fn the_state_machine_allows_the_documented_paths_only() {
    use RedemptionState as S;
    let ship = DeliveryMethod::Ship;
    let collect = DeliveryMethod::Collect;
    assert_eq!(next_state(S::Pending, Action::Ship, ship), Ok(S::Shipped));
    assert_eq!(
        next_state(S::Shipped, Action::Complete, ship),
        Ok(S::Completed)
    );
    assert_eq!(
        next_state(S::Pending, Action::Collect, collect),
        Ok(S::Collected)
    );
    assert_eq!(
        next_state(S::Collected, Action::Complete, collect),
        Ok(S::Completed)
    );
    assert_eq!(
        next_state(S::Shipped, Action::Cancel, ship),
        Ok(S::Cancelled)
    );
    assert!(next_state(S::Pending, Action::Ship, collect).is_err());
    assert!(next_state(S::Pending, Action::Collect, ship).is_err());
    assert!(next_state(S::Collected, Action::Cancel, collect).is_err());
    assert!(next_state(S::Completed, Action::Cancel, ship).is_err());
    assert!(next_state(S::Cancelled, Action::Cancel, ship).is_err());
    assert!(next_state(S::Pending, Action::Complete, ship).is_err());
    assert_eq!(initial_state(RewardKind::Donation), S::Completed);
    assert_eq!(initial_state(RewardKind::Goods), S::Pending);
    assert_eq!(
        next_state(S::Completed, Action::Cancel, DeliveryMethod::None)
            .unwrap_err()
            .to_string(),
        "cannot cancel a completed redemption"
    );
}

fn arb_state() -> impl Strategy<Value = RedemptionState> {
    prop::sample::select(RedemptionState::ALL.to_vec())
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

fn arb_method() -> impl Strategy<Value = DeliveryMethod> {
    prop::sample::select(DeliveryMethod::ALL.to_vec())
}

proptest! {
    /// Final states never move; cancelling happens at most once along any path, and only from
    /// a state where goods have not been handed over.
    #[test]
    fn final_states_are_final_and_cancel_happens_at_most_once(
        method in arb_method(),
        actions in prop::collection::vec(arb_action(), 0..12),
    ) {
        let mut state = RedemptionState::Pending;
        let mut cancels = 0;
        for action in actions {
            let before = state;
            if let Ok(next) = next_state(state, action, method) {
                prop_assert!(is_open(before));
                if next == RedemptionState::Cancelled {
                    cancels += 1;
                    prop_assert!(matches!(before, RedemptionState::Pending | RedemptionState::Shipped));
                }
                state = next;
            }
        }
        prop_assert!(cancels <= 1);
    }

    /// Any single transition leaves a state that is either open or final, and never goes back
    /// to pending.
    #[test]
    fn no_transition_returns_to_pending(state in arb_state(), action in arb_action(), method in arb_method()) {
        if let Ok(next) = next_state(state, action, method) {
            prop_assert_ne!(next, RedemptionState::Pending);
            prop_assert_ne!(next, state);
        }
        if !is_open(state) {
            prop_assert!(next_state(state, action, method).is_err());
        }
    }

    /// Eligibility is monotone in the tier: a member who qualifies still qualifies one tier up,
    /// and the window is half-open [from, until).
    #[test]
    fn eligibility_is_monotone_in_tier_and_half_open_in_time(
        rank in 0usize..6, required in 0usize..6, offset_s in -100_000i64..100_000,
        quantity in 1i64..=10,
    ) {
        let from = datetime!(2026-11-01 0:00 UTC);
        let until = datetime!(2026-11-02 0:00 UTC);
        let spec = RewardSpec {
            min_tier_code: Some("t".into()),
            available_from: Some(from),
            available_until: Some(until),
            ..goods()
        };
        let at = from + time::Duration::seconds(offset_s);
        let check = |rank: usize| Eligibility {
            reward: &spec,
            archived: false,
            member: MemberFacts { tier_rank: Some(rank), required_rank: Some(required) },
        }.check(quantity, at);
        let in_window = from <= at && at < until;
        prop_assert_eq!(check(rank).is_ok(), in_window && rank >= required);
        if check(rank).is_ok() {
            prop_assert!(check(rank + 1).is_ok());
        }
    }

    /// Valid prices stay valid after any in-range patch of points and cash; out-of-range ones
    /// are always caught.
    #[test]
    fn patched_prices_are_validated(points in -10i64..=MAX_POINTS + 10, cash in -10i64..1_000) {
        let patched = RewardPatch { points: Some(points), cash_fen: Some(cash), ..RewardPatch::default() }
            .apply(&goods());
        let valid = (1..=MAX_POINTS).contains(&points) && cash >= 0;
        prop_assert_eq!(patched.validate().is_ok(), valid);
    }

    /// Every instant has one period key per period, and instants in the same local day share
    /// their day, month and year keys.
    #[test]
    fn period_keys_are_stable_within_a_local_day(seconds in 946_684_800i64..4_102_444_800, within in 0i64..3600) {
        let tz = shanghai();
        let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let local_midnight_offset = (seconds + 8 * 3600).rem_euclid(86_400);
        let later = at + time::Duration::seconds(within.min(86_399 - local_midnight_offset));
        for period in LimitPeriod::ALL {
            let key = period_key(*period, at, &tz);
            prop_assert!(key.is_some());
            prop_assert_eq!(key, period_key(*period, later, &tz));
        }
    }
}
