//! Permissions and data scopes: a store-scoped account, a format-scoped account, a store-bound
//! API key, and the rule that nobody grants more than they hold.

use crate::fixtures;
use crate::support::{TestApp, id, ids};
use serde_json::{Value, json};

on_both!(
    store_scope_limits_reads_and_writes,
    format_scope_limits_reads_and_writes,
    store_bound_key_sees_its_store,
    grants_cannot_exceed_the_granter,
    staff_administration_cannot_escalate,
);

/// Two formats with two stores each: `[f1, f2]`, `[s1, s2]` in f1, `[s3]` in f2.
async fn organisation(app: &TestApp, admin: &str) -> ([Value; 2], [Value; 3]) {
    let f1 = fixtures::format(app, admin, "f1").await;
    let f2 = fixtures::format(app, admin, "f2").await;
    let s1 = fixtures::store(app, admin, &f1, "s1").await;
    let s2 = fixtures::store(app, admin, &f1, "s2").await;
    let s3 = fixtures::store(app, admin, &f2, "s3").await;
    ([f1, f2], [s1, s2, s3])
}

async fn store_scope_limits_reads_and_writes(app: &TestApp) {
    let admin = app.admin_token().await;
    let ([f1, _], [s1, s2, _]) = organisation(app, &admin).await;
    let scope = json!({ "kind": "stores", "store_ids": [id(&s1)] });
    let token =
        fixtures::staff_login(app, &admin, "manager", &["org:read", "config:write"], scope).await;

    assert_eq!(
        ids(&app.list_all("stores", &token, 10).await),
        vec![id(&s1)]
    );
    app.get(&format!("stores/{}", id(&s1)), &token)
        .await
        .ok(200);
    let s2_path = format!("stores/{}", id(&s2));
    app.get(&s2_path, &token).await.problem(404, "not_found");
    app.patch(&s2_path, &token, json!({ "name": "mine now" }))
        .await
        .problem(404, "not_found");
    app.delete(&s2_path, &token).await.problem(404, "not_found");
    let renamed = app
        .patch(
            &format!("stores/{}", id(&s1)),
            &token,
            json!({ "name": "Flagship" }),
        )
        .await
        .ok(200);
    assert_eq!(renamed["name"], "Flagship");

    let new_store = json!({ "format_id": id(&f1), "code": "s9", "name": "New" });
    app.post("stores", &token, new_store)
        .await
        .problem(403, "out_of_scope");
    // The format itself is readable only through the tenant or its format scope.
    app.get(&format!("formats/{}", id(&f1)), &token)
        .await
        .problem(404, "not_found");
    let denied = app
        .get("staff", &token)
        .await
        .problem(403, "permission_denied");
    assert!(
        denied["detail"]
            .as_str()
            .unwrap_or("")
            .contains("staff:read"),
        "{denied}"
    );
    app.get("audit-log", &token)
        .await
        .problem(403, "permission_denied");
    app.get("api-keys", &token)
        .await
        .problem(403, "permission_denied");
    // Group-wide records can be read by every scope but changed only by the tenant scope.
    let shared = fixtures::channel(app, &admin, None, "shared").await;
    assert!(ids(&app.list_all("channels", &token, 10).await).contains(&id(&shared)));
    let shared_path = format!("channels/{}", id(&shared));
    app.patch(&shared_path, &token, json!({ "name": "x" }))
        .await
        .problem(403, "out_of_scope");
    let group_channel = json!({ "code": "mine", "name": "Mine", "kind": "pos" });
    app.post("channels", &token, group_channel)
        .await
        .problem(403, "out_of_scope");
}

async fn format_scope_limits_reads_and_writes(app: &TestApp) {
    let admin = app.admin_token().await;
    let ([f1, f2], [s1, s2, s3]) = organisation(app, &admin).await;
    let scope = json!({ "kind": "formats", "format_ids": [id(&f1)] });
    let token = fixtures::staff_login(
        app,
        &admin,
        "format-ops",
        &["org:read", "config:write"],
        scope,
    )
    .await;

    let mut stores = ids(&app.list_all("stores", &token, 10).await);
    stores.sort();
    let mut expected = vec![id(&s1), id(&s2)];
    expected.sort();
    assert_eq!(stores, expected);
    assert_eq!(
        ids(&app.list_all("formats", &token, 10).await),
        vec![id(&f1)]
    );
    app.get(&format!("stores/{}", id(&s3)), &token)
        .await
        .problem(404, "not_found");
    app.get(&format!("formats/{}", id(&f2)), &token)
        .await
        .problem(404, "not_found");

    let mine = json!({ "format_id": id(&f1), "code": "s4", "name": "Fourth" });
    let s4 = app.post("stores", &token, mine).await.ok(201);
    assert_eq!(s4["format_id"], f1["id"]);
    let theirs = json!({ "format_id": id(&f2), "code": "s5", "name": "Fifth" });
    app.post("stores", &token, theirs)
        .await
        .problem(403, "out_of_scope");
    let filtered = ids(&app
        .list_all(&format!("stores?format_id={}", id(&f2)), &token, 10)
        .await);
    assert!(filtered.is_empty(), "{filtered:?}");
    // Its own format's channels, yes; another format's or group-wide ones, no.
    let channel = json!({ "code": "f1-app", "name": "App", "kind": "app", "format_id": id(&f1) });
    app.post("channels", &token, channel).await.ok(201);
    let channel = json!({ "code": "f2-app", "name": "App", "kind": "app", "format_id": id(&f2) });
    app.post("channels", &token, channel)
        .await
        .problem(403, "out_of_scope");
    // Formats are created tenant-wide only.
    let format = json!({ "code": "f3", "name": "Third" });
    app.post("formats", &token, format)
        .await
        .problem(403, "out_of_scope");
}

