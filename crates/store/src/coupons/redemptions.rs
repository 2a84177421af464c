//! The redemption journal (核销记录) and cross-format settlement records. A redemption is written
//! once and never deleted; a reversal stamps `reversed_at` through a guarded update, so a
//! redemption is reversed at most once. Settlement records only grow: a reversal adds a record
//! with negative amounts rather than changing the first.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::ids::NullableId;
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{OrderId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

/// A redemption is placed where it happened.
pub const REDEMPTION_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: Some("store_id"),
    guide: None,
};

/// One redemption.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRedemption {
    pub id: Uuid,
    pub coupon_id: Uuid,
    pub template_id: Uuid,
    pub code: String,
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    /// The till's or channel's order number, as given.
    pub order_ref: Option<String>,
    /// The order in Huiyuan, when known.
    #[sqlx(try_from = "NullableId")]
    pub order_id: Option<OrderId>,
    pub face_fen: i64,
    pub discount_fen: i64,
    pub created_at: OffsetDateTime,
    pub reversed_at: Option<OffsetDateTime>,
    pub reversal_reason: Option<String>,
}

const REDEMPTION_COLUMNS_SQL: &str = "id, coupon_id, template_id, code, format_id, store_id, channel_id, staff_id, \
     api_key_id, order_ref, order_id, face_fen, discount_fen, created_at, reversed_at, reversal_reason";

pub async fn insert_redemption(
    s: &mut Session,
    tenant: TenantId,
    r: &StoredRedemption,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO coupon_redemptions (tenant_id, id, coupon_id, template_id, code, format_id, store_id, channel_id, \
         staff_id, api_key_id, order_ref, order_id, face_fen, discount_fen, created_at, reversed_at, reversal_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)")
        .bind(tenant.0).bind(r.id).bind(r.coupon_id).bind(r.template_id).bind(&r.code).bind(r.format_id)
        .bind(r.store_id).bind(r.channel_id).bind(r.staff_id).bind(r.api_key_id).bind(&r.order_ref).bind(r.order_id.map(Uuid::from))
        .bind(r.face_fen).bind(r.discount_fen).bind(Ts(r.created_at)).bind(r.reversed_at.map(Ts))
        .bind(&r.reversal_reason).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_redemption(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredRedemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS_SQL} FROM coupon_redemptions WHERE tenant_id = $1 AND id = $2"
    );
    let row = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// A coupon's redemptions, oldest first (bounded: a coupon is redeemed once at a time).
pub async fn coupon_redemptions(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    limit: i64,
) -> StoreResult<Vec<StoredRedemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS_SQL} FROM coupon_redemptions WHERE tenant_id = $1 AND coupon_id = $2 ORDER BY id LIMIT $3"
    );
    let rows = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(coupon).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Redemptions not reversed against an order: by its id, or by the channel's order number.
pub async fn open_redemptions_for_order(
    s: &mut Session,
    tenant: TenantId,
    order_id: OrderId,
    channel_id: Uuid,
    order_ref: &str,
) -> StoreResult<Vec<StoredRedemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS_SQL} FROM coupon_redemptions WHERE tenant_id = $1 AND reversed_at IS NULL \
         AND (order_id = $2 OR (channel_id = $3 AND order_ref = $4)) ORDER BY id LIMIT 100"
    );
    let rows = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(order_id.0).bind(channel_id).bind(order_ref).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Stamps a redemption reversed; `false` when it already was (nothing written).
pub async fn mark_reversed(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
    at: OffsetDateTime,
    reason: &str,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupon_redemptions SET reversed_at = $3, reversal_reason = $4 \
         WHERE tenant_id = $1 AND id = $2 AND reversed_at IS NULL")
        .bind(tenant.0).bind(id).bind(Ts(at)).bind(reason).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Filters of the redemption list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedemptionFilter {
    pub store_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// Redemptions the caller may see (`predicate` over [`REDEMPTION_COLUMNS`]), by id.
pub async fn list_redemptions(
    s: &mut Session,
    tenant: TenantId,
    predicate: &ScopePredicate,
    filter: &RedemptionFilter,
    page: PageRequest,
) -> StoreResult<Page<StoredRedemption>> {
    let rows: Vec<StoredRedemption> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!(
            "SELECT {REDEMPTION_COLUMNS_SQL} FROM coupon_redemptions WHERE tenant_id = "));
        query.push_bind(tenant.0);
        if let Some(store) = filter.store_id {
            query.push(" AND store_id = ").push_bind(store);
        }
        if let Some(template) = filter.template_id {
            query.push(" AND template_id = ").push_bind(template);
        }
        if let Some(from) = filter.from {
            query.push(" AND created_at >= ").push_bind(Ts(from));
        }
        if let Some(until) = filter.until {
            query.push(" AND created_at < ").push_bind(Ts(until));
        }
        push_scope(&mut query, predicate, &REDEMPTION_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

// ---- settlement records ----

/// A cross-format settlement record: `kind` `redemption` (positive) or `reversal` (negative).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SettlementRecord {
    pub id: Uuid,
    pub redemption_id: Uuid,
    pub kind: String,
    pub coupon_id: Uuid,
    pub template_id: Uuid,
    pub issuing_format_id: Uuid,
    pub redeeming_format_id: Uuid,
    /// `hq`, `format` or `merchant`.
    pub bearer_kind: String,
    /// The bearing format or merchant store; `None` for HQ.
    pub bearer_id: Option<Uuid>,
    pub face_fen: i64,
    pub discount_fen: i64,
    pub occurred_at: OffsetDateTime,
}

/// Appends a record; `false` when the redemption already has one of this kind.
pub async fn insert_settlement_record(
    s: &mut Session,
    tenant: TenantId,
    r: &SettlementRecord,
) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO coupon_settlement_records (tenant_id, id, redemption_id, kind, coupon_id, template_id, \
         issuing_format_id, redeeming_format_id, bearer_kind, bearer_id, face_fen, discount_fen, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(r.id).bind(r.redemption_id).bind(&r.kind).bind(r.coupon_id).bind(r.template_id)
        .bind(r.issuing_format_id).bind(r.redeeming_format_id).bind(&r.bearer_kind).bind(r.bearer_id)
        .bind(r.face_fen).bind(r.discount_fen).bind(Ts(r.occurred_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// One line of a period's coupon settlement: what coupons issued by one format and redeemed in
/// another cost, by who bears it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SettlementTotal {
    pub issuing_format_id: Uuid,
    pub redeeming_format_id: Uuid,
    pub bearer_kind: String,
    pub bearer_id: Option<Uuid>,
    pub redemptions: i64,
    pub face_fen: i64,
    pub discount_fen: i64,
}

/// Net totals of the records that occurred in `[from, until)` (reversals netted out), for the
/// settlement module.
pub async fn settlement_totals(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<SettlementTotal>> {
    let rows = on_backend!(s, c => sqlx::query_as(
        "SELECT issuing_format_id, redeeming_format_id, bearer_kind, bearer_id, \
         CAST(SUM(CASE WHEN kind = 'redemption' THEN 1 ELSE -1 END) AS BIGINT) AS redemptions, \
         CAST(SUM(face_fen) AS BIGINT) AS face_fen, CAST(SUM(discount_fen) AS BIGINT) AS discount_fen \
         FROM coupon_settlement_records WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
         GROUP BY issuing_format_id, redeeming_format_id, bearer_kind, bearer_id \
         ORDER BY issuing_format_id, redeeming_format_id, bearer_kind, bearer_id")
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}
