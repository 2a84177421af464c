//! A tenant's points policy: expiry, return window, points value, overdraft.

use huiyuan_domain::ids::TenantId;
use huiyuan_domain::ledger::ExpiryPolicy;
use huiyuan_store::ledger::{self, StoredPolicy};
use huiyuan_store::{Session, StoreResult};
use time::OffsetDateTime;

/// The policy a tenant gets until it sets its own: points of year Y expire at the end of Y+1,
/// no return window, 100 points are worth ¥1, no overdraft.
pub fn default(now: OffsetDateTime) -> StoredPolicy {
    StoredPolicy {
        expiry: ExpiryPolicy::YearEnd { years: 1 },
        pending_days: 0,
        fen_per_100_points: 100,
        overdraft_limit: 0,
        updated_at: now,
    }
}

/// The tenant's points policy (the default until it saves one).
pub async fn load(
    session: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
) -> StoreResult<StoredPolicy> {
    Ok(ledger::policy(session, tenant)
        .await?
        .unwrap_or_else(|| default(now)))
}
