//! Coupons over HTTP on both databases: templates validated with field paths and patched (locked
//! fields once issued); manual issue with quotas and references, a refused segment target; the
//! till flow — validate (with stable reasons), redeem once (a repeat for the same order answers
//! the same redemption), reverse; QR payloads; the member's lists and profile section; the
//! expiring list; rule-based issue on registration, tier upgrade and birthday; a full refund
//! reversing the redemption; cross-format settlement records.

use crate::fixtures;
use crate::support::{TestApp, id};
use huiyuan_domain::auth::Actor;
use huiyuan_domain::ids::MemberId;
use huiyuan_server::app::ledger::{self, Posting};
use huiyuan_server::app::mutation::Mutation;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

on_both!(
    templates_are_validated_and_patched,
    issue_validate_redeem_and_reverse,
    rules_issue_on_registration_tier_upgrade_and_birthday,
    a_full_refund_reverses_and_cross_format_redemptions_settle,
    coupons_follow_a_merge_and_the_till_retry_is_replayed,
);

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// 满100减20, valid 7 days, stackable, per member 2, total `total`.
pub fn cash_off(name: &str, total: Option<i64>) -> Value {
    json!({
        "name": name,
        "benefit": { "kind": "cash_off", "amount_fen": 2000, "threshold_fen": 10000 },
        "validity": { "kind": "relative", "days": 7 },
        "stacking": { "mode": "stackable" },
        "per_member_quota": 2,
        "total_quota": total,
        "cost_bearer": { "kind": "hq" },
    })
}

pub async fn member(app: &TestApp, token: &str, phone: &str) -> String {
    let body = json!({ "identifiers": [{ "kind": "phone", "value": phone }] });
    let reply = app.post("members", token, body).await;
    assert!(matches!(reply.status, 200 | 201), "{}", reply.text);
    id(&reply.body)
}

pub async fn issue(app: &TestApp, token: &str, template: &str, members: &[&str]) -> Vec<Value> {
    let body = json!({ "template_id": template, "member_ids": members });
    let issued = app.post("coupons/issue", token, body).await.ok(201);
    issued["coupons"].as_array().unwrap().clone()
}

fn cart(amount_fen: i64) -> Value {
    json!({ "lines": [
        { "sku": "A", "category_path": ["food"], "amount_fen": amount_fen / 2 },
        { "sku": "B", "category_path": ["food"], "amount_fen": amount_fen - amount_fen / 2 },
        { "sku": "TOB", "category_path": ["tobacco"], "amount_fen": 5000, "excluded": true },
    ]})
}

async fn templates_are_validated_and_patched(app: &TestApp) {
    let admin = app.admin_token().await;
    let bad = json!({
        "name": " ",
        "benefit": { "kind": "percent_off", "off_permille": 1200 },
        "validity": { "kind": "fixed", "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z" },
        "stacking": { "mode": "exclusive" },
        "cost_bearer": { "kind": "format", "format_id": Uuid::now_v7() },
    });
    let problem = app
        .post("coupon-templates", &admin, bad)
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "benefit.off_permille", "validity.ends_at"],
        "{problem}"
    );
    // References are checked once the shape is right.
    let mut unknown_format = cash_off("满100减20", None);
    unknown_format["cost_bearer"] = json!({ "kind": "format", "format_id": Uuid::now_v7() });
    let problem = app
        .post("coupon-templates", &admin, unknown_format)
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "cost_bearer.format_id");
    let problem = app
        .post(
            "coupon-templates",
            &admin,
            json!({ "name": "x", "benefit": { "kind": "cash_back" } }),
        )
        .await;
    assert_eq!(problem.status, 422, "{}", problem.text);

    let created = app
        .post_once(
            "coupon-templates",
            &admin,
            "tpl-1",
            cash_off("满100减20", Some(10)),
        )
        .await
        .ok(201);
    let again = app
        .post_once(
            "coupon-templates",
            &admin,
            "tpl-1",
            cash_off("满100减20", Some(10)),
        )
        .await;
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (201, "true")
    );
    assert_eq!(id(&again.body), id(&created));
    let tpl = id(&created);
    assert_eq!(
        (created["status"].as_str(), created["issued_count"].as_i64()),
        (Some("active"), Some(0))
    );
    assert!(created["refund_reverses"].as_bool().unwrap());
    let listed = app.list_all("coupon-templates", &admin, 1).await;
    assert_eq!(listed.len(), 1);

    // Before any issue everything may change; after, the benefit is locked but the name is not.
    let patched = app.patch(&format!("coupon-templates/{tpl}"), &admin,
        json!({ "benefit": { "kind": "cash_off", "amount_fen": 3000, "threshold_fen": 15000 } })).await.ok(200);
    assert_eq!(patched["benefit"]["amount_fen"], 3000);
    let m = member(app, &admin, "13800138000").await;
    issue(app, &admin, &tpl, &[&m]).await;
    let problem = app.patch(&format!("coupon-templates/{tpl}"), &admin,
        json!({ "benefit": { "kind": "cash_off", "amount_fen": 5000, "threshold_fen": 15000 } })).await.problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "locked");
    let renamed = app
        .patch(
            &format!("coupon-templates/{tpl}"),
            &admin,
            json!({ "name": "满150减30" }),
        )
        .await
        .ok(200);
    assert_eq!(
        (renamed["name"].as_str(), renamed["issued_count"].as_i64()),
        (Some("满150减30"), Some(1))
    );
    let problem = app
        .patch(
            &format!("coupon-templates/{tpl}"),
            &admin,
            json!({ "total_quota": 0 }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "total_quota");
    let problem = app
        .patch(
            &format!("coupon-templates/{tpl}"),
            &admin,
            json!({ "cashback": 1 }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "cashback");

    // Archived: issues nothing more, lists under its status.
    let archived = app
        .post(
            &format!("coupon-templates/{tpl}/archive"),
            &admin,
            json!({}),
        )
        .await
        .ok(200);
    assert_eq!(archived["status"], "archived");
    let problem = app
        .post(
            "coupons/issue",
            &admin,
            json!({ "template_id": tpl, "member_ids": [m] }),
        )
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "archived");
    assert_eq!(
        app.list_all("coupon-templates?status=active", &admin, 10)
            .await
            .len(),
        0
    );
    assert_eq!(
        app.list_all("coupon-templates?status=archived", &admin, 10)
            .await
            .len(),
        1
    );
    let audit = app
        .get("audit-log?action=coupon_template.updated&limit=50", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);
}

