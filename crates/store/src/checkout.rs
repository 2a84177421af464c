//! Checkouts: priced carts holding a member's coupons and points until confirmed, cancelled or
//! expired, and each tenant's points-as-cash settings.
//!
//! A checkout belongs to its member (key `(tenant_id, member_id, id)`, in the merge registry).
//! Its state changes only through [`close`], a compare-and-set from `reserved`: of a concurrent
//! confirmation, cancellation and expiry exactly one applies. The coupon side of the hold is the
//! coupon's own `reserved` state (see [`reserve_coupon`]).

use crate::backend::Session;
use crate::error::StoreResult;
use crate::ids::NullableId;
use crate::mall::PointsSource;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A coupon a checkout holds and what it takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCoupon {
    pub coupon_id: Uuid,
    pub discount_fen: i64,
}

/// A checkout as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCheckout {
    pub id: Uuid,
    pub member_id: MemberId,
    /// `reserved`, `confirmed`, `cancelled` or `expired`.
    pub state: String,
    /// Where the checkout happens (data scopes, the spending format's accounts).
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    /// The priced cart, as answered.
    pub quote: serde_json::Value,
    pub coupons: Vec<HeldCoupon>,
    pub points: i64,
    pub points_value_fen: i64,
    pub cash_due_fen: i64,
    /// The entry that moved the points into the hold account (none without points).
    pub hold_entry_id: Option<Uuid>,
    /// Which formats issued the points held (for settlement).
    pub points_sources: Vec<PointsSource>,
    pub order_id: Option<OrderId>,
    pub order_ref: Option<String>,
    pub cancel_reason: Option<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub confirmed_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct CheckoutRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    state: String,
    format_id: Option<Uuid>,
    store_id: Option<Uuid>,
    channel_id: Option<Uuid>,
    quote: Json<serde_json::Value>,
    coupons: Json<Vec<HeldCoupon>>,
    points: i64,
    points_value_fen: i64,
    cash_due_fen: i64,
    hold_entry_id: Option<Uuid>,
    points_sources: Json<Vec<PointsSource>>,
    #[sqlx(try_from = "NullableId")]
    order_id: Option<OrderId>,
    order_ref: Option<String>,
    cancel_reason: Option<String>,
    expires_at: OffsetDateTime,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    confirmed_at: Option<OffsetDateTime>,
    closed_at: Option<OffsetDateTime>,
}

impl From<CheckoutRow> for StoredCheckout {
    fn from(row: CheckoutRow) -> Self {
        StoredCheckout {
            id: row.id,
            member_id: row.member_id,
            state: row.state,
            format_id: row.format_id,
            store_id: row.store_id,
            channel_id: row.channel_id,
            quote: row.quote.0,
            coupons: row.coupons.0,
            points: row.points,
            points_value_fen: row.points_value_fen,
            cash_due_fen: row.cash_due_fen,
            hold_entry_id: row.hold_entry_id,
            points_sources: row.points_sources.0,
            order_id: row.order_id,
            order_ref: row.order_ref,
            cancel_reason: row.cancel_reason,
            expires_at: row.expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            confirmed_at: row.confirmed_at,
            closed_at: row.closed_at,
        }
    }
}

pub async fn insert(s: &mut Session, tenant: TenantId, c: &StoredCheckout) -> StoreResult<()> {
    on_backend!(s, conn => sqlx::query(
        "INSERT INTO checkouts (tenant_id, member_id, id, state, format_id, store_id, channel_id, quote, coupons, \
         points, points_value_fen, cash_due_fen, hold_entry_id, points_sources, order_id, order_ref, cancel_reason, \
         expires_at, created_at, updated_at, confirmed_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)")
        .bind(tenant.0).bind(c.member_id.0).bind(c.id).bind(&c.state).bind(c.format_id).bind(c.store_id)
        .bind(c.channel_id).bind(Json(&c.quote)).bind(Json(&c.coupons)).bind(c.points).bind(c.points_value_fen)
        .bind(c.cash_due_fen).bind(c.hold_entry_id).bind(Json(&c.points_sources)).bind(c.order_id.map(Uuid::from))
        .bind(&c.order_ref).bind(&c.cancel_reason).bind(Ts(c.expires_at)).bind(Ts(c.created_at))
        .bind(Ts(c.updated_at)).bind(c.confirmed_at.map(Ts)).bind(c.closed_at.map(Ts))
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

pub async fn get(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredCheckout>> {
    let row: Option<CheckoutRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, member_id, state, format_id, store_id, channel_id, quote, coupons, points, points_value_fen, \
         cash_due_fen, hold_entry_id, points_sources, order_id, order_ref, cancel_reason, expires_at, created_at, \
         updated_at, confirmed_at, closed_at FROM checkouts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(StoredCheckout::from))
}

/// How a reserved checkout ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closing {
    /// Paid: with the order it paid for. Refused once `expires_at` has passed.
    Confirmed {
        order_id: Option<OrderId>,
        order_ref: Option<String>,
    },
    Cancelled {
        reason: Option<String>,
    },
    /// Released by the expiry job; only once `expires_at` has passed.
    Expired,
}

impl Closing {
    pub fn state(&self) -> &'static str {
        match self {
            Closing::Confirmed { .. } => "confirmed",
            Closing::Cancelled { .. } => "cancelled",
            Closing::Expired => "expired",
        }
    }
}

