//! Member registration and identity over HTTP: normalisation, idempotency on identifiers (also
//! under parallel registration from two channels), look-ups, identifiers, consents, referral,
//! masking, and data scopes over member data.

use crate::fixtures;
use crate::support::{TestApp, id, ids};
use huiyuan_domain::identity::MemberNo;
use serde_json::{Value, json};

on_both!(
    registration_normalises_and_is_idempotent_on_identifiers,
    invalid_registrations_name_the_field,
    lookups_by_identifier_number_and_name,
    identifiers_bind_unbind_and_conflict,
    shared_identifiers_never_match,
    consents_keep_their_history,
    referral_codes_link_referrer,
    profile_changes_are_audited_without_personal_data,
    personal_data_is_masked_without_pii_read,
    data_scopes_apply_to_members,
);
on_both!(multi_thread: parallel_registrations_of_one_phone_make_one_member);

fn phone(value: &str) -> Value {
    json!({ "kind": "phone", "value": value })
}

async fn register(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let reply = app.post("members", token, body).await;
    (reply.status, reply.body)
}

async fn registration_normalises_and_is_idempotent_on_identifiers(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({
        "identifiers": [phone("+86 138-0013-8000"), { "kind": "email", "value": "Li.Lei@Example.COM" }],
        "profile": { "name": "李雷", "gender": "male", "birthday": "1990-05-01", "city": "上海" },
    });
    let (status, created) = register(app, &admin, body).await;
    assert_eq!(status, 201, "{created}");
    assert!(
        MemberNo::parse("member_no", created["member_no"].as_str().unwrap()).is_ok(),
        "check digit"
    );
    assert_eq!(created["profile"]["birthday"], "1990-05-01");
    let values: Vec<&str> = created["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        ["+8613800138000", "li.lei@example.com"],
        "admin holds pii:read"
    );

    // Any known identifier, in any spelling, returns the same member (200) and binds what is new.
    let again = json!({ "identifiers": [phone("008613800138000"), { "kind": "wechat_unionid", "value": "union-1" }] });
    let (status, existing) = register(app, &admin, again).await;
    assert_eq!(status, 200, "{existing}");
    assert_eq!(existing["id"], created["id"]);
    assert_eq!(
        existing["identifiers"].as_array().unwrap().len(),
        3,
        "the unionid was bound"
    );
    let (status, by_email) = register(
        app,
        &admin,
        json!({ "identifiers": [{ "kind": "email", "value": "li.lei@example.com" }] }),
    )
    .await;
    assert_eq!(
        (status, by_email["id"].clone()),
        (200, created["id"].clone())
    );

    // Identifiers of two different members in one registration: a conflict naming both.
    let (status, _) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13900139000")] }),
    )
    .await;
    assert_eq!(status, 201);
    let both = json!({ "identifiers": [phone("13800138000"), phone("13900139000")] });
    let problem = app
        .post("members", &admin, both)
        .await
        .problem(409, "conflict");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(created["id"].as_str().unwrap())
    );

    // A retried request with the same Idempotency-Key replays the first answer.
    let body = json!({ "identifiers": [phone("13700137000")] });
    let first = app
        .post_once("members", &admin, "reg-1", body.clone())
        .await
        .ok(201);
    let replay = app.post_once("members", &admin, "reg-1", body).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(replay.ok(201)["id"], first["id"]);
}

async fn invalid_registrations_name_the_field(app: &TestApp) {
    let admin = app.admin_token().await;
    let cases = [
        (json!({ "identifiers": [] }), "identifiers"),
        (
            json!({ "identifiers": [phone("12345")] }),
            "identifiers[0].value",
        ),
        (
            json!({ "identifiers": [phone("13800138000"), { "kind": "email", "value": "nope" }] }),
            "identifiers[1].value",
        ),
        (
            json!({ "identifiers": [{ "kind": "wechat_openid", "value": "o1" }] }),
            "identifiers[0].app_id",
        ),
        (
            json!({ "identifiers": [phone("13800138000")], "profile": { "birthday": "2090-01-01" } }),
            "profile.birthday",
        ),
        (
            json!({ "identifiers": [phone("13800138000")], "profile": { "id_card_no": "110105194912310021" } }),
            "profile.id_card_no",
        ),
        (
            json!({ "identifiers": [{ "kind": "fax", "value": "1" }] }),
            "identifiers[0].kind",
        ),
        (
            json!({ "identifiers": [phone("13800138000")], "referral_code": "NOSUCHCODE" }),
            "referral_code",
        ),
    ];
    for (body, field) in cases {
        let problem = app
            .post("members", &admin, body.clone())
            .await
            .problem(422, "validation_failed");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{body} should name {field}: {problem}"
        );
    }
    let listed = app.get("members", &admin).await.ok(200);
    assert_eq!(listed["items"], json!([]), "nothing was created");
}

