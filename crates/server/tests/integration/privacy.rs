//! Personal information (PIPL): never stored in clear (read straight from the database files on
//! SQLite and from every row's text on PostgreSQL), masked without `pii:read`, exported whole on
//! request, and erased irreversibly and idempotently.

use crate::fixtures::{format, role, staff, staff_login, store};
use crate::support::{Backend, TestApp, id};
use huiyuan_store::backend::Backend as Conn;
use huiyuan_store::members;
use serde_json::{Value, json};
use uuid::Uuid;

on_both!(
    personal_data_is_never_stored_in_clear,
    personal_fields_are_masked_without_pii_read,
    an_export_holds_everything_about_the_member,
    erasure_is_irreversible_and_idempotent
);

const PHONE: &str = "13912345678";
const PHONE_E164: &str = "+8613912345678";
const EMAIL: &str = "wang.xiaoming@example.com";
const NAME: &str = "王小明";
const ADDRESS: &str = "上海市黄浦区南京东路100号";
const ID_CARD: &str = "11010519491231002X";

/// Everything that must never be readable at rest.
const SECRETS: [&str; 6] = [PHONE, PHONE_E164, EMAIL, NAME, ADDRESS, ID_CARD];

fn full_registration(phone: &str, email: &str) -> Value {
    json!({
        "identifiers": [
            { "kind": "phone", "value": phone },
            { "kind": "email", "value": email },
        ],
        "profile": {
            "name": NAME, "gender": "male", "birthday": "1949-12-31", "province": "上海", "city": "上海",
            "district": "黄浦", "address": ADDRESS, "id_card_no": ID_CARD,
        },
        "consents": [{ "channel": "sms", "granted": true }, { "channel": "email", "granted": true }],
    })
}

/// The member's personal data, registered and touched the ways a member's data flows.
async fn seed_member(app: &TestApp, admin: &str) -> String {
    let member = app
        .post("members", admin, full_registration(PHONE, EMAIL))
        .await
        .ok(201);
    let member = id(&member);
    // An update re-seals; a look-up by phone and by name goes through the blind indexes.
    let patch = json!({ "profile": { "name": NAME, "address": ADDRESS } });
    app.patch(&format!("members/{member}"), admin, patch)
        .await
        .ok(200);
    let found = app
        .get(&format!("members?phone={PHONE}"), admin)
        .await
        .ok(200);
    assert_eq!(found["items"][0]["id"], member.as_str());
    let found = app.get("members?name=王小", admin).await.ok(200);
    assert_eq!(found["items"][0]["profile"]["name"], NAME);
    member
}

#[track_caller]
fn assert_no_secrets(haystack: &[u8], place: &str) {
    for secret in SECRETS {
        assert!(
            !haystack
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "{secret:?} is readable in {place}"
        );
    }
}

/// Every row of a table as text, PostgreSQL only.
async fn rows_as_text(app: &TestApp, table: &str) -> String {
    let mut session = app.state.store.read().await.unwrap();
    let Conn::Postgres(c) = session.backend().await.unwrap() else {
        unreachable!("PostgreSQL only")
    };
    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT t::text FROM {table} t WHERE tenant_id = $1"
    )))
    .bind(app.default_tenant.id.0)
    .fetch_all(&mut *c)
    .await
    .unwrap();
    rows.join("\n")
}

async fn personal_data_is_never_stored_in_clear(app: &TestApp) {
    let admin = app.admin_token().await;
    let member = seed_member(app, &admin).await;
    // A merge keeps a snapshot of the survivor's (sealed) profile.
    let duplicate = json!({
        "identifiers": [{ "kind": "phone", "value": "13912345670" }],
        "profile": { "name": NAME, "address": ADDRESS, "id_card_no": ID_CARD },
    });
    let duplicate = id(&app.post("members", &admin, duplicate).await.ok(201));
    merge(app, &admin, &duplicate, &member).await;
    let shown = app.get(&format!("members/{member}"), &admin).await.ok(200);
    assert_eq!(shown["profile"]["id_card_no"], ID_CARD, "the data is there");
    assert!(shown.to_string().contains(EMAIL));

    match app.backend {
        Backend::Sqlite => {
            let dir = app.state.settings.data_dir.clone();
            let files = ["huiyuan.db", "huiyuan.db-wal", "huiyuan.db-shm"];
            let read_all = |when: &str| {
                let mut read = 0;
                for file in files {
                    if let Ok(bytes) = std::fs::read(dir.join(file)) {
                        assert_no_secrets(&bytes, &format!("{file} ({when})"));
                        read += bytes.len();
                    }
                }
                assert!(read > 0, "the database files exist");
            };
            read_all("while running");
            // Closing checkpoints the write-ahead log into the main file.
            app.state.store.close().await;
            read_all("after closing");
        }
        Backend::Postgres => {
            let tables = [
                "members",
                "member_identifiers",
                "member_consents",
                "member_search_tokens",
                "member_merges",
                "audit_log",
            ];
            for table in tables {
                let text = rows_as_text(app, table).await;
                assert!(!text.is_empty(), "{table} has rows");
                assert_no_secrets(text.as_bytes(), table);
            }
            let members = rows_as_text(app, "members").await;
            assert!(members.contains("k1."), "sealed values name their key");
        }
    }
}

