//! The order path after its speed-up: configuration read from the cache still applies to the very
//! next order after a change through the API, the answer built from memory is the stored order,
//! day caps hold under parallel orders of one member, and the in-transaction re-check of a member
//! resolved before the transaction refuses a member no longer active.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

on_both!(
    configuration_changes_apply_to_the_next_order,
    the_answer_of_a_new_order_is_the_stored_order,
    the_balance_lock_refuses_a_member_no_longer_active,
);
on_both!(multi_thread: parallel_orders_of_one_member_keep_the_day_cap);

struct Shop {
    admin: String,
    key: String,
    store: Value,
}

async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await;
    Shop {
        admin,
        key: key["key"].as_str().expect("key").to_owned(),
        store,
    }
}

async fn member(app: &TestApp, shop: &Shop, phone: &str) -> Value {
    app.post(
        "members",
        &shop.key,
        json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
    )
    .await
    .ok(201)
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// ¥100 of skincare and a ¥50 SKU-B line.
fn order(external_id: &str, shop: &Shop, member: &Value, occurred_at: &str) -> Value {
    json!({
        "external_id": external_id,
        "member_id": id(member),
        "store_id": id(&shop.store),
        "occurred_at": occurred_at,
        "total_fen": 15000,
        "lines": [
            { "line_no": 1, "sku": "SKU-A", "name": " Serum ", "category_path": ["beauty", " skincare "], "quantity": 1, "unit_price_fen": 10000, "amount_fen": 10000 },
            { "line_no": 2, "sku": "SKU-B", "name": "Tea", "category_path": ["food"], "quantity": 1, "unit_price_fen": 5000, "amount_fen": 5000 },
        ],
        "payments": [{ "method": "wechat_pay", "amount_fen": 15000 }],
    })
}

async fn post_order(app: &TestApp, shop: &Shop, external_id: &str, member: &Value) -> Value {
    app.post(
        "orders",
        &shop.key,
        order(external_id, shop, member, &now()),
    )
    .await
    .ok(201)
}

async fn points(app: &TestApp, shop: &Shop, member: &Value) -> (i64, i64) {
    let points = app
        .get(&format!("members/{}/points", id(member)), &shop.admin)
        .await
        .ok(200);
    (
        points["available"].as_i64().unwrap(),
        points["pending"].as_i64().unwrap(),
    )
}

async fn configuration_changes_apply_to_the_next_order(app: &TestApp) {
    let shop = shop(app).await;
    let admin = &shop.admin;
    let buyer = member(app, &shop, "13900000001").await;
    let base = app
        .post("earning-rules", admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }))
        .await
        .ok(201);
    assert_eq!(
        post_order(app, &shop, "C-1", &buyer).await["points_earned"],
        150
    );

    // An edited rule applies to the very next order (the first order filled the cache).
    let path = format!("earning-rules/{}", id(&base));
    app.patch(
        &path,
        admin,
        json!({ "effect": { "kind": "points_per_yuan", "points": 2, "per_fen": 100 } }),
    )
    .await
    .ok(200);
    assert_eq!(
        post_order(app, &shop, "C-2", &buyer).await["points_earned"],
        300
    );

    // So does a new rule, and the preview sees it too.
    app.post(
        "earning-rules",
        admin,
        json!({ "name": "Bonus", "effect": { "kind": "fixed_bonus", "points": 7 } }),
    )
    .await
    .ok(201);
    let preview = app
        .post(
            "orders/preview",
            &shop.key,
            order("C-P", &shop, &buyer, &now()),
        )
        .await
        .ok(200);
    assert_eq!(preview["accrual"]["total_points"], 307);
    assert_eq!(
        post_order(app, &shop, "C-3", &buyer).await["points_earned"],
        307
    );
    assert_eq!(points(app, &shop, &buyer).await, (150 + 300 + 307, 0));

    // A new points policy: the next order's points wait out the return window.
    let policy = json!({ "expiry": { "kind": "never" }, "pending_days": 7, "fen_per_100_points": 100, "overdraft_limit": 0 });
    send(
        app.request(Method::PUT, "points/policy", admin)
            .json(&policy),
    )
    .await
    .ok(200);
    assert_eq!(
        post_order(app, &shop, "C-4", &buyer).await["points_earned"],
        307
    );
    assert_eq!(points(app, &shop, &buyer).await, (757, 307));

    // A paused rule no longer fires.
    app.patch(&path, admin, json!({ "enabled": false }))
        .await
        .ok(200);
    let last = post_order(app, &shop, "C-5", &buyer).await;
    assert_eq!(last["points_earned"], 7);
    assert_eq!(last["fired_rules"].as_array().map(Vec::len), Some(1));
}

