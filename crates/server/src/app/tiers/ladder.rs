//! A tenant's tier ladder as configured.

use crate::app::error::ApiResult;
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
