//! `/api/v1/api-keys`: channel API keys. The key is shown once, at creation; only its SHA-256 is
//! stored, and a replayed creation request answers without it.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::mutation::Mutation;
use crate::routes::common::{PageBody, PageQuery};
use crate::secrets::new_token;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::accounts::{ApiKey, TokenKind};
use huiyuan_domain::auth::{Permission, PermissionSet};
use huiyuan_domain::ids::{ApiKeyId, ChannelId, StoreId};
use huiyuan_domain::org::Name;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{auth, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
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

/// Validated input for a new key.
pub struct NewApiKey {
    pub name: Name,
    pub channel_id: ChannelId,
    pub store_id: Option<StoreId>,
    pub permissions: PermissionSet,
}

/// Creates a key in an open mutation (also used by `huiyuan api-key create`).
pub async fn create_api_key(m: &mut Mutation, input: NewApiKey) -> ApiResult<(ApiKey, String)> {
    let channel = org::get_channel(&mut m.session, m.tenant, input.channel_id).await?;
    if channel.is_none_or(|channel| channel.archived) {
        return Err(FieldError::new("channel_id", "not_found", "no such active channel").into());
    }
    if let Some(store_id) = input.store_id
        && org::get_store(&mut m.session, m.tenant, store_id)
            .await?
            .is_none()
    {
        return Err(FieldError::new("store_id", "not_found", "no such store").into());
    }
    let (token, hash) = new_token(TokenKind::ApiKey, m.tenant);
    let key = ApiKey {
        id: ApiKeyId::new(),
        name: input.name,
        channel_id: input.channel_id,
        store_id: input.store_id,
        permissions: input.permissions,
        // "hyk_" and the first characters of the tenant: enough to tell keys apart, not to guess one.
        key_prefix: token.chars().take(12).collect(),
        created_by: m.actor.actor_id(),
        created_at: m.now,
        revoked_at: None,
        last_used_at: None,
    };
    auth::insert_api_key(&mut m.session, m.tenant, &key, &hash).await?;
    m.audit("api_key.created", "api_key", key.id, json!(key))
        .await?;
    Ok((key, token))
}

pub fn parse_new_key(
    name: &str,
    channel_id: ChannelId,
    store_id: Option<StoreId>,
    permissions: Option<&[String]>,
    granter: &PermissionSet,
) -> Result<NewApiKey, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = errors.take(Name::parse("name", name));
    let permissions = match permissions {
        None => Permission::CHANNEL_DEFAULT.iter().copied().collect(),
        Some(names) => PermissionSet::parse("permissions", names).unwrap_or_else(|more| {
            more.into_iter().for_each(|error| errors.push(error));
            PermissionSet::default()
        }),
    };
    if !permissions.is_subset(granter) {
        errors.push(FieldError::new(
            "permissions",
            "exceeds_own",
            "a key cannot carry permissions its creator does not hold",
        ));
    }
    errors.finish()?;
    let name = name.ok_or_else(FieldErrors::new)?;
    Ok(NewApiKey {
        name,
        channel_id,
        store_id,
        permissions,
    })
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
    Ok(Json(
        auth::list_api_keys(&mut session, caller.tenant_id, page)
            .await?
            .into(),
    ))
}

/// Create a channel API key; the response carries the key once.
#[utoipa::path(post, path = "/api-keys", tag = "access", request_body = CreateApiKey,
    params(crate::routes::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = CreatedApiKey), (status = 422, description = "Invalid input", body = crate::error::Problem)), security(("bearer" = [])))]
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
    responses((status = 200, description = "OK", body = ApiKey), (status = 404, description = "Not found", body = crate::error::Problem)), security(("bearer" = [])))]
async fn get_key(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKey>> {
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    let mut session = app.store.read().await?;
    auth::get_api_key(&mut session, caller.tenant_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("API key"))
}

/// Revoke an API key; it stops working at once. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "access",
    params(("id" = ApiKeyId, Path), crate::routes::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = ApiKey), (status = 404, description = "Not found", body = crate::error::Problem)), security(("bearer" = [])))]
async fn revoke_key(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::ApiKeysManage)?;
    caller.require_tenant_scope()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            if auth::get_api_key(&mut m.session, m.tenant, id)
                .await?
                .is_none()
            {
                return Err(ApiError::not_found("API key"));
            }
            if auth::revoke_api_key(&mut m.session, m.tenant, id, m.now).await? {
                m.audit("api_key.revoked", "api_key", id, json!({})).await?;
            }
            auth::get_api_key(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("API key"))
        })
    })
    .await
}
