//! Redemption orders. A redemption belongs to its member (key `(tenant_id, member_id, id)`, in
//! the merge registry) and is placed by its reward's supplier store or its collection store for
//! data scopes. Its state changes only through [`update_state`], a compare-and-set on the state
//! the caller decided from: of two concurrent cancellations exactly one happens.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{MemberId, RewardId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

pub const REDEMPTION_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: Some("store_id"),
    guide: None,
};

/// Points a redemption spent that a format issued (`None`: group-issued or adjustments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsSource {
    pub format_id: Option<Uuid>,
    pub points: i64,
}

/// A redemption as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRedemption {
    pub id: Uuid,
    pub member_id: MemberId,
    pub reward_id: RewardId,
    pub reward_kind: String,
    pub reward_name: String,
    pub quantity: i64,
    /// Points in all (unit price × quantity).
    pub points: i64,
    /// Cash in all, in fen.
    pub cash_fen: i64,
    pub cash_payment_reference: Option<String>,
    pub state: String,
    pub delivery_method: String,
    pub collect_store_id: Option<Uuid>,
    /// The shipping address, sealed by the server's vault.
    pub shipping_enc: Option<String>,
    /// Carrier and tracking number once shipped.
    pub shipment: Option<serde_json::Value>,
    /// Placement for data scopes.
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub supplier_store_id: Option<Uuid>,
    pub supplier_format_id: Option<Uuid>,
    /// The format whose account claimed the points (inter-format settlement).
    pub spending_format_id: Option<Uuid>,
    /// The ledger account credited with the points (`redemption:…` or `donation:…`).
    pub points_account: String,
    pub points_sources: Vec<PointsSource>,
    pub spend_entry_id: Uuid,
    /// The limit counters taken, to give back on cancellation.
    pub limit_keys: Vec<String>,
    /// Whether units were taken from a limited stock (and go back on cancellation).
    pub stock_taken: bool,
    pub channel_id: Option<Uuid>,
    pub collected_store_id: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub shipped_at: Option<OffsetDateTime>,
    pub collected_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct RedemptionRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    #[sqlx(try_from = "Uuid")]
    reward_id: RewardId,
    reward_kind: String,
    reward_name: String,
    quantity: i64,
    points: i64,
    cash_fen: i64,
    cash_payment_reference: Option<String>,
    state: String,
    delivery_method: String,
    collect_store_id: Option<Uuid>,
    shipping_enc: Option<String>,
    shipment: Option<Json<serde_json::Value>>,
    format_id: Option<Uuid>,
    store_id: Option<Uuid>,
    supplier_store_id: Option<Uuid>,
    supplier_format_id: Option<Uuid>,
    spending_format_id: Option<Uuid>,
    points_account: String,
    points_sources: Json<Vec<PointsSource>>,
    spend_entry_id: Uuid,
    limit_keys: Json<Vec<String>>,
    stock_taken: bool,
    channel_id: Option<Uuid>,
    collected_store_id: Option<Uuid>,
    cancel_reason: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    shipped_at: Option<OffsetDateTime>,
    collected_at: Option<OffsetDateTime>,
    completed_at: Option<OffsetDateTime>,
    cancelled_at: Option<OffsetDateTime>,
}

impl From<RedemptionRow> for StoredRedemption {
    fn from(row: RedemptionRow) -> Self {
        StoredRedemption {
            id: row.id,
            member_id: row.member_id,
            reward_id: row.reward_id,
            reward_kind: row.reward_kind,
            reward_name: row.reward_name,
            quantity: row.quantity,
            points: row.points,
            cash_fen: row.cash_fen,
            cash_payment_reference: row.cash_payment_reference,
            state: row.state,
            delivery_method: row.delivery_method,
            collect_store_id: row.collect_store_id,
            shipping_enc: row.shipping_enc,
            shipment: row.shipment.map(|j| j.0),
            format_id: row.format_id,
            store_id: row.store_id,
            supplier_store_id: row.supplier_store_id,
            supplier_format_id: row.supplier_format_id,
            spending_format_id: row.spending_format_id,
            points_account: row.points_account,
            points_sources: row.points_sources.0,
            spend_entry_id: row.spend_entry_id,
            limit_keys: row.limit_keys.0,
            stock_taken: row.stock_taken,
            channel_id: row.channel_id,
            collected_store_id: row.collected_store_id,
            cancel_reason: row.cancel_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            shipped_at: row.shipped_at,
            collected_at: row.collected_at,
            completed_at: row.completed_at,
            cancelled_at: row.cancelled_at,
        }
    }
}

