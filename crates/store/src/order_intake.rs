//! Taking a member's order in: the order's insert (its natural key) and the member's balance lock
//! in one round trip instead of two — SQLite runs both statements in one call, PostgreSQL as the
//! two parts of one `WITH` statement. What each does is exactly what [`crate::orders::insert_order`]
//! and [`crate::ledger::lock_active_balance`] do apart.

use crate::backend::{Backend, Session};
use crate::deferred::{Value, postgres_query, renumber, sqlite_query};
use crate::error::StoreResult;
use crate::orders::StoredOrder;
use huiyuan_domain::ids::TenantId;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

const INSERT_ORDER: &str = "INSERT INTO orders (tenant_id, id, member_id, channel_id, external_id, store_id, format_id, \
     guide_id, occurred_at, total_fen, paid_by_points_fen, paid_by_coupons_fen, refunded_fen, status, points_earned, \
     points_reversed, accrual, claimed_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
     ON CONFLICT DO NOTHING RETURNING 'order' AS what, 0 AS available";

/// The balance row taken while the member is active ($1 tenant, $2 member, $3 now).
const LOCK_BALANCE: &str = "INSERT INTO points_balances (tenant_id, member_id, available, pending, tier_points, \
     lifetime_earned, updated_at) SELECT $1, $2, 0, 0, 0, 0, $3 WHERE EXISTS \
     (SELECT 1 FROM members WHERE tenant_id = $1 AND id = $2 AND status = 'active') \
     ON CONFLICT (tenant_id, member_id) DO UPDATE SET updated_at = excluded.updated_at \
     RETURNING 'balance' AS what, available";

/// What [`insert_order_locking`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Intake {
    /// The channel already posted an order with this external id: nothing was written.
    Duplicate,
    /// The order is in, and the member's balance row is taken for this transaction; `None` when
    /// the member is no longer active (the caller rolls back).
    Inserted { available: Option<i64> },
}

fn order_values(tenant: TenantId, order: &StoredOrder) -> StoreResult<Vec<Value>> {
    Ok(vec![
        tenant.0.into(),
        order.id.into(),
        order.member_id.into(),
        order.channel_id.into(),
        order.external_id.as_str().into(),
        order.store_id.into(),
        order.format_id.into(),
        order.guide_id.into(),
        order.occurred_at.into(),
        order.total_fen.into(),
        order.paid_by_points_fen.into(),
        order.paid_by_coupons_fen.into(),
        order.refunded_fen.into(),
        order.status.as_str().into(),
        order.points_earned.into(),
        order.points_reversed.into(),
        match &order.accrual {
            Some(accrual) => Value::json(accrual)?,
            None => Value::Json(None),
        },
        order.claimed_at.into(),
        order.created_at.into(),
        order.updated_at.into(),
    ])
}

/// Inserts `member`'s order (without lines or payments: the caller queues them once they carry
/// their points) and takes the member's balance row, in one round trip.
pub async fn insert_order_locking(
    s: &mut Session,
    tenant: TenantId,
    order: &StoredOrder,
    member: Uuid,
    now: OffsetDateTime,
) -> StoreResult<Intake> {
    let mut values = order_values(tenant, order)?;
    let order_params = values.len();
    values.extend([tenant.0.into(), member.into(), now.into()]);
    let lock = renumber(LOCK_BALANCE, order_params);
    s.flush_deferred().await?;
    let (inserted, available) = match s.backend() {
        Backend::Sqlite(c) => {
            // Each statement returns a row when it did its part, tagged with which it was.
            let text = format!("{INSERT_ORDER};\n{lock}");
            let rows = sqlite_query(text, values).fetch_all(&mut *c).await?;
            let mut found = (false, None);
            for row in rows {
                match row.try_get::<String, _>(0)?.as_str() {
                    "order" => found.0 = true,
                    _ => found.1 = Some(row.try_get::<i64, _>(1)?),
                }
            }
            found
        }
        Backend::Postgres(c) => {
            let text = format!(
                "WITH o AS ({INSERT_ORDER}), b AS ({lock}) \
                 SELECT (SELECT COUNT(*) FROM o), (SELECT available FROM b)"
            );
            let row = postgres_query(text, values).fetch_one(&mut *c).await?;
            (
                row.try_get::<i64, _>(0)? == 1,
                row.try_get::<Option<i64>, _>(1)?,
            )
        }
    };
    Ok(if inserted {
        Intake::Inserted { available }
    } else {
        Intake::Duplicate
    })
}
