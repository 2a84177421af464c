//! The merchant assistant on both databases: a mall merchant's staff, scoped to their store,
//! manage their own coupon templates and rewards and see their own coupon redemptions, orders,
//! mall redemptions and revenue split — and get 404/403 on every one of another merchant's, and
//! no format-level settlement figures.

use crate::coupons::{cash_off, issue, member};
use crate::fixtures;
use crate::mall::{goods, member_with_points, reward};
use crate::settlement::{base_rule, merchant, order, pos_key};
use crate::support::{TestApp, id, ids, send};
use huiyuan_store::utc_now;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

on_both!(a_merchant_sees_and_manages_only_its_own);

const PERMISSIONS: &[&str] = &[
    "coupons:read",
    "coupons:write",
    "coupons:redeem",
    "mall:write",
    "members:read",
    "orders:read",
    "settlement:read",
];

fn borne_by(store: &Value) -> Value {
    let mut template = cash_off("商户券", None);
    template["cost_bearer"] = json!({ "kind": "merchant", "store_id": id(store) });
    template
}

fn supplied_by(store: &Value, name: &str) -> Value {
    let mut gift = goods(name, 100, Some(10));
    gift["supplier_store_id"] = json!(id(store));
    gift
}

fn ship() -> Value {
    json!({ "method": "ship", "address": { "recipient": "张三", "phone": "13800138000", "address": "南京东路1号" } })
}

