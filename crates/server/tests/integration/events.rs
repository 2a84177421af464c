//! Event rewards over HTTP: one sign-in per local day (also under 20 parallel requests), streaks
//! across Shanghai midnights and their breaks, the monthly ladder, check-ins per store, share caps,
//! profile completion once, the registration reward from any channel, birthdays, referrals,
//! custom events, idempotent retries, and `verify` after each.

use crate::fixtures;
use crate::support::{TestApp, id};
use huiyuan_domain::auth::Actor;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::time;
use time::{Date, Duration, OffsetDateTime, Time};

on_both!(
    a_second_sign_in_the_same_local_day_grants_nothing,
    streaks_follow_shanghai_days_and_break_after_a_missed_day,
    the_monthly_ladder_pays_the_nth_sign_in,
    check_ins_count_once_per_store_per_day,
    shares_are_capped_per_day,
    the_profile_completed_reward_is_paid_once_for_a_complete_profile,
    the_registration_reward_is_the_same_from_every_channel,
    retries_with_an_idempotency_key_replay_the_answer,
    custom_events_follow_their_caps,
    birthdays_are_rewarded_once_a_year,
    referrers_are_rewarded_once_for_a_first_paid_order,
    the_configuration_is_validated,
);
on_both!(multi_thread: parallel_sign_ins_of_one_member_grant_once);

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

async fn configure(app: &TestApp, token: &str, config: Value) -> Value {
    crate::support::send(
        app.request(reqwest::Method::PUT, "event-rewards", token)
            .json(&config),
    )
    .await
    .ok(200)
}

async fn entries(app: &TestApp, token: &str, member: &Value) -> Vec<Value> {
    app.list_all(
        &format!("members/{}/points/entries", id(member)),
        token,
        100,
    )
    .await
}

async fn available(app: &TestApp, token: &str, member: &Value) -> i64 {
    let points = app
        .get(&format!("members/{}/points", id(member)), token)
        .await
        .ok(200);
    points["available"].as_i64().expect("available points")
}

/// A UTC instant `days` after `day` at `at` (UTC), in RFC 3339.
fn utc(day: Date, days: i64, at: Time) -> String {
    (day + Duration::days(days))
        .with_time(at)
        .assume_utc()
        .format(&Rfc3339)
        .expect("format a time")
}

/// A day safely in the past (events may be reported up to 60 days late).
fn some_days_ago() -> Date {
    (OffsetDateTime::now_utc() - Duration::days(20)).date()
}

/// The first day of a month whose first days all lie 20 to 60 days in the past.
fn a_recent_month() -> Date {
    (OffsetDateTime::now_utc() - Duration::days(25))
        .date()
        .replace_day(1)
        .expect("the first of a month")
}

async fn event(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("events", token, body).await.ok(200)
}

async fn sign_in(app: &TestApp, token: &str, member: &Value, at: &str) -> Value {
    let body = json!({ "member_id": id(member), "type": "sign_in", "occurred_at": at });
    event(app, token, body).await
}

async fn a_second_sign_in_the_same_local_day_grants_nothing(app: &TestApp) {
    let admin = app.admin_token().await;
    let m = member(app, &admin, "13800138000").await;
    let first = event(
        app,
        &admin,
        json!({ "member_id": id(&m), "type": "sign_in" }),
    )
    .await;
    assert_eq!(
        (
            first["points"].as_i64(),
            first["streak_days"].as_i64(),
            first["duplicate"].as_bool()
        ),
        (Some(5), Some(1), Some(false)),
        "{first}"
    );
    assert_eq!(first["next_milestone"]["kind"], "streak");
    assert_eq!(first["next_milestone"]["at"], 3);
    let second = event(
        app,
        &admin,
        json!({ "member_id": id(&m), "type": "sign_in" }),
    )
    .await;
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["reason"], "already_signed_in");
    assert_eq!(second["event_id"], first["event_id"], "the first result");
    assert_eq!(second["points"], first["points"]);
    let posted = entries(app, &admin, &m).await;
    assert_eq!(posted.len(), 1, "one reward: {posted:?}");
    assert_eq!(posted[0]["kind"], "reward");
    assert_eq!(posted[0]["debit_account"], "reward:sign_in");
    assert!(
        posted[0]["reason"].as_str().unwrap().contains("sign-in"),
        "{posted:?}"
    );
    assert_eq!(available(app, &admin, &m).await, 5);
    let audit = app
        .get("audit-log?action=event.rewarded", &admin)
        .await
        .ok(200);
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_verifies(app).await;
}

