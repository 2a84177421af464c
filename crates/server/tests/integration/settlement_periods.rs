//! Settlement periods over HTTP on both databases: events count in the period they were
//! recorded in, so a late offline order falls into the next period; a closed statement never
//! changes, cannot be closed twice, and no two closed periods overlap — even when closes race.

use crate::coupons::member;
use crate::fixtures;
use crate::settlement::{base_rule, order, pos_key, settle};
use crate::support::{TestApp, id, send};
use huiyuan_store::utc_now;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

on_both!(late_events_fall_into_the_next_period_and_closed_statements_stay);
on_both!(multi_thread: racing_closes_of_overlapping_periods_close_one);

async fn late_events_fall_into_the_next_period_and_closed_statements_stay(app: &TestApp) {
    let admin = app.admin_token().await;
    let start = utc_now() - Duration::seconds(1);
    base_rule(app, &admin).await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "s1").await;
    let key = pos_key(app, &admin, &format, &store, "pos").await;
    member(app, &admin, "13800138000").await;
    order(app, &key, &store, "13800138000", "T-1", 100, utc_now()).await;
    let first_end = utc_now();
    app.post(
        "settlements",
        &admin,
        settle(start, first_end + Duration::hours(1)),
    )
    .await
    .problem(422, "validation_failed");
    app.post("settlements", &admin, settle(first_end, start))
        .await
        .problem(422, "validation_failed");
    let first = app
        .post("settlements", &admin, settle(start, first_end))
        .await
        .ok(201);
    assert_eq!(first["totals"]["points_issued"], 100);
    let path = format!("settlements/{}", id(&first));
    let closed = app
        .post(&format!("{path}/close"), &admin, json!({}))
        .await
        .ok(200);
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());
    let again = app
        .post(&format!("{path}/close"), &admin, json!({}))
        .await
        .problem(409, "settlement_closed");
    assert_eq!(again["errors"][0]["code"], "already_closed");
    let overlap = app
        .post(
            "settlements",
            &admin,
            settle(
                start + Duration::milliseconds(1),
                first_end + Duration::milliseconds(1),
            ),
        )
        .await
        .problem(409, "settlement_closed");
    assert_eq!(overlap["errors"][0]["code"], "overlaps_closed");

    // An offline order of the closed period arrives late: it counts in the next period, and the
    // closed statement does not change.
    order(
        app,
        &key,
        &store,
        "13800138000",
        "OFFLINE-1",
        40,
        start + Duration::milliseconds(500),
    )
    .await;
    assert_eq!(app.get(&path, &admin).await.ok(200), closed);
    let second_end = utc_now();
    let second = app
        .post("settlements", &admin, settle(first_end, second_end))
        .await
        .ok(201);
    assert_eq!(second["totals"]["points_issued"], 40, "{second}");
    assert_eq!(
        app.list_all("settlements?status=closed", &admin, 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        app.list_all("settlements?status=draft", &admin, 10)
            .await
            .len(),
        1
    );
}

async fn racing_closes_of_overlapping_periods_close_one(app: &TestApp) {
    let admin = app.admin_token().await;
    let now = utc_now();
    let mut drafts = Vec::new();
    for hours in 1..=6 {
        let draft = app
            .post(
                "settlements",
                &admin,
                settle(
                    now - Duration::hours(hours + 1),
                    now - Duration::hours(hours) + Duration::minutes(30),
                ),
            )
            .await
            .ok(201);
        drafts.push(id(&draft));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for draft in &drafts {
        tasks.spawn(send(
            app.request(Method::POST, &format!("settlements/{draft}/close"), &admin)
                .json(&json!({})),
        ));
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    while let Some(reply) = tasks.join_next().await {
        *statuses.entry(reply.unwrap().status).or_default() += 1;
    }
    // Neighbouring periods overlap by half an hour: at most every other one can close.
    let closed = app.list_all("settlements?status=closed", &admin, 10).await;
    assert_eq!(statuses.get(&200).copied().unwrap_or(0), closed.len());
    assert_eq!(statuses.values().sum::<usize>(), 6);
    assert!((1..=3).contains(&closed.len()), "{statuses:?}");
    for (a, b) in closed.iter().zip(closed.iter().skip(1)) {
        let (a_start, a_end) = (
            a["period_start"].as_str().unwrap(),
            a["period_end"].as_str().unwrap(),
        );
        let (b_start, b_end) = (
            b["period_start"].as_str().unwrap(),
            b["period_end"].as_str().unwrap(),
        );
        let parse = |t: &str| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
        };
        assert!(
            parse(a_end) <= parse(b_start) || parse(b_end) <= parse(a_start),
            "{a} overlaps {b}"
        );
    }
}
