//! Orders over HTTP: accrual through six earning rules with exact per-line points, idempotent
//! ingestion, late offline orders read in the tenant's zone, anonymous orders and their claim,
//! partial and full refunds that take back exactly what the refunded lines earned, claw-backs
//! after the points were spent (overdraft policy 0 and 500), the dry run, and `verify` after each.

use crate::fixtures;
use crate::support::{TestApp, id};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, UtcOffset, Weekday};

on_both!(
    an_order_earns_exactly_what_its_rules_give,
    a_retry_of_the_same_order_answers_it_and_earns_once,
    a_late_offline_order_is_read_at_its_local_weekday,
    an_anonymous_order_can_be_claimed_later,
    refunds_take_back_exactly_what_the_refunded_lines_earned,
    a_refund_after_spending_takes_other_lots_then_reports_unrecovered,
    a_refund_after_spending_may_overdraw_within_the_policy,
    pending_points_are_reversed_from_pending,
    the_preview_explains_without_writing,
    invalid_orders_are_refused,
);

struct Shop {
    admin: String,
    /// The channel's API key.
    key: String,
    format: Value,
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
        format,
        store,
    }
}

async fn rule(app: &TestApp, admin: &str, body: Value) -> Value {
    app.post("earning-rules", admin, body).await.ok(201)
}

/// Six rules: a base rate, a category multiplier, two promotions of one best-of group, a Saturday
/// bonus and a SKU bonus.
async fn six_rules(app: &TestApp, shop: &Shop) {
    let admin = &shop.admin;
    rule(app, admin, json!({ "name": "Base 1 per yuan", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } })).await;
    rule(app, admin, json!({ "name": "Skincare x2", "priority": 5, "conditions": { "categories": [["beauty", "skincare"]] },
        "effect": { "kind": "multiplier", "permille": 2000 } })).await;
    rule(app, admin, json!({ "name": "Retail promo x3", "priority": 4, "conditions": { "format_ids": [id(&shop.format)] },
        "effect": { "kind": "multiplier", "permille": 3000 }, "stacking": { "kind": "best_of", "group": "promo" } })).await;
    rule(app, admin, json!({ "name": "Small promo x1.5", "priority": 4,
        "effect": { "kind": "multiplier", "permille": 1500 }, "stacking": { "kind": "best_of", "group": "promo" } })).await;
    rule(app, admin, json!({ "name": "Saturday bonus", "conditions": { "weekdays": [6] }, "effect": { "kind": "fixed_bonus", "points": 50 } })).await;
    rule(app, admin, json!({ "name": "SKU-B bonus", "conditions": { "skus": ["SKU-B"] }, "effect": { "kind": "fixed_bonus", "points": 20 } })).await;
}

const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The most recent Saturday before today in Shanghai, at `hour:minute` local time.
fn last_saturday(hour: u8, minute: u8) -> OffsetDateTime {
    let mut day = OffsetDateTime::now_utc().to_offset(SHANGHAI).date() - Duration::days(1);
    while day.weekday() != Weekday::Saturday {
        day -= Duration::days(1);
    }
    day.with_hms(hour, minute, 0)
        .unwrap()
        .assume_offset(SHANGHAI)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Three lines (one excluded), ¥20 of the ¥280 paid with points.
fn order(external_id: &str, shop: &Shop, occurred_at: OffsetDateTime, member: Value) -> Value {
    let mut body = json!({
        "external_id": external_id,
        "store_id": id(&shop.store),
        "occurred_at": rfc3339(occurred_at),
        "total_fen": 28000,
        "lines": [
            { "line_no": 1, "sku": "SKU-A", "name": "Serum", "category_path": ["beauty", "skincare", "serum"], "quantity": 2, "unit_price_fen": 10000, "amount_fen": 20000 },
            { "line_no": 2, "sku": "SKU-B", "name": "Tea", "category_path": ["food"], "quantity": 1, "unit_price_fen": 5000, "amount_fen": 5000 },
            { "line_no": 3, "sku": "TOB", "name": "Cigarettes", "category_path": ["tobacco"], "quantity": 1, "unit_price_fen": 3000, "amount_fen": 3000, "excluded": true },
        ],
        "payments": [{ "method": "wechat_pay", "amount_fen": 26000 }, { "method": "points", "amount_fen": 2000 }],
    });
    if let (Some(target), Some(fields)) = (body.as_object_mut(), member.as_object()) {
        target.extend(fields.clone());
    }
    body
}

async fn member(app: &TestApp, token: &str, phone: &str) -> Value {
    app.post(
        "members",
        token,
        json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
    )
    .await
    .ok(201)
}

async fn available(app: &TestApp, admin: &str, member: &Value) -> (i64, i64) {
    let points = app
        .get(&format!("members/{}/points", id(member)), admin)
        .await
        .ok(200);
    (
        points["available"].as_i64().unwrap(),
        points["pending"].as_i64().unwrap(),
    )
}

async fn assert_verifies(app: &TestApp) {
    let report = huiyuan_server::app::ledger::verify_all(&app.state.store)
        .await
        .expect("verify runs");
    assert!(
        report.discrepancies.is_empty(),
        "{:?}",
        report.discrepancies
    );
}

fn line_points(order: &Value) -> Vec<i64> {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["points_earned"].as_i64().unwrap())
        .collect()
}

