//! What the API answers about an order, and which orders a caller may see.

use crate::app::error::{ApiError, ApiResult};
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass};
use huiyuan_domain::earning::Fired;
use huiyuan_domain::ids::{FormatId, MemberId, OrderId, StoreId, TenantId};
use huiyuan_store::Session;
use huiyuan_store::orders::{self, StoredLine, StoredOrder, StoredPayment, StoredRefund};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineView {
    pub line_no: u32,
    pub sku: String,
    pub name: String,
    pub category_path: Vec<String>,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
    pub excluded: bool,
    pub refunded_quantity: i64,
    pub refunded_fen: i64,
    /// What the line earned at accrual.
    pub points_earned: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub method: String,
    pub amount_fen: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundedLineView {
    pub line_no: u32,
    pub quantity: i64,
    pub amount_fen: i64,
    pub points: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: Uuid,
    pub order_id: OrderId,
    pub external_refund_id: String,
    pub lines: Vec<RefundedLineView>,
    pub amount_fen: i64,
    /// Points taken back from the member.
    pub points_reversed: i64,
    /// Points the refunded lines earned that could not be taken back.
    pub unrecovered: i64,
    /// How the points were taken back (own lot, other lots, overdraft, unrecovered).
    pub explanation: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<StoredRefund> for RefundView {
    fn from(refund: StoredRefund) -> Self {
        Self {
            id: refund.id,
            order_id: refund.order_id,
            external_refund_id: refund.external_refund_id,
            lines: refund
                .lines
                .into_iter()
                .map(|line| RefundedLineView {
                    line_no: line.line_no,
                    quantity: line.quantity,
                    amount_fen: line.amount_fen,
                    points: line.points,
                })
                .collect(),
            amount_fen: refund.amount_fen,
            points_reversed: refund.points_reversed,
            unrecovered: refund.unrecovered,
            explanation: refund.explanation,
            created_at: refund.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: OrderId,
    pub external_id: String,
    pub channel_id: Uuid,
    /// Absent for an anonymous order.
    pub member_id: Option<MemberId>,
    pub store_id: Option<Uuid>,
    /// The issuing business format: its liability account carries the points.
    pub format_id: Uuid,
    pub guide_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub total_fen: i64,
    pub refunded_fen: i64,
    /// `completed`, `partially_refunded` or `refunded`.
    pub status: String,
    pub points_earned: i64,
    pub points_reversed: i64,
    /// The earning rules that fired, with their points per line.
    pub fired_rules: Vec<Fired>,
    pub lines: Vec<LineView>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub claimed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Where an order sits for data-scope decisions.
pub fn order_placement(order: &StoredOrder) -> Placement {
    Placement {
        format_id: Some(FormatId(order.format_id)),
        store_id: order.store_id.map(StoreId),
        guide_id: None,
    }
}

/// The order with its lines, payments and refunds.
pub async fn order_view(
    session: &mut Session,
    tenant: TenantId,
    order: StoredOrder,
) -> ApiResult<OrderView> {
    let lines = orders::order_lines(session, tenant, order.id).await?;
    let payments = orders::order_payments(session, tenant, order.id).await?;
    let refunds = orders::order_refunds(session, tenant, order.id).await?;
    Ok(assemble_view(order, lines, payments, refunds))
}

/// The view of an order from its rows at hand (a new order answers from memory).
pub fn assemble_view(
    order: StoredOrder,
    lines: Vec<StoredLine>,
    payments: Vec<StoredPayment>,
    refunds: Vec<StoredRefund>,
) -> OrderView {
    OrderView {
        id: order.id,
        external_id: order.external_id,
        channel_id: order.channel_id,
        member_id: order.member_id,
        store_id: order.store_id,
        format_id: order.format_id,
        guide_id: order.guide_id,
        occurred_at: order.occurred_at,
        total_fen: order.total_fen,
        refunded_fen: order.refunded_fen,
        status: order.status,
        points_earned: order.points_earned,
        points_reversed: order.points_reversed,
        fired_rules: order
            .accrual
            .map(|accrual| accrual.fired)
            .unwrap_or_default(),
        lines: lines
            .into_iter()
            .map(|line| LineView {
                line_no: u32::try_from(line.line_no).unwrap_or(u32::MAX),
                sku: line.sku,
                name: line.name,
                category_path: line.category_path,
                quantity: line.quantity,
                unit_price_fen: line.unit_price_fen,
                amount_fen: line.amount_fen,
                excluded: line.excluded,
                refunded_quantity: line.refunded_quantity,
                refunded_fen: line.refunded_fen,
                points_earned: line.points_earned,
            })
            .collect(),
        payments: payments
            .into_iter()
            .map(|p| PaymentView {
                method: p.method,
                amount_fen: p.amount_fen,
            })
            .collect(),
        refunds: refunds.into_iter().map(RefundView::from).collect(),
        claimed_at: order.claimed_at,
        created_at: order.created_at,
    }
}

/// An order the caller may see, otherwise 404.
pub async fn visible_order(
    session: &mut Session,
    caller: &Principal,
    id: OrderId,
    access: Access,
) -> ApiResult<StoredOrder> {
    let order = orders::get_order(session, caller.tenant_id, id)
        .await?
        .filter(|order| caller.permits(Access::Read, RecordClass::Org, &order_placement(order)))
        .ok_or_else(|| ApiError::not_found("order"))?;
    if access == Access::Write {
        crate::app::access::writable(caller, RecordClass::Org, &order_placement(&order))?;
    }
    Ok(order)
}