async fn issue_validate_redeem_and_reverse(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, Some(&store)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let tpl = id(&app
        .post("coupon-templates", &admin, cash_off("满100减20", Some(3)))
        .await
        .ok(201));
    let (alice, bob) = (
        member(app, &admin, "13800138000").await,
        member(app, &admin, "13800138001").await,
    );

    // Segments are not there yet; a reference makes a repeated issue give nothing new.
    let problem = app
        .post(
            "coupons/issue",
            &admin,
            json!({ "template_id": tpl, "segment_id": Uuid::now_v7() }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "segment_id");
    let body =
        json!({ "template_id": tpl, "member_ids": [alice, bob], "reference": "campaign-11" });
    let first = app
        .post("coupons/issue", &admin, body.clone())
        .await
        .ok(201);
    let again = app.post("coupons/issue", &admin, body).await.ok(201);
    assert_eq!(first["coupons"], again["coupons"]);
    let coupon = first["coupons"][0].clone();
    assert_eq!(
        (coupon["member_id"].as_str(), coupon["state"].as_str()),
        (Some(alice.as_str()), Some("available"))
    );
    let code = coupon["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 19, "four groups of four: {code}");
    // Total quota 3: one left; per member 2.
    issue(app, &admin, &tpl, &[&alice]).await;
    let problem = app
        .post(
            "coupons/issue",
            &admin,
            json!({ "template_id": tpl, "member_ids": [bob] }),
        )
        .await
        .problem(409, "quota_exhausted");
    assert_eq!(problem["errors"][0]["field"], "template_id");

    // Validate: below the threshold (the excluded line does not count), then fine; any case, and
    // the QR payload, name the same coupon.
    let path = |action: &str| format!("coupons/{}/{action}", code.to_lowercase());
    let below = app.post(&path("validate"), &key, cart(9_999)).await.ok(200);
    assert_eq!(
        (below["applies"].as_bool(), below["reason"].as_str()),
        (Some(false), Some("below_threshold"))
    );
    let fine = app
        .post(&path("validate"), &key, cart(10_000))
        .await
        .ok(200);
    assert_eq!(fine["discount"]["discount_fen"], 2000);
    assert_eq!(
        fine["discount"]["line_discounts_fen"],
        json!([1000, 1000, 0])
    );
    let qr = coupon["qr_payload"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("coupons/{qr}"), &key).await.ok(200)["id"],
        coupon["id"]
    );
    let forged = qr.replace("C1.", "C1.0");
    app.get(&format!("coupons/{forged}"), &key)
        .await
        .problem(404, "not_found");
    let wrong = json!({ "lines": cart(20_000)["lines"], "member_id": bob });
    let problem = app
        .post(&path("redeem"), &key, wrong)
        .await
        .problem(422, "coupon_not_applicable");
    assert_eq!(problem["errors"][0]["code"], "wrong_member");

    // Redeem once; the same order again answers the same redemption; another order is refused.
    let mut body = cart(12_000);
    body["order_ref"] = json!("POS-0001");
    let redeemed = app.post(&path("redeem"), &key, body.clone()).await.ok(201);
    let redemption = redeemed["redemption"].clone();
    assert_eq!(
        (
            redemption["discount_fen"].as_i64(),
            redemption["store_id"].as_str()
        ),
        (Some(2000), Some(id(&store).as_str()))
    );
    assert!(redemption["api_key_id"].is_string());
    assert_eq!(redeemed["coupon"]["state"], "used");
    let repeat = app.post(&path("redeem"), &key, body.clone()).await.ok(200);
    assert_eq!(repeat["redemption"]["id"], redemption["id"]);
    body["order_ref"] = json!("POS-0002");
    app.post(&path("redeem"), &key, body)
        .await
        .problem(409, "coupon_already_used");
    let used = app
        .post(&path("validate"), &key, cart(12_000))
        .await
        .ok(200);
    assert_eq!(used["reason"], "used");

    // Lists by state, the profile section, the journal.
    let list = |state: &str| {
        let path = format!("members/{alice}/coupons?state={state}");
        let admin = admin.clone();
        async move { app.list_all(&path, &admin, 1).await }
    };
    assert_eq!(list("used").await.len(), 1);
    assert_eq!(list("available").await.len(), 1);
    let profile = app.get(&format!("members/{alice}"), &admin).await.ok(200);
    assert_eq!(profile["summaries"]["coupons"]["used"], 1, "{profile}");
    assert_eq!(profile["summaries"]["coupons"]["available"], 1);
    let journal = app.list_all("coupon-redemptions", &admin, 10).await;
    assert_eq!(journal.len(), 1);

    // Reverse: available again; reversing again changes nothing.
    let rid = redemption["id"].as_str().unwrap();
    let reverse = format!("coupons/{code}/redemptions/{rid}/reverse");
    let reversed = app
        .post(&reverse, &key, json!({ "reason": "customer changed mind" }))
        .await
        .ok(200);
    assert_eq!(reversed["coupon"]["state"], "available");
    assert_eq!(
        reversed["redemption"]["reversal_reason"],
        "customer changed mind"
    );
    let twice = app.post(&reverse, &key, json!({})).await.ok(200);
    assert_eq!(
        twice["redemption"]["reversed_at"],
        reversed["redemption"]["reversed_at"]
    );
    app.post(
        &format!("coupons/{code}/redemptions/{}/reverse", Uuid::now_v7()),
        &key,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(list("available").await.len(), 2);
    let detail = app.get(&format!("coupons/{code}"), &admin).await.ok(200);
    assert_eq!(detail["redemptions"].as_array().unwrap().len(), 1);

    // Expiring within 8 days: all three coupons; within a day: none.
    let soon = |days: i64| rfc3339(OffsetDateTime::now_utc() + time::Duration::days(days));
    assert_eq!(
        app.list_all(&format!("coupons?expiring_before={}", soon(8)), &admin, 2)
            .await
            .len(),
        3
    );
    assert_eq!(
        app.list_all(&format!("coupons?expiring_before={}", soon(1)), &admin, 2)
            .await
            .len(),
        0
    );
    app.get("coupons?limit=5", &admin)
        .await
        .problem(422, "validation_failed");
}

/// Earns qualifying points through the ledger and lets the tier service react, in one
/// transaction, as the orders module does.
async fn earn(app: &TestApp, member: MemberId, points: i64) {
    let mut m = Mutation::begin(&app.state.store, app.default_tenant.id, Actor::System, None)
        .await
        .unwrap();
    let tz = huiyuan_server::app::tenancy::zone::tenant_zone(&mut m.session, m.tenant)
        .await
        .unwrap();
    let posting = Posting {
        reason: "order".to_owned(),
        reference: Some(format!("order:{}", Uuid::now_v7())),
        ..Posting::default()
    };
    ledger::earn(
        &mut m,
        member,
        points,
        points,
        "earn",
        ledger::issuance_account(None),
        &posting,
        &tz,
    )
    .await
    .unwrap();
    huiyuan_server::app::tiers::on_qualifying_activity(&mut m, member)
        .await
        .unwrap();
    m.commit().await.unwrap();
}

async fn rules_issue_on_registration_tier_upgrade_and_birthday(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut welcome = cash_off("新人券", None);
    welcome["auto_issue"] = json!({ "on_registration": true });
    app.post("coupon-templates", &admin, welcome).await.ok(201);
    let mut gold = cash_off("金卡礼券", None);
    gold["auto_issue"] = json!({ "on_tier_upgrade_to": ["gold"] });
    app.post("coupon-templates", &admin, gold).await.ok(201);
    let mut birthday = json!({
        "name": "生日停车券", "benefit": { "kind": "parking", "hours": 3 }, "validity": { "kind": "relative", "days": 30 },
        "stacking": { "mode": "exclusive" }, "cost_bearer": { "kind": "hq" }, "auto_issue": { "on_birthday": true },
    });
    app.post("coupon-templates", &admin, birthday.take())
        .await
        .ok(201);

    // Registration: once, whatever the channel and however often the member registers.
    let m = member(app, &admin, "13800138000").await;
    member(app, &admin, "13800138000").await;
    let coupons = app
        .list_all(&format!("members/{m}/coupons"), &admin, 10)
        .await;
    assert_eq!(coupons.len(), 1);
    assert_eq!(
        (coupons[0]["name"].as_str(), coupons[0]["source"].as_str()),
        (Some("新人券"), Some("registration"))
    );

    // A tier upgrade to gold.
    let level = |code: &str, threshold: i64| {
        json!({ "code": code, "name": code, "threshold": threshold, "retention": 0,
        "benefits": { "earning_multiplier_permille": 1000, "discount_permille": 1000 } })
    };
    let ladder = json!({ "basis": "tier_points", "window": { "kind": "rolling_days", "days": 365 }, "evaluation": "window_end",
        "levels": [level("normal", 0), level("silver", 1000), level("gold", 5000)] });
    crate::support::send(
        app.request(reqwest::Method::PUT, "tiers", &admin)
            .json(&ladder),
    )
    .await
    .ok(200);
    let member_id: MemberId = m.parse().unwrap();
    earn(app, member_id, 2_000).await;
    assert_eq!(
        app.list_all(&format!("members/{m}/coupons"), &admin, 10)
            .await
            .len(),
        1,
        "silver gives nothing"
    );
    earn(app, member_id, 4_000).await;
    let coupons = app
        .list_all(&format!("members/{m}/coupons"), &admin, 10)
        .await;
    assert_eq!(coupons.len(), 2);
    assert_eq!(coupons[1]["source"], "tier_upgrade");

    // Birthday today in Shanghai: one coupon a year, however often the job runs.
    let today = OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap())
        .date();
    let birthday = format!(
        "1990-{:02}-{:02}",
        u8::from(today.month()),
        today.day().min(28)
    );
    let body = json!({ "identifiers": [{ "kind": "phone", "value": "13900139000" }], "profile": { "birthday": birthday } });
    let born = id(&app.post("members", &admin, body).await.ok(201));
    let now = huiyuan_store::utc_now();
    let first = huiyuan_server::app::coupons::rules::issue_birthday_coupons(&app.state, now)
        .await
        .unwrap();
    let second = huiyuan_server::app::coupons::rules::issue_birthday_coupons(&app.state, now)
        .await
        .unwrap();
    if today.day() <= 28 {
        assert_eq!((first, second), (1, 0));
        let coupons = app
            .list_all(&format!("members/{born}/coupons"), &admin, 10)
            .await;
        assert_eq!(
            coupons.iter().filter(|c| c["source"] == "birthday").count(),
            1
        );
    }
}

async fn a_full_refund_reverses_and_cross_format_redemptions_settle(app: &TestApp) {
    let admin = app.admin_token().await;
    let supermarket = fixtures::format(app, &admin, "supermarket").await;
    let scenic = fixtures::format(app, &admin, "scenic").await;
    let gate = fixtures::store(app, &admin, &scenic, "gate-1").await;
    let channel = fixtures::channel(app, &admin, Some(&scenic), "gate-pos").await;
    let key = fixtures::api_key(app, &admin, &channel, Some(&gate)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = json!({
        "name": "景区门票", "benefit": { "kind": "service_voucher", "service": "景区门票", "value_fen": 8000 },
        "validity": { "kind": "relative", "days": 30 }, "stacking": { "mode": "exclusive" },
        "cost_bearer": { "kind": "format", "format_id": id(&supermarket) }, "issuing_format_id": id(&supermarket),
    });
    let tpl = id(&app.post("coupon-templates", &admin, ticket).await.ok(201));
    let m = member(app, &admin, "13800138000").await;
    let code = issue(app, &admin, &tpl, &[&m]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();

    // Verified at the scenic spot's gate: a settlement record from supermarket to scenic.
    let redeemed = app
        .post(
            &format!("coupons/{code}/redeem"),
            &key,
            json!({ "order_ref": "GATE-77" }),
        )
        .await
        .ok(201);
    assert_eq!(redeemed["redemption"]["face_fen"], 8000);
    assert_eq!(
        redeemed["redemption"]["format_id"].as_str(),
        Some(id(&scenic).as_str())
    );
    let totals = || async {
        let mut s = app.state.store.read().await.unwrap();
        let now = huiyuan_store::utc_now();
        huiyuan_store::coupons::redemptions::settlement_totals(
            &mut s,
            app.default_tenant.id,
            now - time::Duration::hours(1),
            now + time::Duration::hours(1),
        )
        .await
        .unwrap()
    };
    let booked = totals().await;
    assert_eq!(booked.len(), 1);
    assert_eq!(
        (
            booked[0].issuing_format_id.to_string(),
            booked[0].redeeming_format_id.to_string()
        ),
        (id(&supermarket), id(&scenic))
    );
    assert_eq!(
        (
            booked[0].bearer_kind.as_str(),
            booked[0].face_fen,
            booked[0].redemptions
        ),
        ("format", 8000, 1)
    );

    // The gate's order GATE-77 is posted and refunded in full: the ticket comes back.
    let order = json!({
        "external_id": "GATE-77", "member_id": m, "store_id": id(&gate), "occurred_at": rfc3339(OffsetDateTime::now_utc()), "total_fen": 8000,
        "lines": [{ "line_no": 1, "sku": "TICKET", "quantity": 1, "unit_price_fen": 8000, "amount_fen": 8000 }],
        "payments": [{ "method": "coupon", "amount_fen": 8000 }],
    });
    let posted = app.post("orders", &key, order).await.ok(201);
    app.post(
        &format!("orders/{}/refunds", id(&posted)),
        &key,
        json!({ "external_refund_id": "R-1" }),
    )
    .await
    .ok(201);
    let coupon = app.get(&format!("coupons/{code}"), &admin).await.ok(200);
    assert_eq!(coupon["state"], "available", "{coupon}");
    assert_eq!(
        coupon["redemptions"][0]["reversal_reason"],
        "order refunded in full"
    );
    let netted = totals().await;
    assert_eq!(
        (
            netted[0].face_fen,
            netted[0].discount_fen,
            netted[0].redemptions
        ),
        (0, 0, 0)
    );
}

async fn coupons_follow_a_merge_and_the_till_retry_is_replayed(app: &TestApp) {
    let admin = app.admin_token().await;
    let tpl = id(&app
        .post("coupon-templates", &admin, cash_off("满100减20", None))
        .await
        .ok(201));
    let (survivor, source) = (
        member(app, &admin, "13800138000").await,
        member(app, &admin, "13800138001").await,
    );
    issue(app, &admin, &tpl, &[&survivor]).await;
    let code = issue(app, &admin, &tpl, &[&source]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let merged = app
        .post(
            &format!("members/{survivor}/merge"),
            &admin,
            json!({ "source_member_id": source }),
        )
        .await
        .ok(200);
    assert_eq!(
        app.list_all(&format!("members/{survivor}/coupons"), &admin, 10)
            .await
            .len(),
        2
    );
    // Issuing to the merged id lands on the survivor.
    let late = issue(app, &admin, &tpl, &[&source]).await;
    assert_eq!(late[0]["member_id"].as_str(), Some(survivor.as_str()));
    let coupon = app.get(&format!("coupons/{code}"), &admin).await.ok(200);
    assert_eq!(coupon["member_id"].as_str(), Some(survivor.as_str()));

    // A till retrying with the same Idempotency-Key gets the first answer replayed.
    let body = json!({ "lines": [{ "sku": "A", "amount_fen": 10000 }], "order_ref": "T-9" });
    let first = app
        .post_once(
            &format!("coupons/{code}/redeem"),
            &admin,
            "till-9",
            body.clone(),
        )
        .await
        .ok(201);
    let replay = app
        .post_once(&format!("coupons/{code}/redeem"), &admin, "till-9", body)
        .await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (201, "true")
    );
    assert_eq!(replay.body["redemption"]["id"], first["redemption"]["id"]);

    // Undoing the merge takes the source's coupon back with it.
    let undone = app
        .post(
            &format!("members/{survivor}/unmerge"),
            &admin,
            json!({ "merge_id": merged["merge_id"] }),
        )
        .await
        .ok(200);
    assert_eq!(undone["moved_back"]["coupons"], 1);
    assert_eq!(
        app.list_all(&format!("members/{source}/coupons"), &admin, 10)
            .await
            .len(),
        1
    );
}
