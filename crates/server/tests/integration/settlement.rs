//! Settlement over HTTP on both databases: policy and revenue split rules validated and audited;
//! a scripted period (orders earning in two formats, a mall redemption of a merchant's reward,
//! a coupon issued by one format and redeemed in another, an expiry, adjustments) whose
//! statement totals equal sums taken straight from the ledger entries, and its CSV export.
//! Periods and closing are in settlement_periods.rs.

use crate::coupons::{issue, member, rfc3339};
use crate::fixtures;
use crate::mall::assert_verifies;
use crate::support::{TestApp, id, send};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::utc_now;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

on_both!(
    policy_and_split_rules_are_validated_and_audited,
    the_statement_reconciles_with_the_ledger
);

pub async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::support::Reply {
    send(app.request(Method::PUT, path, token).json(&body)).await
}

pub async fn merchant(app: &TestApp, admin: &str, format: &Value, code: &str) -> Value {
    let body = json!({ "format_id": id(format), "code": code, "name": format!("商户 {code}"), "kind": "merchant" });
    app.post("stores", admin, body).await.ok(201)
}

/// A channel key of `format`, bound to `store`.
pub async fn pos_key(
    app: &TestApp,
    admin: &str,
    format: &Value,
    store: &Value,
    code: &str,
) -> String {
    let channel = fixtures::channel(app, admin, Some(format), code).await;
    fixtures::api_key(app, admin, &channel, Some(store)).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn base_rule(app: &TestApp, admin: &str) {
    app.post("earning-rules", admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }))
        .await
        .ok(201);
}

/// An order of `yuan` for the member with `phone`, at `store`, occurring at `occurred_at`.
pub async fn order(
    app: &TestApp,
    key: &str,
    store: &Value,
    phone: &str,
    external: &str,
    yuan: i64,
    occurred_at: OffsetDateTime,
) -> Value {
    let fen = yuan * 100;
    let body = json!({
        "external_id": external, "store_id": id(store), "phone": phone, "total_fen": fen,
        "occurred_at": rfc3339(occurred_at),
        "lines": [{ "line_no": 1, "sku": "A", "name": "Goods", "category_path": ["food"], "quantity": 1, "unit_price_fen": fen, "amount_fen": fen }],
        "payments": [{ "method": "card", "amount_fen": fen }],
    });
    app.post("orders", key, body).await.ok(201)
}

pub fn settle(start: OffsetDateTime, end: OffsetDateTime) -> Value {
    json!({ "period_start": rfc3339(start), "period_end": rfc3339(end) })
}