async fn personal_fields_are_masked_without_pii_read(app: &TestApp) {
    let admin = app.admin_token().await;
    let member = seed_member(app, &admin).await;
    let tenant = json!({ "kind": "tenant" });
    let plain = staff_login(app, &admin, "reader", &["members:read"], tenant.clone()).await;
    let trusted = staff_login(
        app,
        &admin,
        "trusted",
        &["members:read", "pii:read"],
        tenant,
    )
    .await;

    let masked = app.get(&format!("members/{member}"), &plain).await.ok(200);
    assert_eq!(masked["pii_masked"], true);
    assert_eq!(masked["profile"]["name"], "王**");
    assert_eq!(masked["profile"]["id_card_no"], "1101**********002X");
    assert_eq!(masked["profile"]["address"], "***");
    assert_eq!(masked["identifiers"][0]["value"], "139****5678");
    assert_eq!(
        masked["identifiers"][1]["value"],
        "w************@example.com"
    );
    // Demographics are not secret: segments filter on them.
    assert_eq!(masked["profile"]["city"], "上海");
    assert_no_secrets(masked.to_string().as_bytes(), "a masked answer");
    let listed = app
        .get(&format!("members?phone={PHONE}"), &plain)
        .await
        .ok(200);
    assert_eq!(listed["items"][0], masked, "lists mask alike");

    let clear = app
        .get(&format!("members/{member}"), &trusted)
        .await
        .ok(200);
    assert_eq!(clear["pii_masked"], false);
    assert_eq!(clear["profile"]["name"], NAME);
    assert_eq!(clear["profile"]["id_card_no"], ID_CARD);
    assert_eq!(clear["profile"]["address"], ADDRESS);
    assert_eq!(clear["identifiers"][0]["value"], PHONE_E164);
    assert_eq!(clear["identifiers"][1]["value"], EMAIL);
}

