//! Coupons under load and under data scopes, on both databases: 100 parallel redemptions of one
//! code succeed exactly once; quotas hold when many issues race; a mall merchant manages only the
//! templates it bears and sees only the redemptions at its own store.

use crate::coupons::{cash_off, issue, member};
use crate::fixtures;
use crate::support::{TestApp, id, send};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

on_both!(merchants_see_and_touch_only_their_own);
on_both!(
    multi_thread: parallel_redemptions_of_one_code_succeed_once,
    quotas_hold_when_issues_race
);

/// Parallel redemptions of one code.
const REDEEMERS: usize = 100;

async fn parallel_redemptions_of_one_code_succeed_once(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s001").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key = fixtures::api_key(app, &admin, &channel, Some(&store)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let tpl = id(&app
        .post("coupon-templates", &admin, cash_off("满100减20", None))
        .await
        .ok(201));
    let m = member(app, &admin, "13800138000").await;
    let code = issue(app, &admin, &tpl, &[&m]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..REDEEMERS {
        let request = app
            .request(Method::POST, &format!("coupons/{code}/redeem"), &key)
            .json(&json!({ "lines": [{ "sku": "A", "amount_fen": 15000 }], "order_ref": format!("POS-{n}") }));
        tasks.spawn(send(request));
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut winners = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        if reply.status == 201 {
            winners.push(reply.body.clone());
        } else {
            assert_eq!(reply.body["code"], "coupon_already_used", "{}", reply.text);
        }
        *statuses.entry(reply.status).or_default() += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(201, 1), (409, REDEEMERS - 1)]),
        "{:?}",
        app.backend
    );
    let journal = app.list_all("coupon-redemptions", &admin, 50).await;
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0]["id"], winners[0]["redemption"]["id"]);
    let audited = app
        .list_all("audit-log?action=coupon.redeemed", &admin, 50)
        .await;
    assert_eq!(audited.len(), 1);
}

async fn quotas_hold_when_issues_race(app: &TestApp) {
    let admin = app.admin_token().await;
    let tpl = id(&app
        .post("coupon-templates", &admin, cash_off("限量券", Some(5)))
        .await
        .ok(201));
    let mut members = Vec::new();
    for n in 0..20 {
        members.push(member(app, &admin, &format!("1380013{n:04}")).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for m in &members {
        let request = app
            .request(Method::POST, "coupons/issue", &admin)
            .json(&json!({ "template_id": tpl, "member_ids": [m] }));
        tasks.spawn(send(request));
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        *statuses.entry(reply.status).or_default() += 1;
    }
    assert_eq!(statuses, BTreeMap::from([(201, 5), (409, 15)]));
    let template = app
        .get(&format!("coupon-templates/{tpl}"), &admin)
        .await
        .ok(200);
    assert_eq!(template["issued_count"], 5);

    // Per member: 2, however many requests race for one member.
    let open = id(&app
        .post("coupon-templates", &admin, cash_off("每人两张", None))
        .await
        .ok(201));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let request = app
            .request(Method::POST, "coupons/issue", &admin)
            .json(&json!({ "template_id": open, "member_ids": [members[0]] }));
        tasks.spawn(send(request));
    }
    let mut created = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        if reply.status == 201 {
            created += 1;
        } else {
            assert_eq!(reply.body["code"], "quota_exhausted", "{}", reply.text);
        }
    }
    assert_eq!(created, 2);
}

async fn merchant(app: &TestApp, admin: &str, format: &Value, code: &str) -> Value {
    let body = json!({ "format_id": id(format), "code": code, "name": format!("商户 {code}"), "kind": "merchant" });
    app.post("stores", admin, body).await.ok(201)
}

fn bearer(template: &Value, store: &Value) -> Value {
    let mut template = template.clone();
    template["cost_bearer"] = json!({ "kind": "merchant", "store_id": id(store) });
    template
}

