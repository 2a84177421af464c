//! Orders, refunds, rule counters and earning rules on both databases: the channel's order id is
//! unique, refunded quantities never pass what was bought, counters sum over half-open windows.

use crate::fixtures;
use crate::harness::TestDb;
use huiyuan_domain::earning::{Accrual, EarningRuleInput, Effect, LinePoints};
use huiyuan_domain::ids::{MemberId, OrderId};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::earning_rules::{self, StoredRule};
use huiyuan_store::orders::{
    self, RefundedLine, RuleAccrual, StoredLine, StoredOrder, StoredPayment, StoredRefund,
};
use huiyuan_store::utc_now;
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

on_both!(
    orders_round_trip_and_are_unique_per_channel,
    refunds_are_guarded_and_unique,
    rule_counters_sum_over_windows,
    earning_rules_round_trip
);

pub(crate) fn order(
    channel: Uuid,
    format: Uuid,
    external_id: &str,
    member: Option<MemberId>,
) -> StoredOrder {
    let now = utc_now();
    StoredOrder {
        id: OrderId::new(),
        member_id: member,
        channel_id: channel,
        external_id: external_id.to_owned(),
        store_id: None,
        format_id: format,
        guide_id: None,
        occurred_at: datetime!(2026-11-21 10:00:00.123456 +08:00),
        total_fen: 12_900,
        paid_by_points_fen: 900,
        paid_by_coupons_fen: 0,
        refunded_fen: 0,
        status: "completed".to_owned(),
        points_earned: 0,
        points_reversed: 0,
        accrual: None,
        claimed_at: None,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn line(line_no: i64, quantity: i64, amount_fen: i64) -> StoredLine {
    StoredLine {
        line_no,
        sku: format!("SKU-{line_no}"),
        name: "商品".to_owned(),
        category_path: vec!["beauty".to_owned(), "skincare".to_owned()],
        quantity,
        unit_price_fen: amount_fen / quantity,
        amount_fen,
        excluded: line_no == 3,
        refunded_quantity: 0,
        refunded_fen: 0,
        points_earned: 0,
    }
}

async fn orders_round_trip_and_are_unique_per_channel(db: TestDb) {
    let tenant = fixtures::seed_tenant(&db).await;
    let other = fixtures::seed_tenant(&db).await;
    let (channel, format) = (Uuid::now_v7(), Uuid::now_v7());
    let posted = order(channel, format, "A-1", None);
    let lines = [line(1, 2, 10_000), line(2, 1, 2_900)];
    let payments = [
        StoredPayment {
            method: "wechat_pay".to_owned(),
            amount_fen: 12_000,
        },
        StoredPayment {
            method: "points".to_owned(),
            amount_fen: 900,
        },
    ];
    let mut s = db.write().await;
    assert!(
        orders::insert_order(&mut s, tenant, &posted, &lines, &payments)
            .await
            .unwrap()
    );
    let twin = order(channel, format, "A-1", None);
    assert!(
        !orders::insert_order(&mut s, tenant, &twin, &lines, &payments)
            .await
            .unwrap(),
        "same channel and external id"
    );
    assert!(
        orders::insert_order(
            &mut s,
            tenant,
            &order(Uuid::now_v7(), format, "A-1", None),
            &lines,
            &[]
        )
        .await
        .unwrap()
    );
    assert_eq!(
        orders::get_order(&mut s, tenant, posted.id).await.unwrap(),
        Some(posted.clone())
    );
    assert_eq!(
        orders::order_by_external_id(&mut s, tenant, channel, "A-1")
            .await
            .unwrap()
            .map(|o| o.id),
        Some(posted.id)
    );
    assert_eq!(
        orders::order_lines(&mut s, tenant, posted.id)
            .await
            .unwrap(),
        lines
    );
    assert_eq!(
        orders::order_payments(&mut s, tenant, posted.id)
            .await
            .unwrap(),
        payments
    );

    let accrual = Accrual {
        total_points: 120,
        per_line: vec![
            LinePoints {
                line_no: 1,
                points: 100,
            },
            LinePoints {
                line_no: 2,
                points: 20,
            },
        ],
        fired: Vec::new(),
        order_capped: false,
    };
    let now = utc_now();
    orders::set_accrual(&mut s, tenant, posted.id, &accrual, now)
        .await
        .unwrap();
    let member = MemberId::new();
    assert!(
        orders::claim_order(&mut s, tenant, posted.id, member, now)
            .await
            .unwrap()
    );
    assert!(
        !orders::claim_order(&mut s, tenant, posted.id, MemberId::new(), now)
            .await
            .unwrap(),
        "claimed once"
    );
    let stored = orders::get_order(&mut s, tenant, posted.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.member_id,
            stored.points_earned,
            stored.accrual,
            stored.claimed_at
        ),
        (Some(member), 120, Some(accrual), Some(now))
    );
    let points: Vec<i64> = orders::order_lines(&mut s, tenant, posted.id)
        .await
        .unwrap()
        .iter()
        .map(|l| l.points_earned)
        .collect();
    assert_eq!(points, [100, 20]);
    // Another tenant sees nothing.
    assert_eq!(
        orders::get_order(&mut s, other, posted.id).await.unwrap(),
        None
    );
    s.commit().await.unwrap();
}

async fn refunds_are_guarded_and_unique(db: TestDb) {
    let tenant = fixtures::seed_tenant(&db).await;
    let posted = order(Uuid::now_v7(), Uuid::now_v7(), "A-1", Some(MemberId::new()));
    let mut s = db.write().await;
    orders::insert_order(&mut s, tenant, &posted, &[line(1, 2, 10_000)], &[])
        .await
        .unwrap();
    assert!(
        orders::refund_line(&mut s, tenant, posted.id, 1, 0, 1, 5_000)
            .await
            .unwrap()
    );
    assert!(
        !orders::refund_line(&mut s, tenant, posted.id, 1, 0, 1, 5_000)
            .await
            .unwrap(),
        "stale expected quantity"
    );
    assert!(
        !orders::refund_line(&mut s, tenant, posted.id, 1, 1, 2, 5_000)
            .await
            .unwrap(),
        "more than bought"
    );
    assert!(
        !orders::refund_line(&mut s, tenant, posted.id, 1, 1, 1, 5_001)
            .await
            .unwrap(),
        "more than paid"
    );
    assert!(
        orders::refund_line(&mut s, tenant, posted.id, 1, 1, 1, 5_000)
            .await
            .unwrap()
    );
    let stored = &orders::order_lines(&mut s, tenant, posted.id)
        .await
        .unwrap()[0];
    assert_eq!((stored.refunded_quantity, stored.refunded_fen), (2, 10_000));

    assert!(
        orders::add_refund_totals(
            &mut s,
            tenant,
            posted.id,
            10_000,
            80,
            "partially_refunded",
            utc_now()
        )
        .await
        .unwrap()
    );
    assert!(
        !orders::add_refund_totals(&mut s, tenant, posted.id, 3_000, 0, "refunded", utc_now())
            .await
            .unwrap(),
        "past the total"
    );
    let refund = StoredRefund {
        id: Uuid::now_v7(),
        order_id: posted.id,
        external_refund_id: "R1".to_owned(),
        lines: vec![RefundedLine {
            line_no: 1,
            quantity: 2,
            amount_fen: 10_000,
            points: 100,
        }],
        amount_fen: 10_000,
        points_reversed: 80,
        unrecovered: 20,
        explanation: "80 from the order's own points; 20 not recovered".to_owned(),
        created_at: utc_now(),
    };
    assert!(
        orders::insert_refund(&mut s, tenant, &refund)
            .await
            .unwrap()
    );
    let twin = StoredRefund {
        id: Uuid::now_v7(),
        ..refund.clone()
    };
    assert!(
        !orders::insert_refund(&mut s, tenant, &twin).await.unwrap(),
        "same external refund id"
    );
    assert_eq!(
        orders::refund_by_external_id(&mut s, tenant, posted.id, "R1")
            .await
            .unwrap(),
        Some(refund.clone())
    );
    assert_eq!(
        orders::order_refunds(&mut s, tenant, posted.id)
            .await
            .unwrap(),
        [refund]
    );
    let stored = orders::get_order(&mut s, tenant, posted.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.refunded_fen,
            stored.points_reversed,
            stored.status.as_str()
        ),
        (10_000, 80, "partially_refunded")
    );
    s.commit().await.unwrap();
}

