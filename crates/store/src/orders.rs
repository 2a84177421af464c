//! Orders as posted by the channels: the order row (one per channel and external order id), its
//! lines, payments and refunds, and the per-rule accrual counters the earning engine's day and
//! period caps read. Refunded quantities only grow, through guarded updates that refuse to pass
//! what was bought.

use crate::backend::Session;
use crate::deferred::{Change, Value, Write, execute_now};
use crate::error::StoreResult;
use crate::ids::NullableId;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::earning::Accrual;
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// An order row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredOrder {
    #[sqlx(try_from = "Uuid")]
    pub id: OrderId,
    /// `None` for an anonymous order not yet claimed.
    #[sqlx(try_from = "NullableId")]
    pub member_id: Option<MemberId>,
    pub channel_id: Uuid,
    pub external_id: String,
    pub store_id: Option<Uuid>,
    pub format_id: Uuid,
    pub guide_id: Option<Uuid>,
    pub occurred_at: OffsetDateTime,
    pub total_fen: i64,
    pub paid_by_points_fen: i64,
    pub paid_by_coupons_fen: i64,
    pub refunded_fen: i64,
    /// `completed`, `partially_refunded` or `refunded`.
    pub status: String,
    pub points_earned: i64,
    pub points_reversed: i64,
    /// The engine's accrual (fired rules, per-line points); `None` until a member earned.
    #[sqlx(json(nullable))]
    pub accrual: Option<Accrual>,
    pub claimed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An order line.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredLine {
    pub line_no: i64,
    pub sku: String,
    pub name: String,
    #[sqlx(json)]
    pub category_path: Vec<String>,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
    pub excluded: bool,
    pub refunded_quantity: i64,
    pub refunded_fen: i64,
    pub points_earned: i64,
}

/// A payment part of an order.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredPayment {
    /// `cash`, `card`, `wechat_pay`, `alipay`, `points`, `coupon`.
    pub method: String,
    pub amount_fen: i64,
}

/// One refunded line of a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    pub line_no: u32,
    pub quantity: i64,
    pub amount_fen: i64,
    pub points: i64,
}

/// A refund of some or all of an order.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRefund {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub order_id: OrderId,
    pub external_refund_id: String,
    #[sqlx(json)]
    pub lines: Vec<RefundedLine>,
    pub amount_fen: i64,
    /// Points taken back from the member.
    pub points_reversed: i64,
    /// Points the refund should have taken back but could not (spent, beyond the overdraft).
    pub unrecovered: i64,
    pub explanation: String,
    pub created_at: OffsetDateTime,
}

const ORDER_FIELDS: &str = "id, member_id, channel_id, external_id, store_id, format_id, guide_id, occurred_at, total_fen, \
    paid_by_points_fen, paid_by_coupons_fen, refunded_fen, status, points_earned, points_reversed, accrual, claimed_at, \
    created_at, updated_at";
const LINE_FIELDS: &str = "line_no, sku, name, category_path, quantity, unit_price_fen, amount_fen, excluded, \
    refunded_quantity, refunded_fen, points_earned";
const REFUND_FIELDS: &str = "id, order_id, external_refund_id, lines, amount_fen, points_reversed, unrecovered, explanation, created_at";

/// The order's insert, guarded by its (channel, external id) key: a literal, so callers extend it
/// with `concat!` (see [`crate::order_intake`]).
macro_rules! insert_order_sql {
    () => {
        "INSERT INTO orders (tenant_id, id, member_id, channel_id, external_id, store_id, format_id, guide_id, \
         occurred_at, total_fen, paid_by_points_fen, paid_by_coupons_fen, refunded_fen, status, points_earned, \
         points_reversed, accrual, claimed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT DO NOTHING"
    };
}
pub(crate) use insert_order_sql;

