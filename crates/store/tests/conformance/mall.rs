//! Points mall storage on both databases: rewards round-trip and list within a scope; stock and
//! per-member limit counters are taken only while enough is left, also by concurrent writers;
//! redemption states change only from the state read.

use crate::fixtures::seed_tenant;
use crate::harness::{TestDb, walk_pages};
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{FormatId, MemberId, RewardId, StoreId, TenantId};
use huiyuan_domain::mall::{RewardKind, RewardSpec};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::mall::{
    PointsSource, RedemptionFilter, RewardFilter, StoredRedemption, StoredReward, limits,
    redemptions, rewards,
};
use huiyuan_store::members::merges;
use huiyuan_store::utc_now;
use std::collections::BTreeSet;
use time::macros::datetime;
use uuid::Uuid;

on_both!(
    rewards_round_trip_and_list_within_a_scope,
    stock_is_taken_only_while_enough_is_left,
    concurrent_takers_never_take_more_than_the_stock,
    limit_counters_never_exceed_their_limit,
    redemption_states_change_only_from_the_state_read,
    counters_and_redemptions_follow_a_merge,
    sealed_addresses_are_walked_and_resealed_only_if_unchanged,
);

fn spec(name: &str) -> RewardSpec {
    serde_json::from_value(serde_json::json!({
        "kind": "goods", "name": name, "points": 100, "fulfilment": "ship",
    }))
    .unwrap()
}

