//! Merging members over HTTP, and undoing merges: what moves, how the merged member resolves,
//! the survivor's best-of-both profile, the audit trail, exact undo, idempotent retries, refusals,
//! and merges racing each other and concurrent writes.

use crate::fixtures;
use crate::support::{TestApp, id, ids};
use serde_json::{Value, json};

on_both!(
    merge_moves_records_and_the_source_resolves_to_the_survivor,
    unmerge_restores_both_members_exactly,
    merges_into_one_member_are_undone_latest_first,
    a_retried_merge_replays_its_answer,
    invalid_merges_are_refused,
    merges_respect_data_scopes,
);
on_both!(multi_thread: opposite_merges_at_once_one_wins, identifiers_bound_during_a_merge_follow_it);

fn phone(value: &str) -> Value {
    json!({ "kind": "phone", "value": value })
}

/// Registers a new member through the API.
async fn register(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("members", token, body).await.ok(201)
}

async fn merge(app: &TestApp, token: &str, survivor: &Value, source: &Value) -> Value {
    let body = json!({ "source_member_id": id(source) });
    app.post(&format!("members/{}/merge", id(survivor)), token, body)
        .await
        .ok(200)
}

async fn member(app: &TestApp, token: &str, member_id: &str) -> Value {
    app.get(&format!("members/{member_id}"), token)
        .await
        .ok(200)
}

/// The ids of the members a look-up finds.
async fn found(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page = app.get(&format!("members?{query}"), token).await.ok(200);
    ids(page["items"].as_array().expect("items"))
}

/// Identifier values of a member view, sorted.
fn identifier_values(view: &Value) -> Vec<String> {
    let mut values: Vec<String> = view["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .map(|i| i["value"].as_str().expect("a value").to_owned())
        .collect();
    values.sort();
    values
}

/// A member view without what legitimately changes when a member is written to.
fn settled(view: &Value) -> Value {
    let mut view = view.clone();
    if let Some(fields) = view.as_object_mut() {
        fields.remove("updated_at");
    }
    view
}

async fn audit_entries(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    app.list_all(&format!("audit-log?action={action}"), token, 50)
        .await
}

async fn merge_moves_records_and_the_source_resolves_to_the_survivor(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "sh-001").await;
    let survivor = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138001")], "profile": { "name": "王芳", "gender": "unknown", "city": "上海" } }),
    )
    .await;
    let source = register(
        app,
        &admin,
        json!({
            "identifiers": [phone("13800138002"), { "kind": "email", "value": "fang@example.com" }],
            "profile": { "name": "李芳", "gender": "female", "birthday": "1990-05-01", "province": "江苏",
                         "city": "南京", "address": "中山路 1 号" },
            "preferred_store_id": id(&store),
            "consents": [{ "channel": "sms", "granted": true }],
        }),
    )
    .await;

    let merged = merge(app, &admin, &survivor, &source).await;
    assert_eq!(merged["source_member_id"], source["id"]);
    assert_eq!(
        merged["moved"],
        json!({ "member_identifiers": 2, "member_consents": 1, "orders": 0, "rule_accruals": 0, "coupons": 0,
            "reward_redemptions": 0, "reward_limit_counters": 0, "checkouts": 0 })
    );
    assert_eq!(merged["kept"], json!({}));
    assert_eq!(
        merged["filled_fields"],
        json!(["gender", "birthday", "address", "preferred_store_id"])
    );
    let view = &merged["member"];
    assert_eq!(view["id"], survivor["id"]);
    assert_eq!(
        identifier_values(view),
        ["+8613800138001", "+8613800138002", "fang@example.com"]
    );
    assert_eq!(view["consents"]["sms"]["granted"], true);
    // Best of both: the survivor's own values stay, its empty ones come from the source, and a
    // region is taken whole or not at all.
    let profile = &view["profile"];
    assert_eq!(profile["name"], "王芳");
    assert_eq!(profile["gender"], "female");
    assert_eq!(profile["birthday"], "1990-05-01");
    assert_eq!(
        (&profile["province"], &profile["city"]),
        (&Value::Null, &json!("上海"))
    );
    assert_eq!(profile["address"], "中山路 1 号");
    assert_eq!(view["preferred_store_id"], store["id"]);
    assert_eq!(
        view["summaries"]["merges"]["count"], 1,
        "{}",
        view["summaries"]
    );
    assert_eq!(
        view["summaries"]["merges"]["merged_from"],
        json!([id(&source)])
    );
    assert_eq!(
        view["summaries"]["merges"]["last_merge_id"],
        merged["merge_id"]
    );

    // The source's id answers with the survivor; its identifiers find the survivor.
    let resolved = member(app, &admin, &id(&source)).await;
    assert_eq!(resolved["id"], survivor["id"]);
    assert_eq!(resolved["resolved_from"], source["id"]);
    assert_eq!(
        found(app, &admin, "phone=13800138002").await,
        [id(&survivor)]
    );
    assert_eq!(
        found(app, &admin, "email=fang@example.com").await,
        [id(&survivor)]
    );
    // The merged member is no longer a person to list or find by name.
    assert_eq!(found(app, &admin, "name=李").await, Vec::<String>::new());
    assert_eq!(found(app, &admin, "name=王").await, [id(&survivor)]);
    let everyone = app.list_all("members", &admin, 50).await;
    assert_eq!(ids(&everyone), [id(&survivor)]);
    // Registering with the source's phone finds the survivor.
    let again = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [phone("13800138002")] }),
        )
        .await
        .ok(200);
    assert_eq!(again["id"], survivor["id"]);

    // One audit entry on each member, naming both and the counts.
    let entries = audit_entries(app, &admin, "member.merged").await;
    let mut targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    targets.sort();
    let mut expected = [id(&survivor), id(&source)];
    expected.sort();
    assert_eq!(targets, expected);
    for entry in &entries {
        let summary = &entry["summary"];
        assert_eq!(summary["merge_id"], merged["merge_id"], "{entry}");
        assert_eq!(summary["survivor_member_id"], survivor["id"], "{entry}");
        assert_eq!(summary["source_member_id"], source["id"], "{entry}");
        assert_eq!(summary["moved"]["member_identifiers"], 2, "{entry}");
        assert!(
            !entry.to_string().contains("中山路"),
            "no personal data in the audit: {entry}"
        );
    }
}

