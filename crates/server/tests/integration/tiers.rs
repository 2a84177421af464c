//! Tiers over HTTP and through the service: a 普通/银卡/金卡/钻石 ladder on tier points over a
//! rolling 365 days in Asia/Shanghai; upgrades at once (jumping levels) after earning, nothing
//! from adjustments, spending or expiry; evaluations that retain or downgrade at the due date;
//! overrides with expiry; the history with reasons; ladder validation with field paths;
//! idempotent ladder writes; and two evaluation jobs racing over the same members.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use huiyuan_domain::auth::Actor;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::tiers::{ChangeReason, TierChange};
use huiyuan_server::app::ledger::{self, Posting};
use huiyuan_server::app::mutation::Mutation;
use huiyuan_server::app::tiers;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

on_both!(
    earning_upgrades_at_once_and_nothing_else_moves_the_tier,
    evaluations_retain_or_downgrade_at_the_due_date,
    overrides_hold_until_cleared_or_expired,
    invalid_ladders_are_rejected_with_field_paths,
    ladder_writes_are_idempotent,
);
on_both!(multi_thread: concurrent_evaluations_record_each_member_once);

fn ladder() -> Value {
    let benefits = |multiplier: u32, discount: u32| json!({ "earning_multiplier_permille": multiplier, "discount_permille": discount });
    json!({
        "basis": "tier_points",
        "window": { "kind": "rolling_days", "days": 365 },
        "evaluation": "window_end",
        "levels": [
            { "code": "normal", "name": "普通", "threshold": 0, "retention": 0, "benefits": benefits(1000, 1000) },
            { "code": "silver", "name": "银卡", "threshold": 1000, "retention": 600, "benefits": benefits(1200, 980) },
            { "code": "gold", "name": "金卡", "threshold": 5000, "retention": 3000, "benefits": {
                "earning_multiplier_permille": 1500, "discount_permille": 950, "birthday_gift": "生日蛋糕券",
                "per_format": { "mall": { "parking_hours": 3 } } } },
            { "code": "diamond", "name": "钻石", "threshold": 20000, "retention": 12000, "benefits": benefits(2000, 900) },
        ],
    })
}

async fn put_ladder(app: &TestApp, token: &str, body: &Value) -> crate::support::Reply {
    send(app.request(Method::PUT, "tiers", token).json(body)).await
}

async fn member(app: &TestApp, token: &str, phone: &str) -> MemberId {
    let body = json!({ "identifiers": [{ "kind": "phone", "value": phone }] });
    let created = app.post("members", token, body).await.ok(201);
    id(&created).parse().expect("a member id")
}

/// Posts a qualifying `earn` entry of `points` (tier points alike) dated `at`, then lets the tier
/// service react, in one transaction — as the orders module does after an order.
async fn earn_at(
    app: &TestApp,
    member: MemberId,
    points: i64,
    at: OffsetDateTime,
) -> Option<TierChange> {
    let store = &app.state.store;
    let mut m = Mutation::begin(store, app.default_tenant.id, Actor::System, None)
        .await
        .unwrap();
    m.now = at;
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
    let change = tiers::on_qualifying_activity(&mut m, member).await.unwrap();
    m.commit().await.unwrap();
    change
}

async fn tier(app: &TestApp, token: &str, member: MemberId) -> Value {
    app.get(&format!("members/{member}/tier"), token)
        .await
        .ok(200)
}

async fn history(app: &TestApp, token: &str, member: MemberId) -> Vec<(String, String, String)> {
    app.list_all(&format!("members/{member}/tier/history"), token, 2)
        .await
        .iter()
        .map(|change| {
            let text = |field: &str| change[field].as_str().unwrap_or_default().to_owned();
            (text("reason"), text("from"), text("to"))
        })
        .collect()
}

fn entry(reason: &str, from: &str, to: &str) -> (String, String, String) {
    (reason.to_owned(), from.to_owned(), to.to_owned())
}

async fn audit_count(app: &TestApp, token: &str, action: &str) -> usize {
    let page = app
        .get(&format!("audit-log?action={action}&limit=200"), token)
        .await
        .ok(200);
    page["items"].as_array().map_or(0, Vec::len)
}

