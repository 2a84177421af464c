//! Records the tests need, created through the API as a client would.

use crate::support::{TestApp, id};
use serde_json::{Value, json};

/// Password of every staff account the fixtures create.
pub const STAFF_PASSWORD: &str = "staff-password-123";

pub async fn format(app: &TestApp, token: &str, code: &str) -> Value {
    let body = json!({ "code": code, "name": format!("Format {code}") });
    app.post("formats", token, body).await.ok(201)
}

pub async fn store(app: &TestApp, token: &str, format: &Value, code: &str) -> Value {
    let body = json!({ "format_id": id(format), "code": code, "name": format!("Store {code}") });
    app.post("stores", token, body).await.ok(201)
}

/// A channel of `format`, or a group-wide one when `format` is `None`.
pub async fn channel(app: &TestApp, token: &str, format: Option<&Value>, code: &str) -> Value {
    let body = json!({
        "code": code,
        "name": format!("Channel {code}"),
        "kind": "pos",
        "format_id": format.map(id),
    });
    app.post("channels", token, body).await.ok(201)
}

pub async fn role(app: &TestApp, token: &str, name: &str, permissions: &[&str]) -> Value {
    let body = json!({ "name": name, "permissions": permissions });
    app.post("roles", token, body).await.ok(201)
}

/// A staff account with `role` and `scope` (a `DataScope` in its wire form).
pub async fn staff(
    app: &TestApp,
    token: &str,
    username: &str,
    role: &Value,
    scope: Value,
) -> Value {
    let body = json!({
        "username": username,
        "display_name": format!("Staff {username}"),
        "password": STAFF_PASSWORD,
        "role_id": id(role),
        "scope": scope,
    });
    app.post("staff", token, body).await.ok(201)
}

/// A staff account with `permissions` and `scope`, logged in; answers its token.
pub async fn staff_login(
    app: &TestApp,
    admin: &str,
    username: &str,
    permissions: &[&str],
    scope: Value,
) -> String {
    let role = role(app, admin, &format!("role of {username}"), permissions).await;
    staff(app, admin, username, &role, scope).await;
    app.login(username, STAFF_PASSWORD).await
}

/// An API key of `channel` (optionally bound to `store`); answers the created body, with `key`.
pub async fn api_key(app: &TestApp, token: &str, channel: &Value, store: Option<&Value>) -> Value {
    let body = json!({ "name": "POS key", "channel_id": id(channel), "store_id": store.map(id) });
    let created = app.post("api-keys", token, body).await.ok(201);
    assert!(
        created["key"]
            .as_str()
            .is_some_and(|key| key.starts_with("hyk_")),
        "{created}"
    );
    created
}