async fn an_export_holds_everything_about_the_member(app: &TestApp) {
    let admin = app.admin_token().await;
    let f1 = format(app, &admin, "f1").await;
    let s1 = store(app, &admin, &f1, "s1").await;
    let s2 = store(app, &admin, &f1, "s2").await;
    let guide_role = role(app, &admin, "guide", &["members:read"]).await;
    let guide = staff(
        app,
        &admin,
        "guide1",
        &guide_role,
        json!({ "kind": "tenant" }),
    )
    .await;
    let mut registration = full_registration(PHONE, EMAIL);
    registration["store_id"] = json!(id(&s1));
    registration["guide_id"] = json!(id(&guide));
    let member = id(&app.post("members", &admin, registration).await.ok(201));
    app.post(
        &format!("members/{member}/consents"),
        &admin,
        json!({ "channel": "sms", "granted": false }),
    )
    .await
    .ok(201);
    app.post(
        &format!("members/{member}/identifiers"),
        &admin,
        json!({ "kind": "card_no", "value": "VIP-0001" }),
    )
    .await
    .ok(201);
    // A member merged into this one comes along.
    let alias = id(&app
        .post(
            "members",
            &admin,
            full_registration("13912345679", "alias@example.com"),
        )
        .await
        .ok(201));
    let merge_id = merge(app, &admin, &alias, &member).await;

    let export = app
        .get(&format!("members/{member}/export"), &admin)
        .await
        .ok(200);
    let profile = &export["member"]["profile"];
    assert_eq!(export["member"]["pii_masked"], false);
    assert_eq!(profile["name"], NAME);
    assert_eq!(profile["address"], ADDRESS);
    assert_eq!(profile["id_card_no"], ID_CARD);
    assert_eq!(profile["birthday"], "1949-12-31");
    let identifiers: Vec<&str> = export["member"]["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        identifiers.len(),
        5,
        "its own and the merged member's: {identifiers:?}"
    );
    for value in [
        PHONE_E164,
        EMAIL,
        "VIP-0001",
        "+8613912345679",
        "alias@example.com",
    ] {
        assert!(identifiers.contains(&value), "{value} in {identifiers:?}");
    }
    assert_eq!(export["member"]["source"]["store_id"], id(&s1));
    assert_eq!(export["member"]["source"]["format_id"], id(&f1));
    assert_eq!(export["member"]["guide_id"], id(&guide));
    assert!(export["member"]["referral_code"].is_string());
    assert!(export["member"]["summaries"].is_object());
    assert_eq!(export["erased_at"], Value::Null);
    let history: Vec<(&str, bool)> = export["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap(),
                c["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(history.len(), 5, "both members' decisions: {history:?}");
    assert!(history.contains(&("sms", false)));
    assert_eq!(export["merged_members"][0]["id"], alias.as_str());
    assert_eq!(export["merges"][0]["id"], merge_id.as_str());
    assert_eq!(export["merges"][0]["survivor_id"], member.as_str());
    assert_eq!(export["merges"][0]["source_id"], alias.as_str());
    let actions: Vec<&str> = export["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    for action in [
        "member.registered",
        "member.consent_recorded",
        "member.identifier_bound",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "member.registered")
            .count(),
        2
    );
    assert_eq!(export["audit_truncated"], false);

    // Exports are audited, without the data they handed over.
    let audit = app
        .get("audit-log?action=member.exported", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"][0]["target_id"], member.as_str());
    assert_no_secrets(audit.to_string().as_bytes(), "the export's audit entry");

    // Personal data leaves only with pii:read, and only within the caller's scope.
    let tenant = json!({ "kind": "tenant" });
    let reader = staff_login(app, &admin, "reader", &["members:read"], tenant.clone()).await;
    app.get(&format!("members/{member}/export"), &reader)
        .await
        .problem(403, "permission_denied");
    let pii_only = staff_login(app, &admin, "pii", &["pii:read"], tenant).await;
    app.get(&format!("members/{member}/export"), &pii_only)
        .await
        .problem(403, "permission_denied");
    let elsewhere = staff_login(
        app,
        &admin,
        "elsewhere",
        &["members:read", "pii:read"],
        json!({ "kind": "stores", "store_ids": [id(&s2)] }),
    )
    .await;
    app.get(&format!("members/{member}/export"), &elsewhere)
        .await
        .problem(404, "not_found");
}

/// Merges `source` into `survivor` through the API; answers the merge id.
async fn merge(app: &TestApp, admin: &str, source: &str, survivor: &str) -> String {
    let body = json!({ "source_member_id": source });
    let merged = app
        .post(&format!("members/{survivor}/merge"), admin, body)
        .await
        .ok(200);
    merged["merge_id"].as_str().expect("a merge id").to_owned()
}

async fn search_tokens_of(app: &TestApp, member: &str) -> i64 {
    let mut session = app.state.store.read().await.unwrap();
    let member: Uuid = member.parse().unwrap();
    let sql = "SELECT COUNT(*) FROM member_search_tokens WHERE member_id = $1";
    match session.backend().await.unwrap() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(sql)
                .bind(member)
                .fetch_one(&mut *c)
                .await
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(sql)
                .bind(member)
                .fetch_one(&mut *c)
                .await
        }
    }
    .unwrap()
}

