//! Assembles the service: routes, then the layers every request passes through (request id,
//! tracing span, metrics, panic guard, timeout, body limit), and serves it on a bound listener
//! until the shutdown future resolves.

use crate::app::error::{ApiError, ErrorCode};

use crate::app::state::AppState;
use crate::telemetry;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::middleware;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The complete HTTP service for `state`.
pub fn build_app(state: AppState) -> Router {
    let (routes, _) = crate::http::build();
    let request_id = axum::http::HeaderName::from_static(crate::http::extract::REQUEST_ID_HEADER);
    routes
        .fallback(|| async { ApiError::new(ErrorCode::NotFound) })
        .method_not_allowed_fallback(|| async { ApiError::new(ErrorCode::MethodNotAllowed) })
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.settings.request_timeout(), deadline))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), telemetry::observe))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get(crate::http::extract::REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
}

/// Answers 503 in our problem format when a request runs past its time; dropping the handler's
/// future rolls back any open transaction.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::with_detail(ErrorCode::Unavailable, "the request took too long")
            .into_response(),
    }
}

/// Longest client-supplied request id kept; longer or non-printable ones are replaced.
const REQUEST_ID_MAX_LEN: usize = 128;

/// A client may send its own `x-request-id` to correlate logs, but an unusable one (too long,
/// not printable ASCII) is dropped so the next layer generates a fresh id.
async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let usable = request
        .headers()
        .get(crate::http::extract::REQUEST_ID_HEADER)
        .map(|value| {
            let bytes = value.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= REQUEST_ID_MAX_LEN
                && bytes.iter().all(u8::is_ascii_graphic)
        });
    if usable == Some(false) {
        request
            .headers_mut()
            .remove(crate::http::extract::REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// Serves until `shutdown` resolves, then stops accepting and lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
