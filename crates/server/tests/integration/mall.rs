//! The points mall over HTTP: the catalogue and its validation and scopes; redeeming with stock,
//! limits and points taken in one transaction (never oversold under 50 parallel redemptions,
//! never past a member's limit under parallel redemptions by one member, nothing taken when
//! points are short); idempotent retries; and `verify` after each.

use crate::fixtures;
use crate::support::{TestApp, id};
use serde_json::{Value, json};

on_both!(
    rewards_are_validated_on_save,
    rewards_are_scoped_to_their_supplier,
    restock_and_archive_never_overwrite_the_stock,
    a_redemption_takes_stock_limit_and_points_once,
    too_few_points_take_nothing,
    tier_only_rewards_and_time_windows_are_enforced
);
on_both!(multi_thread: parallel_redemptions_never_oversell, parallel_redemptions_respect_the_member_limit);

pub async fn member_with_points(app: &TestApp, token: &str, phone: &str, points: i64) -> String {
    let m = app
        .post(
            "members",
            token,
            json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
        )
        .await
        .ok(201);
    if points > 0 {
        app.post(
            &format!("members/{}/points/adjustments", id(&m)),
            token,
            json!({ "points": points, "reason": "grant" }),
        )
        .await
        .ok(201);
    }
    id(&m)
}

pub async fn available(app: &TestApp, token: &str, member: &str) -> i64 {
    app.get(&format!("members/{member}/points"), token)
        .await
        .ok(200)["available"]
        .as_i64()
        .expect("available points")
}

pub async fn assert_verifies(app: &TestApp) {
    let report = huiyuan_server::app::ledger::verify_all(&app.state.store)
        .await
        .expect("verify runs");
    assert!(
        report.discrepancies.is_empty(),
        "{:?}",
        report.discrepancies
    );
}

pub fn goods(name: &str, points: i64, stock: Option<i64>) -> Value {
    json!({ "kind": "goods", "name": name, "points": points, "fulfilment": "ship_or_collect", "stock": stock })
}

pub async fn reward(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("rewards", token, body).await.ok(201)
}

async fn stock_of(app: &TestApp, token: &str, reward: &Value) -> Value {
    app.get(&format!("rewards/{}", id(reward)), token)
        .await
        .ok(200)["stock"]
        .clone()
}

