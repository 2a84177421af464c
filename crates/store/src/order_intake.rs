//! Taking a member's order in: the order's insert (its natural key) and the member's balance lock
//! in one round trip instead of two — SQLite runs both statements in one call, PostgreSQL as the
//! two parts of one `WITH` statement. What each does is exactly what [`crate::orders::insert_order`]
//! and [`crate::ledger::lock_active_balance`] do apart.
//!
//! On SQLite the same call also reads the rule counters the order's caps need
//! ([`crate::orders::rule_earned`]): the one writer runs the call whole, so the counters are read
//! after the lock as they must be. PostgreSQL runs the parts of one statement on one snapshot,
//! taken before the lock may have waited for another order of the member; there the caller reads
//! the counters in a statement of their own.

use crate::backend::{Backend, Session};
use crate::deferred::{postgres_query, sqlite_query};
use crate::error::StoreResult;
use crate::ledger::lock_active_balance_sql;
use crate::orders::{StoredOrder, insert_order_sql, order_values};
use huiyuan_domain::ids::{MemberId, TenantId};
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

/// The order's insert, answering a tagged row when it went in.
const INSERT_ORDER: &str = concat!(
    insert_order_sql!(),
    " RETURNING 'order' AS what, 0 AS available"
);

/// What a capped rule gave the member in `window` (or ever): one counter to read.
#[derive(Clone, Copy, Debug)]
pub struct RuleWindow {
    pub rule: Uuid,
    pub window: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// What [`insert_order_locking`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Intake {
    /// The channel already posted an order with this external id: nothing was written.
    Duplicate,
    /// The order is in, and the member's balance row is taken for this transaction; `available`
    /// is `None` when the member is no longer active (the caller rolls back). `counted` holds the
    /// requested counters in order when they were read in the same call (SQLite).
    Inserted {
        available: Option<i64>,
        counted: Option<Vec<i64>>,
    },
}

/// A counter's read, tagged with its position (`counter`, position).
fn counter_sql(offset: usize, position: usize, window: bool) -> String {
    let range = if window {
        format!(
            " AND occurred_at >= ${} AND occurred_at < ${}",
            offset + 4,
            offset + 5
        )
    } else {
        String::new()
    };
    format!(
        "SELECT 'counter' AS what, CAST(COALESCE(SUM(points), 0) AS BIGINT) AS available, {position} AS position \
         FROM rule_accruals WHERE tenant_id = ${} AND member_id = ${} AND rule_id = ${}{range}",
        offset + 1,
        offset + 2,
        offset + 3
    )
}

/// Inserts `member`'s order (without lines or payments: the caller queues them once they carry
/// their points) and takes the member's balance row, in one round trip; on SQLite it also reads
/// the `counters` (see the module comment).
pub async fn insert_order_locking(
    s: &mut Session,
    tenant: TenantId,
    order: &StoredOrder,
    member: MemberId,
    now: OffsetDateTime,
    counters: &[RuleWindow],
) -> StoreResult<Intake> {
    let mut values = order_values(tenant, order)?;
    let order_params = values.len();
    values.extend([tenant.0.into(), member.into(), now.into()]);
    // The balance row taken while the member is active, answering a tagged row with the balance.
    let lock = format!(
        "{} RETURNING 'balance' AS what, available",
        lock_active_balance_sql(order_params + 1)
    );
    let (inserted, available, counted) = match s.backend().await? {
        Backend::Sqlite(c) => {
            let mut text = format!("{INSERT_ORDER};\n{lock}");
            for (position, counter) in counters.iter().enumerate() {
                text.push_str(";\n");
                text.push_str(&counter_sql(
                    values.len(),
                    position,
                    counter.window.is_some(),
                ));
                values.extend([tenant.0.into(), member.into(), counter.rule.into()]);
                if let Some((start, end)) = counter.window {
                    values.extend([start.into(), end.into()]);
                }
            }
            // Each statement returns a row when it did its part, tagged with which it was.
            let rows = sqlite_query(text, values).fetch_all(&mut *c).await?;
            let mut found = (false, None, vec![0; counters.len()]);
            for row in rows {
                match row.try_get::<String, _>(0)?.as_str() {
                    "order" => found.0 = true,
                    "balance" => found.1 = Some(row.try_get::<i64, _>(1)?),
                    _ => {
                        let position =
                            usize::try_from(row.try_get::<i64, _>(2)?).unwrap_or(usize::MAX);
                        if let Some(slot) = found.2.get_mut(position) {
                            *slot = row.try_get::<i64, _>(1)?;
                        }
                    }
                }
            }
            (found.0, found.1, Some(found.2))
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
                None,
            )
        }
    };
    Ok(if inserted {
        Intake::Inserted { available, counted }
    } else {
        Intake::Duplicate
    })
}
