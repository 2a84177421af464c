//! Checkout over HTTP on both databases: the quote's math ("100 points + ¥10", the cap, the
//! unit, refusals with reasons); reserve → confirm (coupon used with a journal entry, points in
//! the format's redemption account); cancel and expiry giving coupons and points back; retries;
//! a reserved coupon refused at the till; `verify` after each. Parallel checkouts are in
//! `checkout_parallel.rs`.

use crate::coupons::{cash_off, issue};
use crate::fixtures;
use crate::mall::{assert_verifies, available, member_with_points};
use crate::support::{TestApp, id};
use serde_json::{Value, json};
use time::Duration;

on_both!(
    quotes_mix_points_and_cash_within_the_cap,
    reserve_then_confirm_redeems_the_coupon_and_claims_the_points,
    cancel_returns_the_coupon_and_the_points_into_their_lots,
    expiry_releases_reservations_once,
    retries_with_the_same_key_reserve_and_confirm_once,
    callers_need_the_permission_and_the_member_in_scope,
);

/// A POS at one store of a retail format, its key, and the admin's token.
pub struct Till {
    pub admin: String,
    pub key: String,
    pub format: Value,
    pub store: Value,
}

pub async fn till(app: &TestApp) -> Till {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, Some(&store)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    Till {
        admin,
        key,
        format,
        store,
    }
}

pub fn cart(amount_fen: i64) -> Value {
    json!([{ "sku": "A", "category_path": ["food"], "amount_fen": amount_fen }])
}

