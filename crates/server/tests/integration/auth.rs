//! Logging in and out, bearer tokens, the failed-login limit and session expiry.

use crate::support::{ADMIN_PASSWORD, TestApp, send};
use reqwest::Method;
use serde_json::json;

on_both!(
    login_answers_a_token,
    wrong_credentials_are_refused_alike,
    repeated_failures_are_rate_limited,
    logout_ends_the_session,
    bad_bearer_tokens_are_refused,
    expired_sessions_are_refused,
);

async fn login_answers_a_token(app: &TestApp) {
    let body = json!({ "username": "admin", "password": ADMIN_PASSWORD });
    let login = app.post("auth/login", "", body).await.ok(200);
    let token = login["token"].as_str().expect("a token");
    assert!(token.starts_with("hys_"), "{token}");
    let expires_at = login["expires_at"].as_str().expect("expires_at");
    let expires_at =
        time::OffsetDateTime::parse(expires_at, &time::format_description::well_known::Rfc3339)
            .expect("expires_at is RFC 3339");
    assert!(expires_at > time::OffsetDateTime::now_utc(), "{expires_at}");
    assert_eq!(login["tenant_id"], app.default_tenant.id.to_string());
    let me = app.get("auth/me", token).await.ok(200);
    assert_eq!(me["actor_id"], login["staff_id"]);
    // Usernames are case-insensitive; the tenant may be named.
    let body = json!({ "tenant": "default", "username": " ADMIN ", "password": ADMIN_PASSWORD });
    app.post("auth/login", "", body).await.ok(200);
}

async fn wrong_credentials_are_refused_alike(app: &TestApp) {
    let wrong_password = json!({ "username": "admin", "password": "not-the-password" });
    let a = app
        .post("auth/login", "", wrong_password)
        .await
        .problem(401, "invalid_credentials");
    let unknown_user = json!({ "username": "nobody", "password": ADMIN_PASSWORD });
    let b = app
        .post("auth/login", "", unknown_user)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(a, b, "the two failures must not be told apart");
    let unknown_tenant =
        json!({ "tenant": "nope", "username": "admin", "password": ADMIN_PASSWORD });
    let c = app
        .post("auth/login", "", unknown_tenant)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(a, c);
}

async fn repeated_failures_are_rate_limited(app: &TestApp) {
    let max_failures = app.state.settings.login_max_failures;
    assert_eq!(max_failures, 5, "the default limit");
    let wrong = json!({ "username": "admin", "password": "not-the-password" });
    for _ in 0..max_failures {
        app.post("auth/login", "", wrong.clone())
            .await
            .problem(401, "invalid_credentials");
    }
    // Now even the right password is refused, with a hint when to retry.
    let right = json!({ "username": "admin", "password": ADMIN_PASSWORD });
    let limited = app.post("auth/login", "", right).await;
    let retry_after: u64 = limited
        .header("retry-after")
        .parse()
        .expect("a Retry-After in seconds");
    assert!((1..=app.state.settings.login_window_secs).contains(&retry_after));
    limited.problem(429, "rate_limited");
    // Other accounts are not affected.
    let other = json!({ "username": "someone-else", "password": "not-the-password" });
    app.post("auth/login", "", other)
        .await
        .problem(401, "invalid_credentials");
}

async fn logout_ends_the_session(app: &TestApp) {
    let token = app.admin_token().await;
    let other = app.admin_token().await;
    let logout = send(app.request(Method::POST, "auth/logout", &token)).await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    app.get("auth/me", &token)
        .await
        .problem(401, "unauthenticated");
    let again = send(app.request(Method::POST, "auth/logout", &token)).await;
    again.problem(401, "unauthenticated");
    // Only that session ended.
    app.get("auth/me", &other).await.ok(200);
    let ended = app
        .list_all("audit-log?action=session.revoked", &other, 50)
        .await;
    assert_eq!(ended.len(), 1, "{ended:#?}");
}

async fn bad_bearer_tokens_are_refused(app: &TestApp) {
    app.get("auth/me", "").await.problem(401, "unauthenticated");
    app.get("formats", "").await.problem(401, "unauthenticated");
    app.get("auth/me", "garbage")
        .await
        .problem(401, "unauthenticated");
    let token = app.admin_token().await;
    let basic = app
        .request(Method::GET, "auth/me", "")
        .header("authorization", format!("Basic {token}"));
    send(basic).await.problem(401, "unauthenticated");
    // Well-formed but unknown: one changed hex digit.
    let mut forged = token.clone();
    let last = forged.pop().expect("a character");
    forged.push(if last == '0' { '1' } else { '0' });
    app.get("auth/me", &forged)
        .await
        .problem(401, "unauthenticated");
    // A session token offered as an API key (and the other way round) is unknown.
    let as_key = token.replacen("hys_", "hyk_", 1);
    app.get("auth/me", &as_key)
        .await
        .problem(401, "unauthenticated");
    app.get("auth/me", &token).await.ok(200);
}

async fn expired_sessions_are_refused(app: &TestApp) {
    let Some(short) =
        TestApp::spawn_with(app.backend, |settings| settings.session_ttl_minutes = 0).await
    else {
        return;
    };
    let login = short
        .post(
            "auth/login",
            "",
            json!({ "username": "admin", "password": ADMIN_PASSWORD }),
        )
        .await
        .ok(200);
    let token = login["token"].as_str().expect("a token");
    short
        .get("auth/me", token)
        .await
        .problem(401, "unauthenticated");
    short.stop().await;
}