async fn streaks_follow_shanghai_days_and_break_after_a_missed_day(app: &TestApp) {
    let admin = app.admin_token().await;
    // The default ladder without its monthly bonuses, which would land on some day of the run.
    let ladder =
        json!([{ "day": 1, "points": 5 }, { "day": 3, "points": 10 }, { "day": 7, "points": 50 }]);
    configure(
        app,
        &admin,
        json!({ "sign_in": { "streak": ladder, "cycle_days": 7 } }),
    )
    .await;
    let m = member(app, &admin, "13800138000").await;
    let day = some_days_ago();
    // 15:59:59 UTC is still day D in Shanghai (UTC+8); a second later it is D+1.
    let d1 = sign_in(app, &admin, &m, &utc(day, 0, time!(15:59:59))).await;
    let d2 = sign_in(app, &admin, &m, &utc(day, 0, time!(16:00:00))).await;
    assert_eq!(d1["local_day"].as_str(), Some(day.to_string().as_str()));
    assert_eq!(
        d2["local_day"].as_str(),
        Some((day + Duration::days(1)).to_string().as_str())
    );
    let again = sign_in(app, &admin, &m, &utc(day, 1, time!(15:59:59))).await;
    assert_eq!(again["duplicate"], true, "still D+1 in Shanghai: {again}");
    let d3 = sign_in(app, &admin, &m, &utc(day, 1, time!(16:00:00))).await;
    let streaks: Vec<_> = [&d1, &d2, &d3]
        .iter()
        .map(|o| o["streak_days"].as_i64())
        .collect();
    assert_eq!(streaks, [Some(1), Some(2), Some(3)]);
    let points: Vec<_> = [&d1, &d2, &d3]
        .iter()
        .map(|o| o["points"].as_i64())
        .collect();
    assert_eq!(
        points,
        [Some(5), Some(5), Some(10)],
        "day 3 reaches the 10-point rung"
    );
    assert_eq!(
        d3["next_milestone"],
        json!({ "kind": "streak", "at": 7, "points": 50, "sign_ins_needed": 4 })
    );
    // D+3 in Shanghai is skipped: the streak starts again on D+4.
    let d5 = sign_in(app, &admin, &m, &utc(day, 3, time!(16:00:00))).await;
    assert_eq!(
        (d5["streak_days"].as_i64(), d5["points"].as_i64()),
        (Some(1), Some(5))
    );
    // Seven days in a row reach the 50-point rung; the eighth starts a new weekly cycle.
    let mut last = Value::Null;
    for offset in 4..10 {
        last = sign_in(app, &admin, &m, &utc(day, offset, time!(16:30:00))).await;
    }
    assert_eq!(
        (last["streak_days"].as_i64(), last["points"].as_i64()),
        (Some(7), Some(50)),
        "{last}"
    );
    assert_eq!(
        last["next_milestone"],
        json!({ "kind": "streak", "at": 10, "points": 10, "sign_ins_needed": 3 })
    );
    let eighth = sign_in(app, &admin, &m, &utc(day, 10, time!(16:30:00))).await;
    assert_eq!(
        (eighth["streak_days"].as_i64(), eighth["points"].as_i64()),
        (Some(8), Some(5))
    );
    assert_eq!(
        available(app, &admin, &m).await,
        5 + 5 + 10 + 5 + (5 + 10 + 10 + 10 + 10 + 50) + 5
    );
    let listed = app
        .get(&format!("members/{}/events", id(&m)), &admin)
        .await
        .ok(200);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 11, "one per local day signed in");
    assert_eq!(
        (
            listed[0]["type"].as_str(),
            listed[0]["streak_days"].as_i64(),
            listed[0]["points"].as_i64()
        ),
        (Some("sign_in"), Some(8), Some(5))
    );
    assert_verifies(app).await;
}