/// Inserts the order with its lines and payments; `false` when the channel already posted an
/// order with this external id (nothing is written then).
pub async fn insert_order(
    s: &mut Session,
    tenant: TenantId,
    order: &StoredOrder,
    lines: &[StoredLine],
    payments: &[StoredPayment],
) -> StoreResult<bool> {
    let inserted = execute_now(s, insert_order_sql!(), order_values(tenant, order)?).await?;
    if inserted != 1 {
        return Ok(false);
    }
    defer_order_lines(s, tenant, order.id, lines)?;
    defer_order_payments(s, tenant, order.id, payments);
    Ok(true)
}

/// The values of [`insert_order_sql`]'s placeholders, in order.
pub(crate) fn order_values(tenant: TenantId, order: &StoredOrder) -> StoreResult<Vec<Value>> {
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

/// The columns of `order_lines`, in the order [`defer_order_lines`] gives their values.
const LINE_COLUMNS: [&str; 13] = [
    "tenant_id",
    "order_id",
    "line_no",
    "sku",
    "name",
    "category_path",
    "quantity",
    "unit_price_fen",
    "amount_fen",
    "excluded",
    "refunded_quantity",
    "refunded_fen",
    "points_earned",
];

/// Queues an order's lines with the session's deferred writes (see [`crate::deferred`]), many
/// per statement.
pub fn defer_order_lines(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    lines: &[StoredLine],
) -> StoreResult<()> {
    let mut rows = Vec::with_capacity(lines.len());
    for line in lines {
        rows.push([
            tenant.0.into(),
            order.into(),
            line.line_no.into(),
            line.sku.as_str().into(),
            line.name.as_str().into(),
            Value::json(&line.category_path)?,
            line.quantity.into(),
            line.unit_price_fen.into(),
            line.amount_fen.into(),
            line.excluded.into(),
            line.refunded_quantity.into(),
            line.refunded_fen.into(),
            line.points_earned.into(),
        ]);
    }
    s.defer(Write::insert("order_lines", &LINE_COLUMNS, rows));
    Ok(())
}

/// Queues an order's payments with the session's deferred writes (none when there are none).
pub fn defer_order_payments(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    payments: &[StoredPayment],
) {
    let rows = payments.iter().enumerate().map(|(seq, payment)| {
        [
            tenant.0.into(),
            order.into(),
            i64::try_from(seq).unwrap_or(i64::MAX).into(),
            payment.method.as_str().into(),
            payment.amount_fen.into(),
        ]
    });
    s.defer(Write::insert(
        "order_payments",
        &["tenant_id", "order_id", "seq", "method", "amount_fen"],
        rows,
    ));
}

pub async fn get_order(
    s: &mut Session,
    tenant: TenantId,
    id: OrderId,
) -> StoreResult<Option<StoredOrder>> {
    let sql = format!("SELECT {ORDER_FIELDS} FROM orders WHERE tenant_id = $1 AND id = $2");
    let row: Option<StoredOrder> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(id.0).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// The order a channel posted under its own order id.
pub async fn order_by_external_id(
    s: &mut Session,
    tenant: TenantId,
    channel: Uuid,
    external_id: &str,
) -> StoreResult<Option<StoredOrder>> {
    let sql = format!(
        "SELECT {ORDER_FIELDS} FROM orders WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3"
    );
    let row: Option<StoredOrder> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(channel).bind(external_id).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// The order's lines by line number.
pub async fn order_lines(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
) -> StoreResult<Vec<StoredLine>> {
    let sql = format!(
        "SELECT {LINE_FIELDS} FROM order_lines WHERE tenant_id = $1 AND order_id = $2 ORDER BY line_no"
    );
    let rows: Vec<StoredLine> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(order.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

pub async fn order_payments(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
) -> StoreResult<Vec<StoredPayment>> {
    let rows: Vec<StoredPayment> = on_backend!(s, c => sqlx::query_as(
        "SELECT method, amount_fen FROM order_payments WHERE tenant_id = $1 AND order_id = $2 ORDER BY seq")
        .bind(tenant.0).bind(order.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Records what the order earned its member: the total, the engine's accrual and each line's points.
pub async fn set_accrual(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    accrual: &Accrual,
    now: OffsetDateTime,
) -> StoreResult<()> {
    defer_order_accrual(s, tenant, order, accrual, now)?;
    for line in &accrual.per_line {
        on_backend!(s, c => sqlx::query(
            "UPDATE order_lines SET points_earned = $4 WHERE tenant_id = $1 AND order_id = $2 AND line_no = $3")
            .bind(tenant.0).bind(order.0).bind(i64::from(line.line_no)).bind(line.points)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Records the total and the engine's accrual on the order row only (for lines inserted with
/// their points already).
pub fn defer_order_accrual(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    accrual: &Accrual,
    now: OffsetDateTime,
) -> StoreResult<()> {
    s.defer(Write::update(
        "orders",
        [("tenant_id", tenant.0.into()), ("id", order.into())],
        [
            ("points_earned", Change::Set(accrual.total_points.into())),
            ("accrual", Change::Set(Value::json(accrual)?)),
            ("updated_at", Change::Set(now.into())),
        ],
    ));
    Ok(())
}

/// Gives an anonymous order to a member; `false` when it already has one.
pub async fn claim_order(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    member: MemberId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE orders SET member_id = $3, claimed_at = $4, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND member_id IS NULL")
        .bind(tenant.0).bind(order.0).bind(member.0).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Refunds `quantity` more of a line, worth `amount_fen`; guarded on the refunded quantity read
/// before (`expected_before`) so two concurrent refunds never both count the same units, and on
/// never passing what was bought. `false` when refused.
pub async fn refund_line(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    line_no: u32,
    expected_before: i64,
    quantity: i64,
    amount_fen: i64,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE order_lines SET refunded_quantity = refunded_quantity + $5, refunded_fen = refunded_fen + $6 \
         WHERE tenant_id = $1 AND order_id = $2 AND line_no = $3 AND refunded_quantity = $4 \
         AND refunded_quantity + $5 <= quantity AND refunded_fen + $6 <= amount_fen")
        .bind(tenant.0).bind(order.0).bind(i64::from(line_no)).bind(expected_before).bind(quantity).bind(amount_fen)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Adds a refund's totals to the order and sets its status; guarded so the refunded amount never
/// passes the total. `false` when refused.
pub async fn add_refund_totals(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    amount_fen: i64,
    points_reversed: i64,
    status: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE orders SET refunded_fen = refunded_fen + $3, points_reversed = points_reversed + $4, status = $5, \
         updated_at = $6 WHERE tenant_id = $1 AND id = $2 AND refunded_fen + $3 <= total_fen")
        .bind(tenant.0).bind(order.0).bind(amount_fen).bind(points_reversed).bind(status).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Records a refund; `false` when the order already has one under this external refund id.
pub async fn insert_refund(
    s: &mut Session,
    tenant: TenantId,
    refund: &StoredRefund,
) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO order_refunds (tenant_id, id, order_id, external_refund_id, lines, amount_fen, points_reversed, \
         unrecovered, explanation, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(refund.id).bind(refund.order_id.0).bind(&refund.external_refund_id).bind(Json(&refund.lines))
        .bind(refund.amount_fen).bind(refund.points_reversed).bind(refund.unrecovered).bind(&refund.explanation)
        .bind(Ts(refund.created_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

pub async fn refund_by_external_id(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
    external_refund_id: &str,
) -> StoreResult<Option<StoredRefund>> {
    let sql = format!(
        "SELECT {REFUND_FIELDS} FROM order_refunds WHERE tenant_id = $1 AND order_id = $2 AND external_refund_id = $3"
    );
    let row: Option<StoredRefund> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(order.0).bind(external_refund_id).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// The order's refunds, oldest first (an order has a handful at most).
pub async fn order_refunds(
    s: &mut Session,
    tenant: TenantId,
    order: OrderId,
) -> StoreResult<Vec<StoredRefund>> {
    let sql = format!(
        "SELECT {REFUND_FIELDS} FROM order_refunds WHERE tenant_id = $1 AND order_id = $2 ORDER BY id"
    );
    let rows: Vec<StoredRefund> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(order.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

// ---- rule counters ----

/// What one rule gave (or, negative, took back from) a member on one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleAccrual {
    pub id: Uuid,
    pub member_id: MemberId,
    pub rule_id: Uuid,
    pub order_id: OrderId,
    pub points: i64,
    /// The order's time: counters are per local day and period of the order.
    pub occurred_at: OffsetDateTime,
}

pub async fn insert_rule_accrual(
    s: &mut Session,
    tenant: TenantId,
    accrual: &RuleAccrual,
) -> StoreResult<()> {
    defer_rule_accruals(s, tenant, std::slice::from_ref(accrual));
    s.flush_deferred().await?;
    Ok(())
}

/// Queues many counter rows with the session's deferred writes, many per statement.
pub fn defer_rule_accruals(s: &mut Session, tenant: TenantId, rows: &[RuleAccrual]) {
    let rows = rows.iter().map(|accrual| {
        [
            tenant.0.into(),
            accrual.member_id.into(),
            accrual.id.into(),
            accrual.rule_id.into(),
            accrual.order_id.into(),
            accrual.points.into(),
            accrual.occurred_at.into(),
        ]
    });
    s.defer(Write::insert(
        "rule_accruals",
        &[
            "tenant_id",
            "member_id",
            "id",
            "rule_id",
            "order_id",
            "points",
            "occurred_at",
        ],
        rows,
    ));
}

/// What `rule` gave `member` for orders placed in `[start, end)`, or ever when `window` is `None`.
pub async fn rule_earned(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    rule: Uuid,
    window: Option<(OffsetDateTime, OffsetDateTime)>,
) -> StoreResult<i64> {
    let sum: i64 = match window {
        Some((start, end)) => on_backend!(s, c => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM rule_accruals WHERE tenant_id = $1 AND member_id = $2 \
             AND rule_id = $3 AND occurred_at >= $4 AND occurred_at < $5")
            .bind(tenant.0).bind(member.0).bind(rule).bind(Ts(start)).bind(Ts(end)).fetch_one(&mut *c).await)?,
        None => on_backend!(s, c => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM rule_accruals WHERE tenant_id = $1 AND member_id = $2 \
             AND rule_id = $3")
            .bind(tenant.0).bind(member.0).bind(rule).fetch_one(&mut *c).await)?,
    };
    Ok(sum)
}

/// An order is placed at its store and format.
pub const ORDER_COLUMNS: crate::scope_sql::ScopeColumns = crate::scope_sql::ScopeColumns {
    format: Some("format_id"),
    store: Some("store_id"),
    guide: None,
};

/// Filters of the order list; `from`/`until` bound `occurred_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub store_id: Option<Uuid>,
    pub member_id: Option<MemberId>,
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// Orders the predicate admits (over [`ORDER_COLUMNS`]), by id.
pub async fn list_orders(
    s: &mut Session,
    tenant: TenantId,
    predicate: &huiyuan_domain::auth::ScopePredicate,
    filter: &OrderFilter,
    page: huiyuan_domain::paging::PageRequest,
) -> StoreResult<huiyuan_domain::paging::Page<StoredOrder>> {
    let rows: Vec<StoredOrder> = on_backend!(s, c => {
        let mut query = sqlx::QueryBuilder::new(format!("SELECT {ORDER_FIELDS} FROM orders WHERE tenant_id = "));
        query.push_bind(tenant.0);
        if let Some(store) = filter.store_id {
            query.push(" AND store_id = ").push_bind(store);
        }
        if let Some(member) = filter.member_id {
            query.push(" AND member_id = ").push_bind(member.0);
        }
        if let Some(from) = filter.from {
            query.push(" AND occurred_at >= ").push_bind(Ts(from));
        }
        if let Some(until) = filter.until {
            query.push(" AND occurred_at < ").push_bind(Ts(until));
        }
        crate::scope_sql::push_scope(&mut query, predicate, &ORDER_COLUMNS);
        crate::scope_sql::push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(huiyuan_domain::paging::Page::from_rows(rows, page, |row| {
        row.id.0
    }))
}