async fn policy_and_split_rules_are_validated_and_audited(app: &TestApp) {
    let admin = app.admin_token().await;
    let policy = app.get("settlement-policy", &admin).await.ok(200);
    assert_eq!(
        policy,
        json!({ "mode": "hq_funded", "settlement_rate": { "fen": 1, "per_points": 1 } })
    );
    let bad = put(
        app,
        "settlement-policy",
        &admin,
        json!({ "mode": "independent", "settlement_rate": { "fen": -1, "per_points": 0 } }),
    )
    .await
    .problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["settlement_rate.fen", "settlement_rate.per_points"]
    );
    let unknown = put(
        app,
        "settlement-policy",
        &admin,
        json!({ "mode": "sideways", "settlement_rate": { "fen": 1, "per_points": 1 } }),
    )
    .await
    .problem(422, "validation_failed");
    assert_eq!(unknown["errors"][0]["field"], "mode");
    let wanted =
        json!({ "mode": "independent", "settlement_rate": { "fen": 80, "per_points": 100 } });
    let request = || {
        app.request(Method::PUT, "settlement-policy", &admin)
            .header("idempotency-key", "policy-1")
            .json(&wanted)
    };
    assert_eq!(send(request()).await.ok(200), wanted);
    let replay = send(request()).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(app.get("settlement-policy", &admin).await.ok(200), wanted);
    assert_eq!(
        app.list_all("audit-log?action=settlement.policy_set", &admin, 10)
            .await
            .len(),
        1
    );

    let mall = fixtures::format(app, &admin, "mall").await;
    let shop = merchant(app, &admin, &mall, "m1").await;
    let plain = fixtures::store(app, &admin, &mall, "s1").await;
    let path = format!("merchants/{}/revenue-split", id(&shop));
    let default = app.get(&path, &admin).await.ok(200);
    assert_eq!(
        (
            default["is_default"].as_bool(),
            default["cash_commission_bps"].as_i64()
        ),
        (Some(true), Some(0))
    );
    assert_eq!(
        default["points_rate"],
        json!({ "fen": 100, "per_points": 100 })
    );
    let bad = put(app, &path, &admin, json!({ "cash_commission_bps": 10_001, "points_commission_bps": -5, "points_rate": { "fen": 1, "per_points": 0 } }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(bad["errors"].as_array().unwrap().len(), 3, "{bad}");
    let rule = json!({ "cash_commission_bps": 500, "points_commission_bps": 0, "points_rate": { "fen": 1, "per_points": 1 } });
    let saved = put(app, &path, &admin, rule.clone()).await.ok(200);
    assert_eq!(
        (
            saved["is_default"].as_bool(),
            saved["cash_commission_bps"].as_i64()
        ),
        (Some(false), Some(500))
    );
    assert_eq!(app.get(&path, &admin).await.ok(200), saved);
    put(
        app,
        &format!("merchants/{}/revenue-split", id(&plain)),
        &admin,
        rule.clone(),
    )
    .await
    .problem(404, "not_found");
    let staff = fixtures::staff_login(
        app,
        &admin,
        "shop-staff",
        &["settlement:read", "settlement:write"],
        json!({ "kind": "stores", "store_ids": [id(&shop)] }),
    )
    .await;
    put(app, &path, &staff, rule.clone())
        .await
        .problem(403, "out_of_scope");
    put(app, "settlement-policy", &staff, wanted.clone())
        .await
        .problem(403, "out_of_scope");
    assert_eq!(app.get(&path, &staff).await.ok(200), saved);
    let reader = fixtures::staff_login(
        app,
        &admin,
        "reader",
        &["org:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.get("settlement-policy", &reader)
        .await
        .problem(403, "permission_denied");
    assert_eq!(
        app.list_all("audit-log?action=settlement.revenue_split_set", &admin, 10)
            .await
            .len(),
        1
    );
}

/// Sums over the members' ledger entries recorded in `[from, until)`, read entry by entry.
#[derive(Debug, Default, PartialEq, Eq)]
struct LedgerSums {
    issued: i64,
    clawed_back: i64,
    redeemed: i64,
    expired: i64,
    adjusted_in: i64,
    adjusted_out: i64,
    issued_by_account: BTreeMap<String, i64>,
}

async fn ledger_sums(
    app: &TestApp,
    members: &[&str],
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> LedgerSums {
    let mut sums = LedgerSums::default();
    let mut session = app.state.store.read().await.unwrap();
    let claim =
        |account: &str| account.starts_with("redemption:") || account.starts_with("donation:");
    for member in members {
        let page = PageRequest::parse(Some(200), None).unwrap();
        let entries = huiyuan_store::ledger::list_entries(
            &mut session,
            app.default_tenant.id,
            member.parse().unwrap(),
            page,
        )
        .await
        .unwrap();
        assert!(entries.next_cursor.is_none());
        for e in entries
            .items
            .iter()
            .filter(|e| e.created_at >= from && e.created_at < until)
        {
            if e.debit_account.starts_with("issuance:") {
                sums.issued += e.amount;
                *sums
                    .issued_by_account
                    .entry(e.debit_account.clone())
                    .or_default() += e.amount;
            }
            if e.credit_account.starts_with("issuance:") {
                sums.clawed_back += e.amount;
            }
            if claim(&e.credit_account) {
                sums.redeemed += e.amount;
            }
            if claim(&e.debit_account) {
                sums.redeemed -= e.amount;
            }
            if e.credit_account == "expiry" {
                sums.expired += e.amount;
            }
            if e.debit_account == "adjustment" {
                sums.adjusted_in += e.amount;
            }
            if e.credit_account == "adjustment" {
                sums.adjusted_out += e.amount;
            }
        }
    }
    sums
}

/// Moves a member's lots' expiry into the past, as if their time had come.
async fn expire_lots_of(app: &TestApp, member: &str) {
    let mut session = app.state.store.write().await.unwrap();
    let past = utc_now() - Duration::days(1);
    let member: Uuid = member.parse().unwrap();
    huiyuan_store::on_backend!(session, c => sqlx::query("UPDATE points_lots SET expires_at = $1 WHERE tenant_id = $2 AND member_id = $3")
        .bind(huiyuan_store::Ts(past)).bind(app.default_tenant.id.0).bind(member).execute(&mut *c).await.map(|_| ()))
        .unwrap();
    session.commit().await.unwrap();
    huiyuan_server::workers::settle_due_points(&app.state, utc_now())
        .await
        .unwrap();
}

fn format_line<'a>(statement: &'a Value, format: &Value) -> &'a Value {
    statement["formats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["format_id"] == format["id"])
        .unwrap_or_else(|| panic!("a line for {} in {statement}", format["id"]))
}

async fn the_statement_reconciles_with_the_ledger(app: &TestApp) {
    let admin = app.admin_token().await;
    let start = utc_now() - Duration::seconds(1);
    put(
        app,
        "settlement-policy",
        &admin,
        json!({ "mode": "independent", "settlement_rate": { "fen": 80, "per_points": 100 } }),
    )
    .await
    .ok(200);
    base_rule(app, &admin).await;
    let supermarket = fixtures::format(app, &admin, "supermarket").await;
    let mall = fixtures::format(app, &admin, "mall").await;
    let shop = fixtures::store(app, &admin, &supermarket, "sm-1").await;
    let counter = fixtures::store(app, &admin, &mall, "mall-desk").await;
    let boutique = merchant(app, &admin, &mall, "m-boutique").await;
    let sm_key = pos_key(app, &admin, &supermarket, &shop, "sm-pos").await;
    let mall_key = pos_key(app, &admin, &mall, &counter, "mall-pos").await;
    put(app, &format!("merchants/{}/revenue-split", id(&boutique)), &admin,
        json!({ "cash_commission_bps": 1000, "points_commission_bps": 500, "points_rate": { "fen": 1, "per_points": 1 } }))
        .await
        .ok(200);

    // Orders earn in two formats; an adjustment grants group points and another takes some.
    let (x, y, z) = (
        member(app, &admin, "13800138001").await,
        member(app, &admin, "13800138002").await,
        member(app, &admin, "13800138003").await,
    );
    order(app, &sm_key, &shop, "13800138001", "SM-1", 200, utc_now()).await;
    order(
        app,
        &mall_key,
        &counter,
        "13800138002",
        "MALL-1",
        100,
        utc_now(),
    )
    .await;
    order(app, &sm_key, &shop, "13800138003", "SM-2", 30, utc_now()).await;
    app.post(
        &format!("members/{x}/points/adjustments"),
        &admin,
        json!({ "points": 50, "reason": "goodwill" }),
    )
    .await
    .ok(201);
    app.post(
        &format!("members/{y}/points/adjustments"),
        &admin,
        json!({ "points": -10, "reason": "correction" }),
    )
    .await
    .ok(201);

    // A mall redemption of the boutique's reward: points (issued by the supermarket) plus cash.
    let mut gift = crate::mall::goods("商户礼品", 120, Some(5));
    gift["supplier_store_id"] = json!(id(&boutique));
    gift["cash_fen"] = json!(500);
    let gift = crate::mall::reward(app, &admin, gift).await;
    let redemption = app
        .post(&format!("rewards/{}/redemptions", id(&gift)), &admin, json!({
            "member_id": x, "cash_payment_reference": "PAY-1",
            "delivery": { "method": "ship", "address": { "recipient": "张三", "phone": "13800138001", "address": "南京东路1号" } } }))
        .await
        .ok(201);

    // A coupon the supermarket issued and bears, redeemed at the mall.
    let voucher = json!({
        "name": "满100减20", "benefit": { "kind": "cash_off", "amount_fen": 2000, "threshold_fen": 10000 },
        "validity": { "kind": "relative", "days": 7 }, "stacking": { "mode": "stackable" },
        "cost_bearer": { "kind": "format", "format_id": id(&supermarket) }, "issuing_format_id": id(&supermarket),
    });
    let template = id(&app.post("coupon-templates", &admin, voucher).await.ok(201));
    let code = issue(app, &admin, &template, &[&y]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("coupons/{code}/redeem"),
        &mall_key,
        json!({ "order_ref": "MALL-2", "lines": [{ "sku": "A", "amount_fen": 15000 }] }),
    )
    .await
    .ok(201);

    // Z's supermarket points expire.
    expire_lots_of(app, &z).await;
    assert_verifies(app).await;
    let end = utc_now();

    let statement = app
        .post("settlements", &admin, settle(start, end))
        .await
        .ok(201);
    assert_eq!(
        (statement["status"].as_str(), statement["mode"].as_str()),
        (Some("draft"), Some("independent"))
    );
    let sums = ledger_sums(app, &[&x, &y, &z], start, end).await;
    let totals = &statement["totals"];
    assert_eq!(
        (
            totals["points_issued"].as_i64().unwrap(),
            totals["points_clawed_back"].as_i64().unwrap(),
            totals["points_redeemed"].as_i64().unwrap(),
            totals["points_expired"].as_i64().unwrap(),
            totals["points_adjusted_in"].as_i64().unwrap(),
            totals["points_adjusted_out"].as_i64().unwrap(),
        ),
        (
            sums.issued,
            sums.clawed_back,
            sums.redeemed,
            sums.expired,
            sums.adjusted_in,
            sums.adjusted_out
        ),
        "{statement}"
    );
    assert_eq!(
        (
            sums.issued,
            sums.redeemed,
            sums.expired,
            sums.adjusted_in,
            sums.adjusted_out
        ),
        (330, 120, 30, 50, 10)
    );
    for format in [&supermarket, &mall] {
        let line = format_line(&statement, format);
        let account = format!("issuance:{}", id(format));
        assert_eq!(
            line["points_issued"].as_i64(),
            sums.issued_by_account.get(&account).copied(),
            "{line}"
        );
        let net =
            line["points_issued"].as_i64().unwrap() - line["points_clawed_back"].as_i64().unwrap();
        assert_eq!(
            line["liability_fen"].as_i64(),
            Some(net),
            "100 fen per 100 points"
        );
        let claims = (line["points_redeemed"].as_i64().unwrap() * 80 + 50).div_euclid(100);
        assert_eq!(line["claims_fen"].as_i64(), Some(claims));
    }
    assert_eq!(format_line(&statement, &supermarket)["points_expired"], 30);
    assert_eq!(totals["liability_fen"], 330);

    // The matrix explains every redeemed point by the format that issued it, as the mall
    // redemption recorded; nets sum to zero and the supermarket pays.
    let matrix = statement["matrix"].as_array().unwrap();
    let matrix_points: i64 = matrix
        .iter()
        .map(|cell| cell["points"].as_i64().unwrap())
        .sum();
    assert_eq!(matrix_points, sums.redeemed);
    let spending = redemption["spending_format_id"].clone();
    for source in redemption["points_sources"].as_array().unwrap() {
        let cell = matrix
            .iter()
            .find(|cell| {
                cell["issuing_format_id"] == source["format_id"]
                    && cell["spending_format_id"] == spending
            })
            .unwrap_or_else(|| panic!("{source} in {matrix:?}"));
        assert_eq!(cell["points"], source["points"]);
    }
    let nets: i64 = statement["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["net_transfer_fen"].as_i64().unwrap())
        .sum();
    assert_eq!((nets, totals["net_transfer_fen"].as_i64()), (0, Some(0)));
    assert!(
        format_line(&statement, &supermarket)["net_transfer_fen"]
            .as_i64()
            .unwrap()
            < 0,
        "{statement}"
    );

    // The cross-format coupon: issued by the supermarket, redeemed at the mall, borne by the
    // supermarket.
    let cross = statement["cross_format_coupons"].as_array().unwrap();
    assert_eq!(cross.len(), 1, "{statement}");
    assert_eq!(
        (
            cross[0]["issuing_format_id"].clone(),
            cross[0]["redeeming_format_id"].clone()
        ),
        (supermarket["id"].clone(), mall["id"].clone())
    );
    assert_eq!(
        (
            cross[0]["bearer"].as_str(),
            cross[0]["discount_fen"].as_i64()
        ),
        (Some("format"), Some(2000))
    );
    let costs = statement["coupon_costs"].as_array().unwrap();
    assert_eq!(costs.len(), 1);
    assert_eq!(
        (
            costs[0]["bearer_format_id"].clone(),
            costs[0]["discount_fen"].as_i64()
        ),
        (supermarket["id"].clone(), Some(2000))
    );
    assert_eq!(
        format_line(&statement, &supermarket)["coupon_cost_fen"],
        2000
    );
    assert_eq!(totals["coupon_discount_fen"], 2000);

    // The boutique's revenue split: 120 points at 1 fen each plus 500 fen cash; the platform
    // keeps 10% of the cash and 5% of the points' value.
    let merchants = statement["merchants"].as_array().unwrap();
    assert_eq!(merchants.len(), 1);
    let line = &merchants[0];
    assert_eq!(
        (
            line["store_id"].clone(),
            line["points"].as_i64(),
            line["cash_fen"].as_i64()
        ),
        (boutique["id"].clone(), Some(120), Some(500))
    );
    assert_eq!(
        (
            line["gross_fen"].as_i64(),
            line["platform_fen"].as_i64(),
            line["merchant_fen"].as_i64()
        ),
        (Some(620), Some(56), Some(564))
    );

    // The same statement read back and as CSV.
    let sid = id(&statement);
    assert_eq!(
        app.get(&format!("settlements/{sid}"), &admin).await.ok(200),
        statement
    );
    let csv = send(app.request(
        Method::GET,
        &format!("settlements/{sid}/export.csv"),
        &admin,
    ))
    .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type").starts_with("text/csv"),
        "{}",
        csv.header("content-type")
    );
    let mut rows = csv.text.lines();
    assert_eq!(
        rows.next(),
        Some("section,metric,party_id,counterparty_id,points,amount_fen")
    );
    assert!(
        csv.text.contains(&format!(
            "cross_format_coupon,format,{},{},1,2000",
            id(&supermarket),
            id(&mall)
        )),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains(&format!(
            "merchant,platform_share,{},{},,56",
            id(&boutique),
            id(&mall)
        )),
        "{}",
        csv.text
    );
    assert!(csv.text.contains("total,redeemed,,,120,96"), "{}", csv.text);
    assert_eq!(app.list_all("settlements", &admin, 10).await.len(), 1);
    assert_eq!(
        app.list_all("audit-log?action=settlement.computed", &admin, 10)
            .await
            .len(),
        1
    );
}
