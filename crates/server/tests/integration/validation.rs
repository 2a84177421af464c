//! Input the server refuses, and how: broken JSON, wrong shapes, unknown fields, empty and
//! duplicate values, other media types, bad page parameters; and pages that cover a list once.

use crate::fixtures;
use crate::support::{TestApp, id, ids, send};
use reqwest::Method;
use serde_json::json;

on_both!(
    bad_input_is_refused_precisely,
    pages_cover_a_list_exactly_once
);

async fn bad_input_is_refused_precisely(app: &TestApp) {
    let admin = app.admin_token().await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.request(Method::POST, "formats", &admin)
            .header("content-type", content_type)
            .body(body)
    };

    send(raw(r#"{"code": "x", "#, "application/json"))
        .await
        .problem(400, "invalid_json");
    send(raw(
        r#"{"code": "x", "name": "y"} trailing"#,
        "application/json",
    ))
    .await
    .problem(400, "invalid_json");
    let wrong_type = json!({ "code": 5, "name": "Retail" });
    let refused = app
        .post("formats", &admin, wrong_type)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "code", "{refused}");
    let nested = json!({ "code": "c1", "name": "C", "kind": "carrier-pigeon" });
    let refused = app
        .post("channels", &admin, nested)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "kind", "{refused}");
    let unknown = json!({ "code": "retail", "name": "Retail", "colour": "red" });
    let refused = app
        .post("formats", &admin, unknown)
        .await
        .problem(422, "validation_failed");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("colour"),
        "{refused}"
    );
    let missing = json!({ "code": "retail" });
    app.post("formats", &admin, missing)
        .await
        .problem(422, "validation_failed");

    let empty_name = json!({ "code": "retail", "name": "   " });
    let refused = app
        .post("formats", &admin, empty_name)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "name", "{refused}");
    // Every bad field is reported at once.
    let both = json!({ "code": "not a code!", "name": "" });
    let refused = app
        .post("formats", &admin, both)
        .await
        .problem(422, "validation_failed");
    let fields: Vec<_> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, vec![json!("code"), json!("name")], "{refused}");

    let format = fixtures::format(app, &admin, "retail").await;
    let duplicate = json!({ "code": "retail", "name": "Again" });
    let refused = app
        .post("formats", &admin, duplicate)
        .await
        .problem(409, "conflict");
    assert_eq!(refused["errors"][0]["field"], "code", "{refused}");
    assert_eq!(refused["errors"][0]["code"], "already_exists", "{refused}");
    fixtures::store(app, &admin, &format, "s1").await;
    let duplicate = json!({ "format_id": id(&format), "code": "s1", "name": "Again" });
    let refused = app
        .post("stores", &admin, duplicate)
        .await
        .problem(409, "conflict");
    assert_eq!(refused["errors"][0]["code"], "already_exists", "{refused}");

    send(raw(r#"{"code": "other", "name": "Other"}"#, "text/plain"))
        .await
        .problem(415, "unsupported_media_type");
    // The limit on bodies holds.
    let huge = "x".repeat(app.state.settings.max_body_bytes + 1);
    let too_big = app
        .request(Method::POST, "formats", &admin)
        .header("content-type", "application/json")
        .body(huge);
    send(too_big).await.problem(413, "payload_too_large");

    app.get("formats?cursor=!!not-a-cursor", &admin)
        .await
        .problem(422, "validation_failed");
    let refused = app
        .get("formats?limit=0", &admin)
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "limit", "{refused}");
    app.get("formats?limit=201", &admin)
        .await
        .problem(422, "validation_failed");
    app.get("formats?limit=many", &admin)
        .await
        .problem(422, "validation_failed");
    // An id that cannot exist is simply not found; a wrong method is 405.
    app.get("formats/not-a-uuid", &admin)
        .await
        .problem(404, "not_found");
    send(app.request(Method::PUT, "formats", &admin))
        .await
        .problem(405, "method_not_allowed");
    // Nothing of the refused requests was written.
    assert_eq!(app.list_all("formats", &admin, 50).await.len(), 1);
}

async fn pages_cover_a_list_exactly_once(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut created = Vec::new();
    for n in 0..7 {
        created.push(id(&fixtures::channel(
            app,
            &admin,
            None,
            &format!("ch-{n}"),
        )
        .await));
    }
    let first = app.get("channels?limit=3", &admin).await.ok(200);
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = app
        .get(&format!("channels?limit=3&cursor={cursor}"), &admin)
        .await
        .ok(200);
    assert_eq!(second["items"].as_array().unwrap().len(), 3);
    let cursor = second["next_cursor"].as_str().expect("a third page");
    let third = app
        .get(&format!("channels?limit=3&cursor={cursor}"), &admin)
        .await
        .ok(200);
    assert_eq!(third["items"].as_array().unwrap().len(), 1);
    assert!(third["next_cursor"].is_null(), "the last page: {third}");

    let mut seen: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|page| ids(page["items"].as_array().unwrap()))
        .collect();
    let in_order = seen.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "each channel exactly once: {in_order:?}");
    created.sort();
    assert_eq!(seen, created);
    // The pages come in id order, oldest first.
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_eq!(in_order, sorted);
    assert_eq!(ids(&app.list_all("channels", &admin, 7).await), in_order);
}