async fn rule_counters_sum_over_windows(db: TestDb) {
    let tenant = fixtures::seed_tenant(&db).await;
    let (member, rule) = (MemberId::new(), Uuid::now_v7());
    let day = datetime!(2026-11-21 00:00 +08:00);
    let mut s = db.write().await;
    for (offset_minutes, points, rule_id) in [
        (-1, 7, rule),
        (0, 10, rule),
        (60, 5, rule),
        (60, 3, Uuid::now_v7()),
        (24 * 60 - 1, -4, rule),
        (24 * 60, 100, rule),
    ] {
        let row = RuleAccrual {
            id: Uuid::now_v7(),
            member_id: member,
            rule_id,
            order_id: OrderId::new(),
            points,
            occurred_at: day + Duration::minutes(offset_minutes),
        };
        orders::insert_rule_accrual(&mut s, tenant, &row)
            .await
            .unwrap();
    }
    let window = Some((day, day + Duration::days(1)));
    assert_eq!(
        orders::rule_earned(&mut s, tenant, member, rule, window)
            .await
            .unwrap(),
        11,
        "start included, end excluded, refunds subtract"
    );
    assert_eq!(
        orders::rule_earned(&mut s, tenant, member, rule, None)
            .await
            .unwrap(),
        118
    );
    assert_eq!(
        orders::rule_earned(&mut s, tenant, MemberId::new(), rule, None)
            .await
            .unwrap(),
        0
    );
    s.commit().await.unwrap();
}