async fn unmerge_restores_both_members_exactly(app: &TestApp) {
    let admin = app.admin_token().await;
    let survivor = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138001")], "profile": { "city": "上海" } }),
    )
    .await;
    let source = register(
        app,
        &admin,
        json!({
            "identifiers": [phone("13800138002"), { "kind": "device_id", "value": "ipad-7" }],
            "profile": { "name": "李雷", "gender": "male", "birthday": "1988-02-03", "address": "南京路 8 号" },
            "consents": [{ "channel": "email", "granted": false }],
        }),
    )
    .await;
    let (survivor_before, source_before) = (
        member(app, &admin, &id(&survivor)).await,
        member(app, &admin, &id(&source)).await,
    );

    let merged = merge(app, &admin, &survivor, &source).await;
    assert_eq!(merged["member"]["profile"]["name"], "李雷");
    assert_eq!(found(app, &admin, "name=李").await, [id(&survivor)]);

    let body = json!({ "merge_id": merged["merge_id"] });
    let path = format!("members/{}/unmerge", id(&survivor));
    let undone = app.post(&path, &admin, body.clone()).await.ok(200);
    assert_eq!(undone["merge_id"], merged["merge_id"]);
    assert_eq!(
        undone["moved_back"],
        json!({ "member_identifiers": 2, "member_consents": 1, "orders": 0, "rule_accruals": 0, "coupons": 0,
            "reward_redemptions": 0, "reward_limit_counters": 0, "checkouts": 0 })
    );
    assert_eq!(undone["restored_fields"], merged["filled_fields"]);

    let (survivor_after, source_after) = (
        member(app, &admin, &id(&survivor)).await,
        member(app, &admin, &id(&source)).await,
    );
    assert_eq!(settled(&survivor_after), settled(&survivor_before));
    assert_eq!(settled(&source_after), settled(&source_before));
    assert_eq!(source_after["status"], "active");
    assert_eq!(source_after["resolved_from"], Value::Null);
    assert_eq!(settled(&undone["survivor"]), settled(&survivor_before));
    assert_eq!(settled(&undone["source"]), settled(&source_before));
    // Look-ups and name search find the source again, and only the source.
    assert_eq!(found(app, &admin, "phone=13800138002").await, [id(&source)]);
    assert_eq!(found(app, &admin, "name=李雷").await, [id(&source)]);
    let everyone = app.list_all("members", &admin, 50).await;
    assert_eq!(everyone.len(), 2);

    let entries = audit_entries(app, &admin, "member.unmerged").await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert!(
        entries
            .iter()
            .all(|e| e["summary"]["merge_id"] == merged["merge_id"])
    );
    assert!(entries.iter().any(|e| e["target_id"] == survivor["id"]));
    assert!(entries.iter().any(|e| e["target_id"] == source["id"]));

    // Undone once: again is a conflict, and no merge is left to undo by default.
    let problem = app.post(&path, &admin, body).await.problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "already_undone", "{problem}");
    app.post(&path, &admin, json!({}))
        .await
        .problem(404, "not_found");
    // The two can be merged again.
    merge(app, &admin, &survivor, &source).await;
}

