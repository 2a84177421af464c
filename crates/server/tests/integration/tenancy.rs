//! Tenants never see each other: no list, read, change or archive crosses the line, whether the
//! caller is staff or an API key.

use crate::fixtures;
use crate::support::{TestApp, id, ids};
use huiyuan_server::app::tenancy::{NewTenant, create_tenant};
use serde_json::{Value, json};

on_both!(tenants_are_isolated);

const OTHER_PASSWORD: &str = "other-admin-password";

/// One tenant's token and records.
struct Side {
    token: String,
    format: Value,
    store: Value,
    channel: Value,
}

async fn set_up(app: &TestApp, token: String, prefix: &str) -> Side {
    let format = fixtures::format(app, &token, &format!("{prefix}-fmt")).await;
    let store = fixtures::store(app, &token, &format, &format!("{prefix}-store")).await;
    let channel = fixtures::channel(app, &token, None, &format!("{prefix}-chan")).await;
    Side {
        token,
        format,
        store,
        channel,
    }
}

async fn tenants_are_isolated(app: &TestApp) {
    let input = NewTenant::parse("acme", "Acme Group", Some("Asia/Shanghai")).expect("valid input");
    let created = create_tenant(&app.state.store, input, Some(OTHER_PASSWORD.to_owned()), 64)
        .await
        .expect("create a second tenant");
    let a = set_up(app, app.admin_token().await, "a").await;
    let b_token = app.login_to("acme", "admin", OTHER_PASSWORD).await;
    let me = app.get("auth/me", &b_token).await.ok(200);
    assert_eq!(me["tenant_id"], created.tenant.id.to_string());
    // The same codes are free in the other tenant.
    let b = set_up(app, b_token, "a").await;

    for (me, them) in [(&a, &b), (&b, &a)] {
        for (resource, record) in [
            ("formats", &them.format),
            ("stores", &them.store),
            ("channels", &them.channel),
        ] {
            let listed = ids(&app.list_all(resource, &me.token, 50).await);
            assert!(
                !listed.contains(&id(record)),
                "{resource} of the other tenant listed"
            );
            let path = format!("{resource}/{}", id(record));
            app.get(&path, &me.token).await.problem(404, "not_found");
            let rename = json!({ "name": "taken over" });
            app.patch(&path, &me.token, rename)
                .await
                .problem(404, "not_found");
            app.delete(&path, &me.token).await.problem(404, "not_found");
        }
        // Each still sees its own.
        let own = ids(&app.list_all("stores", &me.token, 50).await);
        assert_eq!(own, vec![id(&me.store)]);
        // Nor can a store be put in the other tenant's format.
        let body = json!({ "format_id": id(&them.format), "code": "intruder", "name": "Intruder" });
        let refused = app.post("stores", &me.token, body).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "format_id");
    }
    // Nothing of B was changed by A's attempts.
    let b_format = app
        .get(&format!("formats/{}", id(&b.format)), &b.token)
        .await
        .ok(200);
    assert_eq!(b_format["name"], b.format["name"]);
    assert_eq!(b_format["archived"], false);

    // An API key of A reads A's stores only.
    let key = fixtures::api_key(app, &a.token, &a.channel, None).await;
    let key = key["key"].as_str().expect("the key");
    let visible = ids(&app.list_all("stores", key, 50).await);
    assert_eq!(visible, vec![id(&a.store)]);
    let path = format!("stores/{}", id(&b.store));
    app.get(&path, key).await.problem(404, "not_found");
    // A key with the other tenant's id in place of its own is unknown.
    let forged = key.replacen(
        &app.default_tenant.id.0.simple().to_string(),
        &created.tenant.id.0.simple().to_string(),
        1,
    );
    assert_ne!(forged, key, "the key names its tenant");
    app.get("stores", &forged)
        .await
        .problem(401, "unauthenticated");

    // The audit logs are separate too.
    let a_log = app.list_all("audit-log", &a.token, 100).await;
    assert!(
        a_log
            .iter()
            .all(|e| e["target_id"] != id(&b.store).as_str())
    );
    let b_log = app.list_all("audit-log", &b.token, 100).await;
    assert!(
        b_log
            .iter()
            .all(|e| e["target_id"] != id(&a.store).as_str())
    );
}
