//! A tenant's tier ladder as configured (the configuration cache reads it too, so this module
//! stays clear of the write path; [`super::configure`] sets it).

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::tiers::TierLadder;
use huiyuan_store::Session;
use huiyuan_store::tiers as store;

/// The tenant's ladder; `None` until one is configured (members then have no tier).
pub async fn load(session: &mut Session, tenant: TenantId) -> ApiResult<Option<TierLadder>> {
    Ok(store::ladder(session, tenant)
        .await?
        .map(|stored| stored.ladder))
}

/// The 404 of a tenant without a ladder.
pub fn no_ladder() -> ApiError {
    ApiError::with_detail(ErrorCode::NotFound, "no tier ladder is configured")
}

/// The tenant's ladder, or a 404 until one is configured.
pub async fn required(session: &mut Session, tenant: TenantId) -> ApiResult<TierLadder> {
    load(session, tenant).await?.ok_or_else(no_ladder)
}
