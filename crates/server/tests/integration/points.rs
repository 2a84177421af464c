//! The points ledger over HTTP: adjustments, never overdrawing under 100 parallel spends, expiry
//! at a year-end boundary in Asia/Shanghai, the return window, and `verify` after each.

use crate::fixtures;
use crate::support::{TestApp, id};
use serde_json::{Value, json};
use time::macros::datetime;

on_both!(
    points_follow_merges_and_come_back_on_unmerge,
    adjustments_post_entries_and_refuse_overdrafts,
    expiry_happens_once_at_the_year_end_in_shanghai,
    pending_points_wait_for_the_return_window,
    the_points_policy_is_validated
);
on_both!(multi_thread: parallel_spends_take_exactly_what_is_affordable);

async fn member(app: &TestApp, token: &str, phone: &str) -> Value {
    app.post(
        "members",
        token,
        json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
    )
    .await
    .ok(201)
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
    assert!(report.members_checked > 0);
}

async fn adjustments_post_entries_and_refuse_overdrafts(app: &TestApp) {
    let admin = app.admin_token().await;
    let m = member(app, &admin, "13800138000").await;
    let path = format!("members/{}/points/adjustments", id(&m));
    let granted = app
        .post(
            &path,
            &admin,
            json!({ "points": 500, "reason": "welcome gift" }),
        )
        .await
        .ok(201);
    assert_eq!(
        (granted["kind"].as_str(), granted["points"].as_i64()),
        (Some("adjust"), Some(500))
    );
    let taken = app
        .post(
            &path,
            &admin,
            json!({ "points": -200, "reason": "correction" }),
        )
        .await
        .ok(201);
    assert_eq!(taken["points"], -200);
    assert_eq!(
        taken["lots"][0]["lot_id"], granted["lots"][0]["lot_id"],
        "drawn from the lot it came from"
    );
    let problem = app
        .post(
            &path,
            &admin,
            json!({ "points": -301, "reason": "too much" }),
        )
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "insufficient_points");
    app.post(&path, &admin, json!({ "points": 0, "reason": "x" }))
        .await
        .problem(422, "validation_failed");
    app.post(&path, &admin, json!({ "points": 5, "reason": " " }))
        .await
        .problem(422, "validation_failed");

    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(
        (points["available"].as_i64(), points["value_fen"].as_i64()),
        (Some(300), Some(300))
    );
    let entries = app
        .get(&format!("members/{}/points/entries", id(&m)), &admin)
        .await
        .ok(200);
    let reasons: Vec<&str> = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["welcome gift", "correction"]);

    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.post(&path, &clerk, json!({ "points": 5, "reason": "x" }))
        .await
        .problem(403, "permission_denied");
    let audit = app
        .get("audit-log?action=points.adjusted", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    assert_verifies(app).await;

    // A balance written without an entry is caught.
    let mut session = app.state.store.write().await.unwrap();
    let member_id: huiyuan_domain::ids::MemberId = id(&m).parse().unwrap();
    let change = huiyuan_store::ledger::BalanceChange {
        available: 5,
        ..Default::default()
    };
    huiyuan_store::ledger::credit(
        &mut session,
        app.default_tenant.id,
        member_id,
        change,
        huiyuan_store::utc_now(),
    )
    .await
    .unwrap();
    session.commit().await.unwrap();
    let report = huiyuan_server::app::ledger::verify_all(&app.state.store)
        .await
        .unwrap();
    let accounts: Vec<&str> = report
        .discrepancies
        .iter()
        .map(|(_, d)| d.account)
        .collect();
    assert_eq!(accounts, ["member.available", "lots.available"]);
}

async fn parallel_spends_take_exactly_what_is_affordable(app: &TestApp) {
    let admin = app.admin_token().await;
    let m = member(app, &admin, "13800138000").await;
    let path = format!("members/{}/points/adjustments", id(&m));
    app.post(&path, &admin, json!({ "points": 1000, "reason": "grant" }))
        .await
        .ok(201);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (client, url, token) = (app.client.clone(), app.url(&path), admin.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "points": -15, "reason": "spend" }))
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
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        66,
        "1000 / 15 = 66 spends fit: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        34,
        "{statuses:?}"
    );
    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(points["available"], 10);
    assert_verifies(app).await;
}

async fn expiry_happens_once_at_the_year_end_in_shanghai(app: &TestApp) {
    let admin = app.admin_token().await;
    app.request(reqwest::Method::PUT, "points/policy", &admin)
        .json(&json!({ "expiry": { "kind": "year_end", "years": 1 }, "pending_days": 0, "fen_per_100_points": 100, "overdraft_limit": 0 }))
        .send()
        .await
        .unwrap();
    let m = member(app, &admin, "13800138000").await;
    let path = format!("members/{}/points/adjustments", id(&m));
    app.post(
        &path,
        &admin,
        json!({ "points": 300, "reason": "earned in 2026" }),
    )
    .await
    .ok(201);
    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(points["available"], 300);

    // Points of 2026 expire at the end of 2027 in Shanghai: 2027-12-31 16:00 UTC.
    let just_before = datetime!(2027-12-31 15:59:59 UTC);
    let at_midnight_shanghai = datetime!(2027-12-31 16:00:00 UTC);
    assert_eq!(
        huiyuan_server::workers::settle_due_points(&app.state, just_before)
            .await
            .unwrap(),
        (0, 0)
    );
    assert_eq!(
        huiyuan_server::workers::settle_due_points(&app.state, at_midnight_shanghai)
            .await
            .unwrap(),
        (0, 300)
    );
    assert_eq!(
        huiyuan_server::workers::settle_due_points(&app.state, at_midnight_shanghai)
            .await
            .unwrap(),
        (0, 0),
        "never twice"
    );
    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(points["available"], 0);
    let entries = app
        .get(&format!("members/{}/points/entries", id(&m)), &admin)
        .await
        .ok(200);
    let last = entries["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["kind"].as_str(),
            last["points"].as_i64(),
            last["credit_account"].as_str()
        ),
        (Some("expire"), Some(-300), Some("expiry"))
    );
    assert_verifies(app).await;
}

