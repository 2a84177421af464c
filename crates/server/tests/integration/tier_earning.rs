//! Tiers feed earning: an order of a member in a level with an earning multiplier earns the
//! multiplied base points, named as a "tier benefit" rule in the accrual and the preview; a
//! format's own multiplier for the level wins in that format; rules with a tier condition fire
//! only for members of that tier; a refund takes back the multiplied points of its lines.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use serde_json::{Value, json};
use time::OffsetDateTime;

on_both!(tier_multipliers_and_tier_conditions_apply_to_orders);

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn ladder() -> Value {
    json!({
        "basis": "tier_points",
        "window": { "kind": "rolling_days", "days": 365 },
        "evaluation": "window_end",
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0, "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } },
            { "code": "gold", "name": "金卡", "threshold": 5000, "retention": 3000, "benefits": {
                "earning_multiplier_permille": 1500, "discount_permille": 950,
                "per_format": { "dining": { "earning_multiplier_permille": 2000 } } } },
        ],
    })
}

fn order(external_id: &str, store: &Value, member: &Value) -> Value {
    json!({
        "external_id": external_id,
        "member_id": id(member),
        "store_id": id(store),
        "occurred_at": rfc3339(OffsetDateTime::now_utc() - time::Duration::minutes(5)),
        "total_fen": 33300,
        "lines": [
            { "line_no": 1, "sku": "A", "name": "A", "quantity": 1, "unit_price_fen": 10000, "amount_fen": 10000 },
            { "line_no": 2, "sku": "B", "name": "B", "quantity": 1, "unit_price_fen": 3300, "amount_fen": 3300 },
            { "line_no": 3, "sku": "C", "name": "C", "quantity": 1, "unit_price_fen": 20000, "amount_fen": 20000 },
        ],
        "payments": [{ "method": "cash", "amount_fen": 33300 }],
    })
}

fn fired_points(order: &Value, name: &str) -> Option<i64> {
    order["fired_rules"]
        .as_array()?
        .iter()
        .find(|f| f["rule_name"] == name)
        .and_then(|f| f["points"].as_i64())
}

async fn tier_multipliers_and_tier_conditions_apply_to_orders(app: &TestApp) {
    let admin = app.admin_token().await;
    let retail = fixtures::format(app, &admin, "retail").await;
    let dining = fixtures::format(app, &admin, "dining").await;
    let shop = fixtures::store(app, &admin, &retail, "s001").await;
    let restaurant = fixtures::store(app, &admin, &dining, "r001").await;
    let channel = fixtures::channel(app, &admin, None, "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await;
    let key = key["key"].as_str().unwrap();
    send(
        app.request(reqwest::Method::PUT, "tiers", &admin)
            .json(&ladder()),
    )
    .await
    .ok(200);
    app.post(
        "earning-rules",
        &admin,
        json!({ "name": "Base 1 per yuan",
        "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }),
    )
    .await
    .ok(201);
    app.post(
        "earning-rules",
        &admin,
        json!({ "name": "Gold welcome", "conditions": { "tiers": ["gold"] },
        "effect": { "kind": "fixed_bonus", "points": 30 } }),
    )
    .await
    .ok(201);
    let register = |phone: &'static str| {
        app.post(
            "members",
            key,
            json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
        )
    };
    let plain = register("13800138001").await.ok(201);
    let gold = register("13800138002").await.ok(201);
    let expires = rfc3339(OffsetDateTime::now_utc() + time::Duration::days(30));
    app.post(
        &format!("members/{}/tier/override", id(&gold)),
        &admin,
        json!({ "level_code": "gold", "expires_at": expires, "reason": "test" }),
    )
    .await
    .ok(200);

    // A normal member: 100 + 33 + 200 base points, nothing else.
    let normal_order = app
        .post("orders", key, order("N-1", &shop, &plain))
        .await
        .ok(201);
    assert_eq!(normal_order["points_earned"], 333, "{normal_order}");
    assert_eq!(fired_points(&normal_order, "Gold welcome"), None);

    // Gold in retail: ×1.5 adds 50 + 16 + 100 (rounded down per line), and the gold-only bonus.
    let gold_retail = app
        .post("orders", key, order("G-1", &shop, &gold))
        .await
        .ok(201);
    assert_eq!(
        fired_points(&gold_retail, "tier benefit gold ×1.5"),
        Some(166),
        "{gold_retail}"
    );
    assert_eq!(fired_points(&gold_retail, "Gold welcome"), Some(30));
    assert_eq!(gold_retail["points_earned"], 333 + 166 + 30);

    // Gold in dining: the format's own ×2 replaces the group's ×1.5.
    let gold_dining = app
        .post("orders", key, order("G-2", &restaurant, &gold))
        .await
        .ok(201);
    assert_eq!(
        fired_points(&gold_dining, "tier benefit gold ×2"),
        Some(333),
        "{gold_dining}"
    );
    assert_eq!(gold_dining["points_earned"], 333 + 333 + 30);

    // The preview names the benefit too.
    let preview = app
        .post("orders/preview", key, order("G-3", &shop, &gold))
        .await
        .ok(200);
    assert_eq!(preview["accrual"]["total_points"], 529, "{preview}");
    assert!(
        preview["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule_name"] == "tier benefit gold ×1.5")
    );

    // Refunding line 3 of the retail order takes back its base and its multiplied points (200 +
    // 100) and its share of the bonus (30 × 200/333 → 18 by largest remainder).
    let refund = app
        .post(
            &format!("orders/{}/refunds", id(&gold_retail)),
            key,
            json!({ "external_refund_id": "R-1", "lines": [{ "line_no": 3, "quantity": 1 }] }),
        )
        .await
        .ok(201);
    let line3: i64 = gold_retail["lines"][2]["points_earned"].as_i64().unwrap();
    assert_eq!(refund["points_reversed"].as_i64(), Some(line3), "{refund}");
    assert!(line3 >= 300, "{gold_retail}");
}