async fn the_monthly_ladder_pays_the_nth_sign_in(app: &TestApp) {
    let admin = app.admin_token().await;
    let config = json!({ "sign_in": { "enabled": true, "streak": [{ "day": 1, "points": 1 }], "monthly": [{ "count": 3, "points": 7 }] } });
    let saved = configure(app, &admin, config).await;
    assert_eq!(saved["sign_in"]["cycle_days"], Value::Null);
    let m = member(app, &admin, "13800138000").await;
    let first = a_recent_month();
    let one = sign_in(app, &admin, &m, &utc(first, 0, time!(02:00))).await;
    assert_eq!(
        one["next_milestone"],
        json!({ "kind": "monthly", "at": 3, "points": 7, "sign_ins_needed": 2 })
    );
    sign_in(app, &admin, &m, &utc(first, 2, time!(02:00))).await;
    let third = sign_in(app, &admin, &m, &utc(first, 4, time!(02:00))).await;
    assert_eq!(
        (
            third["month_sign_ins"].as_i64(),
            third["streak_days"].as_i64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(
        third["points"], 8,
        "1 for the sign-in, 7 for the third this month: {third}"
    );
    assert_eq!(third["grants"].as_array().unwrap().len(), 2);
    let fourth = sign_in(app, &admin, &m, &utc(first, 5, time!(02:00))).await;
    assert_eq!(
        (fourth["points"].as_i64(), fourth["streak_days"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(available(app, &admin, &m).await, 1 + 1 + 8 + 1);
    assert_verifies(app).await;
}

async fn check_ins_count_once_per_store_per_day(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "check_in_points": 20 })).await;
    let format = fixtures::format(app, &admin, "mall").await;
    let a = fixtures::store(app, &admin, &format, "a1").await;
    let b = fixtures::store(app, &admin, &format, "b1").await;
    let m = member(app, &admin, "13800138000").await;
    let day = some_days_ago();
    let check_in = |store: &Value, at: String| json!({ "member_id": id(&m), "type": "check_in", "store_id": id(store), "occurred_at": at });
    let first = event(app, &admin, check_in(&a, utc(day, 0, time!(03:00)))).await;
    assert_eq!(first["points"], 20);
    let again = event(app, &admin, check_in(&a, utc(day, 0, time!(09:00)))).await;
    assert_eq!(
        (again["duplicate"].as_bool(), again["reason"].as_str()),
        (Some(true), Some("already_checked_in"))
    );
    let other = event(app, &admin, check_in(&b, utc(day, 0, time!(09:00)))).await;
    assert_eq!(other["points"], 20, "another store the same day");
    let next_day = event(app, &admin, check_in(&a, utc(day, 1, time!(03:00)))).await;
    assert_eq!(next_day["points"], 20);
    let posted = entries(app, &admin, &m).await;
    assert_eq!(posted.len(), 3);
    assert_eq!(
        posted[0]["debit_account"],
        format!("issuance:{}", id(&format)),
        "owed by the store's format"
    );
    assert_eq!(posted[0]["format_id"], id(&format));
    let missing = json!({ "member_id": id(&m), "type": "check_in" });
    let problem = app
        .post("events", &admin, missing)
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "store_id");
    let unknown =
        json!({ "member_id": id(&m), "type": "check_in", "store_id": uuid::Uuid::now_v7() });
    app.post("events", &admin, unknown)
        .await
        .problem(422, "validation_failed");
    assert_verifies(app).await;
}

async fn shares_are_capped_per_day(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "share": { "points": 3, "daily_cap": 2 }, "review": { "points": 4, "daily_cap": 1 } })).await;
    let m = member(app, &admin, "13800138000").await;
    let day = some_days_ago();
    let share = |at: String| json!({ "member_id": id(&m), "type": "share", "occurred_at": at });
    let mut points = Vec::new();
    for hour in [1, 2, 3] {
        let outcome = event(
            app,
            &admin,
            share(utc(day, 0, Time::from_hms(hour, 0, 0).unwrap())),
        )
        .await;
        points.push((
            outcome["points"].as_i64(),
            outcome["reason"].as_str().map(str::to_owned),
        ));
    }
    assert_eq!(
        points,
        [
            (Some(3), None),
            (Some(3), None),
            (Some(0), Some("daily_cap_reached".to_owned()))
        ]
    );
    let tomorrow = event(app, &admin, share(utc(day, 1, time!(01:00)))).await;
    assert_eq!(tomorrow["points"], 3);
    let review =
        json!({ "member_id": id(&m), "type": "review", "occurred_at": utc(day, 0, time!(05:00)) });
    assert_eq!(event(app, &admin, review.clone()).await["points"], 4);
    assert_eq!(
        event(app, &admin, review).await["reason"],
        "daily_cap_reached"
    );
    assert_eq!(entries(app, &admin, &m).await.len(), 4);
    assert_eq!(available(app, &admin, &m).await, 3 + 3 + 3 + 4);
    assert_verifies(app).await;
}