async fn pending_points_wait_for_the_return_window(app: &TestApp) {
    let admin = app.admin_token().await;
    app.request(reqwest::Method::PUT, "points/policy", &admin)
        .json(&json!({ "expiry": { "kind": "never" }, "pending_days": 7, "fen_per_100_points": 50, "overdraft_limit": 0 }))
        .send()
        .await
        .unwrap();
    let m = member(app, &admin, "13800138000").await;
    let path = format!("members/{}/points/adjustments", id(&m));
    app.post(&path, &admin, json!({ "points": 100, "reason": "order 1" }))
        .await
        .ok(201);
    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(
        (points["available"].as_i64(), points["pending"].as_i64()),
        (Some(0), Some(100))
    );
    app.post(
        &path,
        &admin,
        json!({ "points": -1, "reason": "too early" }),
    )
    .await
    .problem(409, "conflict");
    let later = huiyuan_store::utc_now() + time::Duration::days(8);
    assert_eq!(
        huiyuan_server::workers::settle_due_points(&app.state, later)
            .await
            .unwrap(),
        (100, 0)
    );
    let points = app
        .get(&format!("members/{}/points", id(&m)), &admin)
        .await
        .ok(200);
    assert_eq!(
        (
            points["available"].as_i64(),
            points["pending"].as_i64(),
            points["value_fen"].as_i64()
        ),
        (Some(100), Some(0), Some(50))
    );
    assert_verifies(app).await;
}

async fn the_points_policy_is_validated(app: &TestApp) {
    let admin = app.admin_token().await;
    let policy = app.get("points/policy", &admin).await.ok(200);
    assert_eq!(
        policy["expiry"],
        json!({ "kind": "year_end", "years": 1 }),
        "default: 年终清零 after a year"
    );
    let bad = json!({ "expiry": { "kind": "days_after_earning", "days": 0 }, "pending_days": 100, "fen_per_100_points": 0, "overdraft_limit": -1 });
    let problem = crate::support::send(
        app.request(reqwest::Method::PUT, "points/policy", &admin)
            .json(&bad),
    )
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
        [
            "expiry",
            "pending_days",
            "fen_per_100_points",
            "overdraft_limit"
        ]
    );
}

async fn points_follow_merges_and_come_back_on_unmerge(app: &TestApp) {
    let admin = app.admin_token().await;
    let (survivor, source) = (
        member(app, &admin, "13800138000").await,
        member(app, &admin, "13900139000").await,
    );
    for (who, points) in [(&survivor, 100), (&source, 300)] {
        let path = format!("members/{}/points/adjustments", id(who));
        app.post(
            &path,
            &admin,
            json!({ "points": points, "reason": "grant" }),
        )
        .await
        .ok(201);
    }

    app.post(
        &format!("members/{}/merge", id(&survivor)),
        &admin,
        json!({ "source_member_id": id(&source) }),
    )
    .await
    .ok(200);
    assert_eq!(
        available(app, &admin, &survivor).await,
        400,
        "the source's points follow the merge"
    );
    assert_verifies(app).await;
    // The source's id now answers for the survivor; the survivor's journal shows the transfer in …
    let entries = app
        .get(&format!("members/{}/points/entries", id(&source)), &admin)
        .await
        .ok(200);
    let kinds: Vec<&str> = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["adjust", "transfer_in"]);
    // … and the source's own journal kept its history and added the transfer out.
    let mut session = app.state.store.read().await.unwrap();
    let source_id: huiyuan_domain::ids::MemberId = id(&source).parse().unwrap();
    let page = huiyuan_domain::paging::PageRequest::first(10);
    let own =
        huiyuan_store::ledger::list_entries(&mut session, app.default_tenant.id, source_id, page)
            .await
            .unwrap();
    let kinds: Vec<&str> = own.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["adjust", "transfer_out"], "the journal only grows");
    drop(session);

    // The survivor spends 350 of the 400, from whichever lots expire first.
    let spend = format!("members/{}/points/adjustments", id(&survivor));
    app.post(
        &spend,
        &admin,
        json!({ "points": -350, "reason": "redeemed" }),
    )
    .await
    .ok(201);
    app.post(
        &format!("members/{}/unmerge", id(&survivor)),
        &admin,
        json!({}),
    )
    .await
    .ok(200);
    let (back, kept) = (
        available(app, &admin, &source).await,
        available(app, &admin, &survivor).await,
    );
    assert_eq!(back + kept, 50, "what was spent stays spent");
    assert_verifies(app).await;
}

async fn available(app: &TestApp, token: &str, who: &Value) -> i64 {
    app.get(&format!("members/{}/points", id(who)), token)
        .await
        .ok(200)["available"]
        .as_i64()
        .unwrap()
}