async fn merges_into_one_member_are_undone_latest_first(app: &TestApp) {
    let admin = app.admin_token().await;
    let survivor = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138001")] }),
    )
    .await;
    let first = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138002")], "profile": { "name": "张三" } }),
    )
    .await;
    let second = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138003")], "profile": { "name": "张四", "gender": "male" } }),
    )
    .await;
    let one = merge(app, &admin, &survivor, &first).await;
    let two = merge(app, &admin, &survivor, &second).await;
    assert_eq!(
        two["filled_fields"],
        json!(["gender"]),
        "the name came with the first merge"
    );
    let summary = &two["member"]["summaries"]["merges"];
    assert_eq!(summary["count"], 2);
    assert_eq!(summary["merged_from"], json!([id(&second), id(&first)]));

    let path = format!("members/{}/unmerge", id(&survivor));
    let problem = app
        .post(&path, &admin, json!({ "merge_id": one["merge_id"] }))
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "later_merge", "{problem}");
    // By default the latest merge is undone, then the one before.
    let undone = app.post(&path, &admin, json!({})).await.ok(200);
    assert_eq!(undone["merge_id"], two["merge_id"]);
    assert_eq!(undone["survivor"]["profile"]["name"], "张三");
    assert_eq!(undone["survivor"]["profile"]["gender"], Value::Null);
    let undone = app.post(&path, &admin, json!({})).await.ok(200);
    assert_eq!(undone["merge_id"], one["merge_id"]);
    assert_eq!(undone["survivor"]["profile"]["name"], Value::Null);
    assert_eq!(undone["survivor"]["summaries"].get("merges"), None);
    assert_eq!(identifier_values(&undone["survivor"]), ["+8613800138001"]);

    // A merged survivor is refused until its own merge is undone.
    let third = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138004")] }),
    )
    .await;
    merge(app, &admin, &survivor, &first).await;
    merge(app, &admin, &third, &survivor).await;
    let problem = app
        .post(&path, &admin, json!({}))
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "member_merged", "{problem}");
    // Through the chain, the first member resolves to the last survivor.
    let resolved = member(app, &admin, &id(&first)).await;
    assert_eq!(
        (&resolved["id"], &resolved["resolved_from"]),
        (&third["id"], &first["id"])
    );
}

