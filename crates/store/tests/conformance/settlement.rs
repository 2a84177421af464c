//! Settlement storage on both databases: policies and split rules round-trip per tenant; a
//! period's sums are aggregates over the time entries were recorded, with spent draws joined to
//! the lots (and formats) they came from; statements close once and never overlap; merchant lines
//! and the order list answer within a scope.

use crate::fixtures::seed_tenant;
use crate::harness::{TestDb, walk_pages};
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{LotId, MemberId, OrderId, StoreId, TenantId};
use huiyuan_domain::ledger::Draw;
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::ledger::{self, Entry, StoredLot};
use huiyuan_store::orders::{self, OrderFilter, StoredOrder};
use huiyuan_store::settlement::{
    MerchantLine, StatementHeader, StoredSettlementPolicy, StoredSplitRule, StoredStatement,
    figures, policy, statements,
};
use huiyuan_store::{Session, utc_now};
use std::collections::BTreeSet;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

on_both!(
    policies_and_split_rules_round_trip_per_tenant,
    period_sums_aggregate_by_recorded_time_and_issuing_format,
    statements_close_once_and_never_overlap,
    orders_list_within_a_scope_and_filters,
);

async fn policies_and_split_rules_round_trip_per_tenant(db: TestDb) {
    let (tenant, other) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let now = utc_now();
    let mut s = db.write().await;
    assert_eq!(policy::get_policy(&mut s, tenant).await.unwrap(), None);
    let wanted = StoredSettlementPolicy {
        mode: "independent".to_owned(),
        rate_fen: 80,
        rate_per_points: 100,
        updated_at: now,
    };
    policy::put_policy(&mut s, tenant, &wanted).await.unwrap();
    policy::take_close_turn(&mut s, tenant, &wanted)
        .await
        .unwrap();
    assert_eq!(
        policy::get_policy(&mut s, tenant).await.unwrap(),
        Some(wanted.clone())
    );
    // A first close creates the row with the defaults given.
    policy::take_close_turn(&mut s, other, &wanted)
        .await
        .unwrap();
    assert_eq!(
        policy::get_policy(&mut s, other).await.unwrap(),
        Some(wanted.clone())
    );
    let changed = StoredSettlementPolicy {
        mode: "hq_funded".to_owned(),
        ..wanted
    };
    policy::put_policy(&mut s, tenant, &changed).await.unwrap();
    assert_eq!(
        policy::get_policy(&mut s, tenant).await.unwrap(),
        Some(changed)
    );

    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let rule = StoredSplitRule {
        store_id: a,
        cash_commission_bps: 500,
        points_commission_bps: 0,
        points_rate_fen: 1,
        points_rate_per_points: 1,
        updated_at: now,
    };
    policy::put_split(&mut s, tenant, &rule).await.unwrap();
    let updated = StoredSplitRule {
        cash_commission_bps: 800,
        ..rule.clone()
    };
    policy::put_split(&mut s, tenant, &updated).await.unwrap();
    policy::put_split(
        &mut s,
        tenant,
        &StoredSplitRule {
            store_id: b,
            ..rule.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        policy::get_split(&mut s, tenant, a).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(policy::get_split(&mut s, other, a).await.unwrap(), None);
    let mut found = policy::splits_of(&mut s, tenant, &[a, b, Uuid::now_v7()])
        .await
        .unwrap();
    found.sort_by_key(|r| r.store_id);
    assert_eq!(found.iter().map(|r| r.store_id).collect::<Vec<_>>(), [a, b]);
    assert!(
        policy::splits_of(&mut s, tenant, &[])
            .await
            .unwrap()
            .is_empty()
    );
    s.commit().await.unwrap();
}

#[allow(clippy::too_many_arguments)] // one argument per fact of the entry
async fn post(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    kind: &str,
    amount: i64,
    (debit, credit): (&str, &str),
    format: Option<Uuid>,
    draws: Vec<Draw>,
    at: OffsetDateTime,
) {
    let entry = Entry {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        amount,
        debit_account: debit.to_owned(),
        credit_account: credit.to_owned(),
        format_id: format,
        reference: None,
        reason: kind.to_owned(),
        draws,
        natural_key: None,
        created_at: at,
    };
    assert!(ledger::insert_entry(s, tenant, &entry).await.unwrap());
}

async fn lot(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    format: Option<Uuid>,
    points: i64,
    at: OffsetDateTime,
) -> LotId {
    let lot = StoredLot {
        id: LotId::new(),
        member_id: member,
        entry_id: Uuid::now_v7(),
        format_id: format,
        earned_at: at,
        available_at: at,
        expires_at: None,
        pending: false,
        original: points,
        remaining: points,
    };
    ledger::insert_lot(s, tenant, &lot).await.unwrap();
    lot.id
}

async fn period_sums_aggregate_by_recorded_time_and_issuing_format(db: TestDb) {
    let (tenant, other) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let (fa, fb) = (Uuid::now_v7(), Uuid::now_v7());
    let (issuance_a, redemption_b) = (format!("issuance:{fa}"), format!("redemption:{fb}"));
    let (member, survivor) = (MemberId::new(), MemberId::new());
    let (from, until) = (
        datetime!(2026-11-01 00:00 UTC),
        datetime!(2026-12-01 00:00 UTC),
    );
    let inside = datetime!(2026-11-15 12:00 UTC);
    let mut s = db.write().await;
    let lot_a = lot(&mut s, tenant, member, Some(fa), 300, inside).await;
    // A group lot that a merge has since moved to another member: still found by id.
    let lot_group = lot(&mut s, tenant, survivor, None, 50, inside).await;
    post(
        &mut s,
        tenant,
        member,
        "earn",
        300,
        (&issuance_a, "member.available"),
        Some(fa),
        vec![],
        inside,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "adjust",
        50,
        ("adjustment", "member.available"),
        None,
        vec![],
        inside,
    )
    .await;
    let spent = vec![
        Draw {
            lot_id: lot_a,
            points: 100,
        },
        Draw {
            lot_id: lot_group,
            points: 20,
        },
    ];
    post(
        &mut s,
        tenant,
        member,
        "redeem",
        120,
        ("member.available", &redemption_b),
        Some(fb),
        spent,
        inside,
    )
    .await;
    let back = vec![Draw {
        lot_id: lot_a,
        points: 30,
    }];
    post(
        &mut s,
        tenant,
        member,
        "reversal",
        30,
        (&redemption_b, "member.available"),
        Some(fb),
        back,
        inside,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "clawback",
        40,
        ("member.available", &issuance_a),
        Some(fa),
        vec![],
        inside,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "expire",
        25,
        ("member.available", "expiry"),
        Some(fa),
        vec![Draw {
            lot_id: lot_a,
            points: 25,
        }],
        inside,
    )
    .await;
    // Outside the period (the end is exclusive), and another tenant's: not counted.
    post(
        &mut s,
        tenant,
        member,
        "earn",
        7,
        (&issuance_a, "member.available"),
        Some(fa),
        vec![],
        until,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "earn",
        9,
        (&issuance_a, "member.available"),
        Some(fa),
        vec![],
        from - Duration::microseconds(1),
    )
    .await;
    post(
        &mut s,
        other,
        member,
        "earn",
        11,
        (&issuance_a, "member.available"),
        Some(fa),
        vec![],
        inside,
    )
    .await;
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let flows = figures::account_flows(&mut s, tenant, from, until)
        .await
        .unwrap();
    let flow = |account: &str| {
        flows
            .iter()
            .find(|f| f.account == account)
            .map(|f| (f.debited, f.credited))
    };
    assert_eq!(flow(&issuance_a), Some((300, 40)));
    assert_eq!(flow(&redemption_b), Some((30, 120)));
    assert_eq!(flow("adjustment"), Some((50, 0)));
    assert_eq!(flow("expiry"), Some((0, 25)));
    assert_eq!(
        flow("member.available"),
        Some((120 + 40 + 25, 300 + 50 + 30))
    );
    assert_eq!(
        figures::expired_by_format(&mut s, tenant, from, until)
            .await
            .unwrap(),
        [(Some(fa), 25)]
    );
    let mut claims: Vec<(String, Option<Uuid>, i64)> =
        figures::claims_by_issuer(&mut s, tenant, from, until)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.account, c.issuing_format_id, c.points))
            .collect();
    claims.sort();
    let mut expected = vec![
        (redemption_b.clone(), Some(fa), 70),
        (redemption_b.clone(), None, 20),
    ];
    expected.sort();
    assert_eq!(claims, expected);
    assert!(
        figures::account_flows(&mut s, tenant, until, until + Duration::days(1))
            .await
            .unwrap()
            .len()
            == 2
    );
    assert!(
        figures::coupon_costs(&mut s, tenant, from, until)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        figures::mall_supply(&mut s, tenant, from, until)
            .await
            .unwrap()
            .is_empty()
    );
}