fn fired(order: &Value) -> Vec<(String, i64)> {
    order["fired_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_name"].as_str().unwrap().to_owned(),
                f["points"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn an_order_earns_exactly_what_its_rules_give(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let m = member(app, &shop.key, "13800138000").await;
    let posted = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-1",
                &shop,
                last_saturday(10, 0),
                json!({ "phone": "138 0013 8000" }),
            ),
        )
        .await
        .ok(201);
    // Net after ¥20 of points shared pro rata: line 1 ¥184, line 2 ¥46. Base 184 + 46; skincare
    // ×2 +184; promo ×3 (best of ×3 and ×1.5) +368 +92; Saturday 50 split 40/10; SKU-B 20.
    assert_eq!(posted["points_earned"], 944, "{posted}");
    assert_eq!(posted["member_id"], id(&m));
    assert_eq!(line_points(&posted), [776, 168, 0]);
    let mut rules = fired(&posted);
    rules.sort();
    assert_eq!(
        rules,
        [
            ("Base 1 per yuan".to_owned(), 230),
            ("Retail promo x3".to_owned(), 460),
            ("SKU-B bonus".to_owned(), 20),
            ("Saturday bonus".to_owned(), 50),
            ("Skincare x2".to_owned(), 184)
        ]
    );
    assert_eq!(available(app, &shop.admin, &m).await, (944, 0));
    let entries = app
        .get(&format!("members/{}/points/entries", id(&m)), &shop.admin)
        .await
        .ok(200);
    let earn = &entries["items"][0];
    assert_eq!(earn["kind"], "earn");
    assert_eq!(
        earn["format_id"],
        id(&shop.format),
        "the issuing format is recorded"
    );
    assert_eq!(
        earn["debit_account"],
        format!("issuance:{}", id(&shop.format))
    );
    assert!(
        earn["reason"].as_str().unwrap().contains("Saturday bonus"),
        "{earn}"
    );
    let got = app
        .get(&format!("orders/{}", id(&posted)), &shop.admin)
        .await
        .ok(200);
    assert_eq!(got["points_earned"], 944);
    assert_eq!(got["payments"][1]["method"], "points");
    let audit = app
        .get("audit-log?action=order.created", &shop.admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    assert_verifies(app).await;
}

async fn a_retry_of_the_same_order_answers_it_and_earns_once(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let m = member(app, &shop.key, "13800138000").await;
    let body = order(
        "A-1",
        &shop,
        last_saturday(10, 0),
        json!({ "member_id": id(&m) }),
    );
    let first = app.post("orders", &shop.key, body.clone()).await.ok(201);
    let again = app.post("orders", &shop.key, body.clone()).await.ok(200);
    assert_eq!(id(&first), id(&again));
    // With an idempotency key too, and a replay of that key.
    let keyed = app
        .post_once("orders", &shop.key, "k-1", body.clone())
        .await
        .ok(200);
    assert_eq!(id(&keyed), id(&first));
    assert_eq!(
        available(app, &shop.admin, &m).await,
        (944, 0),
        "points once"
    );
    // The same external id from another channel is another order.
    let other = fixtures::channel(app, &shop.admin, Some(&shop.format), "mini").await;
    let other_key = fixtures::api_key(app, &shop.admin, &other, None).await;
    let second = app
        .post("orders", other_key["key"].as_str().unwrap(), body.clone())
        .await
        .ok(201);
    assert_ne!(id(&second), id(&first));
    assert_eq!(available(app, &shop.admin, &m).await, (1888, 0));
    // A till that posted with the member's code retries after the code expired: the order,
    // not a refusal of the code; a new order with that code is refused.
    let member_id: huiyuan_domain::ids::MemberId = id(&m).parse().unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let code = |expires: i64| {
        let expires = u32::try_from(expires).unwrap();
        let signed = app
            .state
            .vault
            .sign_member_code(app.default_tenant.id, member_id, expires);
        json!({ "member_code": signed })
    };
    let at = last_saturday(11, 0);
    let coded = app
        .post("orders", &shop.key, order("C-1", &shop, at, code(now + 60)))
        .await
        .ok(201);
    let retried = app
        .post("orders", &shop.key, order("C-1", &shop, at, code(now - 1)))
        .await
        .ok(200);
    assert_eq!(id(&retried), id(&coded));
    let refused = app
        .post("orders", &shop.key, order("C-2", &shop, at, code(now - 1)))
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "member_code");
    // A retry after its member was erased: still the order.
    app.post(
        &format!("members/{}/erase", id(&m)),
        &shop.admin,
        json!({ "reason": "member_request" }),
    )
    .await
    .ok(200);
    let after_erasure = app.post("orders", &shop.key, body).await.ok(200);
    assert_eq!(id(&after_erasure), id(&first));
    assert_verifies(app).await;
}

