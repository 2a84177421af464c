//! Operations endpoints outside `/api/v1`: liveness, readiness, metrics, the OpenAPI document
//! and the docs page (a Redoc viewer vendored from npm and embedded, so it works offline).

use crate::app::error::{ApiError, ErrorCode};
use crate::app::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc.standalone.js");

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .routes(routes!(docs))
        .routes(routes!(redoc_js))
}

/// The rendered OpenAPI document, handed to its own route as an extension.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "Unavailable", body = crate::http::problem::Problem)))]
async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => {
            Json(json!({ "status": "ready", "database": app.store.backend_name() })).into_response()
        }
        Err(error) => ApiError {
            cause: Some(error.to_string()),
            ..ApiError::new(ErrorCode::Unavailable)
        }
        .into_response(),
    }
}

/// Prometheus metrics: request counts and latency histograms by route and status.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "OK", content_type = "text/plain", body = String)))]
async fn metrics(State(app): State<AppState>) -> Response {
    match app.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "OK", content_type = "application/json", body = Object)))]
async fn openapi(Extension(OpenApiJson(document)): Extension<OpenApiJson>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.as_str().to_owned(),
    )
        .into_response()
}

/// The API reference page.
#[utoipa::path(get, path = "/docs", tag = "operations", responses((status = 200, description = "OK", content_type = "text/html", body = String)))]
async fn docs() -> Html<&'static str> {
    Html(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Huiyuan API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/api/openapi.json"></redoc>
  <script src="/docs/redoc.standalone.js"></script>
</body>
</html>"#,
    )
}

/// The reference page's viewer script (Redoc, embedded).
#[utoipa::path(get, path = "/docs/redoc.standalone.js", tag = "operations", responses((status = 200, description = "OK", content_type = "application/javascript", body = String)))]
async fn redoc_js() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/javascript"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC_JS,
    )
        .into_response()
}