async fn earning_upgrades_at_once_and_nothing_else_moves_the_tier(app: &TestApp) {
    let admin = app.admin_token().await;
    put_ladder(app, &admin, &ladder()).await.ok(200);
    let m = member(app, &admin, "13800138000").await;

    // No row yet: the lowest level since registration, nothing to evaluate.
    let fresh = tier(app, &admin, m).await;
    assert_eq!(fresh["level"]["code"], "normal");
    assert_eq!(fresh["next_evaluation_at"], Value::Null);
    assert_eq!(fresh["progress"]["to_next_level"], 1000);
    assert_eq!(fresh["recent_changes"], json!([]));

    // Below the first threshold: nothing; then 6000 in the window jumps 普通 → 金卡 at once.
    assert_eq!(earn_at(app, m, 800, huiyuan_store::utc_now()).await, None);
    let change = earn_at(app, m, 5200, huiyuan_store::utc_now())
        .await
        .expect("an upgrade");
    assert_eq!(
        (change.reason, change.from.as_str(), change.to.as_str()),
        (ChangeReason::Upgrade, "normal", "gold")
    );
    assert_eq!(change.qualifying_total, Some(6000));
    let gold = tier(app, &admin, m).await;
    assert_eq!(
        (
            gold["level"]["code"].as_str(),
            gold["level"]["name"].as_str()
        ),
        (Some("gold"), Some("金卡"))
    );
    assert!(gold["next_evaluation_at"].is_string(), "{gold}");
    assert_eq!(gold["benefits"]["earning_multiplier_permille"], 1500);
    assert_eq!(gold["progress"]["window_total"], 6000);
    assert_eq!(gold["progress"]["to_next_level"], 14000);
    assert_eq!(gold["progress"]["to_retain"], 0);
    assert_eq!(gold["recent_changes"][0]["reason"], "upgrade");
    let mall = app
        .get(&format!("members/{m}/tier?format=mall"), &admin)
        .await
        .ok(200);
    assert_eq!(
        (
            mall["benefits"]["parking_hours"].as_i64(),
            mall["format"].as_str()
        ),
        (Some(3), Some("mall"))
    );
    let profile = app.get(&format!("members/{m}"), &admin).await.ok(200);
    assert_eq!(
        profile["summaries"]["tier"]["level_code"], "gold",
        "{profile}"
    );

    // Spending and expiring redeemable points never cost the tier, nor lower the window total.
    let adjust = format!("members/{m}/points/adjustments");
    app.post(
        &adjust,
        &admin,
        json!({ "points": -5500, "reason": "spent in the mall" }),
    )
    .await
    .ok(201);
    let far = huiyuan_store::utc_now() + time::Duration::days(800);
    let (_, expired) = huiyuan_server::workers::settle_due_points(&app.state, far)
        .await
        .unwrap();
    assert_eq!(expired, 500, "the rest expired");
    let after = tier(app, &admin, m).await;
    assert_eq!(
        (
            after["level"]["code"].as_str(),
            after["progress"]["window_total"].as_i64()
        ),
        (Some("gold"), Some(6000))
    );

    // Adjustments are not tier-qualifying.
    let other = member(app, &admin, "13800138001").await;
    app.post(
        &format!("members/{other}/points/adjustments"),
        &admin,
        json!({ "points": 30000, "reason": "gift" }),
    )
    .await
    .ok(201);
    let mut m2 = Mutation::begin(&app.state.store, app.default_tenant.id, Actor::System, None)
        .await
        .unwrap();
    assert_eq!(
        tiers::on_qualifying_activity(&mut m2, other).await.unwrap(),
        None
    );
    m2.commit().await.unwrap();
    assert_eq!(tier(app, &admin, other).await["level"]["code"], "normal");

    assert_eq!(
        history(app, &admin, m).await,
        [entry("upgrade", "normal", "gold")]
    );
    assert_eq!(audit_count(app, &admin, "tier.changed").await, 1);
    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["org:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.get(&format!("members/{m}/tier"), &clerk)
        .await
        .problem(403, "permission_denied");
}

async fn evaluations_retain_or_downgrade_at_the_due_date(app: &TestApp) {
    let admin = app.admin_token().await;
    put_ladder(app, &admin, &ladder()).await.ok(200);
    let (retainer, dropper) = (
        member(app, &admin, "13800138000").await,
        member(app, &admin, "13800138001").await,
    );

    // Noon in Shanghai on 10 January 2026: 金卡 at once, evaluated a window later, at local
    // midnight of 10 January 2027.
    let up = earn_at(app, retainer, 6000, datetime!(2026-01-10 04:00 UTC))
        .await
        .expect("an upgrade");
    assert_eq!(up.next_evaluation_at, Some(datetime!(2027-01-09 16:00 UTC)));
    // 银卡 on 1 December 2025, then 金卡 on 1 June 2026 with 5500 in the window; only the 2500
    // earned from then on count at its evaluation.
    earn_at(app, dropper, 3000, datetime!(2025-12-01 04:00 UTC))
        .await
        .expect("silver");
    let gold = earn_at(app, dropper, 2500, datetime!(2026-06-01 04:00 UTC))
        .await
        .expect("gold");
    assert_eq!(
        (gold.to.as_str(), gold.qualifying_total),
        ("gold", Some(5500))
    );
    assert_eq!(
        gold.next_evaluation_at,
        Some(datetime!(2027-05-31 16:00 UTC))
    );

    // Not yet due: nothing.
    let early = tiers::evaluate_due(&app.state, datetime!(2027-01-09 15:59:59 UTC))
        .await
        .unwrap();
    assert_eq!(early.changes, 0);
    // Due: the retainer earned 6000 ≥ 3000 while gold — 保级; the other member is not due.
    let first = tiers::evaluate_due(&app.state, datetime!(2027-01-09 16:00 UTC))
        .await
        .unwrap();
    assert_eq!((first.members, first.changes), (1, 1));
    let kept = tier(app, &admin, retainer).await;
    assert_eq!(kept["level"]["code"], "gold");
    assert_eq!(kept["next_evaluation_at"], "2028-01-09T16:00:00Z");
    // The dropper earned 2500 < 3000 while gold: down to 银卡 (retention 600 met), not further.
    let second = tiers::evaluate_due(&app.state, datetime!(2027-05-31 16:00 UTC))
        .await
        .unwrap();
    assert_eq!((second.members, second.changes), (1, 1));
    assert_eq!(tier(app, &admin, dropper).await["level"]["code"], "silver");
    let again = tiers::evaluate_due(&app.state, datetime!(2027-05-31 16:00 UTC))
        .await
        .unwrap();
    assert_eq!(again.changes, 0, "an evaluation is recorded once");
    // A year with nothing earned: the retainer drops straight to 普通, which is never evaluated.
    tiers::evaluate_due(&app.state, datetime!(2028-01-09 16:00 UTC))
        .await
        .unwrap();
    let dropped = tier(app, &admin, retainer).await;
    assert_eq!(
        (
            dropped["level"]["code"].as_str(),
            &dropped["next_evaluation_at"]
        ),
        (Some("normal"), &Value::Null)
    );

    assert_eq!(
        history(app, &admin, retainer).await,
        [
            entry("upgrade", "normal", "gold"),
            entry("retained", "gold", "gold"),
            entry("downgrade", "gold", "normal")
        ]
    );
    assert_eq!(
        history(app, &admin, dropper).await,
        [
            entry("upgrade", "normal", "silver"),
            entry("upgrade", "silver", "gold"),
            entry("downgrade", "gold", "silver")
        ]
    );
    let page = app
        .get(&format!("members/{dropper}/tier/history"), &admin)
        .await
        .ok(200);
    let last = &page["items"][2];
    assert_eq!(
        (last["qualifying_total"].as_i64(), last["at"].as_str()),
        (Some(2500), Some("2027-05-31T16:00:00Z"))
    );
    assert_eq!(audit_count(app, &admin, "tier.changed").await, 6);
}

async fn overrides_hold_until_cleared_or_expired(app: &TestApp) {
    let admin = app.admin_token().await;
    let m = member(app, &admin, "13800138000").await;
    let path = format!("members/{m}/tier/override");
    let now = huiyuan_store::utc_now();
    let rfc = |at: OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let trial = json!({ "level_code": "diamond", "expires_at": rfc(now + time::Duration::days(30)), "reason": "VIP trial" });
    app.post(&path, &admin, trial.clone())
        .await
        .problem(404, "not_found");
    put_ladder(app, &admin, &ladder()).await.ok(200);

    let set = app.post(&path, &admin, trial.clone()).await.ok(200);
    assert_eq!(
        (
            set["level"]["code"].as_str(),
            set["computed_level"]["code"].as_str()
        ),
        (Some("diamond"), Some("normal"))
    );
    assert_eq!(set["override"]["reason"], "VIP trial");
    assert_eq!(set["benefits"]["earning_multiplier_permille"], 2000);

    let bad = json!({ "level_code": "platinum", "expires_at": rfc(now - time::Duration::days(1)), "reason": " " });
    let problem = app
        .post(&path, &admin, bad)
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["level_code", "expires_at", "reason"]);
    let reader = fixtures::staff_login(
        app,
        &admin,
        "reader",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.post(&path, &reader, trial.clone())
        .await
        .problem(403, "permission_denied");

    let cleared = app.delete(&path, &admin).await.ok(200);
    assert_eq!(
        (cleared["level"]["code"].as_str(), &cleared["override"]),
        (Some("normal"), &Value::Null)
    );
    app.delete(&path, &admin).await.problem(404, "not_found");

    // A one-day override expires by itself; the evaluation job records it.
    let short = json!({ "level_code": "gold", "expires_at": rfc(now + time::Duration::days(1)), "reason": "service recovery" });
    assert_eq!(
        app.post(&path, &admin, short).await.ok(200)["level"]["code"],
        "gold"
    );
    let report = tiers::evaluate_due(&app.state, now + time::Duration::days(2))
        .await
        .unwrap();
    assert_eq!((report.members, report.changes), (1, 1));
    assert_eq!(tier(app, &admin, m).await["level"]["code"], "normal");
    assert_eq!(
        history(app, &admin, m).await,
        [
            entry("override_set", "normal", "diamond"),
            entry("override_cleared", "diamond", "normal"),
            entry("override_set", "normal", "gold"),
            entry("override_expired", "gold", "normal"),
        ]
    );
    assert_eq!(audit_count(app, &admin, "tier.override_set").await, 2);
    assert_eq!(audit_count(app, &admin, "tier.override_cleared").await, 1);
    assert_eq!(audit_count(app, &admin, "tier.override_expired").await, 1);
}

async fn invalid_ladders_are_rejected_with_field_paths(app: &TestApp) {
    let admin = app.admin_token().await;
    app.get("tiers", &admin).await.problem(404, "not_found");
    let mut bad = ladder();
    bad["levels"][0]["threshold"] = json!(100);
    bad["levels"][2]["threshold"] = json!(900);
    bad["levels"][3]["benefits"]["discount_permille"] = json!(0);
    bad["window"]["days"] = json!(0);
    let problem = put_ladder(app, &admin, &bad)
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "window.days",
        "levels[0].threshold",
        "levels[2].threshold",
        "levels[3].benefits.discount_permille",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let mut unknown = ladder();
    unknown["levels"][1]["cashback"] = json!(5);
    put_ladder(app, &admin, &unknown)
        .await
        .problem(422, "validation_failed");
    app.get("tiers", &admin).await.problem(404, "not_found");

    let operator = fixtures::staff_login(
        app,
        &admin,
        "operator",
        &["org:read", "members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    put_ladder(app, &operator, &ladder())
        .await
        .problem(403, "permission_denied");
    assert_eq!(audit_count(app, &admin, "tier.ladder_set").await, 0);
}

async fn ladder_writes_are_idempotent(app: &TestApp) {
    let admin = app.admin_token().await;
    let put_once = |body: Value| {
        send(
            app.request(Method::PUT, "tiers", &admin)
                .header("idempotency-key", "ladder-2026")
                .json(&body),
        )
    };
    let first = put_once(ladder()).await;
    assert_eq!(first.header("idempotent-replayed"), "");
    let first = first.ok(200);
    let replay = put_once(ladder()).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(replay.ok(200), first);
    let mut changed = ladder();
    changed["levels"][1]["threshold"] = json!(2000);
    put_once(changed)
        .await
        .problem(422, "idempotency_key_reused");
    let stored = app.get("tiers", &admin).await.ok(200);
    assert_eq!(
        (
            stored["levels"][1]["threshold"].as_i64(),
            stored["levels"][2]["name"].as_str()
        ),
        (Some(1000), Some("金卡"))
    );
    assert_eq!(audit_count(app, &admin, "tier.ladder_set").await, 1);
}

async fn concurrent_evaluations_record_each_member_once(app: &TestApp) {
    let admin = app.admin_token().await;
    put_ladder(app, &admin, &ladder()).await.ok(200);
    let mut members = Vec::new();
    for n in 0..12 {
        let m = member(app, &admin, &format!("138001380{n:02}")).await;
        earn_at(app, m, 6000, datetime!(2025-01-05 04:00 UTC))
            .await
            .expect("gold");
        members.push(m);
    }
    let due = datetime!(2026-01-04 16:00 UTC);
    let (a, b) = (app.state.clone(), app.state.clone());
    let first = tokio::spawn(async move { tiers::evaluate_due(&a, due).await.unwrap() });
    let second = tokio::spawn(async move { tiers::evaluate_due(&b, due).await.unwrap() });
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first.members + second.members, 12, "{first:?} {second:?}");
    assert_eq!(first.changes + second.changes, 12);
    for m in members {
        assert_eq!(
            history(app, &admin, m).await,
            [
                entry("upgrade", "normal", "gold"),
                entry("retained", "gold", "gold")
            ]
        );
    }
    assert_eq!(audit_count(app, &admin, "tier.changed").await, 24);
}
