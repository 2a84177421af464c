//! Referral (老带新): the referrer is rewarded once, when the referee's first order is paid.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use reqwest::Method;
use serde_json::json;

on_both!(the_referrer_is_rewarded_once_on_the_first_paid_order);

async fn the_referrer_is_rewarded_once_on_the_first_paid_order(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut config = app.get("event-rewards", &admin).await.ok(200);
    config["referral_points"] = json!(100);
    send(
        app.request(Method::PUT, "event-rewards", &admin)
            .json(&config),
    )
    .await
    .ok(200);
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let referrer = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [{ "kind": "phone", "value": "13800138000" }] }),
        )
        .await
        .ok(201);
    let code = referrer["referral_code"].as_str().unwrap();
    let referee = app
        .post("members", &admin, json!({ "identifiers": [{ "kind": "phone", "value": "13900139000" }], "referral_code": code }))
        .await
        .ok(201);
    let points = |who: &serde_json::Value| format!("members/{}/points", id(who));
    assert_eq!(
        app.get(&points(&referrer), &admin).await.ok(200)["available"],
        0
    );
    for external_id in ["R-1", "R-2"] {
        let body = json!({
            "external_id": external_id, "store_id": id(&store),
            "occurred_at": huiyuan_store::utc_now().format(&time::format_description::well_known::Rfc3339).unwrap(), "member_id": id(&referee), "total_fen": 1000,
            "lines": [{ "line_no": 1, "sku": "A", "name": "Tea", "category_path": ["food"], "quantity": 1, "unit_price_fen": 1000, "amount_fen": 1000 }],
            "payments": [{ "method": "cash", "amount_fen": 1000 }],
        });
        app.post("orders", &key, body).await.ok(201);
    }
    assert_eq!(
        app.get(&points(&referrer), &admin).await.ok(200)["available"],
        100,
        "once, whatever the number of orders"
    );
    let report = huiyuan_server::app::ledger::verify_all(&app.state.store)
        .await
        .unwrap();
    assert!(report.discrepancies.is_empty());
}
