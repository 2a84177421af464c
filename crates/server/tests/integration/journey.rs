//! The administrator's first steps, end to end: log in, set up a format, a store, a channel and
//! an API key, find it all in the audit log, use the key, revoke it.

use crate::fixtures;
use crate::support::{TestApp, id, send};
use reqwest::Method;
use serde_json::json;

on_both!(admin_sets_up_a_channel_and_its_key);

async fn admin_sets_up_a_channel_and_its_key(app: &TestApp) {
    let admin = app.admin_token().await;
    let me = app.get("auth/me", &admin).await.ok(200);
    assert_eq!(me["actor_kind"], "staff");
    assert_eq!(me["tenant_id"], app.default_tenant.id.to_string());
    assert_eq!(me["scope"]["kind"], "tenant");
    let admin_id = me["actor_id"]
        .as_str()
        .expect("the admin's staff id")
        .to_owned();

    // A request id chosen by the client is the one the audit trail records.
    let create_format = app
        .request(Method::POST, "formats", &admin)
        .header("x-request-id", "journey-format-1")
        .json(&json!({ "code": "retail", "name": "Retail" }));
    let format = send(create_format).await.ok(201);
    assert_eq!(format["code"], "retail");
    assert_eq!(format["archived"], false);
    let store = fixtures::store(app, &admin, &format, "sh-001").await;
    assert_eq!(store["format_id"], format["id"]);
    assert_eq!(store["kind"], "store");
    let channel = fixtures::channel(app, &admin, Some(&format), "retail-pos").await;

    let created = app
        .post(
            "api-keys",
            &admin,
            json!({ "name": "Till 1", "channel_id": id(&channel) }),
        )
        .await
        .ok(201);
    let key = created["key"]
        .as_str()
        .expect("the key, shown once")
        .to_owned();
    assert!(key.starts_with("hyk_"), "{key}");
    let key_id = created["api_key"]["id"]
        .as_str()
        .expect("the key's id")
        .to_owned();
    assert_eq!(created["api_key"]["channel_id"], channel["id"]);
    assert!(
        created["api_key"].get("key_hash").is_none(),
        "the hash stays inside"
    );

    let entries = app.list_all("audit-log", &admin, 50).await;
    let expected = [
        ("format.created", id(&format)),
        ("store.created", id(&store)),
        ("channel.created", id(&channel)),
        ("api_key.created", key_id.clone()),
    ];
    for (action, target) in expected {
        let entry = entries
            .iter()
            .find(|entry| entry["action"] == action)
            .unwrap_or_else(|| panic!("no {action} entry in {entries:#?}"));
        assert_eq!(entry["actor_id"], admin_id.as_str(), "{entry}");
        assert_eq!(entry["actor_kind"], "staff", "{entry}");
        assert_eq!(entry["target_id"], target.as_str(), "{entry}");
        let request_id = entry["request_id"].as_str().unwrap_or("");
        assert!(!request_id.is_empty(), "a request id on {entry}");
    }
    let format_entry = entries
        .iter()
        .find(|e| e["action"] == "format.created")
        .unwrap();
    assert_eq!(format_entry["request_id"], "journey-format-1");
    // Filters narrow the log.
    let only_stores = app
        .list_all("audit-log?action=store.created", &admin, 50)
        .await;
    assert_eq!(only_stores.len(), 1, "{only_stores:#?}");

    // The key authenticates, acting for its channel's format.
    let as_key = app.get("auth/me", &key).await.ok(200);
    assert_eq!(as_key["actor_kind"], "api_key");
    assert_eq!(as_key["actor_id"], key_id.as_str());
    assert_eq!(as_key["scope"]["kind"], "formats");
    let stores = app.list_all("stores", &key, 10).await;
    assert_eq!(crate::support::ids(&stores), vec![id(&store)]);

    let listed = app.list_all("api-keys", &admin, 10).await;
    assert_eq!(crate::support::ids(&listed), vec![key_id.clone()]);

    let revoked = app
        .delete(&format!("api-keys/{key_id}"), &admin)
        .await
        .ok(200);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    app.get("auth/me", &key)
        .await
        .problem(401, "unauthenticated");
    app.get("stores", &key)
        .await
        .problem(401, "unauthenticated");
    // Revoking again is harmless.
    app.delete(&format!("api-keys/{key_id}"), &admin)
        .await
        .ok(200);
    let revocations = app
        .list_all("audit-log?action=api_key.revoked", &admin, 50)
        .await;
    assert_eq!(revocations.len(), 1, "{revocations:#?}");

    // Archiving the channel stops its keys too.
    let second = fixtures::api_key(app, &admin, &channel, None).await;
    let second = second["key"].as_str().expect("the key");
    app.get("auth/me", second).await.ok(200);
    let archived = app
        .delete(&format!("channels/{}", id(&channel)), &admin)
        .await
        .ok(200);
    assert_eq!(archived["archived"], true);
    app.get("auth/me", second)
        .await
        .problem(401, "unauthenticated");
    let body = json!({ "name": "Till 3", "channel_id": id(&channel) });
    app.post("api-keys", &admin, body)
        .await
        .problem(422, "validation_failed");
}
