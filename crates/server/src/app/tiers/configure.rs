//! Reading the tenant's tier ladder as stored and setting it. Members keep their levels when the
//! ladder changes; a level removed from it counts as the lowest until their next change.

use crate::app::error::ApiResult;
use crate::app::mutation::Mutation;
use crate::app::tiers::ladder::no_ladder;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::tiers::TierLadder;
use huiyuan_store::Session;
use huiyuan_store::tiers::{self as store, StoredLadder};
use serde_json::json;

/// The tenant's ladder as stored, with when it was set; a 404 until one is configured.
pub async fn get(session: &mut Session, tenant: TenantId) -> ApiResult<StoredLadder> {
    store::ladder(session, tenant).await?.ok_or_else(no_ladder)
}

/// Sets the tenant's ladder (validated by the caller with [`TierLadder::validate`]), audited as
/// `tier.ladder_set` with the ladder before and after.
pub async fn set(m: &mut Mutation, ladder: TierLadder) -> ApiResult<StoredLadder> {
    let before = store::ladder(&mut m.session, m.tenant)
        .await?
        .map(|stored| stored.ladder);
    m.config_changed();
    store::put_ladder(&mut m.session, m.tenant, &ladder, m.now).await?;
    m.audit(
        "tier.ladder_set",
        "tier_ladder",
        m.tenant,
        json!({ "before": before, "after": ladder }),
    )
    .await?;
    Ok(StoredLadder {
        ladder,
        updated_at: m.now,
    })
}
