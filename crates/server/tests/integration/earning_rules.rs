//! Earning rules over HTTP: created, listed, paused and edited; every invalid field reported on
//! save; `config:write` needed to change them.

use crate::fixtures;
use crate::support::{TestApp, id};
use serde_json::json;

on_both!(
    rules_are_created_listed_paused_and_edited,
    invalid_rules_are_refused_with_every_reason
);

async fn rules_are_created_listed_paused_and_edited(app: &TestApp) {
    let admin = app.admin_token().await;
    let base = app
        .post("earning-rules", &admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }))
        .await
        .ok(201);
    assert_eq!(
        (base["enabled"].as_bool(), base["priority"].as_i64()),
        (Some(true), Some(0))
    );
    let bonus = app
        .post_once("earning-rules", &admin, "rule-2", json!({ "name": " Weekend ", "conditions": { "weekdays": [6, 7] }, "effect": { "kind": "fixed_bonus", "points": 10 } }))
        .await
        .ok(201);
    assert_eq!(bonus["name"], "Weekend", "trimmed");
    let listed = app.list_all("earning-rules", &admin, 1).await;
    assert_eq!(crate::support::ids(&listed), [id(&base), id(&bonus)]);

    let path = format!("earning-rules/{}", id(&bonus));
    let paused = app
        .patch(&path, &admin, json!({ "enabled": false }))
        .await
        .ok(200);
    assert_eq!(
        (paused["enabled"].as_bool(), paused["name"].as_str()),
        (Some(false), Some("Weekend"))
    );
    let edited = app
        .patch(
            &path,
            &admin,
            json!({ "effect": { "kind": "fixed_bonus", "points": 25 }, "priority": 3 }),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            edited["effect"]["points"].as_i64(),
            edited["priority"].as_i64(),
            edited["enabled"].as_bool()
        ),
        (Some(25), Some(3), Some(false))
    );
    let got = app.get(&path, &admin).await.ok(200);
    assert_eq!(got["effect"]["points"], 25);
    app.patch(
        &path,
        &admin,
        json!({ "effect": { "kind": "multiplier", "permille": 10 } }),
    )
    .await
    .problem(422, "validation_failed");
    app.get(&format!("earning-rules/{}", uuid::Uuid::now_v7()), &admin)
        .await
        .problem(404, "not_found");
    let audit = app
        .get("audit-log?action=earning_rule.updated", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);

    let reader = fixtures::staff_login(
        app,
        &admin,
        "reader",
        &["org:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.get("earning-rules", &reader).await.ok(200);
    app.post(
        "earning-rules",
        &reader,
        json!({ "name": "x", "effect": { "kind": "fixed_bonus", "points": 1 } }),
    )
    .await
    .problem(403, "permission_denied");
    app.patch(&path, &reader, json!({ "enabled": true }))
        .await
        .problem(403, "permission_denied");
}

async fn invalid_rules_are_refused_with_every_reason(app: &TestApp) {
    let admin = app.admin_token().await;
    let problem = app
        .post(
            "earning-rules",
            &admin,
            json!({
                "name": "",
                "conditions": { "weekdays": [0, 8] },
                "effect": { "kind": "multiplier", "permille": 500 },
                "stacking": { "kind": "best_of", "group": "g" },
            }),
        )
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"name"), "{problem}");
    assert!(
        fields.iter().any(|f| f.starts_with("conditions.weekdays")),
        "{problem}"
    );
    assert!(fields.iter().any(|f| f.starts_with("effect")), "{problem}");
    let problem = app
        .post("earning-rules", &admin, json!({ "name": "Base", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 }, "stacking": { "kind": "best_of", "group": "g" } }))
        .await
        .problem(422, "validation_failed");
    assert!(!problem["errors"].as_array().unwrap().is_empty());
    let problem = app
        .post(
            "earning-rules",
            &admin,
            json!({ "name": "x", "effect": { "kind": "nope" } }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "effect.kind");
    let listed = app.get("earning-rules", &admin).await.ok(200);
    assert!(listed["items"].as_array().unwrap().is_empty());
}