async fn the_profile_completed_reward_is_paid_once_for_a_complete_profile(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "profile_completed_points": 30 })).await;
    let partial = member(app, &admin, "13800138000").await;
    let body = json!({ "member_id": id(&partial), "type": "profile_completed" });
    assert_eq!(
        event(app, &admin, body).await["reason"],
        "profile_incomplete"
    );
    let complete = app
        .post("members", &admin, json!({
            "identifiers": [{ "kind": "phone", "value": "13800138001" }],
            "profile": { "name": "李雷", "gender": "male", "birthday": "1990-05-01", "city": "上海" },
        }))
        .await
        .ok(201);
    let body = json!({ "member_id": id(&complete), "type": "profile_completed" });
    let granted = event(app, &admin, body.clone()).await;
    assert_eq!(granted["points"], 30, "{granted}");
    let again = event(app, &admin, body).await;
    assert_eq!(
        (again["points"].as_i64(), again["reason"].as_str()),
        (Some(0), Some("already_rewarded"))
    );
    assert_eq!(available(app, &admin, &complete).await, 30);
    assert_verifies(app).await;
}

async fn the_registration_reward_is_the_same_from_every_channel(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "registration_points": 100 })).await;
    let by_staff = member(app, &admin, "13800138000").await;
    let format = fixtures::format(app, &admin, "mall").await;
    let channel = fixtures::channel(app, &admin, Some(&format), "pos1").await;
    let key = fixtures::api_key(app, &admin, &channel, None).await;
    let key = key["key"].as_str().unwrap().to_owned();
    let by_pos = member(app, &key, "13800138001").await;
    let mut seen = Vec::new();
    for m in [&by_staff, &by_pos] {
        let posted = entries(app, &admin, m).await;
        assert_eq!(posted.len(), 1, "{posted:?}");
        let e = &posted[0];
        seen.push((
            e["points"].clone(),
            e["debit_account"].clone(),
            e["reason"].clone(),
            e["format_id"].clone(),
        ));
    }
    assert_eq!(seen[0], seen[1], "identical whatever the channel");
    assert_eq!(seen[0].0, 100);
    // Registering the same phone again finds the member and grants nothing more.
    let existing = app
        .post(
            "members",
            &key,
            json!({ "identifiers": [{ "kind": "phone", "value": "13800138001" }] }),
        )
        .await
        .ok(200);
    assert_eq!(id(&existing), id(&by_pos));
    assert_eq!(entries(app, &admin, &by_pos).await.len(), 1);
    assert_verifies(app).await;
}

async fn retries_with_an_idempotency_key_replay_the_answer(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(
        app,
        &admin,
        json!({ "share": { "points": 2, "daily_cap": 5 } }),
    )
    .await;
    let m = member(app, &admin, "13800138000").await;
    let body = json!({ "member_id": id(&m), "type": "share" });
    let first = app
        .post_once("events", &admin, "share-1", body.clone())
        .await;
    assert_eq!(first.status, 200);
    let replay = app
        .post_once("events", &admin, "share-1", body.clone())
        .await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(replay.body, first.body);
    assert_eq!(
        entries(app, &admin, &m).await.len(),
        1,
        "a retry grants nothing"
    );
    let other = app
        .post_once("events", &admin, "share-2", body)
        .await
        .ok(200);
    assert_eq!(other["points"], 2);
    assert_eq!(available(app, &admin, &m).await, 4);
    assert_verifies(app).await;
}

