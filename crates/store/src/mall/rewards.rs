//! The rewards catalogue. A reward's configuration is stored whole (`spec`), its stock apart:
//! stock only moves through the guarded updates here, never by writing a value computed in the
//! application, so concurrent redemptions and restocks cannot overwrite one another and the stock
//! never goes below zero.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{FormatId, RewardId, TenantId};
use huiyuan_domain::mall::{RewardKind, RewardSpec};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A reward is placed by its supplier (a merchant sees and edits its own rewards), else by the
/// format whose catalogue lists it; a reward with neither is group-wide.
pub const REWARD_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("COALESCE(supplier_format_id, format_id)"),
    store: Some("supplier_store_id"),
    guide: None,
};

/// A reward as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReward {
    pub id: RewardId,
    pub spec: RewardSpec,
    /// Units left; `None` for an unlimited stock.
    pub stock: Option<i64>,
    pub archived: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct RewardRow {
    #[sqlx(try_from = "Uuid")]
    id: RewardId,
    spec: Json<RewardSpec>,
    stock: Option<i64>,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<RewardRow> for StoredReward {
    fn from(row: RewardRow) -> Self {
        StoredReward {
            id: row.id,
            spec: row.spec.0,
            stock: row.stock,
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const REWARD_SELECT: &str =
    "SELECT id, spec, stock, archived, created_at, updated_at FROM rewards WHERE tenant_id = ";

pub async fn insert(s: &mut Session, tenant: TenantId, reward: &StoredReward) -> StoreResult<()> {
    let spec = &reward.spec;
    on_backend!(s, c => sqlx::query(
        "INSERT INTO rewards (tenant_id, id, kind, spec, format_id, supplier_store_id, supplier_format_id, stock, \
         archived, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(tenant.0).bind(reward.id.0).bind(spec.kind.as_str()).bind(Json(spec))
        .bind(spec.format_id.map(|f| f.0)).bind(spec.supplier_store_id.map(|s| s.0))
        .bind(spec.supplier_format_id.map(|f| f.0)).bind(reward.stock).bind(reward.archived)
        .bind(Ts(reward.created_at)).bind(Ts(reward.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
) -> StoreResult<Option<StoredReward>> {
    let row: Option<RewardRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(REWARD_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(StoredReward::from))
}

/// Which rewards a list shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct RewardFilter {
    pub kind: Option<RewardKind>,
    /// Rewards of this format's catalogue, or supplied by it.
    pub format_id: Option<FormatId>,
    pub include_archived: bool,
    /// Only rewards redeemable at this instant: not archived, inside their window, in stock.
    pub available_at: Option<OffsetDateTime>,
}

/// Rewards visible to `scope`, in id (creation) order.
pub async fn list(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    filter: RewardFilter,
    page: PageRequest,
) -> StoreResult<Page<StoredReward>> {
    let rows: Vec<RewardRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(REWARD_SELECT);
        query.push_bind(tenant.0);
        if let Some(kind) = filter.kind {
            query.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(format) = filter.format_id {
            query.push(" AND (format_id = ").push_bind(format.0)
                .push(" OR supplier_format_id = ").push_bind(format.0).push(")");
        }
        if !filter.include_archived || filter.available_at.is_some() {
            query.push(" AND archived = ").push_bind(false);
        }
        if filter.available_at.is_some() {
            query.push(" AND (stock IS NULL OR stock > 0)");
        }
        push_scope(&mut query, scope, &REWARD_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    let page = Page::from_rows(rows, page, |row| row.id.0).map(StoredReward::from);
    // The window lives in the spec; a page is small, so it is filtered here.
    Ok(match filter.available_at {
        Some(at) => Page {
            items: page
                .items
                .into_iter()
                .filter(|reward| {
                    reward.spec.available_from.is_none_or(|from| from <= at)
                        && reward.spec.available_until.is_none_or(|until| at < until)
                })
                .collect(),
            next_cursor: page.next_cursor,
        },
        None => page,
    })
}

/// Writes a new configuration (kind, formats and supplier never change after creation).
pub async fn update_spec(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
    spec: &RewardSpec,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE rewards SET spec = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(id.0).bind(Json(spec)).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Archives or restores a reward; `false` when it already was in that state.
pub async fn set_archived(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
    archived: bool,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE rewards SET archived = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND archived <> $3")
        .bind(tenant.0).bind(id.0).bind(archived).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Takes `quantity` units from a limited stock; `false` (nothing taken) when fewer are left or
/// the stock is unlimited. On PostgreSQL the row lock makes concurrent takers queue, and each
/// re-checks `stock >= q` on the committed value.
pub async fn take_stock(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
    quantity: i64,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE rewards SET stock = stock - $3 WHERE tenant_id = $1 AND id = $2 AND stock IS NOT NULL AND stock >= $3")
        .bind(tenant.0).bind(id.0).bind(quantity).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Puts `quantity` units back (a cancellation) or adds them (a restock; a negative `delta`
/// removes units) on a limited stock, never below zero; `false` when refused or unlimited.
pub async fn add_stock(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
    delta: i64,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE rewards SET stock = stock + $3, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND stock IS NOT NULL AND stock + $3 >= 0")
        .bind(tenant.0).bind(id.0).bind(delta).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Makes the stock unlimited (`None`) or limited from `Some(units)`; switching an already
/// limited stock to a value is refused (`false`): restocks go through [`add_stock`].
pub async fn set_stock_mode(
    s: &mut Session,
    tenant: TenantId,
    id: RewardId,
    stock: Option<i64>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = match stock {
        None => on_backend!(s, c => sqlx::query(
            "UPDATE rewards SET stock = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0).bind(id.0).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?,
        Some(units) if units >= 0 => on_backend!(s, c => sqlx::query(
            "UPDATE rewards SET stock = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND stock IS NULL")
            .bind(tenant.0).bind(id.0).bind(units).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?,
        Some(_) => return Err(StoreError::Corrupt("negative stock")),
    };
    Ok(updated == 1)
}
