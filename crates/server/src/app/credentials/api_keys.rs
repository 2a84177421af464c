//! Channel API keys: creating (a new key is shown once; only its SHA-256 is stored), reading,
//! listing and revoking them.

use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use crate::app::secrets::new_token;
use huiyuan_domain::auth::{Permission, PermissionSet};
use huiyuan_domain::credentials::{ApiKey, TokenKind};
use huiyuan_domain::ids::{ApiKeyId, ChannelId, StoreId, TenantId};
use huiyuan_domain::org::Name;
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, auth, org};
use serde_json::json;

/// Validated input for a new key.
pub struct NewApiKey {
    pub name: Name,
    pub channel_id: ChannelId,
    pub store_id: Option<StoreId>,
    pub permissions: PermissionSet,
}

/// Creates a key in an open mutation (the API and `huiyuan api-key create`).
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

/// Validates a new key's input; `granter` is what the creator holds (a key never exceeds it).
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

/// The tenant's API keys, by id (never the keys themselves).
pub async fn list(
    session: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> ApiResult<Page<ApiKey>> {
    Ok(auth::list_api_keys(session, tenant, page).await?)
}

/// The record of the API key `id`.
pub async fn get(session: &mut Session, tenant: TenantId, id: ApiKeyId) -> ApiResult<ApiKey> {
    auth::get_api_key(session, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))
}

/// Revokes the API key `id`, which stops working at once; audited as `api_key.revoked` only when
/// it was still active, so revoking twice is harmless.
pub async fn revoke(m: &mut Mutation, id: ApiKeyId) -> ApiResult<ApiKey> {
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
}
