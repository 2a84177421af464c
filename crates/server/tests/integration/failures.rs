//! Every failure a client can see is problem+json with a stable `code`, whichever layer produces
//! it: the timeout, and extractors outside the write envelope.

use crate::support::{ADMIN_PASSWORD, TestApp, send};
use huiyuan_domain::ids::FormatId;
use huiyuan_domain::org::{Code, Format, Name};
use huiyuan_store::{org, utc_now};
use reqwest::Method;
use serde_json::json;

on_both!(
    a_timed_out_request_is_a_problem,
    an_oversized_login_is_a_problem,
);

/// A write that waits on a lock held past the request timeout is answered 503 `unavailable`.
async fn a_timed_out_request_is_a_problem(app: &TestApp) {
    let Some(slow) = TestApp::spawn_with(app.backend, |s| s.request_timeout_secs = 1).await else {
        return;
    };
    let admin = slow.admin_token().await;
    // An uncommitted format holds the SQLite writer, or the code's unique index on PostgreSQL.
    let mut blocker = slow.state.store.write().await.expect("a write transaction");
    let now = utc_now();
    let format = Format {
        id: FormatId::new(),
        code: Code::from_trusted("held".to_owned()),
        name: Name::from_trusted("Held".to_owned()),
        archived: false,
        created_at: now,
        updated_at: now,
    };
    org::insert_format(&mut blocker, slow.default_tenant.id, &format)
        .await
        .expect("insert");
    let reply = slow
        .post("formats", &admin, json!({ "code": "held", "name": "Held" }))
        .await;
    drop(blocker);
    assert!(!reply.header("x-request-id").is_empty(), "a request id");
    reply.problem(503, "unavailable");
    slow.stop().await;
}

async fn an_oversized_login_is_a_problem(app: &TestApp) {
    let padding = "x".repeat(app.state.settings.max_body_bytes + 1);
    let body = json!({ "username": "admin", "password": ADMIN_PASSWORD, "padding": padding });
    let reply = send(app.request(Method::POST, "auth/login", "").json(&body)).await;
    reply.problem(413, "payload_too_large");
}
