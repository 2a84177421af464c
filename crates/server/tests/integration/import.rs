//! Bulk import of legacy members over HTTP (`POST /api/v1/members/import`): rows become members
//! exactly as registration makes them, fold into members named by their identifiers (within the
//! file and against registered members), probable duplicates are reported and never merged,
//! rejects carry their line and reason, a re-run changes nothing, and the endpoint is idempotent,
//! permissioned and scoped.

use crate::fixtures;
use crate::support::{TestApp, id};
use huiyuan_domain::identity::MemberNo;
use serde_json::{Value, json};

on_both!(
    rows_become_members_like_registrations,
    rows_naming_one_member_fold_into_it,
    rows_merge_into_registered_members,
    probable_duplicates_are_reported_not_merged,
    rejects_name_their_line_and_reason,
    rerunning_a_file_changes_nothing,
    the_bulk_api_is_idempotent_and_has_a_dry_run,
    importing_needs_members_write_and_respects_scopes,
    unusable_files_are_refused,
);

async fn import(app: &TestApp, token: &str, csv: &str) -> Value {
    app.post("members/import", token, json!({ "csv": csv }))
        .await
        .ok(200)
}

/// The one member a look-up query finds.
async fn member(app: &TestApp, token: &str, query: &str) -> Value {
    let found = app.get(&format!("members?{query}"), token).await.ok(200);
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{query}: {found}");
    items[0].clone()
}

fn identifier_values(member: &Value) -> Vec<(String, String, bool)> {
    let mut values: Vec<(String, String, bool)> = member["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["value"].as_str().unwrap().to_owned(),
                i["matchable"].as_bool().unwrap(),
            )
        })
        .collect();
    values.sort();
    values
}

fn counts(report: &Value) -> [u64; 7] {
    let c = &report["counts"];
    [
        "rows",
        "created",
        "merged",
        "unchanged",
        "rejected",
        "duplicates_in_file",
        "probable_duplicates",
    ]
    .map(|name| {
        c[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} in {report}"))
    })
}

async fn rows_become_members_like_registrations(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let store = fixtures::store(app, &admin, &format, "sh-001").await;
    let csv = "手机号,姓名,性别,生日,省份,城市,区县,地址,卡号,会员编号,email,unionid,身份证号,门店编码,备注\n\
        +86 138-0013-8000, 张三 ,男,1990/5/1,上海,上海,黄浦区,南京东路1号,C-0001,L-0001,Zhang.San@Example.COM,union-1,11010519491231002x,sh-001,VIP\n";
    let report = import(app, &admin, csv).await;
    assert_eq!(counts(&report), [1, 1, 0, 0, 0, 0, 0], "{report}");
    let columns: Vec<(&str, Option<&str>)> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["header"].as_str().unwrap(), c["field"].as_str()))
        .collect();
    assert_eq!(columns[0], ("手机号", Some("phone")));
    assert_eq!(columns[14], ("备注", None), "unknown headers are ignored");

    // The same member registration would have made: normalised, sealed, searchable.
    let imported = member(app, &admin, "phone=13800138000").await;
    assert!(MemberNo::parse("member_no", imported["member_no"].as_str().unwrap()).is_ok());
    assert_eq!(imported["referral_code"].as_str().unwrap().len(), 8);
    assert_eq!(imported["status"], "active");
    assert_eq!(
        imported["profile"],
        json!({
            "name": "张三", "gender": "male", "birthday": "1990-05-01", "province": "上海", "city": "上海",
            "district": "黄浦区", "address": "南京东路1号", "id_card_no": "11010519491231002X",
        })
    );
    assert_eq!(
        identifier_values(&imported),
        [
            ("card_no".to_owned(), "C-0001".to_owned(), true),
            ("email".to_owned(), "zhang.san@example.com".to_owned(), true),
            ("legacy_id".to_owned(), "L-0001".to_owned(), true),
            ("phone".to_owned(), "+8613800138000".to_owned(), true),
            ("wechat_unionid".to_owned(), "union-1".to_owned(), true),
        ]
    );
    assert_eq!(imported["source"]["store_id"], id(&store).as_str());
    assert_eq!(imported["source"]["format_id"], id(&format).as_str());
    for query in [
        "email=zhang.san@example.com",
        "card_no=C-0001",
        "legacy_id=L-0001",
        "unionid=union-1",
        "name=%E5%BC%A0",
    ] {
        assert_eq!(
            member(app, &admin, query).await["id"],
            imported["id"],
            "{query}"
        );
    }
    // Registration by any imported identifier finds the imported member.
    let again = json!({ "identifiers": [{ "kind": "card_no", "value": "C-0001" }] });
    assert_eq!(
        app.post("members", &admin, again).await.ok(200)["id"],
        imported["id"]
    );

    // Numbers continue the registration sequence.
    let registered = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [{ "kind": "phone", "value": "13900139000" }] }),
        )
        .await
        .ok(201);
    let seq = |member: &Value| {
        member["member_no"].as_str().unwrap()[..8]
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(seq(&registered), seq(&imported) + 1);

    // One audit entry for the batch, naming the member, without personal data.
    let audit = app
        .get("audit-log?action=member.imported", &admin)
        .await
        .ok(200);
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["target_type"], "member_import");
    assert_eq!(entries[0]["target_id"], report["run_id"]);
    assert_eq!(entries[0]["actor_kind"], "staff");
    assert_eq!(entries[0]["summary"]["created"], json!([imported["id"]]));
    assert!(
        !entries[0].to_string().contains("张三") && !entries[0].to_string().contains("13800138000"),
        "no personal data in the audit log: {}",
        entries[0]
    );
}