async fn a_late_offline_order_is_read_at_its_local_weekday(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let m = member(app, &shop.key, "13800138000").await;
    // Saturday 23:30 in Shanghai is Saturday; Sunday 00:30 in Shanghai is still Saturday in UTC.
    let saturday_night = last_saturday(23, 30);
    let sunday_early = saturday_night + Duration::hours(1);
    assert_eq!(
        sunday_early.to_offset(UtcOffset::UTC).weekday(),
        Weekday::Saturday
    );
    let sat = app
        .post(
            "orders",
            &shop.key,
            order(
                "late-1",
                &shop,
                saturday_night,
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    let sun = app
        .post(
            "orders",
            &shop.key,
            order(
                "late-2",
                &shop,
                sunday_early,
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    assert!(fired(&sat).iter().any(|(name, _)| name == "Saturday bonus"));
    assert!(
        !fired(&sun).iter().any(|(name, _)| name == "Saturday bonus"),
        "{sun}"
    );
    assert_eq!(
        (sat["points_earned"].as_i64(), sun["points_earned"].as_i64()),
        (Some(944), Some(894))
    );
    assert_verifies(app).await;
}

async fn an_anonymous_order_can_be_claimed_later(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let anonymous = app
        .post(
            "orders",
            &shop.key,
            order("anon-1", &shop, last_saturday(10, 0), json!({})),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            anonymous["member_id"].clone(),
            anonymous["points_earned"].as_i64()
        ),
        (Value::Null, Some(0))
    );
    let m = member(app, &shop.key, "13800138000").await;
    let path = format!("orders/{}/claim", id(&anonymous));
    let claimed = app
        .post(&path, &shop.key, json!({ "member_id": id(&m) }))
        .await
        .ok(200);
    assert_eq!(claimed["member_id"], id(&m));
    assert_eq!(
        claimed["points_earned"], 944,
        "earned as of its Saturday: {claimed}"
    );
    assert!(claimed["claimed_at"].is_string());
    assert_eq!(available(app, &shop.admin, &m).await, (944, 0));
    // Claiming again for the same member changes nothing; another member is refused.
    app.post(&path, &shop.key, json!({ "member_id": id(&m) }))
        .await
        .ok(200);
    assert_eq!(available(app, &shop.admin, &m).await, (944, 0));
    let other = member(app, &shop.key, "13900139000").await;
    app.post(&path, &shop.key, json!({ "member_id": id(&other) }))
        .await
        .problem(409, "conflict");
    // Too old to claim: an order of 40 days ago.
    let old = app
        .post(
            "orders",
            &shop.key,
            order(
                "anon-2",
                &shop,
                OffsetDateTime::now_utc() - Duration::days(40),
                json!({}),
            ),
        )
        .await
        .ok(201);
    let problem = app
        .post(
            &format!("orders/{}/claim", id(&old)),
            &shop.key,
            json!({ "member_id": id(&m) }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "claim_window_passed");
    assert_verifies(app).await;
}

async fn refunds_take_back_exactly_what_the_refunded_lines_earned(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let m = member(app, &shop.key, "13800138000").await;
    let posted = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-1",
                &shop,
                last_saturday(10, 0),
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    let path = format!("orders/{}/refunds", id(&posted));
    let first = app
        .post(
            &path,
            &shop.key,
            json!({ "external_refund_id": "R1", "lines": [{ "line_no": 2, "quantity": 1 }] }),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            first["points_reversed"].as_i64(),
            first["amount_fen"].as_i64(),
            first["unrecovered"].as_i64()
        ),
        (Some(168), Some(5000), Some(0))
    );
    assert_eq!(available(app, &shop.admin, &m).await, (776, 0));
    // A retry answers the same refund; more than is left is refused.
    let again = app
        .post(
            &path,
            &shop.key,
            json!({ "external_refund_id": "R1", "lines": [{ "line_no": 2, "quantity": 1 }] }),
        )
        .await
        .ok(200);
    assert_eq!(id(&again), id(&first));
    let problem = app
        .post(
            &path,
            &shop.key,
            json!({ "external_refund_id": "R2", "lines": [{ "line_no": 2, "quantity": 1 }] }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "over_refund");
    app.post(
        &path,
        &shop.key,
        json!({ "external_refund_id": "R2", "lines": [{ "line_no": 1, "quantity": 3 }] }),
    )
    .await
    .problem(422, "validation_failed");
    app.post(
        &path,
        &shop.key,
        json!({ "external_refund_id": "R2", "lines": [{ "line_no": 9, "quantity": 1 }] }),
    )
    .await
    .problem(422, "validation_failed");
    // Half of line 1, then the rest by a full refund: 388 + 388 = 776.
    let half = app
        .post(
            &path,
            &shop.key,
            json!({ "external_refund_id": "R2", "lines": [{ "line_no": 1, "quantity": 1 }] }),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            half["points_reversed"].as_i64(),
            half["amount_fen"].as_i64()
        ),
        (Some(388), Some(10000))
    );
    let rest = app
        .post(&path, &shop.key, json!({ "external_refund_id": "R3" }))
        .await
        .ok(201);
    assert_eq!(
        (
            rest["points_reversed"].as_i64(),
            rest["amount_fen"].as_i64()
        ),
        (Some(388), Some(13000)),
        "{rest}"
    );
    assert_eq!(available(app, &shop.admin, &m).await, (0, 0));
    let got = app
        .get(&format!("orders/{}", id(&posted)), &shop.admin)
        .await
        .ok(200);
    assert_eq!(
        (
            got["status"].as_str(),
            got["refunded_fen"].as_i64(),
            got["points_reversed"].as_i64()
        ),
        (Some("refunded"), Some(28000), Some(944))
    );
    assert_eq!(got["refunds"].as_array().unwrap().len(), 3);
    let problem = app
        .post(&path, &shop.key, json!({ "external_refund_id": "R4" }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "nothing_to_refund");
    let audit = app
        .get("audit-log?action=order.refunded", &shop.admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);
    // The rule counters went back to zero with the points.
    let mut session = app.state.store.read().await.unwrap();
    let member_id: huiyuan_domain::ids::MemberId = id(&m).parse().unwrap();
    for rule in &got["fired_rules"].as_array().unwrap().clone() {
        let rule_id: uuid::Uuid = rule["rule_id"].as_str().unwrap().parse().unwrap();
        let left = huiyuan_store::orders::rule_earned(
            &mut session,
            app.default_tenant.id,
            member_id,
            rule_id,
            None,
        )
        .await
        .unwrap();
        assert_eq!(left, 0, "{rule}");
    }
    drop(session);
    assert_verifies(app).await;
}

async fn set_policy(app: &TestApp, admin: &str, pending_days: i64, overdraft_limit: i64) {
    let body = json!({ "expiry": { "kind": "never" }, "pending_days": pending_days, "fen_per_100_points": 100, "overdraft_limit": overdraft_limit });
    let reply = crate::support::send(
        app.request(reqwest::Method::PUT, "points/policy", admin)
            .json(&body),
    )
    .await;
    reply.ok(200);
}

async fn a_refund_after_spending_takes_other_lots_then_reports_unrecovered(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    set_policy(app, &shop.admin, 0, 0).await;
    let m = member(app, &shop.key, "13800138000").await;
    let posted = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-1",
                &shop,
                last_saturday(10, 0),
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    let adjust = format!("members/{}/points/adjustments", id(&m));
    app.post(
        &adjust,
        &shop.admin,
        json!({ "points": -900, "reason": "spent at the mall" }),
    )
    .await
    .ok(201);
    app.post(
        &adjust,
        &shop.admin,
        json!({ "points": 500, "reason": "gift" }),
    )
    .await
    .ok(201);
    assert_eq!(available(app, &shop.admin, &m).await, (544, 0));
    let refund = app
        .post(
            &format!("orders/{}/refunds", id(&posted)),
            &shop.key,
            json!({ "external_refund_id": "R1" }),
        )
        .await
        .ok(201);
    // 44 left on the order's lot, 500 from the gift, 400 not recoverable without an overdraft.
    assert_eq!(
        (
            refund["points_reversed"].as_i64(),
            refund["unrecovered"].as_i64()
        ),
        (Some(544), Some(400)),
        "{refund}"
    );
    let explanation = refund["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("44 from the order's own points")
            && explanation.contains("500 from other points")
            && explanation.contains("400 not recovered"),
        "{explanation}"
    );
    assert_eq!(available(app, &shop.admin, &m).await, (0, 0));
    let entries = app
        .get(&format!("members/{}/points/entries", id(&m)), &shop.admin)
        .await
        .ok(200);
    let last = entries["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["points"].as_i64()),
        (Some("clawback"), Some(-544))
    );
    assert_eq!(
        last["credit_account"],
        format!("issuance:{}", id(&shop.format))
    );
    assert_verifies(app).await;
}

async fn a_refund_after_spending_may_overdraw_within_the_policy(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    set_policy(app, &shop.admin, 0, 500).await;
    let m = member(app, &shop.key, "13800138000").await;
    let posted = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-1",
                &shop,
                last_saturday(10, 0),
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    let adjust = format!("members/{}/points/adjustments", id(&m));
    app.post(
        &adjust,
        &shop.admin,
        json!({ "points": -500, "reason": "spent" }),
    )
    .await
    .ok(201);
    let refund = app
        .post(
            &format!("orders/{}/refunds", id(&posted)),
            &shop.key,
            json!({ "external_refund_id": "R1" }),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            refund["points_reversed"].as_i64(),
            refund["unrecovered"].as_i64()
        ),
        (Some(944), Some(0)),
        "{refund}"
    );
    assert!(
        refund["explanation"]
            .as_str()
            .unwrap()
            .contains("500 as a negative balance"),
        "{refund}"
    );
    assert_eq!(available(app, &shop.admin, &m).await, (-500, 0));
    assert_verifies(app).await;
    // A new order repays the overdraft first.
    app.post(
        "orders",
        &shop.key,
        order(
            "A-2",
            &shop,
            last_saturday(10, 0),
            json!({ "member_id": id(&m) }),
        ),
    )
    .await
    .ok(201);
    assert_eq!(available(app, &shop.admin, &m).await, (444, 0));
    assert_verifies(app).await;
    // Beyond the overdraft: spend everything, refund again.
    app.post(
        &adjust,
        &shop.admin,
        json!({ "points": -444, "reason": "spent" }),
    )
    .await
    .ok(201);
    let third = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-3",
                &shop,
                last_saturday(10, 0),
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    app.post(
        &adjust,
        &shop.admin,
        json!({ "points": -944, "reason": "spent" }),
    )
    .await
    .ok(201);
    let refund = app
        .post(
            &format!("orders/{}/refunds", id(&third)),
            &shop.key,
            json!({ "external_refund_id": "R1" }),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            refund["points_reversed"].as_i64(),
            refund["unrecovered"].as_i64()
        ),
        (Some(500), Some(444)),
        "{refund}"
    );
    assert_eq!(available(app, &shop.admin, &m).await, (-500, 0));
    assert_verifies(app).await;
}

async fn pending_points_are_reversed_from_pending(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    set_policy(app, &shop.admin, 7, 0).await;
    let m = member(app, &shop.key, "13800138000").await;
    let posted = app
        .post(
            "orders",
            &shop.key,
            order(
                "A-1",
                &shop,
                last_saturday(10, 0),
                json!({ "member_id": id(&m) }),
            ),
        )
        .await
        .ok(201);
    assert_eq!(available(app, &shop.admin, &m).await, (0, 944));
    let refund = app
        .post(
            &format!("orders/{}/refunds", id(&posted)),
            &shop.key,
            json!({ "external_refund_id": "R1", "lines": [{ "line_no": 2, "quantity": 1 }] }),
        )
        .await
        .ok(201);
    assert_eq!(refund["points_reversed"], 168);
    assert!(
        refund["explanation"].as_str().unwrap().contains("pending"),
        "{refund}"
    );
    assert_eq!(available(app, &shop.admin, &m).await, (0, 776));
    assert_verifies(app).await;
}

async fn the_preview_explains_without_writing(app: &TestApp) {
    let shop = shop(app).await;
    six_rules(app, &shop).await;
    let m = member(app, &shop.key, "13800138000").await;
    let monday = last_saturday(10, 0) + Duration::days(2);
    let body = order(
        "P-1",
        &shop,
        monday.min(OffsetDateTime::now_utc()),
        json!({ "member_id": id(&m) }),
    );
    let evaluation = app
        .post("orders/preview", &shop.key, body.clone())
        .await
        .ok(200);
    let reports = evaluation["rules"].as_array().unwrap();
    assert_eq!(reports.len(), 6);
    let outcome =
        |name: &str| reports.iter().find(|r| r["rule_name"] == name).unwrap()["outcome"].clone();
    assert_eq!(outcome("Small promo x1.5")["status"], "beaten_in_group");
    let saturday = outcome("Saturday bonus");
    assert_eq!(saturday["status"], "not_matched");
    assert_eq!(saturday["unmet"][0]["condition"], "weekday");
    assert_eq!(outcome("Base 1 per yuan")["status"], "fired");
    assert_eq!(evaluation["accrual"]["total_points"], 894);
    // Nothing was written: no points, and the order can still be posted as new.
    assert_eq!(available(app, &shop.admin, &m).await, (0, 0));
    app.post("orders", &shop.key, body).await.ok(201);
}

async fn invalid_orders_are_refused(app: &TestApp) {
    let shop = shop(app).await;
    let base = order("bad", &shop, last_saturday(10, 0), json!({}));
    let with = |patch: Value| {
        let mut body = base.clone();
        if let (Some(target), Some(fields)) = (body.as_object_mut(), patch.as_object()) {
            target.extend(fields.clone());
        }
        body
    };
    let problem = app
        .post("orders", &shop.key, with(json!({ "total_fen": 1000 })))
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "less_than_lines", "{problem}");
    let zero_quantity = json!({ "lines": [{ "line_no": 1, "sku": "X", "quantity": 0, "unit_price_fen": 1, "amount_fen": 1 }] });
    app.post("orders", &shop.key, with(zero_quantity))
        .await
        .problem(422, "validation_failed");
    let negative = json!({ "lines": [{ "line_no": 1, "sku": "X", "quantity": 1, "unit_price_fen": 1, "amount_fen": -1 }] });
    app.post("orders", &shop.key, with(negative))
        .await
        .problem(422, "validation_failed");
    let mismatch = json!({ "payments": [{ "method": "cash", "amount_fen": 1 }] });
    app.post("orders", &shop.key, with(mismatch))
        .await
        .problem(422, "validation_failed");
    let future = json!({ "occurred_at": rfc3339(OffsetDateTime::now_utc() + Duration::days(1)) });
    app.post("orders", &shop.key, with(future))
        .await
        .problem(422, "validation_failed");
    let problem = app
        .post("orders", &shop.key, with(json!({ "phone": "13700137000" })))
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "not_found");
    let problem = app
        .post(
            "orders",
            &shop.key,
            with(json!({ "member_code": "hym_forged" })),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "member_code");
    // Staff must name the channel.
    app.post("orders", &shop.admin, base.clone())
        .await
        .problem(422, "validation_failed");
    let clerk = fixtures::staff_login(
        app,
        &shop.admin,
        "clerk",
        &["orders:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.post("orders", &clerk, base)
        .await
        .problem(403, "permission_denied");
    app.get(&format!("orders/{}", uuid::Uuid::now_v7()), &clerk)
        .await
        .problem(404, "not_found");
}