async fn lookups_by_identifier_number_and_name(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({
        "identifiers": [phone("13800138000"), { "kind": "wechat_unionid", "value": "union-7" }, { "kind": "card_no", "value": "C-0001" }],
        "profile": { "name": "张三丰" },
    });
    let (_, zhang) = register(app, &admin, body).await;
    register(
        app,
        &admin,
        json!({ "identifiers": [phone("13900139000")], "profile": { "name": "张无忌" } }),
    )
    .await;
    register(
        app,
        &admin,
        json!({ "identifiers": [phone("13700137000")], "profile": { "name": "Li Lei" } }),
    )
    .await;
    for query in [
        "phone=%2B86%20138%200013%208000",
        "unionid=union-7",
        "card_no=C-0001",
    ] {
        let found = app.get(&format!("members?{query}"), &admin).await.ok(200);
        assert_eq!(
            ids(found["items"].as_array().unwrap()),
            [id(&zhang)],
            "{query}"
        );
    }
    let member_no = zhang["member_no"].as_str().unwrap();
    let found = app
        .get(&format!("members?member_no={member_no}"), &admin)
        .await
        .ok(200);
    assert_eq!(ids(found["items"].as_array().unwrap()), [id(&zhang)]);
    let missing = app.get("members?phone=13600136000", &admin).await.ok(200);
    assert_eq!(missing["items"], json!([]));
    app.get("members?phone=12", &admin)
        .await
        .problem(422, "validation_failed");
    app.get("members?member_no=000000019", &admin)
        .await
        .problem(422, "validation_failed");

    let zhangs = app.get("members?name=%E5%BC%A0", &admin).await.ok(200);
    assert_eq!(
        zhangs["items"].as_array().unwrap().len(),
        2,
        "surname finds the family"
    );
    let one = app
        .get("members?name=%E5%BC%A0%E4%B8%89", &admin)
        .await
        .ok(200);
    assert_eq!(ids(one["items"].as_array().unwrap()), [id(&zhang)]);
    let latin = app.get("members?name=li", &admin).await.ok(200);
    assert_eq!(latin["items"].as_array().unwrap().len(), 1, "case-folded");
}

async fn identifiers_bind_unbind_and_conflict(app: &TestApp) {
    let admin = app.admin_token().await;
    let (_, a) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138000")] }),
    )
    .await;
    let (_, b) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13900139000")] }),
    )
    .await;
    let path = format!("members/{}/identifiers", id(&a));
    let bound = app
        .post(
            &path,
            &admin,
            json!({ "kind": "wechat_openid", "value": "oA", "app_id": "wx1234567890abcdef" }),
        )
        .await
        .ok(201);
    assert_eq!(
        (bound["value"].as_str(), bound["qualifier"].as_str()),
        (Some("oA"), Some("wx1234567890abcdef"))
    );
    let problem = app
        .post(&path, &admin, phone("139 0013 9000"))
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "held_by_other_member");
    assert_eq!(problem["errors"][0]["message"], id(&b), "names the holder");
    app.post(&path, &admin, phone("13800138000"))
        .await
        .problem(409, "conflict");
    app.post(
        &path,
        &admin,
        json!({ "kind": "wechat_unionid", "value": "u1" }),
    )
    .await
    .ok(201);
    let problem = app
        .post(
            &path,
            &admin,
            json!({ "kind": "wechat_unionid", "value": "u2" }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "limit_exceeded");

    app.delete(&format!("{path}/{}", id(&bound)), &admin)
        .await
        .ok(200);
    app.delete(&format!("{path}/{}", id(&bound)), &admin)
        .await
        .problem(404, "not_found");
    let member = app
        .get(&format!("members/{}", id(&a)), &admin)
        .await
        .ok(200);
    assert_eq!(member["identifiers"].as_array().unwrap().len(), 2);
    let audit = app
        .get(
            &format!("audit-log?target_type=member&target_id={}", id(&a)),
            &admin,
        )
        .await
        .ok(200);
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "member.registered",
            "member.identifier_bound",
            "member.identifier_bound",
            "member.identifier_unbound"
        ]
    );
}