async fn a_retried_merge_replays_its_answer(app: &TestApp) {
    let admin = app.admin_token().await;
    let survivor = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138001")] }),
    )
    .await;
    let source = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138002")] }),
    )
    .await;
    let path = format!("members/{}/merge", id(&survivor));
    let body = json!({ "source_member_id": id(&source) });
    let first = app.post_once(&path, &admin, "merge-1", body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let retry = app.post_once(&path, &admin, "merge-1", body.clone()).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(retry.body, first.body);
    assert_eq!(
        audit_entries(app, &admin, "member.merged").await.len(),
        2,
        "merged once"
    );
    // A new request (another key) finds the source merged already.
    let problem = app
        .post_once(&path, &admin, "merge-2", body)
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "member_merged", "{problem}");

    let unmerge = format!("members/{}/unmerge", id(&survivor));
    let undone = app
        .post_once(&unmerge, &admin, "unmerge-1", json!({}))
        .await;
    assert_eq!(undone.status, 200, "{}", undone.text);
    let retry = app
        .post_once(&unmerge, &admin, "unmerge-1", json!({}))
        .await;
    assert_eq!(
        (retry.status, retry.header("idempotent-replayed")),
        (200, "true")
    );
    assert_eq!(retry.body, undone.body);
}

async fn invalid_merges_are_refused(app: &TestApp) {
    let admin = app.admin_token().await;
    let survivor = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138001")] }),
    )
    .await;
    let source = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138002")] }),
    )
    .await;
    let path = format!("members/{}/merge", id(&survivor));

    let problem = app
        .post(&path, &admin, json!({ "source_member_id": id(&survivor) }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "source_member_id");
    assert_eq!(problem["errors"][0]["code"], "same_member");
    app.post(&path, &admin, json!({}))
        .await
        .problem(422, "validation_failed");
    app.post(&path, &admin, json!({ "source_member_id": "not-a-uuid" }))
        .await
        .problem(422, "validation_failed");
    let nobody = uuid::Uuid::now_v7();
    app.post(&path, &admin, json!({ "source_member_id": nobody }))
        .await
        .problem(404, "not_found");
    app.post(
        &format!("members/{nobody}/merge"),
        &admin,
        json!({ "source_member_id": id(&source) }),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("members/{}/unmerge", id(&survivor)),
        &admin,
        json!({}),
    )
    .await
    .problem(404, "not_found");

    let reader = fixtures::staff_login(
        app,
        &admin,
        "reader",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.post(&path, &reader, json!({ "source_member_id": id(&source) }))
        .await
        .problem(403, "permission_denied");

    merge(app, &admin, &survivor, &source).await;
    // Merged members are aliases: neither side of another merge, nor merged into their survivor.
    let other = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138003")] }),
    )
    .await;
    let problem = app
        .post(
            &format!("members/{}/merge", id(&other)),
            &admin,
            json!({ "source_member_id": id(&source) }),
        )
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "member_merged", "{problem}");
    assert_eq!(problem["errors"][0]["field"], "source_member_id");
    let problem = app
        .post(
            &format!("members/{}/merge", id(&source)),
            &admin,
            json!({ "source_member_id": id(&other) }),
        )
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["field"], "id", "{problem}");
    app.post(&path, &admin, json!({ "source_member_id": id(&source) }))
        .await
        .problem(409, "conflict");
}

async fn merges_respect_data_scopes(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let (s1, s2) = (
        fixtures::store(app, &admin, &format, "s1").await,
        fixtures::store(app, &admin, &format, "s2").await,
    );
    let at_s1 = |number: &str| json!({ "identifiers": [phone(number)], "store_id": id(&s1) });
    let a = register(app, &admin, at_s1("13800138001")).await;
    let b = register(app, &admin, at_s1("13800138002")).await;
    let c = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138003")], "store_id": id(&s2) }),
    )
    .await;
    let manager = fixtures::staff_login(
        app,
        &admin,
        "manager-s1",
        &["members:read", "members:write"],
        json!({ "kind": "stores", "store_ids": [id(&s1)] }),
    )
    .await;
    // Another store's member is not the manager's to merge, on either side.
    app.post(
        &format!("members/{}/merge", id(&a)),
        &manager,
        json!({ "source_member_id": id(&c) }),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("members/{}/merge", id(&c)),
        &manager,
        json!({ "source_member_id": id(&a) }),
    )
    .await
    .problem(404, "not_found");
    let merged = merge(app, &manager, &a, &b).await;
    assert_eq!(merged["member"]["id"], a["id"]);
}

/// Rounds of the race, each on a fresh pair.
const RACE_ROUNDS: usize = 4;

