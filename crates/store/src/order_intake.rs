//! Taking a member's order in: the order's insert (its natural key) and the member's balance lock
//! in one round trip instead of two — SQLite runs both statements in one call, PostgreSQL as the
//! two parts of one `WITH` statement. What each does is exactly what [`crate::orders::insert_order`]
//! and [`crate::ledger::lock_active_balance`] do apart.

use crate::backend::{Backend, Session};
use crate::deferred::{postgres_query, renumber, sqlite_query};
use crate::error::StoreResult;
use crate::ledger::lock_active_balance_sql;
use crate::orders::{StoredOrder, insert_order_sql, order_values};
use huiyuan_domain::ids::TenantId;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

/// The order's insert, answering a tagged row when it went in.
const INSERT_ORDER: &str = concat!(
    insert_order_sql!(),
    " RETURNING 'order' AS what, 0 AS available"
);

/// The balance row taken while the member is active, answering a tagged row with the balance.
const LOCK_BALANCE: &str = concat!(
    lock_active_balance_sql!(),
    " RETURNING 'balance' AS what, available"
);

/// What [`insert_order_locking`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Intake {
    /// The channel already posted an order with this external id: nothing was written.
    Duplicate,
    /// The order is in, and the member's balance row is taken for this transaction; `None` when
    /// the member is no longer active (the caller rolls back).
    Inserted { available: Option<i64> },
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