/// A 满100减20 coupon issued to `member`; answers its code.
pub async fn coupon_for(app: &TestApp, admin: &str, member: &str) -> String {
    let template = id(&app
        .post("coupon-templates", admin, cash_off("满100减20", None))
        .await
        .ok(201));
    issue(app, admin, &template, &[member]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn coupon_state(app: &TestApp, admin: &str, member: &str) -> String {
    let list = app
        .get(&format!("members/{member}/coupons"), admin)
        .await
        .ok(200);
    list["items"][0]["state"].as_str().unwrap().to_owned()
}

async fn quotes_mix_points_and_cash_within_the_cap(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 5000).await;
    let key = t.key.clone();
    let quote = |body: Value| {
        let key = key.clone();
        async move { app.post("checkouts/quote", &key, body).await }
    };

    // "100 points + ¥10": an ¥11 cart, 100 points at 100 points = ¥1.
    let q = quote(json!({ "member_id": member, "lines": cart(1100), "points": 100 }))
        .await
        .ok(200);
    let q = &q["quote"];
    assert_eq!(
        (
            &q["subtotal_fen"],
            &q["points_used"],
            &q["points_value_fen"],
            &q["cash_due_fen"]
        ),
        (&json!(1100), &json!(100), &json!(100), &json!(1000))
    );
    // At most half by points, in hundreds: 500 points on ¥11.
    assert_eq!(
        (&q["points_cap_fen"], &q["max_points"]),
        (&json!(550), &json!(500))
    );
    let most = quote(json!({ "member_id": member, "lines": cart(1100), "max_points": true }))
        .await
        .ok(200);
    assert_eq!(
        (
            &most["quote"]["points_used"],
            &most["quote"]["cash_due_fen"]
        ),
        (&json!(500), &json!(600))
    );
    let above = quote(json!({ "member_id": member, "lines": cart(1100), "points": 600 }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        (&above["errors"][0]["field"], &above["errors"][0]["code"]),
        (&json!("points"), &json!("above_cap"))
    );
    let odd = quote(json!({ "member_id": member, "lines": cart(1100), "points": 150 }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(odd["errors"][0]["code"], "not_multiple_of_unit");
    let short = quote(json!({ "member_id": member, "lines": cart(1_000_000), "points": 6000 }))
        .await
        .problem(422, "insufficient_points");
    assert_eq!(short["errors"][0]["field"], "points");

    // Coupons first, points on what is left: 120 − 20 = 100, half of it by points.
    let code = coupon_for(app, &t.admin, &member).await;
    let both = quote(
        json!({ "member_id": member, "lines": cart(12000), "coupon_codes": [code],
        "max_points": true }),
    )
    .await
    .ok(200);
    let q = &both["quote"];
    assert_eq!(
        (
            &q["coupon_discount_fen"],
            &q["payable_fen"],
            &q["points_used"],
            &q["cash_due_fen"]
        ),
        (&json!(2000), &json!(10000), &json!(5000), &json!(5000))
    );
    assert_eq!(q["coupons"][0]["discount"]["discount_fen"], 2000);
    let below = quote(json!({ "member_id": member, "lines": cart(5000), "coupon_codes": [code] }))
        .await
        .problem(422, "coupon_not_applicable");
    assert_eq!(
        (&below["errors"][0]["field"], &below["errors"][0]["code"]),
        (&json!("coupon_codes[0]"), &json!("below_threshold"))
    );

    // The tenant's settings: all of it by points, points one by one.
    let policy = app
        .request(reqwest::Method::PUT, "checkout-policy", &t.admin)
        .json(&json!({ "max_share_percent": 100, "points_unit": 1, "hold_minutes": 5 }));
    let set = crate::support::send(policy).await.ok(200);
    assert_eq!(set["fen_per_100_points"], 100);
    let all = quote(json!({ "member_id": member, "lines": cart(1234), "max_points": true }))
        .await
        .ok(200);
    assert_eq!(
        (&all["quote"]["points_used"], &all["quote"]["cash_due_fen"]),
        (&json!(1234), &json!(0))
    );
    let bad = crate::support::send(
        app.request(reqwest::Method::PUT, "checkout-policy", &t.admin)
            .json(&json!({ "max_share_percent": 101, "points_unit": 0, "hold_minutes": 5 })),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(bad["errors"].as_array().unwrap().len(), 2);
    // A quote holds nothing.
    assert_eq!(available(app, &t.admin, &member).await, 5000);
}

async fn reserve(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("checkouts", token, body).await.ok(201)
}

async fn reserve_then_confirm_redeems_the_coupon_and_claims_the_points(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 5000).await;
    let code = coupon_for(app, &t.admin, &member).await;
    let checkout = reserve(
        app,
        &t.key,
        json!({ "member_id": member, "lines": cart(12000), "coupon_codes": [code], "points": 300 }),
    )
    .await;
    assert_eq!(
        (
            &checkout["state"],
            &checkout["points"],
            &checkout["cash_due_fen"]
        ),
        (&json!("reserved"), &json!(300), &json!(9700))
    );
    assert_eq!(available(app, &t.admin, &member).await, 4700);
    assert_eq!(coupon_state(app, &t.admin, &member).await, "reserved");

    // Held: neither the till nor another checkout can take the coupon.
    let body = json!({ "lines": cart(12000), "order_ref": "T-9" });
    let at_till = app
        .post(&format!("coupons/{code}/redeem"), &t.key, body)
        .await
        .problem(409, "coupon_reserved");
    assert_eq!(at_till["errors"][0]["code"], "reserved");
    let again = app
        .post(
            "checkouts",
            &t.key,
            json!({ "member_id": member, "lines": cart(12000), "coupon_codes": [code] }),
        )
        .await
        .problem(409, "coupon_reserved");
    assert_eq!(again["errors"][0]["field"], "coupon_codes[0]");

    // Someone else's order is refused; the member's own order confirms.
    let path = format!("checkouts/{}/confirm", id(&checkout));
    let stranger = member_with_points(app, &t.admin, "13800138001", 0).await;
    let store_id = id(&t.store);
    let order = |member: String, external: &str| {
        json!({ "external_id": external, "member_id": member, "store_id": store_id,
            "occurred_at": "2026-11-20T10:00:00Z", "total_fen": 12000,
            "lines": [{ "line_no": 1, "sku": "A", "name": "Tea", "category_path": ["food"], "quantity": 1,
                "unit_price_fen": 12000, "amount_fen": 12000 }],
            "payments": [{ "method": "wechat_pay", "amount_fen": 12000 }] })
    };
    let theirs = app
        .post("orders", &t.key, order(stranger, "O-2"))
        .await
        .ok(201);
    let refused = app
        .post(&path, &t.key, json!({ "order_id": id(&theirs) }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "order_id");
    let ours = app
        .post("orders", &t.key, order(member.clone(), "O-1"))
        .await
        .ok(201);
    let confirmed = app
        .post(
            &path,
            &t.key,
            json!({ "order_id": id(&ours), "order_ref": "O-1" }),
        )
        .await
        .ok(200);
    assert_eq!(
        (&confirmed["state"], &confirmed["order_ref"]),
        (&json!("confirmed"), &json!("O-1"))
    );
    let twice = app
        .post(&path, &t.key, json!({ "order_ref": "O-1" }))
        .await
        .ok(200);
    assert_eq!(twice["confirmed_at"], confirmed["confirmed_at"]);
    app.post(
        &format!("checkouts/{}/cancel", id(&checkout)),
        &t.key,
        json!({}),
    )
    .await
    .problem(409, "checkout_closed");

    assert_eq!(coupon_state(app, &t.admin, &member).await, "used");
    let journal = app.get("coupon-redemptions", &t.admin).await.ok(200);
    let redemption = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["order_ref"] == "O-1")
        .expect("the confirmation is in the coupon journal")
        .clone();
    assert_eq!(redemption["discount_fen"], 2000);
    assert_eq!(available(app, &t.admin, &member).await, 4700);
    let tenant = app.default_tenant.id;
    let mut session = app.state.store.read().await.unwrap();
    let claimed = huiyuan_store::ledger::entry_by_natural_key(
        &mut session,
        tenant,
        &format!("checkout:{}:redeem", id(&checkout)),
    )
    .await
    .unwrap()
    .expect("the held points were claimed");
    assert_eq!(
        (
            claimed.amount,
            claimed.debit_account.as_str(),
            claimed.credit_account
        ),
        (
            300,
            "checkout_hold",
            format!("redemption:{}", id(&t.format))
        )
    );
    assert_eq!(claimed.draws.iter().map(|d| d.points).sum::<i64>(), 300);
    drop(session);
    assert_verifies(app).await;
}

async fn cancel_returns_the_coupon_and_the_points_into_their_lots(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let code = coupon_for(app, &t.admin, &member).await;
    let checkout = reserve(
        app,
        &t.key,
        json!({ "member_id": member, "lines": cart(20000), "coupon_codes": [code], "points": 800 }),
    )
    .await;
    assert_eq!(available(app, &t.admin, &member).await, 200);
    let path = format!("checkouts/{}/cancel", id(&checkout));
    let cancelled = app
        .post(&path, &t.key, json!({ "reason": "customer left" }))
        .await
        .ok(200);
    assert_eq!(
        (&cancelled["state"], &cancelled["cancel_reason"]),
        (&json!("cancelled"), &json!("customer left"))
    );
    assert_eq!(available(app, &t.admin, &member).await, 1000);
    assert_eq!(coupon_state(app, &t.admin, &member).await, "available");
    // Once only: cancelling again changes nothing; confirming is refused.
    app.post(&path, &t.key, json!({})).await.ok(200);
    assert_eq!(available(app, &t.admin, &member).await, 1000);
    app.post(
        &format!("checkouts/{}/confirm", id(&checkout)),
        &t.key,
        json!({}),
    )
    .await
    .problem(409, "checkout_closed");
    // The points went back into the lot they came from, which can be spent again in full.
    let tenant = app.default_tenant.id;
    let mut session = app.state.store.read().await.unwrap();
    let hold = huiyuan_store::ledger::entry_by_natural_key(
        &mut session,
        tenant,
        &format!("checkout:{}:hold", id(&checkout)),
    )
    .await
    .unwrap()
    .unwrap();
    let back = huiyuan_store::ledger::entry_by_natural_key(
        &mut session,
        tenant,
        &format!("checkout:{}:release", id(&checkout)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        back.draws.iter().map(|d| d.lot_id).collect::<Vec<_>>(),
        hold.draws.iter().map(|d| d.lot_id).collect::<Vec<_>>()
    );
    drop(session);
    reserve(
        app,
        &t.key,
        json!({ "member_id": member, "lines": cart(20000), "coupon_codes": [code], "points": 1000 }),
    )
    .await;
    assert_eq!(available(app, &t.admin, &member).await, 0);
    assert_verifies(app).await;
}

async fn expiry_releases_reservations_once(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let code = coupon_for(app, &t.admin, &member).await;
    let checkout = reserve(
        app,
        &t.key,
        json!({ "member_id": member, "lines": cart(20000), "coupon_codes": [code], "points": 500 }),
    )
    .await;
    let expires_at = time::OffsetDateTime::parse(
        checkout["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let created = time::OffsetDateTime::parse(
        checkout["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_at - created, Duration::minutes(15));
    let release = huiyuan_server::app::checkout::close::release_expired;
    // Not due yet: nothing happens.
    assert_eq!(
        release(&app.state, expires_at - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(available(app, &t.admin, &member).await, 500);
    // Due: released once, however often the job runs.
    let later = expires_at + Duration::minutes(1);
    assert_eq!(release(&app.state, later).await.unwrap(), 1);
    assert_eq!(release(&app.state, later).await.unwrap(), 0);
    assert_eq!(available(app, &t.admin, &member).await, 1000);
    assert_eq!(coupon_state(app, &t.admin, &member).await, "available");
    let path = format!("checkouts/{}", id(&checkout));
    assert_eq!(app.get(&path, &t.key).await.ok(200)["state"], "expired");
    app.post(&format!("{path}/confirm"), &t.key, json!({}))
        .await
        .problem(409, "checkout_expired");
    // Cancelling a released checkout answers it as it is.
    let cancelled = app
        .post(&format!("{path}/cancel"), &t.key, json!({}))
        .await
        .ok(200);
    assert_eq!(cancelled["state"], "expired");
    assert_eq!(available(app, &t.admin, &member).await, 1000);
    assert_verifies(app).await;
}

async fn retries_with_the_same_key_reserve_and_confirm_once(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let body = json!({ "member_id": member, "lines": cart(20000), "points": 400 });
    let first = app
        .post_once("checkouts", &t.key, "co-1", body.clone())
        .await;
    let second = app.post_once("checkouts", &t.key, "co-1", body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(first.body["id"], second.body["id"]);
    assert_eq!(available(app, &t.admin, &member).await, 600);
    let path = format!("checkouts/{}/confirm", id(&first.body));
    let a = app.post_once(&path, &t.key, "cf-1", json!({})).await;
    let b = app.post_once(&path, &t.key, "cf-1", json!({})).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body, b.body);
    assert_eq!(available(app, &t.admin, &member).await, 600);
    assert_verifies(app).await;
}

async fn callers_need_the_permission_and_the_member_in_scope(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let reader = fixtures::staff_login(
        app,
        &t.admin,
        "reader",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    let body = json!({ "member_id": member, "lines": cart(20000), "points": 100 });
    app.post("checkouts", &reader, body.clone())
        .await
        .problem(403, "permission_denied");
    let checkout = reserve(app, &t.key, body).await;
    // Reading needs only `members:read`; confirming needs the permission.
    app.get(&format!("checkouts/{}", id(&checkout)), &reader)
        .await
        .ok(200);
    app.post(
        &format!("checkouts/{}/confirm", id(&checkout)),
        &reader,
        json!({}),
    )
    .await
    .problem(403, "permission_denied");
    // A store of another format neither sees it nor checks out there.
    let other = fixtures::format(app, &t.admin, "dining").await;
    let other_store = fixtures::store(app, &t.admin, &other, "d001").await;
    let cashier = fixtures::staff_login(
        app,
        &t.admin,
        "cashier",
        &["checkout:write", "members:read", "members:write"],
        json!({ "kind": "stores", "store_ids": [id(&other_store)] }),
    )
    .await;
    app.get(&format!("checkouts/{}", id(&checkout)), &cashier)
        .await
        .problem(404, "not_found");
}
