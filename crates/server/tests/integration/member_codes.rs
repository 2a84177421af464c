//! Member codes (一客一码): issued per member for a minute, resolved by a till to the member (masked
//! without `pii:read`), refused with a stable field code when expired, forged, malformed or
//! foreign, following merges, and confined to the caller's data scope.

use crate::fixtures::{format, staff_login, store};
use crate::support::{TestApp, id};
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_server::app::tenancy::{NewTenant, create_tenant};
use huiyuan_server::app::vault::Vault;
use huiyuan_store::members;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

on_both!(
    a_code_resolves_to_its_member,
    bad_codes_are_refused_with_stable_codes,
    codes_follow_merges_and_stay_in_scope
);

async fn register(
    app: &TestApp,
    token: &str,
    phone: &str,
    name: &str,
    store: Option<&Value>,
) -> String {
    let body = json!({
        "identifiers": [{ "kind": "phone", "value": phone }],
        "profile": { "name": name },
        "store_id": store.map(id),
    });
    id(&app.post("members", token, body).await.ok(201))
}

async fn code_of(app: &TestApp, token: &str, member: &str) -> String {
    let issued = app
        .get(&format!("members/{member}/code"), token)
        .await
        .ok(200);
    issued["code"].as_str().expect("a code").to_owned()
}

async fn resolve(app: &TestApp, token: &str, code: &str) -> crate::support::Reply {
    app.post("member-codes/resolve", token, json!({ "code": code }))
        .await
}

/// Asserts a 422 whose field error on `code` has `expected` as its code.
#[track_caller]
fn refused(reply: crate::support::Reply, expected: &str) {
    let body = reply.problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "code", "{body}");
    assert_eq!(body["errors"][0]["code"], expected, "{body}");
    assert!(body["detail"].is_string(), "{body}");
}