async fn custom_events_follow_their_caps(app: &TestApp) {
    let admin = app.admin_token().await;
    let config =
        json!({ "custom": [{ "name": "survey", "points": 15, "daily_cap": 2, "total_cap": 3 }] });
    configure(app, &admin, config).await;
    let m = member(app, &admin, "13800138000").await;
    let day = some_days_ago();
    let survey = |days: i64, hour: u8| json!({ "member_id": id(&m), "type": "custom", "name": "survey", "occurred_at": utc(day, days, Time::from_hms(hour, 0, 0).unwrap()) });
    let outcomes = [
        event(app, &admin, survey(0, 1)).await,
        event(app, &admin, survey(0, 2)).await,
        event(app, &admin, survey(0, 3)).await,
        event(app, &admin, survey(1, 1)).await,
        event(app, &admin, survey(2, 1)).await,
    ];
    let got: Vec<_> = outcomes
        .iter()
        .map(|o| (o["points"].as_i64(), o["reason"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(15), None),
            (Some(15), None),
            (Some(0), Some("daily_cap_reached")),
            (Some(15), None),
            (Some(0), Some("total_cap_reached"))
        ]
    );
    assert_eq!(outcomes[0]["name"], "survey");
    let unknown = json!({ "member_id": id(&m), "type": "custom", "name": "nope" });
    let problem = app
        .post("events", &admin, unknown)
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name");
    assert_eq!(available(app, &admin, &m).await, 45);
    assert_verifies(app).await;
}

