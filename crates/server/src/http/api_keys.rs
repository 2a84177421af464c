//! `/api/v1/api-keys`: channel API keys. The key is shown once, at creation; only its SHA-256 is
//! stored, and a replayed creation request answers without it.

use crate::app::credentials::api_keys::{self, create_api_key, parse_new_key};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::Permission;
use huiyuan_domain::credentials::ApiKey;
use huiyuan_domain::ids::{ApiKeyId, ChannelId, StoreId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(get_key, revoke_key))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub channel_id: ChannelId,
    /// Binds the key to one store: it then sees only that store's records.
    pub store_id: Option<StoreId>,
    /// Defaults to what a POS or mini-program integration needs.
    pub permissions: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// The key itself, shown only in the first response; replays omit it.
    pub key: Option<String>,
}

/// List API keys (never the keys themselves).
#[utoipa::path(get, path = "/api-keys", tag = "access", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<ApiKey>)), security(("bearer" = [])))]
async fn list_keys(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<ApiKey>>> {
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let listed = api_keys::list(&mut session, caller.tenant_id, page).await?;
    Ok(Json(listed.into()))
}

/// Create a channel API key; the response carries the key once.
#[utoipa::path(post, path = "/api-keys", tag = "access", request_body = CreateApiKey,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = CreatedApiKey), (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_key(
    State(app): State<AppState>,
    command: Command<CreateApiKey>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    let input = parse_new_key(
        &body.name,
        body.channel_id,
        body.store_id,
        body.permissions.as_deref(),
        &caller.permissions,
    )?;
    app.mutate_redacted(&caller, &meta, StatusCode::CREATED, forget_key, move |m| {
        Box::pin(async move {
            let (api_key, key) = create_api_key(m, input).await?;
            Ok(CreatedApiKey {
                api_key,
                key: Some(key),
            })
        })
    })
    .await
}

/// What is kept for replays: everything but the key.
fn forget_key(stored: &mut serde_json::Value) {
    if let Some(key) = stored.get_mut("key") {
        *key = serde_json::Value::Null;
    }
}

/// Get one API key's record.
#[utoipa::path(get, path = "/api-keys/{id}", tag = "access", params(("id" = ApiKeyId, Path)),
    responses((status = 200, description = "OK", body = ApiKey), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_key(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKey>> {
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    let mut session = app.store.read().await?;
    api_keys::get(&mut session, caller.tenant_id, id)
        .await
        .map(Json)
}

/// Revoke an API key; it stops working at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "access",
    params(("id" = ApiKeyId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = ApiKey), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn revoke_key(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { api_keys::revoke(m, id).await })
    })
    .await
}