async fn merchants_see_and_touch_only_their_own(app: &TestApp) {
    let admin = app.admin_token().await;
    let mall = fixtures::format(app, &admin, "mall").await;
    let (a, b) = (
        merchant(app, &admin, &mall, "m-a").await,
        merchant(app, &admin, &mall, "m-b").await,
    );
    let permissions = [
        "coupons:read",
        "coupons:write",
        "coupons:redeem",
        "members:read",
    ];
    let staff_a = fixtures::staff_login(
        app,
        &admin,
        "merchant-a",
        &permissions,
        json!({ "kind": "stores", "store_ids": [id(&a)] }),
    )
    .await;
    let staff_b = fixtures::staff_login(
        app,
        &admin,
        "merchant-b",
        &permissions,
        json!({ "kind": "stores", "store_ids": [id(&b)] }),
    )
    .await;
    let template = cash_off("商户券", None);

    // A manages templates it bears; not B's, not HQ's.
    let own = app
        .post("coupon-templates", &staff_a, bearer(&template, &a))
        .await
        .ok(201);
    app.post("coupon-templates", &staff_a, bearer(&template, &b))
        .await
        .problem(403, "out_of_scope");
    app.post("coupon-templates", &staff_a, template.clone())
        .await
        .problem(403, "out_of_scope");
    let theirs = app
        .post("coupon-templates", &staff_b, bearer(&template, &b))
        .await
        .ok(201);
    let hq = app
        .post("coupon-templates", &admin, template.clone())
        .await
        .ok(201);
    let visible: Vec<String> = app
        .list_all("coupon-templates", &staff_a, 10)
        .await
        .iter()
        .map(id)
        .collect();
    assert_eq!(visible, [id(&own), id(&hq)]);
    app.get(&format!("coupon-templates/{}", id(&theirs)), &staff_a)
        .await
        .problem(404, "not_found");
    app.patch(
        &format!("coupon-templates/{}", id(&theirs)),
        &staff_a,
        json!({ "name": "x" }),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("coupon-templates/{}/archive", id(&theirs)),
        &staff_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    // HQ's template is readable but not A's to change or issue.
    app.patch(
        &format!("coupon-templates/{}", id(&hq)),
        &staff_a,
        json!({ "name": "x" }),
    )
    .await
    .problem(403, "out_of_scope");
    app.patch(
        &format!("coupon-templates/{}", id(&own)),
        &staff_a,
        json!({ "name": "A 的券" }),
    )
    .await
    .ok(200);

    // Redemptions: B redeems at its till; A neither lists nor reverses it, nor redeems at B.
    let m = member(app, &admin, "13800138000").await;
    let code = issue(app, &admin, &id(&hq), &[&m]).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({ "lines": [{ "sku": "A", "amount_fen": 20000 }], "order_ref": "B-1", "store_id": id(&b) });
    app.post(&format!("coupons/{code}/redeem"), &staff_a, body.clone())
        .await
        .problem(403, "out_of_scope");
    let redeemed = app
        .post(&format!("coupons/{code}/redeem"), &staff_b, body)
        .await
        .ok(201);
    assert_eq!(
        redeemed["redemption"]["store_id"].as_str(),
        Some(id(&b).as_str())
    );
    assert!(redeemed["redemption"]["staff_id"].is_string());
    assert_eq!(
        app.list_all("coupon-redemptions", &staff_b, 10).await.len(),
        1
    );
    assert_eq!(
        app.list_all("coupon-redemptions", &staff_a, 10).await.len(),
        0
    );
    assert_eq!(
        app.list_all("coupon-redemptions", &admin, 10).await.len(),
        1
    );
    let detail = app.get(&format!("coupons/{code}"), &staff_a).await.ok(200);
    assert_eq!(detail["redemptions"], json!([]));
    let rid = redeemed["redemption"]["id"].as_str().unwrap();
    app.post(
        &format!("coupons/{code}/redemptions/{rid}/reverse"),
        &staff_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    let reversed = app
        .post(
            &format!("coupons/{code}/redemptions/{rid}/reverse"),
            &staff_b,
            json!({}),
        )
        .await
        .ok(200);
    assert_eq!(reversed["coupon"]["state"], "available");
    let _ = send(app.request(Method::GET, "coupon-redemptions", &staff_a)).await;
}