async fn erasure_is_irreversible_and_idempotent(app: &TestApp) {
    let admin = app.admin_token().await;
    let guide_role = role(app, &admin, "guide", &["members:read"]).await;
    let guide = staff(
        app,
        &admin,
        "guide1",
        &guide_role,
        json!({ "kind": "tenant" }),
    )
    .await;
    let mut registration = full_registration(PHONE, EMAIL);
    registration["guide_id"] = json!(id(&guide));
    let registered = app.post("members", &admin, registration).await.ok(201);
    let member = id(&registered);
    let alias_phone = "13912345679";
    let alias = id(&app
        .post(
            "members",
            &admin,
            full_registration(alias_phone, "alias@example.com"),
        )
        .await
        .ok(201));
    merge(app, &admin, &alias, &member).await;
    assert!(search_tokens_of(app, &member).await > 0);

    // Erasure needs members:write and pii:read; the reason is a category, never free text.
    let tenant = json!({ "kind": "tenant" });
    let writer = staff_login(
        app,
        &admin,
        "writer",
        &["members:read", "members:write"],
        tenant.clone(),
    )
    .await;
    let erase = format!("members/{member}/erase");
    app.post(&erase, &writer, json!({}))
        .await
        .problem(403, "permission_denied");
    let pii = staff_login(app, &admin, "pii", &["members:read", "pii:read"], tenant).await;
    app.post(&erase, &pii, json!({}))
        .await
        .problem(403, "permission_denied");
    let body = app
        .post(&erase, &admin, json!({ "reason": "王小明 asked by phone" }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "reason");

    let erased = app
        .post(&erase, &admin, json!({ "reason": "member_request" }))
        .await
        .ok(200);
    assert_eq!(erased["id"], member.as_str());
    assert_eq!(erased["status"], "erased");
    assert_eq!(erased["already_erased"], false);
    assert_eq!(
        erased["identifiers_removed"], 4,
        "the member's two and the alias's two"
    );
    assert_eq!(erased["merged_members_erased"], 1);
    assert_no_secrets(erased.to_string().as_bytes(), "the erasure answer");

    // What is left identifies nobody, and keeps the member number, guide and consent decisions.
    let shown = app.get(&format!("members/{member}"), &admin).await.ok(200);
    assert_eq!(shown["status"], "erased");
    assert_eq!(shown["member_no"], registered["member_no"]);
    assert_eq!(shown["guide_id"], id(&guide));
    assert_eq!(shown["identifiers"], json!([]));
    for field in [
        "name",
        "gender",
        "birthday",
        "province",
        "city",
        "district",
        "address",
        "id_card_no",
    ] {
        assert_eq!(shown["profile"][field], Value::Null, "{field}");
    }
    assert_eq!(
        shown["consents"]["sms"]["granted"], false,
        "outreach is withdrawn"
    );
    assert_eq!(shown["consents"]["email"]["granted"], false);
    assert_no_secrets(shown.to_string().as_bytes(), "the erased profile");
    let tenant_id = app.default_tenant.id;
    let mut session = app.state.store.read().await.unwrap();
    for id in [&member, &alias] {
        let row = members::get_member(&mut session, tenant_id, id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(row.erased_at.is_some());
        let sealed = [
            &row.name_enc,
            &row.name_index,
            &row.address_enc,
            &row.address_index,
            &row.id_card_enc,
            &row.id_card_index,
        ];
        assert!(sealed.iter().all(|value| value.is_none()), "{row:?}");
        assert!(row.gender.is_none() && row.birthday.is_none() && row.city.is_none());
    }
    drop(session);
    assert_eq!(search_tokens_of(app, &member).await, 0);
    assert_eq!(search_tokens_of(app, &alias).await, 0);

    // The old phones and name find nobody; registering the phone again makes a new member.
    for phone in [PHONE, alias_phone] {
        let found = app
            .get(&format!("members?phone={phone}"), &admin)
            .await
            .ok(200);
        assert_eq!(found["items"], json!([]), "{phone}");
    }
    let found = app.get("members?name=王", &admin).await.ok(200);
    assert_eq!(found["items"], json!([]));
    let again = app
        .post("members", &admin, full_registration(PHONE, EMAIL))
        .await
        .ok(201);
    assert_ne!(id(&again), member);
    assert_ne!(again["member_no"], registered["member_no"]);

    // Erasing again changes nothing; the alias's id leads to the same erased member.
    let twice = app.post(&erase, &admin, json!({})).await.ok(200);
    assert_eq!(twice["already_erased"], true);
    assert_eq!(twice["erased_at"], erased["erased_at"]);
    let via_alias = app
        .post(&format!("members/{alias}/erase"), &admin, json!({}))
        .await
        .ok(200);
    assert_eq!(via_alias["id"], member.as_str());
    assert_eq!(via_alias["already_erased"], true);
    app.patch(
        &format!("members/{member}"),
        &admin,
        json!({ "profile": { "name": NAME } }),
    )
    .await
    .problem(422, "validation_failed");

    // One audit entry, without personal data.
    let audit = app
        .get("audit-log?action=member.erased", &admin)
        .await
        .ok(200);
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["target_id"], member.as_str());
    assert_eq!(entries[0]["summary"]["reason"], "member_request");
    assert_eq!(entries[0]["summary"]["merged_members_erased"], 1);
    assert_no_secrets(audit.to_string().as_bytes(), "the erasure's audit entry");

    // An export of the erased member shows what is kept.
    let export = app
        .get(&format!("members/{member}/export"), &admin)
        .await
        .ok(200);
    assert_eq!(export["erased_at"], erased["erased_at"]);
    assert_eq!(export["member"]["identifiers"], json!([]));
    let history = export["consent_history"].as_array().unwrap();
    assert!(history.iter().any(|c| c["granted"] == false));
    assert_eq!(
        export["merges"],
        json!([]),
        "merge snapshots held the erased data"
    );
    assert_eq!(export["merged_members"][0]["id"], alias.as_str());
    assert_no_secrets(export.to_string().as_bytes(), "the erased member's export");
}
