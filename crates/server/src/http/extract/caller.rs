use crate::app::error::{ApiError, ErrorCode};
use crate::app::secrets::token_hash;
use crate::app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use huiyuan_domain::auth::{Actor, DataScope, Principal};
use huiyuan_domain::credentials::{ApiKey, TokenKind, parse_token};
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::org::StoreKind;
use huiyuan_store::{auth, utc_now};

/// The authenticated caller, from `Authorization: Bearer <token>` (a staff session or a channel
/// API key). Anything else is a 401.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Self(principal.clone()));
        }
        let token = bearer_token(parts).ok_or_else(unauthenticated)?;
        let (kind, tenant) = parse_token(token).ok_or_else(unauthenticated)?;
        let hash = token_hash(token);
        let principal = match kind {
            TokenKind::StaffSession => staff_principal(app, tenant, &hash).await?,
            TokenKind::ApiKey => key_principal(app, tenant, &hash).await?,
        };
        parts.extensions.insert(principal.clone());
        Ok(Self(principal))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthenticated() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated)
}

async fn staff_principal(
    app: &AppState,
    tenant: TenantId,
    hash: &str,
) -> Result<Principal, ApiError> {
    let mut session = app.store.read().await?;
    let grant = auth::find_session(&mut session, tenant, hash, utc_now())
        .await?
        .ok_or_else(unauthenticated)?;
    Ok(Principal {
        tenant_id: tenant,
        actor: Actor::Staff {
            staff_id: grant.staff_id,
            session_id: grant.session_id,
        },
        permissions: grant.permissions,
        member_scope: grant.scope.clone(),
        scope: grant.scope,
    })
}

async fn key_principal(
    app: &AppState,
    tenant: TenantId,
    hash: &str,
) -> Result<Principal, ApiError> {
    let mut session = app.store.read().await?;
    let key = auth::find_api_key(&mut session, tenant, hash)
        .await?
        .ok_or_else(unauthenticated)?;
    drop(session);
    // The channel and store come from the configuration cache (see its staleness bound): one
    // read per request instead of three; the key itself is read every time, so a revoked key
    // stops at once.
    let channel = app
        .config
        .channel(&app.store, tenant, key.channel_id)
        .await?
        .ok_or_else(unauthenticated)?;
    // A merchant's till sees the merchant's own members; every other channel identifies members
    // group-wide, since one member shops in every store.
    let merchant_store = match key.store_id {
        Some(store_id) => app
            .config
            .store(&app.store, tenant, store_id)
            .await?
            .filter(|store| store.kind == StoreKind::Merchant)
            .map(|store| store.id),
        None => None,
    };
    if app.key_touch_due(key.id) {
        record_key_use(app.clone(), tenant, &key);
    }
    // A key bound to a store acts for that store; a format's channel for that format.
    let scope = match (key.store_id, channel.format_id) {
        (Some(store), _) => DataScope::Stores {
            store_ids: [store].into(),
        },
        (None, Some(format)) => DataScope::Formats {
            format_ids: [format].into(),
        },
        (None, None) => DataScope::Tenant,
    };
    Ok(Principal {
        tenant_id: tenant,
        actor: Actor::ApiKey {
            key_id: key.id,
            channel_id: key.channel_id,
        },
        permissions: key.permissions,
        scope,
        member_scope: match merchant_store {
            Some(store) => DataScope::Stores {
                store_ids: [store].into(),
            },
            None => DataScope::Tenant,
        },
    })
}

/// Records the key's last use off the request path; losing one such write is harmless. A
/// timestamp, not a change anyone audits, so it writes directly rather than through the write
/// path.
fn record_key_use(app: AppState, tenant: TenantId, key: &ApiKey) {
    let key_id = key.id;
    tokio::spawn(async move {
        let result = async {
            let mut session = app.store.write().await?;
            auth::touch_api_key(&mut session, tenant, key_id, utc_now()).await?;
            session.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, key_id = %key_id, "could not record API key use");
        }
    });
}