fn statement(start: OffsetDateTime, end: OffsetDateTime) -> StoredStatement {
    StoredStatement {
        header: StatementHeader {
            id: Uuid::now_v7(),
            period_start: start,
            period_end: end,
            status: "draft".to_owned(),
            mode: "hq_funded".to_owned(),
            created_at: utc_now(),
            closed_at: None,
        },
        figures: serde_json::json!({ "formats": [] }),
    }
}

fn merchant_line(statement: Uuid, store: Uuid, format: Uuid) -> MerchantLine {
    MerchantLine {
        statement_id: statement,
        store_id: store,
        format_id: Some(format),
        redemptions: 1,
        points: 100,
        cash_fen: 500,
        points_value_fen: 100,
        gross_fen: 600,
        platform_fen: 50,
        merchant_fen: 550,
        coupon_cost_fen: 0,
        rule: serde_json::json!({ "cash_commission_bps": 1000 }),
    }
}

async fn statements_close_once_and_never_overlap(db: TestDb) {
    let (tenant, other) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let (nov, dec, jan) = (
        datetime!(2026-11-01 0:00 UTC),
        datetime!(2026-12-01 0:00 UTC),
        datetime!(2027-01-01 0:00 UTC),
    );
    let (first, overlapping, next) = (
        statement(nov, dec),
        statement(nov + Duration::days(10), jan),
        statement(dec, jan),
    );
    let (store_a, store_b, format) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut s = db.write().await;
    for st in [&first, &overlapping, &next] {
        statements::insert_statement(&mut s, tenant, st)
            .await
            .unwrap();
    }
    statements::insert_statement(&mut s, other, &statement(nov, jan))
        .await
        .unwrap();
    for store in [store_a, store_b] {
        statements::insert_merchant_line(
            &mut s,
            tenant,
            &merchant_line(first.header.id, store, format),
        )
        .await
        .unwrap();
    }
    statements::insert_merchant_line(
        &mut s,
        tenant,
        &merchant_line(next.header.id, store_a, format),
    )
    .await
    .unwrap();
    assert_eq!(
        statements::overlapping_closed(&mut s, tenant, nov, jan)
            .await
            .unwrap(),
        None
    );
    let now = utc_now();
    assert!(
        statements::close_statement(&mut s, tenant, first.header.id, now)
            .await
            .unwrap()
    );
    assert!(
        !statements::close_statement(&mut s, tenant, first.header.id, now)
            .await
            .unwrap(),
        "closes once"
    );
    assert!(
        !statements::close_statement(&mut s, tenant, overlapping.header.id, now)
            .await
            .unwrap(),
        "overlaps"
    );
    assert!(
        statements::close_statement(&mut s, tenant, next.header.id, now)
            .await
            .unwrap(),
        "touching is fine"
    );
    assert_eq!(
        statements::overlapping_closed(
            &mut s,
            tenant,
            nov + Duration::days(3),
            nov + Duration::days(4)
        )
        .await
        .unwrap(),
        Some(first.header.id)
    );
    assert_eq!(
        statements::overlapping_closed(&mut s, other, nov, jan)
            .await
            .unwrap(),
        None
    );
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let stored = statements::get_statement(&mut s, tenant, first.header.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.header.status.as_str(), stored.header.closed_at),
        ("closed", Some(now))
    );
    assert_eq!(stored.figures, first.figures);
    assert_eq!(
        statements::get_statement(&mut s, other, first.header.id)
            .await
            .unwrap(),
        None
    );
    let dbr = &db;
    let closed = walk_pages(1, |page| async move {
        let mut s = dbr.read().await;
        statements::list_statements(&mut s, tenant, Some("closed"), page).await
    })
    .await;
    assert_eq!(
        closed.iter().map(|h| h.id).collect::<Vec<_>>(),
        [first.header.id, next.header.id]
    );
    let mut s = db.read().await;
    let drafts = statements::list_statements(
        &mut s,
        tenant,
        Some("draft"),
        PageRequest::parse(None, None).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        drafts.items.iter().map(|h| h.id).collect::<Vec<_>>(),
        [overlapping.header.id]
    );

    let only_a = ScopePredicate::StoreIn(BTreeSet::from([StoreId(store_a)]));
    let lines = statements::merchant_lines(&mut s, tenant, first.header.id, &only_a, 100)
        .await
        .unwrap();
    assert_eq!(lines, [merchant_line(first.header.id, store_a, format)]);
    assert_eq!(
        statements::merchant_lines(&mut s, tenant, first.header.id, &ScopePredicate::Any, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        statements::merchant_lines(&mut s, other, first.header.id, &ScopePredicate::Any, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let across = walk_pages(1, |page| async move {
        let mut s = dbr.read().await;
        statements::store_lines(&mut s, tenant, store_a, page).await
    })
    .await;
    assert_eq!(
        across.iter().map(|l| l.statement_id).collect::<Vec<_>>(),
        [first.header.id, next.header.id]
    );
}

fn order(
    store: Option<Uuid>,
    format: Uuid,
    member: Option<MemberId>,
    external: &str,
    occurred_at: OffsetDateTime,
) -> StoredOrder {
    let now = utc_now();
    StoredOrder {
        id: OrderId::new(),
        member_id: member,
        channel_id: Uuid::nil(),
        external_id: external.to_owned(),
        store_id: store,
        format_id: format,
        guide_id: None,
        occurred_at,
        total_fen: 1_000,
        paid_by_points_fen: 0,
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

async fn orders_list_within_a_scope_and_filters(db: TestDb) {
    let (tenant, other) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let (a, b, format, member) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        MemberId::new(),
    );
    let t = datetime!(2026-11-20 10:00 UTC);
    let at_a = order(Some(a), format, Some(member), "A-1", t);
    let later_a = order(Some(a), format, None, "A-2", t + Duration::days(2));
    let at_b = order(Some(b), format, Some(member), "B-1", t);
    let mut s = db.write().await;
    for o in [&at_a, &later_a, &at_b] {
        assert!(
            orders::insert_order(&mut s, tenant, o, &[], &[])
                .await
                .unwrap()
        );
    }
    assert!(
        orders::insert_order(
            &mut s,
            other,
            &order(Some(a), format, None, "X", t),
            &[],
            &[]
        )
        .await
        .unwrap()
    );
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let page = PageRequest::parse(None, None).unwrap();
    let ids = |found: huiyuan_domain::paging::Page<StoredOrder>| {
        found.items.into_iter().map(|o| o.id).collect::<Vec<_>>()
    };
    let everything = orders::list_orders(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        &OrderFilter::default(),
        page,
    )
    .await
    .unwrap();
    assert_eq!(ids(everything), [at_a.id, later_a.id, at_b.id]);
    let store_a = ScopePredicate::StoreIn(BTreeSet::from([StoreId(a)]));
    let scoped = orders::list_orders(&mut s, tenant, &store_a, &OrderFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(ids(scoped), [at_a.id, later_a.id]);
    let foreign = OrderFilter {
        store_id: Some(b),
        ..OrderFilter::default()
    };
    assert!(
        orders::list_orders(&mut s, tenant, &store_a, &foreign, page)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let by_member = OrderFilter {
        member_id: Some(member),
        ..OrderFilter::default()
    };
    assert_eq!(
        ids(
            orders::list_orders(&mut s, tenant, &ScopePredicate::Any, &by_member, page)
                .await
                .unwrap()
        ),
        [at_a.id, at_b.id]
    );
    let window = OrderFilter {
        from: Some(t + Duration::days(1)),
        until: Some(t + Duration::days(3)),
        ..OrderFilter::default()
    };
    assert_eq!(
        ids(
            orders::list_orders(&mut s, tenant, &ScopePredicate::Any, &window, page)
                .await
                .unwrap()
        ),
        [later_a.id]
    );
    let dbr = &db;
    let paged = walk_pages(1, |page| async move {
        let mut s = dbr.read().await;
        orders::list_orders(
            &mut s,
            tenant,
            &ScopePredicate::Any,
            &OrderFilter::default(),
            page,
        )
        .await
    })
    .await;
    assert_eq!(paged.len(), 3);
}
