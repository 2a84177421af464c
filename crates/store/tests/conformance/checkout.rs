//! Checkout storage: a checkout round-trips; it closes once, by compare-and-set from `reserved`
//! (confirming refused once expired, expiring refused before it is due); the expiry claim finds
//! only due reservations; a coupon is reserved once, released or used only from `reserved`;
//! the policy round-trips.

use crate::coupons::{coupon, insert};
use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use huiyuan_store::checkout::{self, Closing, HeldCoupon, StoredCheckout, StoredCheckoutPolicy};
use huiyuan_store::coupons;
use huiyuan_store::mall::PointsSource;
use huiyuan_store::utc_now;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

on_both!(
    checkouts_round_trip_and_close_once,
    the_expiry_claim_finds_only_due_reservations,
    coupons_are_reserved_once_and_leave_only_from_reserved,
    the_policy_round_trips,
);

fn checkout(expires_at: OffsetDateTime) -> StoredCheckout {
    let now = utc_now();
    StoredCheckout {
        id: Uuid::now_v7(),
        member_id: MemberId::new(),
        state: "reserved".to_owned(),
        format_id: Some(Uuid::now_v7()),
        store_id: None,
        channel_id: Some(Uuid::now_v7()),
        quote: json!({ "subtotal_fen": 1100, "cash_due_fen": 1000 }),
        coupons: vec![HeldCoupon {
            coupon_id: Uuid::now_v7(),
            discount_fen: 0,
        }],
        points: 100,
        points_value_fen: 100,
        cash_due_fen: 1000,
        hold_entry_id: Some(Uuid::now_v7()),
        points_sources: vec![PointsSource {
            format_id: None,
            points: 100,
        }],
        order_id: None,
        order_ref: None,
        cancel_reason: None,
        expires_at,
        created_at: now,
        updated_at: now,
        confirmed_at: None,
        closed_at: None,
    }
}

async fn save(db: &TestDb, tenant: TenantId, c: &StoredCheckout) {
    let mut s = db.write().await;
    checkout::insert(&mut s, tenant, c).await.unwrap();
    s.commit().await.unwrap();
}

async fn checkouts_round_trip_and_close_once(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let now = utc_now();
    let c = checkout(now + Duration::minutes(15));
    save(&db, tenant, &c).await;
    let mut r = db.read().await;
    assert_eq!(
        checkout::get(&mut r, tenant, c.id).await.unwrap(),
        Some(c.clone())
    );
    drop(r);

    let mut s = db.write().await;
    let order = OrderId::new();
    let confirm = Closing::Confirmed {
        order_id: Some(order),
        order_ref: Some("T-1".into()),
    };
    // Not due yet: expiry refused; after the hold: confirmation refused.
    assert!(
        !checkout::close(&mut s, tenant, c.id, &Closing::Expired, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::close(&mut s, tenant, c.id, &confirm, c.expires_at)
            .await
            .unwrap()
    );
    assert!(
        checkout::close(&mut s, tenant, c.id, &confirm, now)
            .await
            .unwrap()
    );
    let cancel = Closing::Cancelled { reason: None };
    assert!(
        !checkout::close(&mut s, tenant, c.id, &cancel, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::close(&mut s, tenant, c.id, &confirm, now)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let mut r = db.read().await;
    let closed = checkout::get(&mut r, tenant, c.id).await.unwrap().unwrap();
    assert_eq!(
        (
            closed.state.as_str(),
            closed.order_id,
            closed.order_ref.as_deref(),
            closed.confirmed_at
        ),
        ("confirmed", Some(order), Some("T-1"), Some(now))
    );

    // Another tenant sees nothing.
    let other = seed_tenant(&db).await;
    assert_eq!(checkout::get(&mut r, other, c.id).await.unwrap(), None);
}

async fn the_expiry_claim_finds_only_due_reservations(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let now = utc_now();
    let due = checkout(now - Duration::minutes(1));
    let later = checkout(now + Duration::minutes(10));
    let cancelled = checkout(now - Duration::minutes(2));
    for c in [&due, &later, &cancelled] {
        save(&db, tenant, c).await;
    }
    let mut s = db.write().await;
    let cancel = Closing::Cancelled {
        reason: Some("changed mind".into()),
    };
    assert!(
        checkout::close(&mut s, tenant, cancelled.id, &cancel, now)
            .await
            .unwrap()
    );
    assert_eq!(
        checkout::claim_expired(&mut s, tenant, now, 10)
            .await
            .unwrap(),
        vec![due.id]
    );
    assert!(
        checkout::close(&mut s, tenant, due.id, &Closing::Expired, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::close(&mut s, tenant, due.id, &Closing::Expired, now)
            .await
            .unwrap()
    );
    assert!(
        checkout::claim_expired(&mut s, tenant, now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let much_later = now + Duration::hours(1);
    assert_eq!(
        checkout::claim_expired(&mut s, tenant, much_later, 10)
            .await
            .unwrap(),
        vec![later.id]
    );
    s.commit().await.unwrap();
    let mut r = db.read().await;
    let gone = checkout::get(&mut r, tenant, cancelled.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (gone.state.as_str(), gone.cancel_reason.as_deref()),
        ("cancelled", Some("changed mind"))
    );
}

async fn coupons_are_reserved_once_and_leave_only_from_reserved(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let now = utc_now();
    let c = coupon(
        MemberId::new(),
        Uuid::now_v7(),
        "RRRRBBBBCCCCDDDD",
        now + Duration::days(1),
    );
    assert!(insert(&db, tenant, &c).await);
    let mut s = db.write().await;
    let redemption = Uuid::now_v7();
    // Not reserved: neither released nor used from a hold; the till cannot take it once held.
    assert!(
        !checkout::release_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::use_reserved_coupon(&mut s, tenant, c.id, redemption, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::reserve_coupon(&mut s, tenant, c.id, c.expires_at)
            .await
            .unwrap()
    );
    assert!(
        checkout::reserve_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::reserve_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        !coupons::mark_used(&mut s, tenant, c.id, redemption, now)
            .await
            .unwrap()
    );
    assert!(
        checkout::release_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::release_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        checkout::reserve_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    assert!(
        checkout::use_reserved_coupon(&mut s, tenant, c.id, redemption, now)
            .await
            .unwrap()
    );
    assert!(
        !checkout::release_coupon(&mut s, tenant, c.id, now)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let mut r = db.read().await;
    let used = coupons::coupon_by_id(&mut r, tenant, c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (used.state.as_str(), used.redemption_id),
        ("used", Some(redemption))
    );
}

async fn the_policy_round_trips(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut r = db.read().await;
    assert_eq!(checkout::policy(&mut r, tenant).await.unwrap(), None);
    drop(r);
    for percent in [30, 100] {
        let policy = StoredCheckoutPolicy {
            max_share_percent: percent,
            points_unit: 10,
            hold_minutes: 5,
            updated_at: utc_now(),
        };
        let mut s = db.write().await;
        checkout::put_policy(&mut s, tenant, &policy).await.unwrap();
        s.commit().await.unwrap();
        let mut r = db.read().await;
        assert_eq!(
            checkout::policy(&mut r, tenant).await.unwrap(),
            Some(policy)
        );
    }
}