async fn rewards_are_validated_on_save(app: &TestApp) {
    let admin = app.admin_token().await;
    let created = reward(app, &admin, goods("保温杯", 1000, Some(20))).await;
    assert_eq!(
        (
            created["stock"].as_i64(),
            created["max_quantity"].as_i64(),
            created["unlimited_stock"].as_bool()
        ),
        (Some(20), Some(10), Some(false))
    );
    let problem = app
        .post(
            "rewards",
            &admin,
            json!({ "kind": "goods", "name": "", "points": 0, "cash_fen": -5, "stock": -1,
                "available_from": "2026-12-01T00:00:00Z", "available_until": "2026-11-01T00:00:00Z" }),
        )
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "name",
        "points",
        "cash_fen",
        "fulfilment",
        "available_until",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let coupon = app
        .post(
            "rewards",
            &admin,
            json!({ "kind": "coupon", "name": "满100减10", "points": 500,
                "coupon_template_id": "0195a0a0-0000-7000-8000-000000000000" }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        (
            coupon["errors"][0]["field"].as_str(),
            coupon["errors"][0]["code"].as_str()
        ),
        (Some("coupon_template_id"), Some("not_found"))
    );
    let unknown = app
        .post(
            "rewards",
            &admin,
            json!({ "kind": "goods", "name": "x", "points": 1, "fulfilment": "ship", "price": 1 }),
        )
        .await
        .problem(422, "validation_failed");
    assert!(unknown.to_string().contains("price"), "{unknown}");
    let tier = app
        .post(
            "rewards",
            &admin,
            json!({ "kind": "service", "name": "洗车", "points": 300, "min_tier_code": "gold" }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(tier["errors"][0]["code"], "no_ladder");
    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.post("rewards", &clerk, goods("x", 1, None))
        .await
        .problem(403, "permission_denied");
    let listed = app.list_all("rewards", &clerk, 1).await;
    assert_eq!(listed.len(), 1, "members:read reads the catalogue");
}

async fn rewards_are_scoped_to_their_supplier(app: &TestApp) {
    let admin = app.admin_token().await;
    let mall = fixtures::format(app, &admin, "mall").await;
    let shop = app
        .post(
            "stores",
            &admin,
            json!({ "format_id": id(&mall), "code": "m1", "name": "商户一", "kind": "merchant" }),
        )
        .await
        .ok(201);
    let other = fixtures::store(app, &admin, &mall, "m2").await;
    let merchant = fixtures::staff_login(
        app,
        &admin,
        "merchant",
        &["mall:write", "members:read"],
        json!({ "kind": "stores", "store_ids": [id(&shop)] }),
    )
    .await;
    let mut own = goods("商户礼品", 800, Some(5));
    own["supplier_store_id"] = json!(id(&shop));
    let created = reward(app, &merchant, own).await;
    assert_eq!(created["supplier_format_id"], json!(id(&mall)));
    let mut foreign = goods("别家礼品", 800, Some(5));
    foreign["supplier_store_id"] = json!(id(&other));
    app.post("rewards", &merchant, foreign.clone())
        .await
        .problem(403, "out_of_scope");
    let theirs = reward(app, &admin, foreign).await;
    reward(app, &admin, goods("集团礼品", 100, None)).await;
    let seen = app.list_all("rewards", &merchant, 10).await;
    let names: Vec<&str> = seen.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["商户礼品", "集团礼品"]);
    app.get(&format!("rewards/{}", id(&theirs)), &merchant)
        .await
        .problem(404, "not_found");
    app.patch(
        &format!("rewards/{}", id(&theirs)),
        &merchant,
        json!({ "points": 1 }),
    )
    .await
    .problem(404, "not_found");
}

async fn restock_and_archive_never_overwrite_the_stock(app: &TestApp) {
    let admin = app.admin_token().await;
    let cup = reward(app, &admin, goods("保温杯", 100, Some(3))).await;
    let path = format!("rewards/{}", id(&cup));
    let patched = app
        .patch(&path, &admin, json!({ "stock_delta": 7, "points": 120 }))
        .await
        .ok(200);
    assert_eq!(
        (patched["stock"].as_i64(), patched["points"].as_i64()),
        (Some(10), Some(120))
    );
    app.patch(&path, &admin, json!({ "stock_delta": -11 }))
        .await
        .problem(409, "out_of_stock");
    let unlimited = app
        .patch(&path, &admin, json!({ "unlimited_stock": true }))
        .await
        .ok(200);
    assert_eq!(unlimited["stock"], Value::Null);
    app.patch(&path, &admin, json!({ "stock_delta": 1 }))
        .await
        .problem(422, "validation_failed");
    let limited = app
        .patch(
            &path,
            &admin,
            json!({ "unlimited_stock": false, "stock_delta": 4 }),
        )
        .await
        .ok(200);
    assert_eq!(limited["stock"], 4);
    app.patch(&path, &admin, json!({ "points": 0 }))
        .await
        .problem(422, "validation_failed");
    let archived = app
        .post(&format!("{path}/archive"), &admin, json!({}))
        .await
        .ok(200);
    assert_eq!(archived["archived"], true);
    assert!(app.list_all("rewards", &admin, 5).await.is_empty());
    assert_eq!(
        app.list_all("rewards?include_archived=true", &admin, 5)
            .await
            .len(),
        1
    );
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let problem = app
        .post(
            &format!("{path}/redemptions"),
            &admin,
            json!({ "member_id": m, "delivery": { "method": "ship", "address": {
                "recipient": "张三", "phone": "13800138000", "address": "南京东路1号" } } }),
        )
        .await
        .problem(422, "not_eligible");
    assert_eq!(problem["errors"][0]["code"], "archived");
    app.post(&format!("{path}/restore"), &admin, json!({}))
        .await
        .ok(200);
    let audit = app
        .get("audit-log?action=reward.updated", &admin)
        .await
        .ok(200);
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        3,
        "three patches succeeded"
    );
}

async fn a_redemption_takes_stock_limit_and_points_once(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s1").await;
    let mut body = goods("帆布袋", 300, Some(5));
    body["cash_fen"] = json!(990);
    body["limit_total"] = json!(2);
    body["format_id"] = json!(id(&format));
    let bag = reward(app, &admin, body).await;
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let path = format!("rewards/{}/redemptions", id(&bag));
    let request = json!({ "member_id": m, "delivery": { "method": "collect", "store_id": id(&store) },
        "cash_payment_reference": "wxpay-1" });
    let first = app
        .post_once(&path, &admin, "redeem-1", request.clone())
        .await;
    assert_eq!(first.header("idempotent-replayed"), "");
    let first = first.ok(201);
    assert_eq!(
        (
            first["state"].as_str(),
            first["points"].as_i64(),
            first["cash_fen"].as_i64()
        ),
        (Some("pending"), Some(300), Some(990))
    );
    assert_eq!(first["spending_format_id"], json!(id(&format)));
    assert_eq!(
        first["points_account"],
        format!("redemption:{}", id(&format))
    );
    assert_eq!(
        first["points_sources"],
        json!([{ "format_id": null, "points": 300 }])
    );
    let retry = app
        .post_once(&path, &admin, "redeem-1", request.clone())
        .await;
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(
        id(&retry.ok(201)),
        id(&first),
        "a retry answers the same redemption"
    );
    assert_eq!(available(app, &admin, &m).await, 700);
    assert_eq!(stock_of(app, &admin, &bag).await, 4);

    let no_cash =
        json!({ "member_id": m, "delivery": { "method": "collect", "store_id": id(&store) } });
    app.post(&path, &admin, no_cash)
        .await
        .problem(422, "validation_failed");
    app.post(&path, &admin, request.clone()).await.ok(201);
    let limited = app
        .post(&path, &admin, request.clone())
        .await
        .problem(409, "limit_reached");
    assert!(
        limited["detail"].as_str().unwrap().contains("at most 2"),
        "{limited}"
    );
    assert_eq!(available(app, &admin, &m).await, 400);
    assert_eq!(stock_of(app, &admin, &bag).await, 3);

    // Cancelling returns points, stock and the limit, exactly once.
    let cancel = format!("reward-redemptions/{}/cancel", id(&first));
    let cancelled = app
        .post(&cancel, &admin, json!({ "reason": "changed my mind" }))
        .await
        .ok(200);
    assert_eq!(
        (
            cancelled["state"].as_str(),
            cancelled["cash_refund_due_fen"].as_i64()
        ),
        (Some("cancelled"), Some(990))
    );
    app.post(&cancel, &admin, json!({}))
        .await
        .problem(409, "conflict");
    assert_eq!(available(app, &admin, &m).await, 700);
    assert_eq!(stock_of(app, &admin, &bag).await, 4);
    app.post(&path, &admin, request).await.ok(201);
    let entries = app
        .get(&format!("members/{m}/points/entries"), &admin)
        .await
        .ok(200);
    let items = entries["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["adjust", "redeem", "redeem", "reversal", "redeem"]);
    assert_eq!(
        items[3]["lots"], items[1]["lots"],
        "the points went back into the lot they came from"
    );
    assert_eq!(items[3]["points"], 300);
    let audit = app
        .get("audit-log?action=reward.redeemed", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);
    assert_verifies(app).await;
}

async fn too_few_points_take_nothing(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut body = goods("行李箱", 5000, Some(3));
    body["limit_per_period"] = json!({ "period": "month", "quantity": 1 });
    let case = reward(app, &admin, body).await;
    let m = member_with_points(app, &admin, "13800138000", 4999).await;
    let path = format!("rewards/{}/redemptions", id(&case));
    let request = json!({ "member_id": m, "delivery": { "method": "ship", "address": {
        "recipient": "张三", "phone": "13800138000", "address": "南京东路1号" } } });
    let check = app
        .get(
            &format!("rewards/{}/eligibility?member_id={m}", id(&case)),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(check["eligible"], false);
    assert_eq!(check["reasons"][0]["code"], "insufficient_points");
    assert_eq!(
        (
            check["points_required"].as_i64(),
            check["points_available"].as_i64()
        ),
        (Some(5000), Some(4999))
    );
    let problem = app
        .post(&path, &admin, request.clone())
        .await
        .problem(422, "insufficient_points");
    assert!(
        problem["detail"].as_str().unwrap().contains("4999"),
        "{problem}"
    );
    assert_eq!(available(app, &admin, &m).await, 4999);
    assert_eq!(stock_of(app, &admin, &case).await, 3);
    assert!(
        app.list_all(&format!("members/{m}/reward-redemptions"), &admin, 5)
            .await
            .is_empty()
    );
    // The month's limit was not used up by the refused attempt.
    app.post(
        &format!("members/{m}/points/adjustments"),
        &admin,
        json!({ "points": 1, "reason": "top up" }),
    )
    .await
    .ok(201);
    app.post(&path, &admin, request).await.ok(201);
    let check = app
        .get(
            &format!("rewards/{}/eligibility?member_id={m}", id(&case)),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(check["reasons"][0]["code"], "limit_reached", "{check}");
    assert_eq!(check["limits"][0]["used"], 1);
    assert_verifies(app).await;
}

async fn tier_only_rewards_and_time_windows_are_enforced(app: &TestApp) {
    let admin = app.admin_token().await;
    let ladder = json!({ "basis": "tier_points", "window": { "kind": "rolling_days", "days": 365 },
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0, "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } },
            { "code": "gold", "name": "金卡", "threshold": 5000, "retention": 3000, "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } } ] });
    crate::support::send(
        app.request(reqwest::Method::PUT, "tiers", &admin)
            .json(&ladder),
    )
    .await
    .ok(200);
    let mut body =
        json!({ "kind": "service", "name": "贵宾厅", "points": 100, "min_tier_code": "gold" });
    let lounge = reward(app, &admin, body.clone()).await;
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let path = format!("rewards/{}/redemptions", id(&lounge));
    let problem = app
        .post(&path, &admin, json!({ "member_id": m }))
        .await
        .problem(422, "not_eligible");
    assert_eq!(problem["errors"][0]["code"], "tier_too_low");
    app.post(
        &format!("members/{m}/tier/override"),
        &admin,
        json!({ "level_code": "gold", "expires_at": "2030-01-01T00:00:00Z", "reason": "VIP" }),
    )
    .await
    .ok(200);
    let served = app
        .post(&path, &admin, json!({ "member_id": m }))
        .await
        .ok(201);
    assert_eq!(served["delivery"]["method"], "none");
    body["min_tier_code"] = Value::Null;
    body["available_from"] = json!("2099-01-01T00:00:00Z");
    let later = reward(app, &admin, body).await;
    let problem = app
        .post(
            &format!("rewards/{}/redemptions", id(&later)),
            &admin,
            json!({ "member_id": m, "quantity": 1 }),
        )
        .await
        .problem(422, "not_eligible");
    assert_eq!(problem["errors"][0]["code"], "not_yet_available");
    let available_now = app.list_all("rewards?available=true", &admin, 5).await;
    assert_eq!(
        available_now.len(),
        1,
        "the future reward is not listed as available"
    );
    let quantity = app
        .post(&path, &admin, json!({ "member_id": m, "quantity": 11 }))
        .await
        .problem(422, "not_eligible");
    assert_eq!(quantity["errors"][0]["field"], "quantity");
}

/// Fires `count` redemptions at once; answers their statuses.
async fn fire(app: &TestApp, token: &str, path: &str, bodies: Vec<Value>) -> Vec<u16> {
    let mut tasks = Vec::new();
    for body in bodies {
        let (client, url, token) = (app.client.clone(), app.url(path), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

async fn parallel_redemptions_never_oversell(app: &TestApp) {
    let admin = app.admin_token().await;
    let cup = reward(app, &admin, goods("限量杯", 100, Some(10))).await;
    let mut members = Vec::new();
    for n in 0..50 {
        members.push(member_with_points(app, &admin, &format!("1380013{n:04}"), 1000).await);
    }
    let bodies = members
        .iter()
        .map(|m| {
            json!({ "member_id": m, "delivery": { "method": "ship", "address": {
            "recipient": "张三", "phone": "13800138000", "address": "南京东路1号" } } })
        })
        .collect();
    let path = format!("rewards/{}/redemptions", id(&cup));
    let statuses = fire(app, &admin, &path, bodies).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        40,
        "{statuses:?}"
    );
    assert_eq!(stock_of(app, &admin, &cup).await, 0);
    let mut total = 0;
    for m in &members {
        total += available(app, &admin, m).await;
    }
    assert_eq!(
        total,
        50 * 1000 - 10 * 100,
        "exactly ten redemptions were paid"
    );
    let redemptions = app
        .list_all(
            &format!("reward-redemptions?reward_id={}", id(&cup)),
            &admin,
            7,
        )
        .await;
    assert_eq!(redemptions.len(), 10);
    assert_verifies(app).await;
}

async fn parallel_redemptions_respect_the_member_limit(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut body = goods("每月限兑", 100, None);
    body["limit_per_period"] = json!({ "period": "month", "quantity": 3 });
    let monthly = reward(app, &admin, body).await;
    let m = member_with_points(app, &admin, "13800138000", 10_000).await;
    let request = json!({ "member_id": m, "delivery": { "method": "ship", "address": {
        "recipient": "张三", "phone": "13800138000", "address": "南京东路1号" } } });
    let path = format!("rewards/{}/redemptions", id(&monthly));
    let statuses = fire(app, &admin, &path, vec![request; 20]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(available(app, &admin, &m).await, 10_000 - 300);
    assert_verifies(app).await;
}