fn reward(spec: RewardSpec, stock: Option<i64>) -> StoredReward {
    let now = utc_now();
    StoredReward {
        id: RewardId::new(),
        spec,
        stock,
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

async fn insert(db: &TestDb, tenant: TenantId, reward: &StoredReward) {
    let mut s = db.write().await;
    rewards::insert(&mut s, tenant, reward).await.unwrap();
    s.commit().await.unwrap();
}

async fn rewards_round_trip_and_list_within_a_scope(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let (format, store) = (FormatId::new(), StoreId::new());
    let group = reward(spec("集团"), None);
    let mut of_format = reward(spec("业态"), Some(0));
    of_format.spec.format_id = Some(format);
    let mut of_store = reward(spec("商户"), Some(5));
    of_store.spec.supplier_store_id = Some(store);
    of_store.spec.supplier_format_id = Some(format);
    of_store.spec.kind = RewardKind::Service;
    of_store.spec.fulfilment = None;
    let mut later = reward(spec("未开始"), None);
    later.spec.available_from = Some(datetime!(2099-01-01 0:00 UTC));
    for r in [&group, &of_format, &of_store, &later] {
        insert(&db, tenant, r).await;
    }
    insert(&db, other, &reward(spec("别家"), None)).await;

    let mut s = db.read().await;
    let stored = rewards::get(&mut s, tenant, of_store.id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&of_store));
    assert_eq!(
        rewards::get(&mut s, other, of_store.id).await.unwrap(),
        None
    );
    let db = &db;
    let all = walk_pages(2, |page| async move {
        let mut s = db.read().await;
        rewards::list(
            &mut s,
            tenant,
            &ScopePredicate::Any,
            RewardFilter::default(),
            page,
        )
        .await
    })
    .await;
    assert_eq!(all.len(), 4);
    let mut s = db.read().await;
    let only_store = ScopePredicate::StoreIn(BTreeSet::from([store]));
    let names = |page: Vec<StoredReward>| -> Vec<String> {
        page.into_iter().map(|r| r.spec.name).collect()
    };
    let mine = rewards::list(
        &mut s,
        tenant,
        &only_store,
        RewardFilter::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(names(mine.items), ["商户"]);
    let by_format = ScopePredicate::FormatIn(BTreeSet::from([format]));
    let of = rewards::list(
        &mut s,
        tenant,
        &by_format,
        RewardFilter::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(names(of.items), ["业态", "商户"]);
    let services = RewardFilter {
        kind: Some(RewardKind::Service),
        ..RewardFilter::default()
    };
    let found = rewards::list(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        services,
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(names(found.items), ["商户"]);
    let now = RewardFilter {
        available_at: Some(utc_now()),
        ..RewardFilter::default()
    };
    let available = rewards::list(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        now,
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(
        names(available.items),
        ["集团", "商户"],
        "out of stock and not yet open are hidden"
    );

    let mut w = db.write().await;
    assert!(
        rewards::set_archived(&mut w, tenant, group.id, true, utc_now())
            .await
            .unwrap()
    );
    assert!(
        !rewards::set_archived(&mut w, tenant, group.id, true, utc_now())
            .await
            .unwrap()
    );
    let mut changed = group.spec.clone();
    changed.points = 250;
    assert!(
        rewards::update_spec(&mut w, tenant, group.id, &changed, utc_now())
            .await
            .unwrap()
    );
    w.commit().await.unwrap();
    let mut s = db.read().await;
    let back = rewards::get(&mut s, tenant, group.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.spec.points, back.archived), (250, true));
    let listed = rewards::list(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        RewardFilter::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(
        listed.items.len(),
        3,
        "archived rewards are hidden by default"
    );
}

async fn stock_is_taken_only_while_enough_is_left(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let limited = reward(spec("限量"), Some(3));
    let unlimited = reward(spec("不限"), None);
    insert(&db, tenant, &limited).await;
    insert(&db, tenant, &unlimited).await;
    let mut w = db.write().await;
    let now = utc_now();
    assert!(
        rewards::take_stock(&mut w, tenant, limited.id, 2)
            .await
            .unwrap()
    );
    assert!(
        !rewards::take_stock(&mut w, tenant, limited.id, 2)
            .await
            .unwrap()
    );
    assert!(
        rewards::take_stock(&mut w, tenant, limited.id, 1)
            .await
            .unwrap()
    );
    assert!(
        !rewards::add_stock(&mut w, tenant, limited.id, -1, now)
            .await
            .unwrap()
    );
    assert!(
        rewards::add_stock(&mut w, tenant, limited.id, 4, now)
            .await
            .unwrap()
    );
    assert!(
        !rewards::take_stock(&mut w, tenant, unlimited.id, 1)
            .await
            .unwrap()
    );
    assert!(
        !rewards::add_stock(&mut w, tenant, unlimited.id, 1, now)
            .await
            .unwrap()
    );
    assert!(
        !rewards::set_stock_mode(&mut w, tenant, limited.id, Some(9), now)
            .await
            .unwrap()
    );
    assert!(
        rewards::set_stock_mode(&mut w, tenant, unlimited.id, Some(9), now)
            .await
            .unwrap()
    );
    assert!(
        rewards::set_stock_mode(&mut w, tenant, limited.id, None, now)
            .await
            .unwrap()
    );
    w.commit().await.unwrap();
    let mut s = db.read().await;
    let stock = |r: Option<StoredReward>| r.and_then(|r| r.stock);
    assert_eq!(
        stock(rewards::get(&mut s, tenant, limited.id).await.unwrap()),
        None
    );
    assert_eq!(
        stock(rewards::get(&mut s, tenant, unlimited.id).await.unwrap()),
        Some(9)
    );
}

async fn concurrent_takers_never_take_more_than_the_stock(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let limited = reward(spec("限量"), Some(5));
    insert(&db, tenant, &limited).await;
    let db = std::sync::Arc::new(db);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = db.write().await;
            let taken = rewards::take_stock(&mut w, tenant, limited.id, 1)
                .await
                .unwrap();
            let counted = limits::take(
                &mut w,
                tenant,
                MemberId(Uuid::nil()),
                limited.id,
                "total",
                1,
                3,
            )
            .await
            .unwrap();
            w.commit().await.unwrap();
            (taken, counted)
        }));
    }
    let (mut taken, mut counted) = (0, 0);
    for task in tasks {
        let (t, c) = task.await.unwrap();
        taken += usize::from(t);
        counted += usize::from(c);
    }
    assert_eq!((taken, counted), (5, 3));
    let mut s = db.read().await;
    assert_eq!(
        rewards::get(&mut s, tenant, limited.id)
            .await
            .unwrap()
            .unwrap()
            .stock,
        Some(0)
    );
    assert_eq!(
        limits::used(&mut s, tenant, MemberId(Uuid::nil()), limited.id, "total")
            .await
            .unwrap(),
        3
    );
}

async fn limit_counters_never_exceed_their_limit(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (member, reward_id) = (MemberId::new(), RewardId::new());
    let mut w = db.write().await;
    assert!(
        !limits::take(&mut w, tenant, member, reward_id, "m2026-11", 4, 3)
            .await
            .unwrap()
    );
    assert!(
        limits::take(&mut w, tenant, member, reward_id, "m2026-11", 2, 3)
            .await
            .unwrap()
    );
    assert!(
        !limits::take(&mut w, tenant, member, reward_id, "m2026-11", 2, 3)
            .await
            .unwrap()
    );
    assert!(
        limits::take(&mut w, tenant, member, reward_id, "m2026-11", 1, 3)
            .await
            .unwrap()
    );
    assert!(
        limits::take(&mut w, tenant, member, reward_id, "m2026-12", 3, 3)
            .await
            .unwrap()
    );
    assert!(
        limits::give_back(&mut w, tenant, member, reward_id, "m2026-11", 3)
            .await
            .unwrap()
    );
    assert!(
        !limits::give_back(&mut w, tenant, member, reward_id, "m2026-11", 1)
            .await
            .unwrap()
    );
    w.commit().await.unwrap();
    let mut s = db.read().await;
    assert_eq!(
        limits::used(&mut s, tenant, member, reward_id, "m2026-11")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        limits::used(&mut s, tenant, member, reward_id, "m2026-12")
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        limits::used(&mut s, tenant, MemberId::new(), reward_id, "m2026-12")
            .await
            .unwrap(),
        0
    );
}

fn redemption(member: MemberId, store: Option<Uuid>) -> StoredRedemption {
    let now = utc_now();
    StoredRedemption {
        id: Uuid::now_v7(),
        member_id: member,
        reward_id: RewardId::new(),
        reward_kind: "goods".into(),
        reward_name: "保温杯".into(),
        quantity: 2,
        points: 200,
        cash_fen: 990,
        cash_payment_reference: Some("wxpay-1".into()),
        state: "pending".into(),
        delivery_method: "ship".into(),
        collect_store_id: None,
        shipping_enc: Some("sealed".into()),
        shipment: None,
        format_id: None,
        store_id: store,
        supplier_store_id: store,
        supplier_format_id: None,
        spending_format_id: None,
        points_account: "redemption:group".into(),
        points_sources: vec![PointsSource {
            format_id: None,
            points: 200,
        }],
        spend_entry_id: Uuid::now_v7(),
        limit_keys: vec!["total".into()],
        stock_taken: true,
        channel_id: None,
        collected_store_id: None,
        cancel_reason: None,
        created_at: now,
        updated_at: now,
        shipped_at: None,
        collected_at: None,
        completed_at: None,
        cancelled_at: None,
    }
}

async fn redemption_states_change_only_from_the_state_read(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (member, store) = (MemberId::new(), Uuid::now_v7());
    let first = redemption(member, Some(store));
    let second = redemption(member, None);
    let mut w = db.write().await;
    redemptions::insert(&mut w, tenant, &first).await.unwrap();
    redemptions::insert(&mut w, tenant, &second).await.unwrap();
    assert_eq!(
        redemptions::hold_member(&mut w, tenant, member)
            .await
            .unwrap(),
        None
    );
    w.commit().await.unwrap();
    let mut s = db.read().await;
    assert_eq!(
        redemptions::get(&mut s, tenant, first.id).await.unwrap(),
        Some(first.clone())
    );

    let mut shipped = first.clone();
    shipped.state = "shipped".into();
    shipped.shipment = Some(serde_json::json!({ "carrier": "顺丰", "tracking_no": "SF1" }));
    shipped.shipped_at = Some(utc_now());
    let mut w = db.write().await;
    assert!(
        redemptions::update_state(&mut w, tenant, "pending", &shipped)
            .await
            .unwrap()
    );
    assert!(
        !redemptions::update_state(&mut w, tenant, "pending", &shipped)
            .await
            .unwrap()
    );
    assert_eq!(
        redemptions::erase_addresses(&mut w, tenant, member)
            .await
            .unwrap(),
        2
    );
    w.commit().await.unwrap();

    let mut s = db.read().await;
    let back = redemptions::get(&mut s, tenant, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            back.state.as_str(),
            back.shipment.clone(),
            back.shipping_enc.clone()
        ),
        ("shipped", shipped.shipment.clone(), None)
    );
    let by_store = RedemptionFilter {
        store_id: Some(store),
        ..RedemptionFilter::default()
    };
    let page = redemptions::list(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        &by_store,
        PageRequest::first(5),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
    let pending = RedemptionFilter {
        member_id: Some(member),
        state: Some("pending".into()),
        ..RedemptionFilter::default()
    };
    let page = redemptions::list(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        &pending,
        PageRequest::first(5),
    )
    .await
    .unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id]
    );
    let own_store = ScopePredicate::StoreIn(BTreeSet::from([StoreId(store)]));
    let scoped = redemptions::list(
        &mut s,
        tenant,
        &own_store,
        &RedemptionFilter::default(),
        PageRequest::first(5),
    )
    .await
    .unwrap();
    assert_eq!(
        scoped.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first.id]
    );
    let summary = redemptions::member_summary(&mut s, tenant, member)
        .await
        .unwrap();
    assert_eq!(summary.open, 2);
    assert_eq!(summary.last.map(|r| r.id), Some(second.id));
}