async fn rows_naming_one_member_fold_into_it(app: &TestApp) {
    let admin = app.admin_token().await;
    let csv = "phone,name,birthday,card_no,legacy_id,email\n\
        13800138000,李雷,,C1,,\n\
        008613800138000,,1985-02-03,,L1,\n\
        ,,,C1,,li@example.com\n\
        13900139000,韩梅梅,,C2,,\n\
        ,,,C2,L1,\n\
        13800138000,李雷,,,,\n";
    let report = import(app, &admin, csv).await;
    assert_eq!(counts(&report), [6, 2, 2, 1, 1, 3, 0], "{report}");
    let li = member(app, &admin, "phone=13800138000").await;
    let han = member(app, &admin, "phone=13900139000").await;
    assert_eq!(
        li["profile"]["birthday"], "1985-02-03",
        "a later row fills the gap"
    );
    assert_eq!(
        identifier_values(&li)
            .into_iter()
            .map(|(kind, value, _)| format!("{kind}:{value}"))
            .collect::<Vec<_>>(),
        [
            "card_no:C1",
            "email:li@example.com",
            "legacy_id:L1",
            "phone:+8613800138000"
        ]
    );
    let reject = &report["rejects"][0];
    assert_eq!(reject["line"], 6);
    assert_eq!(reject["code"], "conflicting_members");
    let reason = reject["reason"].as_str().unwrap();
    assert!(
        reason.contains(li["member_no"].as_str().unwrap())
            && reason.contains(han["member_no"].as_str().unwrap()),
        "{reason}"
    );
    let all = app.get("members", &admin).await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

async fn rows_merge_into_registered_members(app: &TestApp) {
    let admin = app.admin_token().await;
    let a = app
        .post(
            "members",
            &admin,
            json!({
                "identifiers": [{ "kind": "phone", "value": "13800138000" }, { "kind": "wechat_unionid", "value": "union-1" }],
                "profile": { "name": "王五", "city": "北京" },
            }),
        )
        .await
        .ok(201);
    let b = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [{ "kind": "phone", "value": "13700137000" }] }),
        )
        .await
        .ok(201);
    let csv = "phone,name,city,birthday,card_no,unionid\n\
        +8613800138000,王五六,上海,1990-05-01,C9,\n\
        13600136000,,,,C9,\n\
        13800138000,,,,,union-2\n\
        13800000000,赵六,,,,\n\
        13800000000,赵六,,,C10,\n\
        13700137000,,,,C9,\n";
    let report = import(app, &admin, csv).await;
    assert_eq!(counts(&report), [6, 1, 2, 1, 2, 2, 0], "{report}");

    let merged = member(
        app,
        &admin,
        &format!("member_no={}", a["member_no"].as_str().unwrap()),
    )
    .await;
    assert_eq!(merged["id"], a["id"]);
    assert_eq!(
        merged["profile"]["name"], "王五",
        "present values are never overwritten"
    );
    assert_eq!(merged["profile"]["city"], "北京");
    assert_eq!(
        merged["profile"]["birthday"], "1990-05-01",
        "missing ones are filled"
    );
    assert_eq!(
        identifier_values(&merged)
            .into_iter()
            .map(|(kind, value, _)| format!("{kind}:{value}"))
            .collect::<Vec<_>>(),
        [
            "card_no:C9",
            "phone:+8613600136000",
            "phone:+8613800138000",
            "wechat_unionid:union-1",
        ],
        "new identifiers bound; a second unionid is over its limit of one"
    );
    // Bound identifiers match as registration's do.
    let again = json!({ "identifiers": [{ "kind": "card_no", "value": "C9" }] });
    assert_eq!(
        app.post("members", &admin, again).await.ok(200)["id"],
        a["id"]
    );

    let rejects: Vec<(u64, &str)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejects,
        [(5, "no_matchable_identifier"), (7, "conflicting_members")],
        "a blocked phone alone identifies nobody; a row naming two members is refused"
    );
    // A blocked phone beside a real identifier is kept, but never matches.
    let zhao = member(app, &admin, "card_no=C10").await;
    assert!(identifier_values(&zhao).contains(&(
        "phone".to_owned(),
        "+8613800000000".to_owned(),
        false
    )));
    assert_eq!(
        member(app, &admin, "phone=13700137000").await["id"],
        b["id"]
    );
}