/// A redemption about to be written (the same record; the alias names intent).
pub type NewRedemption = StoredRedemption;

const COLUMNS: &str = "id, member_id, reward_id, reward_kind, reward_name, quantity, points, cash_fen, \
    cash_payment_reference, state, delivery_method, collect_store_id, shipping_enc, shipment, format_id, store_id, \
    supplier_store_id, supplier_format_id, spending_format_id, points_account, points_sources, spend_entry_id, \
    limit_keys, stock_taken, channel_id, collected_store_id, cancel_reason, created_at, updated_at, shipped_at, \
    collected_at, completed_at, cancelled_at";

fn select() -> String {
    format!("SELECT {COLUMNS} FROM reward_redemptions WHERE tenant_id = ")
}

pub async fn insert(s: &mut Session, tenant: TenantId, r: &NewRedemption) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO reward_redemptions (tenant_id, id, member_id, reward_id, reward_kind, reward_name, quantity, points, \
         cash_fen, cash_payment_reference, state, delivery_method, collect_store_id, shipping_enc, shipment, format_id, \
         store_id, supplier_store_id, supplier_format_id, spending_format_id, points_account, points_sources, \
         spend_entry_id, limit_keys, stock_taken, channel_id, collected_store_id, cancel_reason, created_at, updated_at, \
         shipped_at, collected_at, completed_at, cancelled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34)")
        .bind(tenant.0).bind(r.id).bind(r.member_id.0).bind(r.reward_id.0).bind(&r.reward_kind).bind(&r.reward_name)
        .bind(r.quantity).bind(r.points).bind(r.cash_fen).bind(&r.cash_payment_reference).bind(&r.state)
        .bind(&r.delivery_method).bind(r.collect_store_id).bind(&r.shipping_enc).bind(r.shipment.as_ref().map(Json)).bind(r.format_id)
        .bind(r.store_id).bind(r.supplier_store_id).bind(r.supplier_format_id).bind(r.spending_format_id)
        .bind(&r.points_account).bind(Json(&r.points_sources)).bind(r.spend_entry_id).bind(Json(&r.limit_keys)).bind(r.stock_taken)
        .bind(r.channel_id).bind(r.collected_store_id).bind(&r.cancel_reason).bind(Ts(r.created_at))
        .bind(Ts(r.updated_at)).bind(r.shipped_at.map(Ts)).bind(r.collected_at.map(Ts)).bind(r.completed_at.map(Ts))
        .bind(r.cancelled_at.map(Ts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredRedemption>> {
    let row: Option<RedemptionRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select());
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(StoredRedemption::from))
}

/// Which redemptions a list shows.
#[derive(Clone, Debug, Default)]
pub struct RedemptionFilter {
    pub member_id: Option<MemberId>,
    pub store_id: Option<Uuid>,
    pub reward_id: Option<RewardId>,
    pub state: Option<String>,
}

/// Redemptions visible to `scope`, in id (creation) order.
pub async fn list(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    filter: &RedemptionFilter,
    page: PageRequest,
) -> StoreResult<Page<StoredRedemption>> {
    let rows: Vec<RedemptionRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select());
        query.push_bind(tenant.0);
        if let Some(member) = filter.member_id {
            query.push(" AND member_id = ").push_bind(member.0);
        }
        if let Some(store) = filter.store_id {
            query.push(" AND store_id = ").push_bind(store);
        }
        if let Some(reward) = filter.reward_id {
            query.push(" AND reward_id = ").push_bind(reward.0);
        }
        if let Some(state) = &filter.state {
            query.push(" AND state = ").push_bind(state.clone());
        }
        push_scope(&mut query, scope, &REDEMPTION_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(StoredRedemption::from))
}