async fn earning_rules_round_trip(db: TestDb) {
    let tenant = fixtures::seed_tenant(&db).await;
    let input = |name: &str, priority: i32, enabled: bool| EarningRuleInput {
        name: name.to_owned(),
        priority,
        enabled,
        conditions: Default::default(),
        effect: Effect::PointsPerYuan {
            points: 1,
            per_fen: 100,
        },
        caps: Default::default(),
        stacking: Default::default(),
        active_from: None,
        active_until: None,
    };
    let now = utc_now();
    let mut s = db.write().await;
    let mut saved = Vec::new();
    for (name, priority, enabled) in [("Base", 0, true), ("Paused", 5, false), ("Format", 9, true)]
    {
        let rule = input(name, priority, enabled)
            .into_rule(Uuid::now_v7())
            .unwrap();
        let stored = StoredRule {
            rule,
            created_at: now,
            updated_at: now,
        };
        earning_rules::insert_rule(&mut s, tenant, &stored)
            .await
            .unwrap();
        saved.push(stored);
    }
    assert_eq!(
        earning_rules::get_rule(&mut s, tenant, saved[0].rule.id)
            .await
            .unwrap(),
        Some(saved[0].clone())
    );
    let enabled: Vec<String> = earning_rules::enabled_rules(&mut s, tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        enabled,
        ["Format", "Base"],
        "highest priority first, paused left out"
    );
    assert_eq!(
        earning_rules::count_enabled(&mut s, tenant).await.unwrap(),
        2
    );
    let page =
        earning_rules::list_rules(&mut s, tenant, PageRequest::parse(Some(2), None).unwrap())
            .await
            .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.next_cursor.is_some());
    let mut resumed = saved[1].clone();
    resumed.rule.enabled = true;
    resumed.updated_at = now + Duration::seconds(1);
    assert!(
        earning_rules::update_rule(&mut s, tenant, &resumed)
            .await
            .unwrap()
    );
    assert_eq!(
        earning_rules::count_enabled(&mut s, tenant).await.unwrap(),
        3
    );
    let mut missing = resumed.clone();
    missing.rule.id = Uuid::now_v7();
    assert!(
        !earning_rules::update_rule(&mut s, tenant, &missing)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
}