async fn probable_duplicates_are_reported_not_merged(app: &TestApp) {
    let admin = app.admin_token().await;
    let zhang = app
        .post(
            "members",
            &admin,
            json!({
                "identifiers": [{ "kind": "phone", "value": "13800138000" }],
                "profile": { "name": "张三", "birthday": "1990-05-01", "address": "上海市南京东路1号" },
            }),
        )
        .await
        .ok(201);
    let csv = "phone,name,birthday,address\n\
        13900139000,张三,1990/5/1,\n\
        13700137000,张三丰,,上海市南京东路1号\n\
        13600136000,李四,1985-01-01,北京路2号\n\
        13500135000,李四,1985-01-01,\n\
        13400134000,王五,,北京路2号\n\
        13300133000,张三,1991-05-01,\n";
    let report = import(app, &admin, csv).await;
    assert_eq!(counts(&report), [6, 6, 0, 0, 0, 0, 3], "{report}");
    let found: Vec<(u64, &str, &str, Option<u64>)> = report["probable_duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["reason"].as_str().unwrap(),
                d["candidate_id"].as_str().unwrap(),
                d["candidate_line"].as_u64(),
            )
        })
        .collect();
    let li = member(app, &admin, "phone=13600136000").await;
    assert_eq!(
        found,
        [
            (
                2,
                "same_name_and_birthday",
                zhang["id"].as_str().unwrap(),
                None
            ),
            (
                3,
                "similar_name_and_same_address",
                zhang["id"].as_str().unwrap(),
                None
            ),
            (
                5,
                "same_name_and_birthday",
                li["id"].as_str().unwrap(),
                Some(4)
            ),
        ],
        "{report}"
    );
    // Reported, not merged: every row is its own member.
    let all = app.get("members?limit=50", &admin).await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    for phone in ["13900139000", "13700137000"] {
        assert_ne!(
            member(app, &admin, &format!("phone={phone}")).await["id"],
            zhang["id"]
        );
    }
}