async fn counters_and_redemptions_follow_a_merge(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (source, survivor, reward_id) = (MemberId::new(), MemberId::new(), RewardId::new());
    let made = redemption(source, None);
    let mut w = db.write().await;
    redemptions::insert(&mut w, tenant, &made).await.unwrap();
    for member in [source, survivor] {
        assert!(
            limits::take(&mut w, tenant, member, reward_id, "m2026-11", 1, 5)
                .await
                .unwrap()
        );
    }
    assert!(
        limits::take(&mut w, tenant, source, reward_id, "total", 2, 5)
            .await
            .unwrap()
    );
    let moved = merges::move_member_owned(&mut w, tenant, source, survivor)
        .await
        .unwrap();
    w.commit().await.unwrap();
    assert_eq!(moved["reward_redemptions"], [made.id]);
    assert_eq!(
        moved["reward_limit_counters"].len(),
        1,
        "only the counter the survivor lacked moves"
    );
    let mut s = db.read().await;
    assert_eq!(
        redemptions::get(&mut s, tenant, made.id)
            .await
            .unwrap()
            .unwrap()
            .member_id,
        survivor
    );
    assert_eq!(
        limits::used(&mut s, tenant, survivor, reward_id, "total")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        limits::used(&mut s, tenant, survivor, reward_id, "m2026-11")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        limits::used(&mut s, tenant, source, reward_id, "m2026-11")
            .await
            .unwrap(),
        1
    );
}

async fn sealed_addresses_are_walked_and_resealed_only_if_unchanged(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let member = MemberId::new();
    let (a, b) = (redemption(member, None), redemption(member, None));
    let mut none = redemption(member, None);
    none.shipping_enc = None;
    let mut w = db.write().await;
    for r in [&a, &b, &none] {
        redemptions::insert(&mut w, tenant, r).await.unwrap();
    }
    w.commit().await.unwrap();
    let mut w = db.write().await;
    let first = redemptions::sealed_addresses(&mut w, None, 1)
        .await
        .unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
    let rest = redemptions::sealed_addresses(&mut w, Some(first[0].key()), 10)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
    assert!(
        redemptions::reseal_address(&mut w, tenant, member, a.id, "sealed", "k2.new")
            .await
            .unwrap()
    );
    assert!(
        !redemptions::reseal_address(&mut w, tenant, member, a.id, "sealed", "k2.other")
            .await
            .unwrap()
    );
    w.commit().await.unwrap();
    let mut s = db.read().await;
    let back = redemptions::get(&mut s, tenant, a.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.shipping_enc.as_deref(), Some("k2.new"));
}