async fn birthdays_are_rewarded_once_a_year(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "birthday_points": 88 })).await;
    // 2026-11-20 16:30 UTC is 21 November in Shanghai.
    let now = time::macros::datetime!(2026-11-20 16:30:00 UTC);
    let profile = |birthday: &str| json!({ "birthday": birthday });
    let born_today = app
        .post("members", &admin, json!({ "identifiers": [{ "kind": "phone", "value": "13800138000" }], "profile": profile("1990-11-21") }))
        .await
        .ok(201);
    let born_yesterday = app
        .post("members", &admin, json!({ "identifiers": [{ "kind": "phone", "value": "13800138001" }], "profile": profile("1990-11-20") }))
        .await
        .ok(201);
    let rewarded = huiyuan_server::app::event_rewards::grant_birthday_rewards(&app.state, now)
        .await
        .unwrap();
    assert_eq!(rewarded, 1);
    assert_eq!(
        huiyuan_server::app::event_rewards::grant_birthday_rewards(&app.state, now)
            .await
            .unwrap(),
        0,
        "once a year"
    );
    let later = now + Duration::hours(5);
    assert_eq!(
        huiyuan_server::app::event_rewards::grant_birthday_rewards(&app.state, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(available(app, &admin, &born_today).await, 88);
    assert_eq!(available(app, &admin, &born_yesterday).await, 0);
    let posted = entries(app, &admin, &born_today).await;
    assert_eq!(posted[0]["reason"], "birthday reward 2026");
    let next_year = time::macros::datetime!(2027-11-21 01:00:00 UTC);
    assert_eq!(
        huiyuan_server::app::event_rewards::grant_birthday_rewards(&app.state, next_year)
            .await
            .unwrap(),
        1
    );
    assert_eq!(available(app, &admin, &born_today).await, 176);
    assert_verifies(app).await;
}

async fn referrers_are_rewarded_once_for_a_first_paid_order(app: &TestApp) {
    let admin = app.admin_token().await;
    configure(app, &admin, json!({ "referral_points": 200 })).await;
    let referrer = member(app, &admin, "13800138000").await;
    let code = referrer["referral_code"].as_str().unwrap();
    let referee = app
        .post("members", &admin, json!({ "identifiers": [{ "kind": "phone", "value": "13800138001" }], "referral_code": code }))
        .await
        .ok(201);
    let referee_id: huiyuan_domain::ids::MemberId = id(&referee).parse().unwrap();
    for _ in 0..2 {
        let mut m = huiyuan_server::app::mutation::Mutation::begin(
            &app.state.store,
            app.default_tenant.id,
            Actor::System,
            None,
        )
        .await
        .unwrap();
        huiyuan_server::app::event_rewards::on_first_paid_order(&mut m, referee_id)
            .await
            .unwrap();
        m.commit().await.unwrap();
    }
    assert_eq!(available(app, &admin, &referrer).await, 200, "once");
    assert_eq!(available(app, &admin, &referee).await, 0);
    let posted = entries(app, &admin, &referrer).await;
    assert_eq!(posted[0]["debit_account"], "reward:referral");
    // A member nobody referred brings nobody a reward.
    let mut m = huiyuan_server::app::mutation::Mutation::begin(
        &app.state.store,
        app.default_tenant.id,
        Actor::System,
        None,
    )
    .await
    .unwrap();
    let referrer_id: huiyuan_domain::ids::MemberId = id(&referrer).parse().unwrap();
    huiyuan_server::app::event_rewards::on_first_paid_order(&mut m, referrer_id)
        .await
        .unwrap();
    m.commit().await.unwrap();
    assert_verifies(app).await;
}

async fn the_configuration_is_validated(app: &TestApp) {
    let admin = app.admin_token().await;
    let defaults = app.get("event-rewards", &admin).await.ok(200);
    assert_eq!(defaults["sign_in"]["enabled"], true);
    assert_eq!(
        defaults["sign_in"]["streak"][0],
        json!({ "day": 1, "points": 5 })
    );
    assert_eq!(defaults["registration_points"], 0);
    let bad = json!({
        "registration_points": -1,
        "sign_in": { "enabled": true, "streak": [{ "day": 2, "points": 5 }, { "day": 2, "points": 6 }], "cycle_days": 1 },
        "share": { "points": 1, "daily_cap": 0 },
        "custom": [{ "name": "Bad Name", "points": 1 }, { "name": "ok", "points": 1 }, { "name": "ok", "points": 1 }],
    });
    let problem = crate::support::send(
        app.request(reqwest::Method::PUT, "event-rewards", &admin)
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
            "registration_points",
            "share.daily_cap",
            "sign_in.streak",
            "sign_in.streak[1].day",
            "sign_in.cycle_days",
            "custom[0].name",
            "custom[2].name"
        ]
    );
    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["members:read", "org:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    crate::support::send(
        app.request(reqwest::Method::PUT, "event-rewards", &clerk)
            .json(&json!({})),
    )
    .await
    .problem(403, "permission_denied");
    app.get("event-rewards", &clerk).await.ok(200);
    // Saved, and audited.
    let saved = configure(app, &admin, json!({ "birthday_points": 10 })).await;
    assert_eq!(saved["birthday_points"], 10);
    assert_eq!(app.get("event-rewards", &admin).await.ok(200), saved);
    let audit = app
        .get("audit-log?action=event_rewards.config_set", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    // Events: bad type, future time.
    let m = member(app, &admin, "13800138000").await;
    let problem = app
        .post(
            "events",
            &admin,
            json!({ "member_id": id(&m), "type": "dance" }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "type");
    let future = (OffsetDateTime::now_utc() + Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();
    let problem = app
        .post(
            "events",
            &admin,
            json!({ "member_id": id(&m), "type": "sign_in", "occurred_at": future }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "occurred_at");
    app.post(
        "events",
        &admin,
        json!({ "member_id": uuid::Uuid::now_v7(), "type": "sign_in" }),
    )
    .await
    .problem(404, "not_found");
}

async fn parallel_sign_ins_of_one_member_grant_once(app: &TestApp) {
    let admin = app.admin_token().await;
    let m = member(app, &admin, "13800138000").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, token) = (app.client.clone(), app.url("events"), admin.clone());
        let body = json!({ "member_id": id(&m), "type": "sign_in" });
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{answers:?}");
    assert_eq!(
        answers
            .iter()
            .filter(|(_, body)| body["duplicate"] == false)
            .count(),
        1,
        "{answers:?}"
    );
    let event_ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, b)| b["event_id"].to_string())
        .collect();
    assert_eq!(event_ids.len(), 1, "every answer is the one sign-in's");
    assert_eq!(entries(app, &admin, &m).await.len(), 1);
    assert_eq!(available(app, &admin, &m).await, 5);
    assert_verifies(app).await;
}
