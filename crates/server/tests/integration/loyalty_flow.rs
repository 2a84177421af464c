//! The loyalty engine end to end: an order earns by the rules, the tier upgrades at once, and the
//! member profile shows points and tier through the section registry.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use reqwest::Method;
use serde_json::json;

on_both!(an_order_earns_upgrades_and_shows_on_the_profile);

async fn an_order_earns_upgrades_and_shows_on_the_profile(app: &TestApp) {
    let admin = app.admin_token().await;
    let ladder = json!({
        "basis": "tier_points", "window": { "kind": "rolling_days", "days": 365 },
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0, "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } },
            { "code": "silver", "name": "银卡", "threshold": 100, "retention": 50, "benefits": { "earning_multiplier_permille": 1200, "discount_permille": 980 } },
        ],
    });
    send(app.request(Method::PUT, "tiers", &admin).json(&ladder))
        .await
        .ok(200);
    app.post("earning-rules", &admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } })).await.ok(201);
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [{ "kind": "phone", "value": "13800138000" }] }),
        )
        .await
        .ok(201);
    let order = json!({
        "external_id": "T-1", "store_id": id(&store), "phone": "138 0013 8000", "total_fen": 15000,
        "occurred_at": huiyuan_store::utc_now().format(&time::format_description::well_known::Rfc3339).unwrap(),
        "lines": [{ "line_no": 1, "sku": "A", "name": "Coat", "category_path": ["apparel"], "quantity": 1, "unit_price_fen": 15000, "amount_fen": 15000 }],
        "payments": [{ "method": "card", "amount_fen": 15000 }],
    });
    let created = app.post("orders", &key, order).await.ok(201);
    assert_eq!(created["points_earned"], 150, "{created}");
    let tier = app
        .get(&format!("members/{}/tier", id(&member)), &admin)
        .await
        .ok(200);
    assert_eq!(
        tier["level"]["code"], "silver",
        "the order's tier points upgrade at once: {tier}"
    );
    assert_eq!(tier["recent_changes"][0]["reason"], "upgrade");
    let profile = app
        .get(&format!("members/{}", id(&member)), &admin)
        .await
        .ok(200);
    assert_eq!(profile["summaries"]["points"]["available"], 150);
    assert_eq!(profile["summaries"]["points"]["tier_points"], 150);
    assert!(
        profile["summaries"]["tier"].to_string().contains("silver"),
        "{}",
        profile["summaries"]
    );
}
