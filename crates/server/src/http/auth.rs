//! `/api/v1/auth`: staff login and logout, and who the caller is.

use crate::app::credentials::login;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{Caller, Command, PublicJson};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use huiyuan_domain::auth::{DataScope, PermissionSet};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant slug; the deployment's default tenant when absent.
    pub tenant: Option<String>,
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the `Authorization` header.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub tenant_id: Uuid,
    pub staff_id: Uuid,
}

/// Log in with username and password; answers a bearer token. Repeated failures for one account
/// are refused with 429 for a while.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "OK", body = LoginResponse), (status = 401, description = "Not authenticated", body = crate::http::problem::Problem),
        (status = 429, description = "Too many attempts", body = crate::http::problem::Problem)))]
async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    PublicJson(request): PublicJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let request_id = headers
        .get(crate::http::extract::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let LoginRequest {
        tenant,
        username,
        password,
    } = request;
    let done = login::login(&app, tenant, &username, password, request_id).await?;
    Ok(Json(LoginResponse {
        token: done.token,
        expires_at: done.expires_at,
        tenant_id: done.tenant_id.0,
        staff_id: done.staff_id.0,
    }))
}

/// End the current staff session; the token stops working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "No content"), (status = 401, description = "Not authenticated", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn logout(
    State(app): State<AppState>,
    command: Command<serde_json::Value>,
) -> ApiResult<StatusCode> {
    let Command { caller, meta, .. } = command;
    login::logout(&app, &caller, meta.request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant_id: Uuid,
    /// `staff` or `api_key`.
    pub actor_kind: &'static str,
    pub actor_id: Option<Uuid>,
    pub permissions: PermissionSet,
    pub scope: DataScope,
}

/// Who the caller is: tenant, account, permissions and data scope.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "OK", body = Me), (status = 401, description = "Not authenticated", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn me(Caller(caller): Caller) -> Json<Me> {
    Json(Me {
        tenant_id: caller.tenant_id.0,
        actor_kind: caller.actor.kind(),
        actor_id: caller.actor.actor_id(),
        permissions: caller.permissions,
        scope: caller.scope,
    })
}