/// Compare-and-set `reserved` → the closing's state at `at`; `false` (nothing written) when the
/// checkout is no longer reserved, or (confirming) expired, or (expiring) not yet due.
pub async fn close(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
    closing: &Closing,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let (order_id, order_ref, reason, due) = match closing {
        Closing::Confirmed {
            order_id,
            order_ref,
        } => (*order_id, order_ref.clone(), None, " AND expires_at > $3"),
        Closing::Cancelled { reason } => (None, None, reason.clone(), ""),
        Closing::Expired => (None, None, None, " AND expires_at <= $3"),
    };
    let confirmed_at = matches!(closing, Closing::Confirmed { .. }).then_some(Ts(at));
    let sql = format!(
        "UPDATE checkouts SET state = $4, order_id = $5, order_ref = $6, cancel_reason = $7, confirmed_at = $8, \
         closed_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'reserved'{due}"
    );
    let updated = on_backend!(s, c => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0).bind(id).bind(Ts(at)).bind(closing.state()).bind(order_id.map(Uuid::from)).bind(order_ref)
        .bind(reason).bind(confirmed_at).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Reserved checkouts whose hold ended by `now`, oldest first, at most `limit`. On PostgreSQL
/// the rows are locked for this transaction and rows another node holds are skipped, so nodes
/// releasing at once share the work; on SQLite the single writer does the same.
pub async fn claim_expired(
    s: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    let lock = if s.is_postgres() {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id FROM checkouts WHERE tenant_id = $1 AND state = 'reserved' AND expires_at <= $2 \
         ORDER BY expires_at, id LIMIT $3{lock}"
    );
    let ids: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0).bind(Ts(now)).bind(limit).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// Compare-and-set a coupon `available` → `reserved` while it is within its validity at `at`;
/// `false` (nothing written) when it is held, used, voided or outside its validity.
pub async fn reserve_coupon(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupons SET state = 'reserved', updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND state = 'available' AND starts_at <= $3 AND expires_at > $3")
        .bind(tenant.0).bind(coupon).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Compare-and-set a coupon `reserved` → `available` (a cancelled or expired checkout).
pub async fn release_coupon(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupons SET state = 'available', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'reserved'")
        .bind(tenant.0).bind(coupon).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Compare-and-set a coupon `reserved` → `used` by `redemption` (a confirmed checkout); its
/// validity was checked when it was reserved.
pub async fn use_reserved_coupon(
    s: &mut Session,
    tenant: TenantId,
    coupon: Uuid,
    redemption: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupons SET state = 'used', redemption_id = $3, used_at = $4, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND state = 'reserved'")
        .bind(tenant.0).bind(coupon).bind(redemption).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// A tenant's points-as-cash settings at checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCheckoutPolicy {
    pub max_share_percent: i64,
    pub points_unit: i64,
    pub hold_minutes: i64,
    pub updated_at: OffsetDateTime,
}

pub async fn policy(
    s: &mut Session,
    tenant: TenantId,
) -> StoreResult<Option<StoredCheckoutPolicy>> {
    let row = on_backend!(s, c => sqlx::query_as(
        "SELECT max_share_percent, points_unit, hold_minutes, updated_at FROM checkout_policies WHERE tenant_id = $1")
        .bind(tenant.0).fetch_optional(&mut *c).await)?;
    Ok(row)
}

pub async fn put_policy(
    s: &mut Session,
    tenant: TenantId,
    policy: &StoredCheckoutPolicy,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO checkout_policies (tenant_id, max_share_percent, points_unit, hold_minutes, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET max_share_percent = $2, \
         points_unit = $3, hold_minutes = $4, updated_at = $5")
        .bind(tenant.0).bind(policy.max_share_percent).bind(policy.points_unit).bind(policy.hold_minutes)
        .bind(Ts(policy.updated_at)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