async fn a_code_resolves_to_its_member(app: &TestApp) {
    let admin = app.admin_token().await;
    let member = register(app, &admin, "13912340001", "李雷", None).await;

    let before = OffsetDateTime::now_utc();
    let issued = app
        .get(&format!("members/{member}/code"), &admin)
        .await
        .ok(200);
    let code = issued["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("M1") && code.len() <= 64, "{issued}");
    assert_eq!(issued["ttl_secs"], 60);
    let expires = OffsetDateTime::parse(issued["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let ahead = (expires - before).whole_seconds();
    assert!(
        (58..=61).contains(&ahead),
        "expires about a minute ahead: {ahead}s"
    );

    let found = resolve(app, &admin, &code).await.ok(200);
    assert_eq!(found["id"], member.as_str());
    assert_eq!(found["resolved_from"], Value::Null);
    assert_eq!(found["pii_masked"], false);
    assert_eq!(found["profile"]["name"], "李雷");
    assert_eq!(found["identifiers"][0]["value"], "+8613912340001");
    // Codes are stateless: each fresh one works, and the old one still does until it expires.
    let again = code_of(app, &admin, &member).await;
    assert_eq!(
        resolve(app, &admin, &again).await.ok(200)["id"],
        member.as_str()
    );
    assert_eq!(
        resolve(app, &admin, &code).await.ok(200)["id"],
        member.as_str()
    );

    // A till without pii:read sees the member masked, as on GET /members/{id}.
    let till = staff_login(
        app,
        &admin,
        "till",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    let masked = resolve(app, &till, &code).await.ok(200);
    assert_eq!(masked["pii_masked"], true);
    assert_eq!(masked["profile"]["name"], "李*");
    assert_eq!(masked["identifiers"][0]["value"], "139****0001");
    let own = app.get(&format!("members/{member}"), &till).await.ok(200);
    assert_eq!(masked, own, "the same view as the profile");
    assert!(code_of(app, &till, &member).await.starts_with("M1"));

    // members:read is needed for both; a caller needs a token at all.
    let clerk = staff_login(
        app,
        &admin,
        "clerk",
        &["org:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    app.get(&format!("members/{member}/code"), &clerk)
        .await
        .problem(403, "permission_denied");
    resolve(app, &clerk, &code)
        .await
        .problem(403, "permission_denied");
    resolve(app, "", &code)
        .await
        .problem(401, "unauthenticated");
    app.get(&format!("members/{}/code", Uuid::now_v7()), &admin)
        .await
        .problem(404, "not_found");
}

async fn bad_codes_are_refused_with_stable_codes(app: &TestApp) {
    let admin = app.admin_token().await;
    let member = register(app, &admin, "13912340002", "韩梅梅", None).await;
    let member_id: MemberId = member.parse().unwrap();
    let tenant = app.default_tenant.id;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let vault = &app.state.vault;

    // Expired: genuine, but its minute is over.
    let expired = vault.sign_member_code(tenant, member_id, u32::try_from(now - 1).unwrap());
    refused(resolve(app, &admin, &expired).await, "expired");

    // Forged: an altered tag, or a tag made with another key.
    let genuine = code_of(app, &admin, &member).await;
    let mut altered = genuine.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    refused(resolve(app, &admin, &altered).await, "invalid");
    let foreign_key =
        Vault::ephemeral().sign_member_code(tenant, member_id, u32::try_from(now + 60).unwrap());
    refused(resolve(app, &admin, &foreign_key).await, "invalid");
    // Moving the expiry forward breaks the tag too.
    let later = vault.sign_member_code(tenant, member_id, u32::try_from(now + 3_600).unwrap());
    let spliced = format!(
        "{}{}",
        &later[..later.len() - 14],
        &genuine[genuine.len() - 14..]
    );
    refused(resolve(app, &admin, &spliced).await, "invalid");

    // Malformed: not a member code at all.
    for junk in [
        "hello",
        "M1!!!!",
        "",
        "M1",
        &format!("M1{}", "A".repeat(200)),
        "13912340002",
    ] {
        refused(resolve(app, &admin, junk).await, "malformed");
    }
    app.post("member-codes/resolve", &admin, json!({}))
        .await
        .problem(422, "validation_failed");

    // A genuine code naming nobody this tenant has.
    let nobody = vault.sign_member_code(tenant, MemberId::new(), u32::try_from(now + 60).unwrap());
    resolve(app, &admin, &nobody)
        .await
        .problem(404, "not_found");

    // Another tenant's code is not genuine here, and ours is not genuine there.
    let input = NewTenant::parse("acme", "Acme Group", Some("Asia/Shanghai")).unwrap();
    create_tenant(
        &app.state.store,
        input,
        Some("acme-admin-password".to_owned()),
        64,
    )
    .await
    .expect("a second tenant");
    let acme = app.login_to("acme", "admin", "acme-admin-password").await;
    let theirs = register(app, &acme, "13912340002", "韩梅梅", None).await;
    let their_code = code_of(app, &acme, &theirs).await;
    assert_eq!(
        resolve(app, &acme, &their_code).await.ok(200)["id"],
        theirs.as_str()
    );
    refused(resolve(app, &admin, &their_code).await, "invalid");
    refused(resolve(app, &acme, &genuine).await, "invalid");
    // Even naming our member id, a code signed for another tenant fails.
    let cross =
        vault.sign_member_code(TenantId::new(), member_id, u32::try_from(now + 60).unwrap());
    refused(resolve(app, &admin, &cross).await, "invalid");
}

async fn codes_follow_merges_and_stay_in_scope(app: &TestApp) {
    let admin = app.admin_token().await;
    let f1 = format(app, &admin, "f1").await;
    let s1 = store(app, &admin, &f1, "s1").await;
    let s2 = store(app, &admin, &f1, "s2").await;
    let source = register(app, &admin, "13912340003", "张三", Some(&s1)).await;
    let survivor = register(app, &admin, "13912340004", "张三丰", Some(&s1)).await;
    let old_code = code_of(app, &admin, &source).await;

    // Merge the source into the survivor the way the merge service leaves them.
    let tenant = app.default_tenant.id;
    let mut session = app.state.store.write().await.unwrap();
    let mut row = members::get_member(&mut session, tenant, source.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    row.status = "merged".to_owned();
    row.merged_into = Some(survivor.parse().unwrap());
    members::update_member(&mut session, tenant, &row)
        .await
        .unwrap();
    session.commit().await.unwrap();

    let found = resolve(app, &admin, &old_code).await.ok(200);
    assert_eq!(
        found["id"],
        survivor.as_str(),
        "an old code finds the survivor"
    );
    assert_eq!(found["resolved_from"], source.as_str());
    let alias_code = code_of(app, &admin, &source).await;
    let found = resolve(app, &admin, &alias_code).await.ok(200);
    assert_eq!(
        found["id"],
        survivor.as_str(),
        "the alias's id issues the survivor's code"
    );
    assert_eq!(found["resolved_from"], Value::Null);

    // A till of another store neither issues nor resolves codes of members outside its scope.
    let other_till = staff_login(
        app,
        &admin,
        "s2-till",
        &["members:read"],
        json!({ "kind": "stores", "store_ids": [id(&s2)] }),
    )
    .await;
    app.get(&format!("members/{survivor}/code"), &other_till)
        .await
        .problem(404, "not_found");
    resolve(app, &other_till, &alias_code)
        .await
        .problem(404, "not_found");
    let own_till = staff_login(
        app,
        &admin,
        "s1-till",
        &["members:read"],
        json!({ "kind": "stores", "store_ids": [id(&s1)] }),
    )
    .await;
    assert_eq!(
        resolve(app, &own_till, &alias_code).await.ok(200)["id"],
        survivor.as_str()
    );

    // An erased member has no code, and codes issued before the erasure stop working.
    app.post(&format!("members/{survivor}/erase"), &admin, json!({}))
        .await
        .ok(200);
    let body = resolve(app, &admin, &alias_code)
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["code"], "member_erased");
    let body = app
        .get(&format!("members/{survivor}/code"), &admin)
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["code"], "member_erased");
}
