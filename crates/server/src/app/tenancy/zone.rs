//! A tenant's time zone: business dates (expiry dates, windows, local days, evaluation dates)
//! are taken in it. The one place that answers it.

use huiyuan_domain::ids::TenantId;
use huiyuan_store::{Session, StoreError, StoreResult, tenants};
use jiff::tz::TimeZone;

/// The zone of a tenant whose row cannot be read (tenants are created with a zone, so only a
/// tenant that does not exist has none).
const FALLBACK_ZONE: &str = "Asia/Shanghai";

/// The tenant's time zone. A stored zone the zone database does not know is an error (a server
/// fault), never silently replaced: dates computed in another zone would be wrong.
pub async fn tenant_zone(session: &mut Session, tenant: TenantId) -> StoreResult<TimeZone> {
    let name = tenants::get(session, tenant).await?.map_or_else(
        || FALLBACK_ZONE.to_owned(),
        |t| t.time_zone.as_str().to_owned(),
    );
    TimeZone::get(&name).map_err(|_| StoreError::Corrupt("tenants.time_zone"))
}
