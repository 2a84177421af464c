//! Staff administration: deactivation and password changes end sessions; an admin cannot lock
//! themselves out; the built-in admin role is fixed.

use crate::fixtures::{self, STAFF_PASSWORD};
use crate::support::{TestApp, id, ids};
use serde_json::json;

on_both!(
    deactivation_ends_sessions_and_logins,
    password_changes_end_sessions,
    admins_and_builtin_roles_are_protected,
);

async fn deactivation_ends_sessions_and_logins(app: &TestApp) {
    let admin = app.admin_token().await;
    let role = fixtures::role(app, &admin, "cashier", &["org:read"]).await;
    let staff = fixtures::staff(app, &admin, "cashier1", &role, json!({ "kind": "tenant" })).await;
    assert_eq!(staff["active"], true);
    assert!(
        staff.get("password").is_none() && staff.get("password_hash").is_none(),
        "{staff}"
    );
    let token = app.login("cashier1", STAFF_PASSWORD).await;
    let me = app.get("auth/me", &token).await.ok(200);
    assert_eq!(me["actor_id"], staff["id"]);
    assert_eq!(me["permissions"], json!(["org:read"]));

    let path = format!("staff/{}", id(&staff));
    let updated = app
        .patch(&path, &admin, json!({ "active": false }))
        .await
        .ok(200);
    assert_eq!(updated["active"], false);
    app.get("auth/me", &token)
        .await
        .problem(401, "unauthenticated");
    let login = json!({ "username": "cashier1", "password": STAFF_PASSWORD });
    app.post("auth/login", "", login.clone())
        .await
        .problem(401, "invalid_credentials");

    // Reactivated, the account logs in again (the old session stays ended).
    app.patch(&path, &admin, json!({ "active": true }))
        .await
        .ok(200);
    app.post("auth/login", "", login).await.ok(200);
    app.get("auth/me", &token)
        .await
        .problem(401, "unauthenticated");

    let listed = ids(&app.list_all("staff", &admin, 50).await);
    assert!(listed.contains(&id(&staff)), "{listed:?}");
    let duplicate = json!({
        "username": "CASHIER1", "display_name": "Again", "password": STAFF_PASSWORD,
        "role_id": id(&role), "scope": { "kind": "tenant" },
    });
    let refused = app
        .post("staff", &admin, duplicate)
        .await
        .problem(409, "conflict");
    assert_eq!(refused["errors"][0]["field"], "username", "{refused}");
}

async fn password_changes_end_sessions(app: &TestApp) {
    let admin = app.admin_token().await;
    let role = fixtures::role(app, &admin, "clerk", &["org:read"]).await;
    let staff = fixtures::staff(app, &admin, "clerk1", &role, json!({ "kind": "tenant" })).await;
    let path = format!("staff/{}/password", id(&staff));

    // By an administrator.
    let token = app.login("clerk1", STAFF_PASSWORD).await;
    let short = json!({ "password": "short" });
    let refused = app
        .post(&path, &admin, short)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "password", "{refused}");
    app.get("auth/me", &token).await.ok(200);
    app.post(&path, &admin, json!({ "password": "second-password-1" }))
        .await
        .ok(200);
    app.get("auth/me", &token)
        .await
        .problem(401, "unauthenticated");
    let old = json!({ "username": "clerk1", "password": STAFF_PASSWORD });
    app.post("auth/login", "", old)
        .await
        .problem(401, "invalid_credentials");

    // By the account itself, without staff administration rights.
    let token = app.login("clerk1", "second-password-1").await;
    app.post(&path, &token, json!({ "password": "third-password-1" }))
        .await
        .ok(200);
    app.get("auth/me", &token)
        .await
        .problem(401, "unauthenticated");
    let token = app.login("clerk1", "third-password-1").await;
    // Another account's password needs staff:write.
    let admin_id = app.get("auth/me", &admin).await.ok(200)["actor_id"].clone();
    let others = format!("staff/{}/password", admin_id.as_str().unwrap());
    let hijack = json!({ "password": "hijacked-password" });
    app.post(&others, &token, hijack)
        .await
        .problem(403, "permission_denied");
    let set = app
        .list_all("audit-log?action=staff.password_set", &admin, 50)
        .await;
    assert_eq!(set.len(), 2, "{set:#?}");
}

async fn admins_and_builtin_roles_are_protected(app: &TestApp) {
    let admin = app.admin_token().await;
    let me = app.get("auth/me", &admin).await.ok(200);
    let path = format!("staff/{}", me["actor_id"].as_str().expect("the admin's id"));
    app.patch(&path, &admin, json!({ "active": false }))
        .await
        .problem(409, "conflict");
    app.get("auth/me", &admin).await.ok(200);

    let roles = app.list_all("roles", &admin, 50).await;
    let builtin = roles
        .iter()
        .find(|role| role["builtin"] == true)
        .unwrap_or_else(|| panic!("a built-in role in {roles:#?}"));
    assert_eq!(builtin["name"], "admin");
    let role_path = format!("roles/{}", id(builtin));
    let narrower = json!({ "permissions": ["org:read"] });
    app.patch(&role_path, &admin, narrower)
        .await
        .problem(409, "conflict");
    app.patch(&role_path, &admin, json!({ "name": "boss" }))
        .await
        .problem(409, "conflict");
    let unchanged = app.get(&role_path, &admin).await.ok(200);
    assert_eq!(unchanged, *builtin);

    // Custom roles do change.
    let role = fixtures::role(app, &admin, "helper", &["org:read"]).await;
    let custom_path = format!("roles/{}", id(&role));
    let renamed = app
        .patch(&custom_path, &admin, json!({ "name": "assistant" }))
        .await
        .ok(200);
    assert_eq!(renamed["name"], "assistant");
    let taken = json!({ "name": "admin" });
    let refused = app
        .patch(&custom_path, &admin, taken)
        .await
        .problem(409, "conflict");
    assert_eq!(refused["errors"][0]["code"], "already_exists", "{refused}");
}