async fn rejects_name_their_line_and_reason(app: &TestApp) {
    let admin = app.admin_token().await;
    let csv = "phone,name,gender,birthday,email\n\
        13800138000,张三,男,1990-05-01,\n\
        12345,李四,,,\n\
        13900139000,王五,x,,\n\
        \n\
        13700137000,\"赵\n六\",,,\n\
        13600136000,钱七,,2090-01-01,\n\
        ,孙八,,,\n\
        13500135000,周九,,,a@b.cn,extra\n\
        13400134000,吴十,女,19851303,not-an-email\n\
        NULL,郑十一,F,1988年8月8日,\n";
    let report = import(app, &admin, csv).await;
    assert_eq!(counts(&report), [9, 1, 0, 0, 8, 0, 0], "{report}");
    let rejects: Vec<(u64, &str, &str)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["code"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    let lines: Vec<(u64, &str)> = rejects.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        lines,
        [
            (3, "invalid_value"),
            (4, "invalid_value"),
            (6, "invalid_value"),
            (8, "invalid_value"),
            (9, "no_identifier"),
            (10, "malformed_row"),
            (11, "invalid_value"),
            (12, "no_identifier"),
        ],
        "the line where each row starts; the blank line 5 is skipped"
    );
    assert!(rejects[0].2.starts_with("phone:"), "{}", rejects[0].2);
    assert!(rejects[1].2.starts_with("gender:"), "{}", rejects[1].2);
    assert!(rejects[3].2.starts_with("birthday:"), "{}", rejects[3].2);
    let both = rejects[6].2;
    assert!(
        both.contains("email:") && both.contains("birthday:"),
        "every bad value: {both}"
    );
    assert_eq!(
        report["rejects"][2]["values"],
        json!(["13700137000", "赵\n六", "", "", ""]),
        "the row as read, for the reject file"
    );
    assert_eq!(report["rejects"][5]["values"].as_array().unwrap().len(), 6);
}

async fn rerunning_a_file_changes_nothing(app: &TestApp) {
    let admin = app.admin_token().await;
    app.post(
        "members",
        &admin,
        json!({ "identifiers": [{ "kind": "phone", "value": "13800138000" }] }),
    )
    .await
    .ok(201);
    let csv = "手机号,姓名,性别,生日,地址,卡号,会员编号\n\
        13800138000,张三,男,1990-05-01,南京路1号,C1,L1\n\
        13900139000,李四,女,1985/2/3,,C2,\n\
        +86 139 0013 9000,李四,女,,,,L2\n\
        13700137000,王五,M,19700101,,C3,L3\n\
        12345,坏行,,,,,\n\
        13600136000,李四,F,1985-02-03,,C4,\n";
    let first = import(app, &admin, csv).await;
    assert_eq!(counts(&first), [6, 3, 2, 0, 1, 1, 1], "{first}");
    let members_before = app.list_all("members", &admin, 50).await;
    let audit_before = app.list_all("audit-log", &admin, 50).await;
    let zhang_before = member(app, &admin, "phone=13800138000").await;

    let second = import(app, &admin, csv).await;
    assert_eq!(counts(&second), [6, 0, 0, 5, 1, 1, 0], "{second}");
    assert_eq!(second["rejects"][0]["line"], first["rejects"][0]["line"]);
    assert_eq!(app.list_all("members", &admin, 50).await, members_before);
    assert_eq!(
        app.list_all("audit-log", &admin, 50).await.len(),
        audit_before.len(),
        "nothing changed, nothing audited"
    );
    assert_eq!(member(app, &admin, "phone=13800138000").await, zhang_before);
}