async fn opposite_merges_at_once_one_wins(app: &TestApp) {
    let admin = app.admin_token().await;
    for round in 0..RACE_ROUNDS {
        let a = register(
            app,
            &admin,
            json!({ "identifiers": [phone(&format!("1380013810{round}"))] }),
        )
        .await;
        let b = register(
            app,
            &admin,
            json!({ "identifiers": [phone(&format!("1390013910{round}"))] }),
        )
        .await;
        let (into_b, into_a) = (
            format!("members/{}/merge", id(&b)),
            format!("members/{}/merge", id(&a)),
        );
        let a_into_b = app.post(&into_b, &admin, json!({ "source_member_id": id(&a) }));
        let b_into_a = app.post(&into_a, &admin, json!({ "source_member_id": id(&b) }));
        let (first, second) = tokio::join!(a_into_b, b_into_a);
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409],
            "exactly one merge wins: {} / {}",
            first.text,
            second.text
        );
        let (winner, loser_problem) = if first.status == 200 {
            (first.body, second.body)
        } else {
            (second.body, first.body)
        };
        assert_eq!(loser_problem["code"], "conflict");
        // The loser's source is the winner's survivor: whichever survived, the other resolves to it.
        let survivor = winner["member"]["id"].as_str().unwrap().to_owned();
        let source = winner["source_member_id"].as_str().unwrap().to_owned();
        assert_eq!(member(app, &admin, &source).await["id"], survivor.as_str());
        let view = member(app, &admin, &survivor).await;
        assert_eq!(view["identifiers"].as_array().unwrap().len(), 2, "{view}");
        assert_eq!(view["summaries"]["merges"]["count"], 1);
    }
}

/// Identifiers bound to the source while it is being merged.
const BINDERS: usize = 4;
const BINDS_PER_BINDER: usize = 2;

async fn identifiers_bound_during_a_merge_follow_it(app: &TestApp) {
    let admin = app.admin_token().await;
    for round in 0..RACE_ROUNDS {
        let survivor = register(
            app,
            &admin,
            json!({ "identifiers": [phone(&format!("1380013810{round}"))] }),
        )
        .await;
        let source = register(
            app,
            &admin,
            json!({ "identifiers": [phone(&format!("1390013910{round}"))] }),
        )
        .await;
        let mut binders = tokio::task::JoinSet::new();
        for binder in 0..BINDERS {
            let (client, url, admin) = (
                app.client.clone(),
                app.url(&format!("members/{}/identifiers", id(&source))),
                admin.clone(),
            );
            binders.spawn(async move {
                let mut outcomes = Vec::new();
                for n in 0..BINDS_PER_BINDER {
                    let value = format!("device-{round}-{binder}-{n}");
                    let body = json!({ "kind": "device_id", "value": value });
                    let request = client.post(&url).bearer_auth(&admin).json(&body);
                    let reply = crate::support::send(request).await;
                    outcomes.push((value, reply.status, reply.text));
                }
                outcomes
            });
        }
        let path = format!("members/{}/merge", id(&survivor));
        let merged = app.post(&path, &admin, json!({ "source_member_id": id(&source) }));
        let (merged, outcomes) = tokio::join!(merged, binders.join_all());
        assert_eq!(merged.status, 200, "{}", merged.text);

        let view = member(app, &admin, &id(&survivor)).await;
        let held = identifier_values(&view);
        let mut bound = 0;
        for (value, status, text) in outcomes.into_iter().flatten() {
            match status {
                201 => {
                    bound += 1;
                    assert!(
                        held.contains(&value),
                        "{value} bound but not on the survivor: {held:?}"
                    );
                }
                409 | 422 => {}
                _ => panic!("binding {value} during a merge answered {status}: {text}"),
            }
        }
        assert_eq!(held.len(), 2 + bound, "{held:?}");
        // Nothing is left on the merged member: undoing the merge gives the source only what
        // the merge moved, and the rest stays with the survivor.
        let undone = app
            .post(
                &format!("members/{}/unmerge", id(&survivor)),
                &admin,
                json!({}),
            )
            .await
            .ok(200);
        let back = identifier_values(&undone["source"]).len()
            + identifier_values(&undone["survivor"]).len();
        assert_eq!(back, 2 + bound);
    }
}