async fn the_answer_of_a_new_order_is_the_stored_order(app: &TestApp) {
    let shop = shop(app).await;
    app.post("earning-rules", &shop.admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }))
        .await
        .ok(201);
    let buyer = member(app, &shop, "13900000002").await;
    // A local offset and nanoseconds: the database keeps UTC microseconds.
    let local = (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap())
        .replace_nanosecond(123_456_789)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let body = order("S-1", &shop, &buyer, &local);
    let posted = app.post("orders", &shop.key, body.clone()).await.ok(201);
    let stored = app
        .get(&format!("orders/{}", id(&posted)), &shop.admin)
        .await
        .ok(200);
    assert_eq!(posted, stored);
    assert_eq!(posted["lines"][0]["name"], "Serum");
    assert_eq!(posted["points_earned"], 150);
    let retried = app.post("orders", &shop.key, body).await.ok(200);
    assert_eq!(retried, stored);

    let anonymous = json!({
        "external_id": "S-2", "store_id": id(&shop.store), "occurred_at": now(), "total_fen": 100,
        "lines": [{ "line_no": 1, "sku": "X", "quantity": 1, "unit_price_fen": 100, "amount_fen": 100 }],
    });
    let posted = app.post("orders", &shop.key, anonymous).await.ok(201);
    let stored = app
        .get(&format!("orders/{}", id(&posted)), &shop.admin)
        .await
        .ok(200);
    assert_eq!(posted, stored);
    assert_eq!(posted["payments"], json!([]));
}

async fn parallel_orders_of_one_member_keep_the_day_cap(app: &TestApp) {
    let shop = shop(app).await;
    app.post("earning-rules", &shop.admin, json!({ "name": "SKU-B bonus", "conditions": { "skus": ["SKU-B"] },
        "effect": { "kind": "fixed_bonus", "points": 20 }, "caps": { "per_member_day_points": 100 } }))
        .await
        .ok(201);
    let buyer = member(app, &shop, "13900000003").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..12 {
        let body = order(&format!("P-{n}"), &shop, &buyer, &now());
        tasks.spawn(send(
            app.request(Method::POST, "orders", &shop.key).json(&body),
        ));
    }
    let mut earned = 0;
    while let Some(reply) = tasks.join_next().await {
        earned += reply.unwrap().ok(201)["points_earned"].as_i64().unwrap();
    }
    assert_eq!(
        earned, 100,
        "five orders earn the bonus, the cap stops the rest"
    );
    assert_eq!(points(app, &shop, &buyer).await, (100, 0));
    let report = huiyuan_server::app::ledger::verify_all(&app.state.store)
        .await
        .unwrap();
    assert!(
        report.discrepancies.is_empty(),
        "{:?}",
        report.discrepancies
    );
}

async fn the_balance_lock_refuses_a_member_no_longer_active(app: &TestApp) {
    let shop = shop(app).await;
    let survivor = member(app, &shop, "13900000004").await;
    let source = member(app, &shop, "13900000005").await;
    app.post(
        &format!("members/{}/merge", id(&survivor)),
        &shop.admin,
        json!({ "source_member_id": id(&source) }),
    )
    .await
    .ok(200);
    let tenant = app.default_tenant.id;
    let now = huiyuan_store::utc_now();
    let mut session = app.state.store.write().await.unwrap();
    let uuid_of = |member: &Value| {
        member["id"]
            .as_str()
            .unwrap()
            .parse::<huiyuan_domain::ids::MemberId>()
            .unwrap()
    };
    assert_eq!(
        huiyuan_store::ledger::lock_active_balance(&mut session, tenant, uuid_of(&source), now)
            .await
            .unwrap(),
        None,
        "a merged member no longer earns"
    );
    assert_eq!(
        huiyuan_store::ledger::lock_active_balance(&mut session, tenant, uuid_of(&survivor), now)
            .await
            .unwrap(),
        Some(0),
        "the survivor's row is created at zero"
    );
    assert_eq!(
        huiyuan_store::ledger::lock_active_balance(
            &mut session,
            tenant,
            huiyuan_domain::ids::MemberId::new(),
            now
        )
        .await
        .unwrap(),
        None
    );
    session.commit().await.unwrap();
}