async fn the_bulk_api_is_idempotent_and_has_a_dry_run(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({ "csv": "phone,name\n13800138000,张三\n13900139000,李四\n" });
    let dry = json!({ "csv": "phone,name\n13700137000,王五\n", "dry_run": true });
    let checked = app.post("members/import", &admin, dry).await.ok(200);
    assert_eq!(checked["dry_run"], true);
    assert_eq!(counts(&checked), [1, 1, 0, 0, 0, 0, 0]);
    let none = app.get("members?phone=13700137000", &admin).await.ok(200);
    assert_eq!(none["items"], json!([]), "a dry run writes nothing");

    let first = app
        .post_once("members/import", &admin, "import-1", body.clone())
        .await
        .ok(200);
    assert_eq!(counts(&first), [2, 2, 0, 0, 0, 0, 0]);
    let replay = app
        .post_once("members/import", &admin, "import-1", body)
        .await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    let replayed = replay.ok(200);
    assert_eq!(replayed["run_id"], first["run_id"]);
    assert_eq!(
        counts(&replayed),
        [2, 2, 0, 0, 0, 0, 0],
        "the first answer, not a re-run"
    );
    let other = json!({ "csv": "phone\n13600136000\n" });
    app.post_once("members/import", &admin, "import-1", other)
        .await
        .problem(422, "idempotency_key_reused");
    let audit = app
        .get("audit-log?action=member.imported", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

async fn importing_needs_members_write_and_respects_scopes(app: &TestApp) {
    let admin = app.admin_token().await;
    let body = json!({ "csv": "phone\n13800138000\n" });
    app.post("members/import", "", body.clone())
        .await
        .problem(401, "unauthenticated");
    let reader = fixtures::staff_login(
        app,
        &admin,
        "reader",
        &["members:read"],
        json!({ "kind": "tenant" }),
    )
    .await;
    let problem = app
        .post("members/import", &reader, body)
        .await
        .problem(403, "permission_denied");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("members:write")
    );

    let format = fixtures::format(app, &admin, "retail").await;
    let mine = fixtures::store(app, &admin, &format, "mine").await;
    fixtures::store(app, &admin, &format, "theirs").await;
    let elsewhere = app
        .post(
            "members",
            &admin,
            json!({ "identifiers": [{ "kind": "phone", "value": "13900139000" }] }),
        )
        .await
        .ok(201);
    let manager = fixtures::staff_login(
        app,
        &admin,
        "manager",
        &["members:read", "members:write"],
        json!({ "kind": "stores", "store_ids": [id(&mine)] }),
    )
    .await;
    let csv = "phone,store_code\n13800138000,mine\n13700137000,theirs\n13600136000,\n13900139000,mine\n13500135000,nowhere\n";
    let report = import(app, &manager, csv).await;
    assert_eq!(counts(&report), [5, 1, 0, 0, 4, 0, 0], "{report}");
    let codes: Vec<(u64, &str)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (3, "out_of_scope"),
            (4, "out_of_scope"),
            (5, "out_of_scope"),
            (6, "unknown_store")
        ]
    );
    let created = member(app, &admin, "phone=13800138000").await;
    assert_eq!(created["source"]["store_id"], id(&mine).as_str());
    assert_eq!(
        member(app, &admin, "phone=13900139000").await["identifiers"]
            .as_array()
            .unwrap()
            .len(),
        elsewhere["identifiers"].as_array().unwrap().len(),
        "a member outside the scope is left alone"
    );
}

async fn unusable_files_are_refused(app: &TestApp) {
    let admin = app.admin_token().await;
    refused(
        app,
        &admin,
        json!({ "csv": "name,city\n张三,上海\n" }),
        "csv",
        "no_identifier_column",
    )
    .await;
    refused(app, &admin, json!({ "csv": "" }), "csv", "required").await;
    refused(
        app,
        &admin,
        json!({ "csv": "phone,name\n1,2\n", "mapping": { "name": "nickname" } }),
        "mapping",
        "unknown_field",
    )
    .await;
    refused(
        app,
        &admin,
        json!({ "csv": "phone,name\n1,2\n", "mapping": { "mobile": "phone" } }),
        "mapping",
        "unknown_header",
    )
    .await;
    refused(
        app,
        &admin,
        json!({ "csv": "手机号,phone\n1,2\n" }),
        "mapping",
        "duplicate_field",
    )
    .await;
    app.post("members/import", &admin, json!({ "rows": [] }))
        .await
        .problem(422, "validation_failed");

    // A mapping makes other headers usable, and `ignore` silences a clash.
    let mapped = json!({
        "csv": "会员手机,客户名称,手机号\n13800138000,张三,x\n",
        "mapping": { "会员手机": "phone", "客户名称": "name", "手机号": "ignore" },
    });
    let report = app.post("members/import", &admin, mapped).await.ok(200);
    assert_eq!(counts(&report), [1, 1, 0, 0, 0, 0, 0], "{report}");
    assert_eq!(
        member(app, &admin, "phone=13800138000").await["profile"]["name"],
        "张三"
    );
}

async fn refused(app: &TestApp, token: &str, body: Value, field: &str, code: &str) {
    let problem = app
        .post("members/import", token, body.clone())
        .await
        .problem(422, "validation_failed");
    let error = &problem["errors"][0];
    assert_eq!(
        (error["field"].as_str(), error["code"].as_str()),
        (Some(field), Some(code)),
        "{body}: {problem}"
    );
}
