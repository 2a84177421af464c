//! `Idempotency-Key`: a retry replays the first answer and writes nothing; the same key with a
//! different request is refused; concurrent retries create one record.

use crate::fixtures;
use crate::support::{TestApp, id};
use serde_json::json;

on_both!(
    a_retry_replays_the_first_answer,
    key_creation_replays_without_the_key
);
on_both!(multi_thread: concurrent_retries_create_one_record);

async fn a_retry_replays_the_first_answer(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({ "code": "retail", "name": "Retail" });
    let first = app
        .post_once("formats", &admin, "key-1", body.clone())
        .await;
    assert_eq!(first.header("idempotent-replayed"), "");
    let first = first.ok(201);
    let second = app
        .post_once("formats", &admin, "key-1", body.clone())
        .await;
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(second.ok(201), first);

    let formats = app.list_all("formats", &admin, 50).await;
    assert_eq!(crate::support::ids(&formats), vec![id(&first)]);
    let audited = app
        .list_all("audit-log?action=format.created", &admin, 50)
        .await;
    assert_eq!(audited.len(), 1, "{audited:#?}");

    // Same key, different request: refused, and nothing written.
    let other = json!({ "code": "grocery", "name": "Grocery" });
    app.post_once("formats", &admin, "key-1", other.clone())
        .await
        .problem(422, "idempotency_key_reused");
    // Same body to another path under the same key is a different request too.
    let channel = json!({ "code": "retail", "name": "Retail", "kind": "pos" });
    app.post_once("channels", &admin, "key-1", channel)
        .await
        .problem(422, "idempotency_key_reused");
    assert_eq!(app.list_all("formats", &admin, 50).await.len(), 1);

    // Keys belong to the account: another account's same key is a new request.
    let scope = json!({ "kind": "tenant" });
    let other_admin =
        fixtures::staff_login(app, &admin, "second", &["org:read", "config:write"], scope).await;
    app.post_once("formats", &other_admin, "key-1", other)
        .await
        .ok(201);

    // A failed request leaves its key unused, so the corrected retry goes through.
    let invalid = json!({ "code": "retail", "name": "Duplicate" });
    app.post_once("formats", &admin, "key-2", invalid)
        .await
        .problem(409, "conflict");
    let fixed = json!({ "code": "outlet", "name": "Outlet" });
    app.post_once("formats", &admin, "key-2", fixed)
        .await
        .ok(201);

    // Keys must be printable and bounded.
    let too_long = "k".repeat(256);
    let refused = app
        .post_once("formats", &admin, &too_long, body)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
}

async fn key_creation_replays_without_the_key(app: &TestApp) {
    let admin = app.admin_token().await;
    let channel = fixtures::channel(app, &admin, None, "mini").await;
    let body = json!({ "name": "Mini program", "channel_id": id(&channel) });
    let first = app
        .post_once("api-keys", &admin, "create-key", body.clone())
        .await
        .ok(201);
    let key = first["key"].as_str().expect("the key").to_owned();
    assert!(key.starts_with("hyk_"));
    let replay = app.post_once("api-keys", &admin, "create-key", body).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    let replay = replay.ok(201);
    assert_eq!(replay["key"], serde_json::Value::Null, "{replay}");
    assert_eq!(replay["api_key"], first["api_key"]);
    assert_eq!(app.list_all("api-keys", &admin, 50).await.len(), 1);
    app.get("auth/me", &key).await.ok(200);
}

async fn concurrent_retries_create_one_record(app: &TestApp) {
    const REQUESTS: usize = 20;
    let admin = app.admin_token().await;
    let body = json!({ "code": "race", "name": "Race" });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let request = app
            .request(reqwest::Method::POST, "formats", &admin)
            .header("idempotency-key", "same-key")
            .json(&body);
        tasks.spawn(crate::support::send(request));
    }
    let mut created = Vec::new();
    let mut replayed = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("the request task");
        if reply.header("idempotent-replayed") == "true" {
            replayed += 1;
        }
        created.push(id(&reply.ok(201)));
    }
    assert_eq!(created.len(), REQUESTS);
    assert!(created.iter().all(|id| *id == created[0]), "{created:?}");
    assert_eq!(replayed, REQUESTS - 1, "all but the first are replays");
    let formats = app.list_all("formats", &admin, 50).await;
    assert_eq!(crate::support::ids(&formats), vec![created[0].clone()]);
    let audited = app
        .list_all("audit-log?action=format.created", &admin, 50)
        .await;
    assert_eq!(audited.len(), 1, "{audited:#?}");
}