async fn store_bound_key_sees_its_store(app: &TestApp) {
    let admin = app.admin_token().await;
    let ([f1, _], [s1, s2, _]) = organisation(app, &admin).await;
    let channel = fixtures::channel(app, &admin, Some(&f1), "pos").await;
    let created = fixtures::api_key(app, &admin, &channel, Some(&s2)).await;
    assert_eq!(created["api_key"]["store_id"], s2["id"]);
    let key = created["key"].as_str().expect("the key");

    let me = app.get("auth/me", key).await.ok(200);
    assert_eq!(
        me["scope"],
        json!({ "kind": "stores", "store_ids": [id(&s2)] })
    );
    assert_eq!(ids(&app.list_all("stores", key, 10).await), vec![id(&s2)]);
    app.get(&format!("stores/{}", id(&s1)), key)
        .await
        .problem(404, "not_found");
    // The default permissions read the organisation but do not change it.
    let rename = json!({ "name": "renamed by a till" });
    app.patch(&format!("stores/{}", id(&s2)), key, rename)
        .await
        .problem(403, "permission_denied");
    app.get("api-keys", key)
        .await
        .problem(403, "permission_denied");
}

async fn grants_cannot_exceed_the_granter(app: &TestApp) {
    let admin = app.admin_token().await;
    let granter = ["org:read", "staff:read", "staff:write"];
    let token = fixtures::staff_login(
        app,
        &admin,
        "hr-lead",
        &granter,
        json!({ "kind": "tenant" }),
    )
    .await;

    let modest = json!({ "name": "reader", "permissions": ["org:read"] });
    let reader = app.post("roles", &token, modest).await.ok(201);
    let greedy = json!({ "name": "auditor", "permissions": ["org:read", "audit:read"] });
    let refused = app
        .post("roles", &token, greedy)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "permissions", "{refused}");
    assert_eq!(refused["errors"][0]["code"], "exceeds_own", "{refused}");
    let widen = json!({ "permissions": ["org:read", "config:write"] });
    let path = format!("roles/{}", id(&reader));
    app.patch(&path, &token, widen)
        .await
        .problem(422, "validation_failed");
    let unknown = json!({ "name": "typo", "permissions": ["org:reed"] });
    let refused = app
        .post("roles", &token, unknown)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "permissions[0]", "{refused}");
    // An API key cannot carry more than its creator holds either.
    let channel = fixtures::channel(app, &admin, None, "web").await;
    let key = json!({ "name": "k", "channel_id": id(&channel), "permissions": ["org:read"] });
    app.post("api-keys", &token, key.clone())
        .await
        .problem(403, "permission_denied");
    let integrator = ["org:read", "api_keys:manage"];
    let scope = json!({ "kind": "tenant" });
    let token = fixtures::staff_login(app, &admin, "integrator", &integrator, scope).await;
    app.post("api-keys", &token, key).await.ok(201);
    // The default permissions include member and order access, which this creator lacks.
    let default_key = json!({ "name": "k2", "channel_id": id(&channel) });
    let refused = app
        .post("api-keys", &token, default_key)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["code"], "exceeds_own", "{refused}");
}

/// An account administrator without, say, `audit:read` must not obtain it by handing an account
/// (or their own) a stronger role, or by taking over a stronger account.
async fn staff_administration_cannot_escalate(app: &TestApp) {
    let admin = app.admin_token().await;
    let admin_id = app.get("auth/me", &admin).await.ok(200)["actor_id"].clone();
    let admin_id = admin_id.as_str().expect("the admin's id").to_owned();
    let granter = ["org:read", "staff:read", "staff:write"];
    let tenant = json!({ "kind": "tenant" });
    let token = fixtures::staff_login(app, &admin, "hr-lead", &granter, tenant.clone()).await;
    let my_id = app.get("auth/me", &token).await.ok(200)["actor_id"].clone();
    let roles = app.list_all("roles", &token, 50).await;
    let admin_role = roles
        .iter()
        .find(|role| role["builtin"] == true)
        .expect("the admin role");

    let sidekick = json!({
        "username": "sidekick", "display_name": "Sidekick", "password": fixtures::STAFF_PASSWORD,
        "role_id": id(admin_role), "scope": tenant,
    });
    let reply = app.post("staff", &token, sidekick).await;
    assert!(
        matches!(reply.status, 403 | 422),
        "an admin account created: {}",
        reply.text
    );

    let takeover = json!({ "password": "taken-over-password" });
    let reply = app
        .post(&format!("staff/{admin_id}/password"), &token, takeover)
        .await;
    assert_eq!(
        reply.status, 403,
        "the admin's password was reset: {}",
        reply.text
    );
    let reply = app
        .patch(
            &format!("staff/{admin_id}"),
            &token,
            json!({ "active": false }),
        )
        .await;
    assert_eq!(
        reply.status, 403,
        "the admin was deactivated: {}",
        reply.text
    );

    // Last, as a promotion would make everything after it legitimate.
    let myself = format!("staff/{}", my_id.as_str().expect("my id"));
    let reply = app
        .patch(&myself, &token, json!({ "role_id": id(admin_role) }))
        .await;
    assert!(
        matches!(reply.status, 403 | 422),
        "promoted to admin: {}",
        reply.text
    );
    app.get("auth/me", &admin).await.ok(200);
    app.login("admin", crate::support::ADMIN_PASSWORD).await;
}
