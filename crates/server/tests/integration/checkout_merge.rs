//! Checkouts follow member merges on both databases: a checkout reserved by a member who is then
//! merged into another is the survivor's — cancelling it returns the coupon and the points to the
//! survivor, confirming it claims them — and the books balance either way.

use crate::checkout::{cart, coupon_for, coupon_state, till};
use crate::mall::{assert_verifies, available, member_with_points};
use crate::support::{TestApp, id};
use serde_json::json;

on_both!(an_open_checkout_follows_a_merge);

async fn merge(app: &TestApp, admin: &str, survivor: &str, source: &str) {
    app.post(
        &format!("members/{survivor}/merge"),
        admin,
        json!({ "source_member_id": source }),
    )
    .await
    .ok(200);
}

async fn an_open_checkout_follows_a_merge(app: &TestApp) {
    let t = till(app).await;
    // The source holds a coupon and 1,000 points; two checkouts hold 300 points each.
    let source = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let code = coupon_for(app, &t.admin, &source).await;
    let with_coupon = app
        .post(
            "checkouts",
            &t.key,
            json!({ "member_id": source, "lines": cart(12000), "coupon_codes": [code], "points": 300 }),
        )
        .await
        .ok(201);
    let points_only = app
        .post(
            "checkouts",
            &t.key,
            json!({ "member_id": source, "lines": cart(12000), "points": 300 }),
        )
        .await
        .ok(201);
    let survivor = member_with_points(app, &t.admin, "13900139000", 500).await;
    merge(app, &t.admin, &survivor, &source).await;
    // The survivor now has its 500 and the source's 400 not held.
    assert_eq!(available(app, &t.admin, &survivor).await, 900);

    let shown = app
        .get(&format!("checkouts/{}", id(&with_coupon)), &t.admin)
        .await
        .ok(200);
    assert_eq!(shown["member_id"], json!(survivor));

    // Cancelled after the merge: the coupon and the points come back to the survivor.
    app.post(
        &format!("checkouts/{}/cancel", id(&with_coupon)),
        &t.key,
        json!({}),
    )
    .await
    .ok(200);
    assert_eq!(available(app, &t.admin, &survivor).await, 1200);
    assert_eq!(coupon_state(app, &t.admin, &survivor).await, "available");

    // Confirmed after the merge with the survivor's order: the held points are claimed.
    let order = app
        .post(
            "orders",
            &t.key,
            json!({ "external_id": "O-1", "member_id": survivor, "store_id": id(&t.store),
                "occurred_at": "2026-11-20T10:00:00Z", "total_fen": 12000,
                "lines": [{ "line_no": 1, "sku": "A", "name": "Tea", "category_path": ["food"],
                    "quantity": 1, "unit_price_fen": 12000, "amount_fen": 12000 }],
                "payments": [{ "method": "wechat_pay", "amount_fen": 12000 }] }),
        )
        .await
        .ok(201);
    let before_confirm = available(app, &t.admin, &survivor).await;
    app.post(
        &format!("checkouts/{}/confirm", id(&points_only)),
        &t.key,
        json!({ "order_id": id(&order) }),
    )
    .await
    .ok(200);
    assert_eq!(available(app, &t.admin, &survivor).await, before_confirm);
    assert_verifies(app).await;
}