async fn shared_identifiers_never_match(app: &TestApp) {
    let admin = app.admin_token().await;
    // A placeholder number from the default block list, and a shared device.
    let body = json!({ "identifiers": [phone("13800000000"), { "kind": "device_id", "value": "store-ipad" }] });
    let (s1, first) = register(app, &admin, body.clone()).await;
    let (s2, second) = register(app, &admin, body).await;
    assert_eq!((s1, s2), (201, 201));
    assert_ne!(
        first["id"], second["id"],
        "blocked and shared identifiers are not grounds for a match"
    );
    assert!(
        first["identifiers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["matchable"] == false)
    );
    let found = app.get("members?phone=13800000000", &admin).await.ok(200);
    assert_eq!(found["items"], json!([]), "never used for look-ups either");
}

async fn consents_keep_their_history(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({ "identifiers": [phone("13800138000")], "consents": [{ "channel": "sms", "granted": true }] });
    let (_, member) = register(app, &admin, body).await;
    assert_eq!(member["consents"]["sms"]["granted"], true);
    let path = format!("members/{}/consents", id(&member));
    app.post(&path, &admin, json!({ "channel": "sms", "granted": false }))
        .await
        .ok(201);
    app.post(
        &path,
        &admin,
        json!({ "channel": "email", "granted": true }),
    )
    .await
    .ok(201);
    let history = app.get(&path, &admin).await.ok(200);
    let decisions: Vec<(String, bool)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap().to_owned(),
                c["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("sms".into(), true),
            ("sms".into(), false),
            ("email".into(), true)
        ]
    );
    let current = app
        .get(&format!("members/{}", id(&member)), &admin)
        .await
        .ok(200);
    assert_eq!(
        current["consents"]["sms"]["granted"], false,
        "the latest decision holds"
    );
    assert_eq!(current["consents"]["email"]["granted"], true);
}

async fn referral_codes_link_referrer(app: &TestApp) {
    let admin = app.admin_token().await;
    let (_, referrer) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138000")] }),
    )
    .await;
    let code = referrer["referral_code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    let (status, referee) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13900139000")], "referral_code": code }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(referee["referred_by"], referrer["id"]);
}

async fn profile_changes_are_audited_without_personal_data(app: &TestApp) {
    let admin = app.admin_token().await;
    let (_, member) = register(
        app,
        &admin,
        json!({ "identifiers": [phone("13800138000")], "profile": { "name": "王五" } }),
    )
    .await;
    let path = format!("members/{}", id(&member));
    let changed = app
        .patch(
            &path,
            &admin,
            json!({ "profile": { "name": "王五六", "city": "杭州" } }),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            changed["profile"]["name"].as_str(),
            changed["profile"]["city"].as_str()
        ),
        (Some("王五六"), Some("杭州"))
    );
    let found = app
        .get("members?name=%E7%8E%8B%E4%BA%94%E5%85%AD", &admin)
        .await
        .ok(200);
    assert_eq!(
        ids(found["items"].as_array().unwrap()),
        [id(&member)],
        "search follows the new name"
    );
    app.patch(
        &path,
        &admin,
        json!({ "profile": { "birthday": "13/13/13" } }),
    )
    .await
    .problem(422, "validation_failed");
    let audit = app
        .get(
            &format!("audit-log?action=member.updated&target_id={}", id(&member)),
            &admin,
        )
        .await
        .ok(200);
    let entry = &audit["items"][0];
    assert_eq!(entry["summary"]["profile_fields"], json!(["name", "city"]));
    assert!(
        !entry.to_string().contains("王五六"),
        "no personal data in the audit log: {entry}"
    );
}

async fn personal_data_is_masked_without_pii_read(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({
        "identifiers": [phone("13800138000"), { "kind": "email", "value": "zhang.san@example.com" }],
        "profile": { "name": "张三丰", "id_card_no": "11010519491231002X", "address": "上海市黄浦区南京东路1号" },
    });
    let (_, member) = register(app, &admin, body).await;
    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    let seen = app
        .get(&format!("members/{}", id(&member)), &clerk)
        .await
        .ok(200);
    assert_eq!(seen["pii_masked"], true);
    assert_eq!(seen["profile"]["name"], "张**");
    assert_eq!(seen["profile"]["id_card_no"], "1101**********002X");
    assert_eq!(seen["profile"]["address"], "***");
    assert_eq!(seen["identifiers"][0]["value"], "138****8000");
    assert_eq!(seen["identifiers"][1]["value"], "z********@example.com");
    assert!(!seen.to_string().contains("13800138000"));
    let listed = app.get("members?phone=13800138000", &clerk).await.ok(200);
    assert_eq!(listed["items"][0]["identifiers"][0]["value"], "138****8000");
    app.post(
        "members",
        &clerk,
        json!({ "identifiers": [phone("13900139000")] }),
    )
    .await
    .problem(403, "permission_denied");
}

