//! `/api/v1/auth`: staff login and logout, and who the caller is.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{Caller, Command, PublicJson};
use crate::mutation::Mutation;
use crate::secrets::{new_token, verify_password};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use huiyuan_domain::accounts::TokenKind;
use huiyuan_domain::auth::{Actor, DataScope, PermissionSet};
use huiyuan_domain::ids::SessionId;
use huiyuan_store::{auth, tenants, utc_now};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    responses((status = 200, description = "OK", body = LoginResponse), (status = 401, description = "Not authenticated", body = crate::error::Problem),
        (status = 429, description = "Too many attempts", body = crate::error::Problem)))]
async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    PublicJson(request): PublicJson<LoginRequest>,
) -> ApiResult<Response> {
    let slug = request
        .tenant
        .clone()
        .unwrap_or_else(|| app.settings.default_tenant.clone());
    let username = request.username.trim().to_ascii_lowercase();
    let account = format!("{slug}/{username}");
    if let Err(wait_secs) = app.login_limiter.check(&account) {
        return Err(ApiError {
            retry_after_secs: Some(wait_secs),
            ..ApiError::new(ErrorCode::RateLimited)
        });
    }
    let mut session = app.store.read().await?;
    let tenant = tenants::get_by_slug(&mut session, &slug).await?;
    let record = match &tenant {
        Some(tenant) => auth::find_login(&mut session, tenant.id, &username).await?,
        None => None,
    };
    drop(session);
    // Verify even for unknown accounts, so timing does not reveal which usernames exist.
    let hash = record.as_ref().map_or_else(
        || app.dummy_password_hash.to_string(),
        |r| r.password_hash.clone(),
    );
    let password_ok = verify_password(request.password, hash).await?;
    let (Some(tenant), Some(record)) = (tenant, record) else {
        app.login_limiter.record_failure(&account);
        return Err(ApiError::new(ErrorCode::InvalidCredentials));
    };
    if !password_ok || !record.active {
        app.login_limiter.record_failure(&account);
        tracing::warn!(tenant = %tenant.id, username, "failed login");
        return Err(ApiError::new(ErrorCode::InvalidCredentials));
    }
    app.login_limiter.record_success(&account);
    let (token, token_hash) = new_token(TokenKind::StaffSession, tenant.id);
    let session_id = SessionId::new();
    let request_id = headers
        .get(crate::extract::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = Actor::Staff {
        staff_id: record.staff_id,
        session_id,
    };
    let mut mutation = Mutation::begin(&app.store, tenant.id, actor, request_id).await?;
    let expires_at = mutation.now + app.settings.session_ttl();
    auth::insert_session(
        &mut mutation.session,
        tenant.id,
        session_id,
        record.staff_id,
        &token_hash,
        mutation.now,
        expires_at,
    )
    .await?;
    mutation
        .audit(
            "session.created",
            "session",
            session_id,
            json!({ "staff_id": record.staff_id, "expires_at": expires_at.unix_timestamp() }),
        )
        .await?;
    mutation.commit().await?;
    let response = LoginResponse {
        token,
        expires_at,
        tenant_id: tenant.id.0,
        staff_id: record.staff_id.0,
    };
    Ok((StatusCode::OK, Json(response)).into_response())
}

/// End the current staff session; the token stops working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "No content"), (status = 401, description = "Not authenticated", body = crate::error::Problem)), security(("bearer" = [])))]
async fn logout(
    State(app): State<AppState>,
    command: Command<serde_json::Value>,
) -> ApiResult<StatusCode> {
    let Command { caller, meta, .. } = command;
    let Actor::Staff { session_id, .. } = caller.actor else {
        return Err(ApiError::with_detail(
            ErrorCode::ValidationFailed,
            "only staff sessions log out; revoke API keys instead",
        ));
    };
    let mut mutation = Mutation::begin(
        &app.store,
        caller.tenant_id,
        caller.actor.clone(),
        meta.request_id,
    )
    .await?;
    if auth::revoke_session(
        &mut mutation.session,
        caller.tenant_id,
        session_id,
        utc_now(),
    )
    .await?
    {
        mutation
            .audit("session.revoked", "session", session_id, json!({}))
            .await?;
    }
    mutation.commit().await?;
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
    responses((status = 200, description = "OK", body = Me), (status = 401, description = "Not authenticated", body = crate::error::Problem)), security(("bearer" = [])))]
async fn me(Caller(caller): Caller) -> Json<Me> {
    Json(Me {
        tenant_id: caller.tenant_id.0,
        actor_kind: caller.actor.kind(),
        actor_id: caller.actor.actor_id(),
        permissions: caller.permissions,
        scope: caller.scope,
    })
}
