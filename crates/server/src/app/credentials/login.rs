//! Staff login and logout. Repeated failures for one account are refused for a while (the
//! [`crate::app::limiter`]); unknown accounts take the same time as wrong passwords.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::secrets::{new_token, verify_password};
use crate::app::state::AppState;
use huiyuan_domain::auth::{Actor, Principal};
use huiyuan_domain::credentials::TokenKind;
use huiyuan_domain::ids::{SessionId, StaffId, TenantId};
use huiyuan_store::{auth, tenants, utc_now};
use serde_json::json;
use time::OffsetDateTime;

/// A new staff session.
pub struct LoggedIn {
    /// The bearer token, shown once.
    pub token: String,
    pub expires_at: OffsetDateTime,
    pub tenant_id: TenantId,
    pub staff_id: StaffId,
}

/// Checks `username`'s password in the tenant `slug` (the default tenant when `None`) and opens
/// a session.
pub async fn login(
    app: &AppState,
    slug: Option<String>,
    username: &str,
    password: String,
    request_id: Option<String>,
) -> ApiResult<LoggedIn> {
    let slug = slug.unwrap_or_else(|| app.settings.default_tenant.clone());
    let username = username.trim().to_ascii_lowercase();
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
    let password_ok = verify_password(password, hash).await?;
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
    let staff_id = record.staff_id;
    let actor = Actor::Staff {
        staff_id,
        session_id,
    };
    let ttl = app.settings.session_ttl();
    let expires_at = app
        .write_as(tenant.id, actor, request_id, move |m| {
            Box::pin(async move {
                let expires_at = m.now + ttl;
                auth::insert_session(
                    &mut m.session,
                    m.tenant,
                    session_id,
                    staff_id,
                    &token_hash,
                    m.now,
                    expires_at,
                )
                .await?;
                m.audit(
                    "session.created",
                    "session",
                    session_id,
                    json!({ "staff_id": staff_id, "expires_at": expires_at.unix_timestamp() }),
                )
                .await?;
                Ok(expires_at)
            })
        })
        .await?;
    Ok(LoggedIn {
        token,
        expires_at,
        tenant_id: tenant.id,
        staff_id,
    })
}

/// Ends the caller's staff session; its token stops working at once.
pub async fn logout(
    app: &AppState,
    caller: &Principal,
    request_id: Option<String>,
) -> ApiResult<()> {
    let Actor::Staff { session_id, .. } = caller.actor else {
        return Err(ApiError::with_detail(
            ErrorCode::ValidationFailed,
            "only staff sessions log out; revoke API keys instead",
        ));
    };
    app.write_as(
        caller.tenant_id,
        caller.actor.clone(),
        request_id,
        move |m| {
            Box::pin(async move {
                if auth::revoke_session(&mut m.session, m.tenant, session_id, utc_now()).await? {
                    m.audit("session.revoked", "session", session_id, json!({}))
                        .await?;
                }
                Ok(())
            })
        },
    )
    .await
}
