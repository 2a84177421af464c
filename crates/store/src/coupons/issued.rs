//! Issued coupons: codes and natural keys, the redemption compare-and-set, member and expiring
//! lists, the profile summary and birthday candidates.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::coupons::CouponState;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

/// Coupons are member data: placed by their member (joined as `m`).
pub const COUPON_MEMBER_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("m.source_format_id"),
    store: Some("m.source_store_id"),
    guide: Some("m.guide_id"),
};

/// A coupon as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCoupon {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub member_id: MemberId,
    /// Canonical code (16 Crockford base32 characters).
    pub code: String,
    pub template_id: Uuid,
    /// `available`, `used` or `voided`.
    pub state: String,
    pub starts_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// `manual`, `registration`, `tier_upgrade`, `birthday`, `mall`, `journey` …
    pub source: String,
    pub natural_key: Option<String>,
    pub issuing_format_id: Option<Uuid>,
    pub issued_by: Option<Uuid>,
    pub redemption_id: Option<Uuid>,
    pub used_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl StoredCoupon {
    pub fn state(&self) -> StoreResult<CouponState> {
        CouponState::parse("state", &self.state).map_err(|_| StoreError::Corrupt("coupons.state"))
    }
}

const COUPON_COLUMNS: &str = "c.id, c.member_id, c.code, c.template_id, c.state, c.starts_at, c.expires_at, c.source, \
     c.natural_key, c.issuing_format_id, c.issued_by, c.redemption_id, c.used_at, c.created_at, c.updated_at";

/// Inserts a coupon unless its code or natural key is taken; `false` when one is (nothing
/// written). The caller tells which by looking the natural key up.
pub async fn insert_coupon(
    s: &mut Session,
    tenant: TenantId,
    coupon: &StoredCoupon,
) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO coupons (tenant_id, member_id, id, code, template_id, state, starts_at, expires_at, source, natural_key, \
         issuing_format_id, issued_by, redemption_id, used_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(coupon.member_id.0).bind(coupon.id).bind(&coupon.code).bind(coupon.template_id)
        .bind(&coupon.state).bind(Ts(coupon.starts_at)).bind(Ts(coupon.expires_at)).bind(&coupon.source)
        .bind(&coupon.natural_key).bind(coupon.issuing_format_id).bind(coupon.issued_by).bind(coupon.redemption_id)
        .bind(coupon.used_at.map(Ts)).bind(Ts(coupon.created_at)).bind(Ts(coupon.updated_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

async fn coupon_where(
    s: &mut Session,
    tenant: TenantId,
    column: &'static str,
    value: CouponKey<'_>,
) -> StoreResult<Option<StoredCoupon>> {
    on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!("SELECT {COUPON_COLUMNS} FROM coupons c WHERE c.tenant_id = "));
        query.push_bind(tenant.0).push(" AND c.").push(column).push(" = ");
        match value {
            CouponKey::Id(id) => query.push_bind(id),
            CouponKey::Text(text) => query.push_bind(text.to_owned()),
        };
        query.build_query_as().fetch_optional(&mut *c).await
    })
    .map_err(StoreError::from)
}

enum CouponKey<'a> {
    Id(Uuid),
    Text(&'a str),
}

pub async fn coupon_by_code(
    s: &mut Session,
    tenant: TenantId,
    code: &str,
) -> StoreResult<Option<StoredCoupon>> {
    coupon_where(s, tenant, "code", CouponKey::Text(code)).await
}

