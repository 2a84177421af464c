//! Operations endpoints, the OpenAPI document, request ids, metrics and the 404 fallback.

use crate::support::TestApp;
use reqwest::Method;

on_both!(operations_endpoints_answer, openapi_documents_every_route);

/// Every route the server serves, as the OpenAPI document names it.
const ROUTES: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    "/api/v1/auth/me",
    "/api/v1/formats",
    "/api/v1/formats/{id}",
    "/api/v1/stores",
    "/api/v1/stores/{id}",
    "/api/v1/channels",
    "/api/v1/channels/{id}",
    "/api/v1/roles",
    "/api/v1/roles/{id}",
    "/api/v1/staff",
    "/api/v1/staff/{id}",
    "/api/v1/staff/{id}/password",
    "/api/v1/api-keys",
    "/api/v1/api-keys/{id}",
    "/api/v1/audit-log",
    "/api/v1/coupon-templates",
    "/api/v1/coupon-templates/{id}",
    "/api/v1/coupon-templates/{id}/archive",
    "/api/v1/coupons",
    "/api/v1/coupons/issue",
    "/api/v1/members/{id}/coupons",
    "/api/v1/coupon-redemptions",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/api/openapi.json",
];

async fn operations_endpoints_answer(app: &TestApp) {
    let health = app.get("/healthz", "").await;
    assert_eq!(health.status, 200);
    assert!(!health.header("x-request-id").is_empty(), "a request id");

    let ready = app.get("/readyz", "").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert!(!ready.header("x-request-id").is_empty(), "a request id");

    let docs = app.get("/docs", "").await;
    assert_eq!(docs.status, 200);
    assert!(docs.header("content-type").starts_with("text/html"));
    assert!(docs.text.contains("<html"), "{}", docs.text);
    assert!(!docs.header("x-request-id").is_empty(), "a request id");

    let metrics = app.get("/metrics", "").await;
    assert_eq!(metrics.status, 200);
    assert!(!metrics.header("x-request-id").is_empty(), "a request id");
    let counted = metrics.text.lines().any(|line| {
        line.starts_with("huiyuan_http_requests_total") && line.contains("route=\"/healthz\"")
    });
    assert!(
        counted,
        "the health call is counted by route:\n{}",
        metrics.text
    );

    // A request id the client sends comes back unchanged.
    let mine = app
        .request(Method::GET, "/healthz", "")
        .header("x-request-id", "client-chosen-id-1");
    assert_eq!(
        crate::support::send(mine).await.header("x-request-id"),
        "client-chosen-id-1"
    );

    let missing = app.get("/no/such/path", "").await;
    assert!(!missing.header("x-request-id").is_empty(), "a request id");
    missing.problem(404, "not_found");
    let missing_api = app.get("api/v1/nothing-here", "").await;
    assert!(
        !missing_api.header("x-request-id").is_empty(),
        "a request id"
    );
    missing_api.problem(404, "not_found");
}

async fn openapi_documents_every_route(app: &TestApp) {
    let reply = app.get("/api/openapi.json", "").await;
    assert!(!reply.header("x-request-id").is_empty(), "a request id");
    let document = reply.ok(200);
    let version = document["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI {version}");
    let paths = document["paths"].as_object().expect("paths");
    for route in ROUTES {
        assert!(
            paths.contains_key(*route),
            "{route} is documented; paths: {:?}",
            paths.keys()
        );
    }
    // Each documented route is really routed: without a token it answers 401 (or 405 for a
    // method it lacks, or 200 for public ones), never the fallback's 404.
    for route in ROUTES {
        let path = route.replace("{id}", &uuid::Uuid::now_v7().to_string());
        let reply = app.get(&path, "").await;
        assert!(
            !reply.header("x-request-id").is_empty(),
            "a request id on {path}"
        );
        assert!(
            matches!(reply.status, 200 | 401 | 405),
            "GET {path} answered {}: {}",
            reply.status,
            reply.text
        );
    }
}
