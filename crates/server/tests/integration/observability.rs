//! What operators rely on: API key use is recorded, and client request ids are kept only when usable.

use crate::fixtures;
use crate::support::{TestApp, send};
use reqwest::Method;
use std::time::{Duration, Instant};

on_both!(
    an_api_key_records_its_last_use,
    unusable_request_ids_are_replaced
);

async fn an_api_key_records_its_last_use(app: &TestApp) {
    let admin = app.admin_token().await;
    let channel = fixtures::channel(app, &admin, None, "pos").await;
    let created = fixtures::api_key(app, &admin, &channel, None).await;
    let key = created["key"].as_str().expect("key").to_owned();
    let key_id = created["api_key"]["id"].as_str().expect("id").to_owned();
    assert!(created["api_key"]["last_used_at"].is_null(), "unused yet");

    app.get("auth/me", &key).await.ok(200);
    // The use is written off the request path; it lands within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let record = app.get(&format!("api-keys/{key_id}"), &admin).await.ok(200);
        if record["last_used_at"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "last_used_at never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn unusable_request_ids_are_replaced(app: &TestApp) {
    let admin = app.admin_token().await;
    let kept = send(
        app.request(Method::GET, "auth/me", &admin)
            .header("x-request-id", "till-7-req-42"),
    )
    .await;
    assert_eq!(kept.header("x-request-id"), "till-7-req-42");
    let long = "x".repeat(10_000);
    let replaced = send(
        app.request(Method::GET, "auth/me", &admin)
            .header("x-request-id", long.as_str()),
    )
    .await;
    let id = replaced.header("x-request-id");
    assert!(
        !id.is_empty() && id.len() <= 128,
        "a fresh id replaces an overlong one: {} chars",
        id.len()
    );
}