async fn data_scopes_apply_to_members(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let (s1, s2) = (
        fixtures::store(app, &admin, &format, "s1").await,
        fixtures::store(app, &admin, &format, "s2").await,
    );
    let merchant = app
        .post("stores", &admin, json!({ "format_id": id(&format), "code": "m1", "name": "Merchant", "kind": "merchant" }))
        .await
        .ok(201);
    let channel = fixtures::channel(app, &admin, Some(&format), "pos").await;
    let key_s1 = fixtures::api_key(app, &admin, &channel, Some(&s1)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_s2 = fixtures::api_key(app, &admin, &channel, Some(&s2)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_m = fixtures::api_key(app, &admin, &channel, Some(&merchant)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // A till registers at its own store.
    let (status, at_s1) = register(
        app,
        &key_s1,
        json!({ "identifiers": [phone("13800138001")] }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(at_s1["source"]["store_id"], s1["id"]);
    assert_eq!(at_s1["source"]["channel_id"], channel["id"]);
    let (_, at_m) = register(
        app,
        &key_m,
        json!({ "identifiers": [phone("13800138002")] }),
    )
    .await;

    // Another store's till still identifies the member (one identity across every store) …
    app.get(&format!("members/{}", id(&at_s1)), &key_s2)
        .await
        .ok(200);
    // … but a mall merchant's till sees only the merchant's own members.
    app.get(&format!("members/{}", id(&at_s1)), &key_m)
        .await
        .problem(404, "not_found");
    app.get(&format!("members/{}", id(&at_m)), &key_m)
        .await
        .ok(200);

    // Store staff see the members of their store; a guide only their own.
    let manager = fixtures::staff_login(
        app,
        &admin,
        "manager-s2",
        &["members:read", "members:write"],
        json!({ "kind": "stores", "store_ids": [id(&s2)] }),
    )
    .await;
    app.get(&format!("members/{}", id(&at_s1)), &manager)
        .await
        .problem(404, "not_found");
    let listed = app.get("members", &manager).await.ok(200);
    assert_eq!(listed["items"], json!([]));
    let guide_role = fixtures::role(app, &admin, "guide", &["members:read", "members:write"]).await;
    let guide = fixtures::staff(
        app,
        &admin,
        "guide-1",
        &guide_role,
        json!({ "kind": "own_members", "store_ids": [id(&s1)] }),
    )
    .await;
    let guide_token = app.login("guide-1", fixtures::STAFF_PASSWORD).await;
    let (status, own) = register(
        app,
        &guide_token,
        json!({ "identifiers": [phone("13800138003")], "store_id": id(&s1) }),
    )
    .await;
    assert_eq!(status, 201, "{own}");
    assert_eq!(
        own["guide_id"], guide["id"],
        "a guide's registrations are attributed to them"
    );
    let mine = app.get("members", &guide_token).await.ok(200);
    assert_eq!(ids(mine["items"].as_array().unwrap()), [id(&own)]);
    app.get(&format!("members/{}", id(&at_s1)), &guide_token)
        .await
        .problem(404, "not_found");
}

async fn parallel_registrations_of_one_phone_make_one_member(app: &TestApp) {
    let admin = app.admin_token().await;
    let mini = fixtures::channel(app, &admin, None, "mini").await;
    let pos = fixtures::channel(app, &admin, None, "pos").await;
    let keys = [
        fixtures::api_key(app, &admin, &mini, None).await["key"]
            .as_str()
            .unwrap()
            .to_owned(),
        fixtures::api_key(app, &admin, &pos, None).await["key"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    for round in 0..5 {
        let number = format!("1380013{round:04}");
        let mut tasks = Vec::new();
        for attempt in 0..16 {
            let (client, url, key) = (
                app.client.clone(),
                app.url("members"),
                keys[attempt % 2].clone(),
            );
            let body = json!({ "identifiers": [phone(&number), { "kind": "device_id", "value": format!("d{attempt}") }] });
            tasks.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            }));
        }
        let mut statuses = Vec::new();
        let mut members = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            statuses.push(status);
            members.insert(
                body["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no id: {body}"))
                    .to_owned(),
            );
        }
        assert_eq!(members.len(), 1, "one member for one phone: {statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 200),
            "{statuses:?}"
        );
    }
    let all = app.list_all("members", &admin, 50).await;
    assert_eq!(all.len(), 5);
}