pub async fn coupon_by_id(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredCoupon>> {
    coupon_where(s, tenant, "id", CouponKey::Id(id)).await
}

pub async fn coupon_by_natural_key(
    s: &mut Session,
    tenant: TenantId,
    key: &str,
) -> StoreResult<Option<StoredCoupon>> {
    coupon_where(s, tenant, "natural_key", CouponKey::Text(key)).await
}

/// The statement of [`mark_used`], public for the conformance test that checks it seeks the
/// coupon by id (migration 0027) instead of walking the tenant's available coupons.
pub const MARK_USED: &str = "UPDATE coupons SET state = 'used', redemption_id = $3, used_at = $4, updated_at = $4 \
     WHERE tenant_id = $1 AND id = $2 AND state = 'available' AND starts_at <= $4 AND expires_at > $4";

/// Compare-and-set `available` → `used` at `at`, while the coupon is within its validity;
/// `false` (nothing written) when another redemption got there first or it is not redeemable.
pub async fn mark_used(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    redemption: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(MARK_USED)
        .bind(tenant.0).bind(coupon).bind(redemption).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Compare-and-set `used` by `redemption` → `available`; `false` when the coupon is not used by
/// that redemption (already reversed).
pub async fn mark_available(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    redemption: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupons SET state = 'available', redemption_id = NULL, used_at = NULL, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND state = 'used' AND redemption_id = $3")
        .bind(tenant.0).bind(coupon).bind(redemption).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Which of a member's coupons to list, as of an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponFilter {
    All,
    /// Available and not expired.
    Available,
    Used,
    /// Available but past expiry.
    Expired,
}

/// The state conditions of a member's coupon list. Written `(…) = TRUE` so SQLite's planner
/// (no statistics) cannot use them on the (tenant, state, expiry) index, which would walk every
/// available coupon of the tenant to find one member's; it takes the member's primary-key range
/// instead. PostgreSQL plans from statistics either way. Public for the query-plan test.
pub const MEMBER_AVAILABLE: &str = " AND (c.state = 'available') = TRUE AND c.expires_at > ";
pub const MEMBER_USED: &str = " AND (c.state = 'used') = TRUE";
pub const MEMBER_EXPIRED: &str = " AND (c.state = 'available') = TRUE AND c.expires_at <= ";

fn push_filter<DB: sqlx::Database>(
    query: &mut QueryBuilder<DB>,
    filter: CouponFilter,
    now: OffsetDateTime,
) where
    Ts: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    match filter {
        CouponFilter::All => {}
        CouponFilter::Available => {
            query.push(MEMBER_AVAILABLE).push_bind(Ts(now));
        }
        CouponFilter::Used => {
            query.push(MEMBER_USED);
        }
        CouponFilter::Expired => {
            query.push(MEMBER_EXPIRED).push_bind(Ts(now));
        }
    }
}

/// A member's coupons by id, filtered as of `now`.
pub async fn member_coupons(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    filter: CouponFilter,
    now: OffsetDateTime,
    page: PageRequest,
) -> StoreResult<Page<StoredCoupon>> {
    let rows: Vec<StoredCoupon> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!("SELECT {COUPON_COLUMNS} FROM coupons c WHERE c.tenant_id = "));
        query.push_bind(tenant.0).push(" AND c.member_id = ").push_bind(member.0);
        push_filter(&mut query, filter, now);
        if let Some(after) = page.after {
            query.push(" AND c.id > ").push_bind(after);
        }
        query.push(" ORDER BY c.id LIMIT ").push_bind(page.fetch_limit());
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

/// Available coupons expiring in `[now, before)` of members the caller may see (`predicate`
/// over [`COUPON_MEMBER_COLUMNS`]), by id: what journeys remind members of.
pub async fn expiring_coupons(
    s: &mut Session,
    tenant: TenantId,
    predicate: &ScopePredicate,
    before: OffsetDateTime,
    now: OffsetDateTime,
    page: PageRequest,
) -> StoreResult<Page<StoredCoupon>> {
    let rows: Vec<StoredCoupon> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!(
            "SELECT {COUPON_COLUMNS} FROM coupons c JOIN members m ON m.tenant_id = c.tenant_id AND m.id = c.member_id \
             WHERE c.tenant_id = "));
        query.push_bind(tenant.0).push(" AND c.state = 'available' AND c.expires_at > ").push_bind(Ts(now));
        query.push(" AND c.expires_at < ").push_bind(Ts(before));
        push_scope(&mut query, predicate, &COUPON_MEMBER_COLUMNS);
        if let Some(after) = page.after {
            query.push(" AND c.id > ").push_bind(after);
        }
        query.push(" ORDER BY c.id LIMIT ").push_bind(page.fetch_limit());
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

/// A member's coupons in numbers, for the profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CouponSummary {
    pub available: i64,
    pub used: i64,
    pub expired: i64,
    /// The available coupon expiring first: its id and expiry.
    pub next_expiring: Option<(Uuid, OffsetDateTime)>,
}

pub async fn member_summary(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    now: OffsetDateTime,
) -> StoreResult<CouponSummary> {
    let (available, used, expired): (i64, i64, i64) = on_backend!(s, c => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'available' AND expires_at > $3 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN state = 'used' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN state = 'available' AND expires_at <= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM coupons WHERE tenant_id = $1 AND member_id = $2")
        .bind(tenant.0).bind(member.0).bind(Ts(now)).fetch_one(&mut *c).await)?;
    let next_expiring: Option<(Uuid, OffsetDateTime)> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, expires_at FROM coupons WHERE tenant_id = $1 AND member_id = $2 AND state = 'available' \
         AND expires_at > $3 ORDER BY expires_at, id LIMIT 1")
        .bind(tenant.0).bind(member.0).bind(Ts(now)).fetch_optional(&mut *c).await)?;
    Ok(CouponSummary {
        available,
        used,
        expired,
        next_expiring,
    })
}

/// Active members whose birthday (`MM-DD`) is one of `month_days` and who have no coupon of
/// `template` issued on a birthday since `since`, after `after` by id, at most `limit`.
pub async fn birthday_members_without(
    s: &mut Session,
    tenant: TenantId,
    template: Uuid,
    month_days: &[String],
    since: OffsetDateTime,
    after: Option<MemberId>,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let rows: Vec<Uuid> = on_backend!(s, c => {
        let mut query = QueryBuilder::new("SELECT m.id FROM members m WHERE m.tenant_id = ");
        query.push_bind(tenant.0);
        query.push(" AND m.status = 'active' AND m.birthday IS NOT NULL AND SUBSTR(CAST(m.birthday AS TEXT), 6, 5) IN (");
        let mut days = query.separated(", ");
        for month_day in month_days {
            days.push_bind(month_day.clone());
        }
        query.push(") AND NOT EXISTS (SELECT 1 FROM coupons c WHERE c.tenant_id = m.tenant_id AND c.member_id = m.id \
                    AND c.template_id = ").push_bind(template);
        query.push(" AND c.source = 'birthday' AND c.created_at >= ").push_bind(Ts(since)).push(")");
        if let Some(after) = after {
            query.push(" AND m.id > ").push_bind(after.0);
        }
        query.push(" ORDER BY m.id LIMIT ").push_bind(limit);
        query.build_query_scalar().fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().map(MemberId).collect())
}
