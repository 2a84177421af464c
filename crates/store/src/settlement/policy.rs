//! The tenant's settlement policy and each merchant's revenue split rule; absent rows mean the
//! defaults, which the server supplies.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSettlementPolicy {
    /// `hq_funded` or `independent`.
    pub mode: String,
    pub rate_fen: i64,
    pub rate_per_points: i64,
    pub updated_at: OffsetDateTime,
}

pub async fn get_policy(
    s: &mut Session,
    tenant: TenantId,
) -> StoreResult<Option<StoredSettlementPolicy>> {
    let row = on_backend!(s, c => sqlx::query_as(
        "SELECT mode, rate_fen, rate_per_points, updated_at FROM settlement_policies WHERE tenant_id = $1")
        .bind(tenant.0).fetch_optional(&mut *c).await)?;
    Ok(row)
}

pub async fn put_policy(
    s: &mut Session,
    tenant: TenantId,
    policy: &StoredSettlementPolicy,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO settlement_policies (tenant_id, mode, rate_fen, rate_per_points, close_seq, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (tenant_id) DO UPDATE SET mode = $2, rate_fen = $3, \
         rate_per_points = $4, updated_at = $5")
        .bind(tenant.0).bind(&policy.mode).bind(policy.rate_fen).bind(policy.rate_per_points)
        .bind(Ts(policy.updated_at)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Takes the tenant's closing turn: bumps `close_seq` (creating the row with `defaults` when the
/// tenant has none), which on PostgreSQL holds the row lock until the transaction ends, so two
/// closes of one tenant never check for overlaps at the same time. SQLite has one writer anyway.
pub async fn take_close_turn(
    s: &mut Session,
    tenant: TenantId,
    defaults: &StoredSettlementPolicy,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO settlement_policies (tenant_id, mode, rate_fen, rate_per_points, close_seq, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (tenant_id) DO UPDATE SET close_seq = settlement_policies.close_seq + 1")
        .bind(tenant.0).bind(&defaults.mode).bind(defaults.rate_fen).bind(defaults.rate_per_points)
        .bind(Ts(defaults.updated_at)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSplitRule {
    pub store_id: Uuid,
    pub cash_commission_bps: i64,
    pub points_commission_bps: i64,
    pub points_rate_fen: i64,
    pub points_rate_per_points: i64,
    pub updated_at: OffsetDateTime,
}

const SPLIT_FIELDS: &str = "store_id, cash_commission_bps, points_commission_bps, points_rate_fen, \
    points_rate_per_points, updated_at";

pub async fn get_split(
    s: &mut Session,
    tenant: TenantId,
    store: Uuid,
) -> StoreResult<Option<StoredSplitRule>> {
    let sql = format!(
        "SELECT {SPLIT_FIELDS} FROM merchant_revenue_splits WHERE tenant_id = $1 AND store_id = $2"
    );
    let row = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(store).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// The rules of these stores (one statement's merchants).
pub async fn splits_of(
    s: &mut Session,
    tenant: TenantId,
    stores: &[Uuid],
) -> StoreResult<Vec<StoredSplitRule>> {
    let mut found = Vec::new();
    // In chunks, so a mall with thousands of merchants stays within bind-parameter limits.
    for chunk in stores.chunks(500) {
        let rows: Vec<StoredSplitRule> = on_backend!(s, c => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {SPLIT_FIELDS} FROM merchant_revenue_splits WHERE tenant_id = "));
            query.push_bind(tenant.0).push(" AND store_id IN (");
            let mut list = query.separated(", ");
            for store in chunk {
                list.push_bind(*store);
            }
            query.push(")");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

pub async fn put_split(
    s: &mut Session,
    tenant: TenantId,
    rule: &StoredSplitRule,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO merchant_revenue_splits (tenant_id, store_id, cash_commission_bps, points_commission_bps, \
         points_rate_fen, points_rate_per_points, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, store_id) DO UPDATE SET cash_commission_bps = $3, points_commission_bps = $4, \
         points_rate_fen = $5, points_rate_per_points = $6, updated_at = $7")
        .bind(tenant.0).bind(rule.store_id).bind(rule.cash_commission_bps).bind(rule.points_commission_bps)
        .bind(rule.points_rate_fen).bind(rule.points_rate_per_points).bind(Ts(rule.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