/// Writes the redemption's changeable fields if its state is still `expected`; `false` (nothing
/// written) when another change got there first.
pub async fn update_state(
    s: &mut Session,
    tenant: TenantId,
    expected: &str,
    r: &StoredRedemption,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE reward_redemptions SET state = $4, shipment = $5, collected_store_id = $6, cancel_reason = $7, \
         updated_at = $8, shipped_at = $9, collected_at = $10, completed_at = $11, cancelled_at = $12 \
         WHERE tenant_id = $1 AND id = $2 AND state = $3")
        .bind(tenant.0).bind(r.id).bind(expected).bind(&r.state).bind(r.shipment.as_ref().map(Json)).bind(r.collected_store_id)
        .bind(&r.cancel_reason).bind(Ts(r.updated_at)).bind(r.shipped_at.map(Ts)).bind(r.collected_at.map(Ts))
        .bind(r.completed_at.map(Ts)).bind(r.cancelled_at.map(Ts))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// A member's mall summary: open redemptions and the latest one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSummary {
    pub open: i64,
    pub last: Option<StoredRedemption>,
}

pub async fn member_summary(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<MemberSummary> {
    let open: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM reward_redemptions WHERE tenant_id = $1 AND member_id = $2 \
         AND state IN ('pending', 'shipped', 'collected')")
        .bind(tenant.0).bind(member.0).fetch_one(&mut *c).await)?;
    let last: Option<RedemptionRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select());
        query.push_bind(tenant.0).push(" AND member_id = ").push_bind(member.0).push(" ORDER BY id DESC LIMIT 1");
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(MemberSummary {
        open,
        last: last.map(StoredRedemption::from),
    })
}

/// Removes the sealed shipping addresses of a member's redemptions (erasure); answers how many.
pub async fn erase_addresses(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<u64> {
    let erased = on_backend!(s, c => sqlx::query(
        "UPDATE reward_redemptions SET shipping_enc = NULL WHERE tenant_id = $1 AND member_id = $2 \
         AND shipping_enc IS NOT NULL")
        .bind(tenant.0).bind(member.0).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(erased)
}

/// Holds the member for the rest of the transaction against a concurrent merge (PostgreSQL
/// `FOR KEY SHARE`, which a merge's `FOR UPDATE` waits for; concurrent redemptions by the same
/// member do not block one another) and answers their status. SQLite's single writer already
/// excludes a merge.
pub async fn hold_member(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Option<String>> {
    let lock = if s.is_postgres() {
        " FOR KEY SHARE"
    } else {
        ""
    };
    let sql = format!("SELECT status FROM members WHERE tenant_id = $1 AND id = $2{lock}");
    let status: Option<String> = on_backend!(s, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(member.0).fetch_optional(&mut *c).await)?;
    Ok(status)
}

/// The next redemptions after `after` (all tenants, key order) holding a sealed shipping address,
/// as `value_enc`; at most `limit` (1 to [`crate::reseal::MAX_BATCH`]). For key rotation: an empty
/// answer ends the walk.
pub async fn sealed_addresses(
    s: &mut Session,
    after: Option<crate::reseal::RowKey>,
    limit: i64,
) -> StoreResult<Vec<crate::reseal::SealedIdentifier>> {
    let rows = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, member_id, id, shipping_enc AS value_enc FROM reward_redemptions \
             WHERE shipping_enc IS NOT NULL");
        if let Some(after) = after {
            query.push(" AND (tenant_id, member_id, id) > (").push_bind(after.tenant_id).push(", ")
                .push_bind(after.member_id.0).push(", ").push_bind(after.id).push(")");
        }
        query.push(" ORDER BY tenant_id, member_id, id LIMIT ")
            .push_bind(limit.clamp(1, crate::reseal::MAX_BATCH));
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// Replaces a sealed shipping address with `new` if it still holds `old`; `false` when it changed
/// meanwhile (erased, or the redemption moved with a merge).
pub async fn reseal_address(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
    old: &str,
    new: &str,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE reward_redemptions SET shipping_enc = $5 \
         WHERE tenant_id = $1 AND member_id = $2 AND id = $3 AND shipping_enc = $4")
        .bind(tenant.0).bind(member.0).bind(id).bind(old).bind(new)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}