async fn a_merchant_sees_and_manages_only_its_own(app: &TestApp) {
    let admin = app.admin_token().await;
    let start = utc_now() - Duration::seconds(1);
    base_rule(app, &admin).await;
    let mall = fixtures::format(app, &admin, "mall").await;
    let (a, b) = (
        merchant(app, &admin, &mall, "m-a").await,
        merchant(app, &admin, &mall, "m-b").await,
    );
    let scope = |store: &Value| json!({ "kind": "stores", "store_ids": [id(store)] });
    let staff_a = fixtures::staff_login(app, &admin, "merchant-a", PERMISSIONS, scope(&a)).await;
    let staff_b = fixtures::staff_login(app, &admin, "merchant-b", PERMISSIONS, scope(&b)).await;

    // Coupon templates: each manages its own.
    let tpl_a = app
        .post("coupon-templates", &staff_a, borne_by(&a))
        .await
        .ok(201);
    let tpl_b = app
        .post("coupon-templates", &staff_b, borne_by(&b))
        .await
        .ok(201);
    app.patch(
        &format!("coupon-templates/{}", id(&tpl_a)),
        &staff_a,
        json!({ "name": "A 的券" }),
    )
    .await
    .ok(200);
    app.post("coupon-templates", &staff_a, borne_by(&b))
        .await
        .problem(403, "out_of_scope");
    app.get(&format!("coupon-templates/{}", id(&tpl_b)), &staff_a)
        .await
        .problem(404, "not_found");
    app.patch(
        &format!("coupon-templates/{}", id(&tpl_b)),
        &staff_a,
        json!({ "name": "x" }),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("coupon-templates/{}/archive", id(&tpl_b)),
        &staff_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    assert!(!ids(&app.list_all("coupon-templates", &staff_a, 10).await).contains(&id(&tpl_b)));

    // Rewards (the merchant's mall activities): each manages its own.
    let gift_a = reward(app, &staff_a, supplied_by(&a, "A 礼品")).await;
    let gift_b = reward(app, &staff_b, supplied_by(&b, "B 礼品")).await;
    app.patch(
        &format!("rewards/{}", id(&gift_a)),
        &staff_a,
        json!({ "stock_delta": 5 }),
    )
    .await
    .ok(200);
    app.post("rewards", &staff_a, supplied_by(&b, "冒名"))
        .await
        .problem(403, "out_of_scope");
    app.get(&format!("rewards/{}", id(&gift_b)), &staff_a)
        .await
        .problem(404, "not_found");
    app.patch(
        &format!("rewards/{}", id(&gift_b)),
        &staff_a,
        json!({ "points": 1 }),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("rewards/{}/archive", id(&gift_b)),
        &staff_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    let seen = ids(&app.list_all("rewards", &staff_a, 10).await);
    assert!(
        seen.contains(&id(&gift_a)) && !seen.contains(&id(&gift_b)),
        "{seen:?}"
    );

    // Coupon redemptions: B's coupon redeemed at B's till.
    let m = member(app, &admin, "13800138000").await;
    let code = issue(app, &admin, &id(&tpl_b), &[&m]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart = json!({ "lines": [{ "sku": "A", "amount_fen": 20000 }], "order_ref": "B-1", "store_id": id(&b) });
    app.post(&format!("coupons/{code}/redeem"), &staff_a, cart.clone())
        .await
        .problem(403, "out_of_scope");
    let redeemed = app
        .post(&format!("coupons/{code}/redeem"), &staff_b, cart)
        .await
        .ok(201);
    assert_eq!(
        app.list_all("coupon-redemptions", &staff_b, 10).await.len(),
        1
    );
    assert!(
        app.list_all("coupon-redemptions", &staff_a, 10)
            .await
            .is_empty()
    );
    assert!(
        app.list_all(
            &format!("coupon-redemptions?store_id={}", id(&b)),
            &staff_a,
            10
        )
        .await
        .is_empty()
    );
    let rid = redeemed["redemption"]["id"].as_str().unwrap();
    app.post(
        &format!("coupons/{code}/redemptions/{rid}/reverse"),
        &staff_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");

    // Orders at each store; A lists only its own.
    let (key_a, key_b) = (
        pos_key(app, &admin, &mall, &a, "pos-a").await,
        pos_key(app, &admin, &mall, &b, "pos-b").await,
    );
    let order_a = order(app, &key_a, &a, "13800138000", "A-1", 50, utc_now()).await;
    let order_b = order(app, &key_b, &b, "13800138000", "B-1", 80, utc_now()).await;
    assert_eq!(
        ids(&app.list_all("orders", &staff_a, 10).await),
        [id(&order_a)]
    );
    assert_eq!(
        ids(&app.list_all("orders", &staff_b, 10).await),
        [id(&order_b)]
    );
    assert_eq!(
        ids(&app.list_all("orders", &admin, 10).await),
        [id(&order_a), id(&order_b)]
    );
    assert!(
        app.list_all(&format!("orders?store_id={}", id(&b)), &staff_a, 10)
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&app
            .list_all(&format!("orders?member_id={m}"), &staff_a, 10)
            .await),
        [id(&order_a)]
    );
    app.get(&format!("orders/{}", id(&order_b)), &staff_a)
        .await
        .problem(404, "not_found");
    let none = app
        .list_all(
            "orders?from=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z",
            &admin,
            10,
        )
        .await;
    assert!(none.is_empty());
    app.get("orders?from=yesterday", &admin)
        .await
        .problem(422, "validation_failed");

    // Mall redemptions of each one's reward.
    let buyer = member_with_points(app, &admin, "13800138009", 1000).await;
    let mut redemptions = Vec::new();
    for gift in [&gift_a, &gift_b] {
        let body = json!({ "member_id": buyer, "delivery": ship() });
        redemptions.push(
            app.post(&format!("rewards/{}/redemptions", id(gift)), &admin, body)
                .await
                .ok(201),
        );
    }
    assert_eq!(
        ids(&app.list_all("reward-redemptions", &staff_a, 10).await),
        [id(&redemptions[0])]
    );
    app.get(
        &format!("reward-redemptions/{}", id(&redemptions[1])),
        &staff_a,
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("reward-redemptions/{}/cancel", id(&redemptions[1])),
        &staff_a,
        json!({ "reason": "x" }),
    )
    .await
    .problem(404, "not_found");

    // Settlement: A sees its own merchant line only — no format lines, matrix or totals.
    let statement = app.post("settlements", &admin, json!({
        "period_start": crate::coupons::rfc3339(start), "period_end": crate::coupons::rfc3339(utc_now()) })).await.ok(201);
    assert_eq!(
        statement["merchants"].as_array().unwrap().len(),
        2,
        "{statement}"
    );
    // HQ-funded (the default): headquarters pays every claim, no format owes another.
    assert_eq!(statement["mode"], "hq_funded");
    let formats = statement["formats"].as_array().unwrap();
    assert!(!formats.is_empty());
    for line in formats {
        assert_eq!(line["net_transfer_fen"], 0, "{line}");
        assert_eq!(line["funded_by_hq_fen"], line["claims_fen"], "{line}");
    }
    let matrix = statement["matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), 1, "{statement}");
    assert_eq!(
        (
            matrix[0]["issuing_format_id"].is_null(),
            matrix[0]["points"].as_i64()
        ),
        (true, Some(200)),
        "the buyer's granted points are the group's"
    );
    let sid = id(&statement);
    let seen = app
        .get(&format!("settlements/{sid}"), &staff_a)
        .await
        .ok(200);
    assert_eq!(seen["formats"], json!([]), "{seen}");
    assert_eq!(seen["matrix"], json!([]));
    assert_eq!(seen["cross_format_coupons"], json!([]));
    assert!(seen["totals"].is_null());
    assert!(
        seen["coupon_costs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["bearer_store_id"] == a["id"]),
        "{seen}"
    );
    let lines = seen["merchants"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0]["store_id"].clone(), lines[0]["points"].as_i64()),
        (a["id"].clone(), Some(100))
    );
    let csv = send(app.request(
        Method::GET,
        &format!("settlements/{sid}/export.csv"),
        &staff_a,
    ))
    .await;
    assert_eq!(csv.status, 200);
    assert!(
        !csv.text.contains(&id(&b))
            && !csv.text.contains("\nformat,")
            && !csv.text.contains("\ntotal,"),
        "{}",
        csv.text
    );
    assert!(csv.text.contains(&id(&a)));
    let own = app
        .list_all(&format!("merchants/{}/revenue", id(&a)), &staff_a, 10)
        .await;
    assert_eq!(
        (own.len(), own[0]["statement_id"].as_str()),
        (1, Some(sid.as_str()))
    );
    app.get(&format!("merchants/{}/revenue", id(&b)), &staff_a)
        .await
        .problem(404, "not_found");
    app.get(&format!("merchants/{}/revenue-split", id(&b)), &staff_a)
        .await
        .problem(404, "not_found");
    app.get(&format!("merchants/{}/revenue-split", id(&a)), &staff_a)
        .await
        .ok(200);
    app.post("settlements", &staff_a, json!({
        "period_start": crate::coupons::rfc3339(start), "period_end": crate::coupons::rfc3339(utc_now()) }))
        .await
        .problem(403, "permission_denied");
    app.post(&format!("settlements/{sid}/close"), &staff_a, json!({}))
        .await
        .problem(403, "permission_denied");
    let b_view = app
        .get(&format!("settlements/{sid}"), &staff_b)
        .await
        .ok(200);
    assert_eq!(b_view["merchants"][0]["store_id"], b["id"]);
}
