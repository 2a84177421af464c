//! Tiers follow member merges (合并取高): the survivor keeps the better of the two levels, its
//! tier total counts the alias's tier points, so two members each short of a level reach it
//! together; undoing the merge splits the totals again and leaves the level to the next
//! evaluation.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use serde_json::{Value, json};
use time::OffsetDateTime;

on_both!(merging_keeps_the_better_tier_and_adds_up_tier_points);

fn ladder() -> Value {
    let benefits = json!({ "earning_multiplier_permille": 1000, "discount_permille": 1000 });
    json!({
        "basis": "tier_points",
        "window": { "kind": "rolling_days", "days": 365 },
        "evaluation": "window_end",
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0, "benefits": benefits },
            { "code": "silver", "name": "银卡", "threshold": 1000, "retention": 600, "benefits": benefits },
            { "code": "gold", "name": "金卡", "threshold": 5000, "retention": 3000, "benefits": benefits },
        ],
    })
}

struct Till {
    admin: String,
    key: String,
    store: Value,
}

impl Till {
    async fn member(&self, app: &TestApp, phone: &str) -> String {
        let body = json!({ "identifiers": [{ "kind": "phone", "value": phone }] });
        id(&app.post("members", &self.key, body).await.ok(201)).to_owned()
    }

    /// An order of `yuan` for `member`, earning as many points at 1 point per yuan.
    async fn order(&self, app: &TestApp, external_id: &str, member: &str, yuan: i64) {
        let at = (OffsetDateTime::now_utc() - time::Duration::minutes(5))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let fen = yuan * 100;
        let body = json!({
            "external_id": external_id, "member_id": member, "store_id": id(&self.store),
            "occurred_at": at, "total_fen": fen,
            "lines": [{ "line_no": 1, "sku": "A", "name": "A", "quantity": 1, "unit_price_fen": fen, "amount_fen": fen }],
            "payments": [{ "method": "cash", "amount_fen": fen }],
        });
        app.post("orders", &self.key, body).await.ok(201);
    }

    async fn tier(&self, app: &TestApp, member: &str) -> (String, i64) {
        let view = app
            .get(&format!("members/{member}/tier"), &self.admin)
            .await
            .ok(200);
        (
            view["level"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            view["progress"]["window_total"].as_i64().unwrap_or(-1),
        )
    }
}

async fn merging_keeps_the_better_tier_and_adds_up_tier_points(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        app.request(reqwest::Method::PUT, "tiers", &admin)
            .json(&ladder()),
    )
    .await
    .ok(200);
    app.post("earning-rules", &admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }))
        .await
        .ok(201);
    let till = Till { admin, key, store };

    // Best of both: a silver survivor and a gold source make a gold survivor.
    let silver = till.member(app, "13800138001").await;
    let gold = till.member(app, "13800138002").await;
    till.order(app, "S-1", &silver, 1_200).await;
    till.order(app, "G-1", &gold, 5_500).await;
    assert_eq!(till.tier(app, &silver).await, ("silver".to_owned(), 1_200));
    assert_eq!(till.tier(app, &gold).await, ("gold".to_owned(), 5_500));
    app.post(
        &format!("members/{silver}/merge"),
        &till.admin,
        json!({ "source_member_id": gold }),
    )
    .await
    .ok(200);
    assert_eq!(till.tier(app, &silver).await, ("gold".to_owned(), 6_700));
    let history = app
        .get(&format!("members/{silver}/tier/history"), &till.admin)
        .await
        .ok(200);
    let reasons: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["reason"].as_str().unwrap(), c["to"].as_str().unwrap()))
        .collect();
    assert!(reasons.contains(&("upgrade", "gold")), "{history}");

    // Together: two normal members (700 + 600 tier points) make one silver member.
    let first = till.member(app, "13800138003").await;
    let second = till.member(app, "13800138004").await;
    till.order(app, "A-1", &first, 700).await;
    till.order(app, "B-1", &second, 600).await;
    assert_eq!(till.tier(app, &first).await, ("normal".to_owned(), 700));
    app.post(
        &format!("members/{first}/merge"),
        &till.admin,
        json!({ "source_member_id": second }),
    )
    .await
    .ok(200);
    assert_eq!(till.tier(app, &first).await, ("silver".to_owned(), 1_300));

    // Undone: each member's total is their own again; the level waits for the evaluation.
    app.post(&format!("members/{first}/unmerge"), &till.admin, json!({}))
        .await
        .ok(200);
    assert_eq!(till.tier(app, &first).await, ("silver".to_owned(), 700));
    assert_eq!(till.tier(app, &second).await.1, 600);
}
