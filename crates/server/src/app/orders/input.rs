//! What channels post: orders with their lines and payments, claims and refunds.

use huiyuan_domain::ids::{ChannelId, FormatId, MemberId, StaffId, StoreId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// How the customer paid part of the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    WechatPay,
    Alipay,
    /// Points as cash (积分抵现): earns nothing.
    Points,
    /// Order-level coupons: earn nothing.
    Coupon,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::WechatPay => "wechat_pay",
            PaymentMethod::Alipay => "alipay",
            PaymentMethod::Points => "points",
            PaymentMethod::Coupon => "coupon",
        }
    }
}

/// One line of a posted order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// Unique within the order; refunds name lines by it.
    pub line_no: u32,
    pub sku: String,
    #[serde(default)]
    pub name: String,
    /// From the broadest category down, e.g. `["beauty", "skincare"]`.
    #[serde(default)]
    pub category_path: Vec<String>,
    pub quantity: u32,
    pub unit_price_fen: i64,
    /// What the line costs after line discounts.
    pub amount_fen: i64,
    /// Lines that never earn (tobacco, gift cards, deposits).
    #[serde(default)]
    pub excluded: bool,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    pub amount_fen: i64,
}

/// The body of `POST /orders` and `POST /orders/preview`. The member is named by at most one of
/// `member_id`, `phone`, `member_no`, `member_code`; none makes an anonymous order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The channel's own order id; the same (channel, external_id) is one order.
    pub external_id: String,
    /// Staff only; an API key posts for its own channel.
    pub channel_id: Option<ChannelId>,
    pub member_id: Option<MemberId>,
    pub phone: Option<String>,
    pub member_no: Option<String>,
    /// A dynamic member code (一客一码) scanned at the till.
    pub member_code: Option<String>,
    pub store_id: Option<StoreId>,
    /// Needed only without a store and on a group-wide channel.
    pub format_id: Option<FormatId>,
    pub guide_id: Option<StaffId>,
    /// When the purchase happened; earning rules read it in the tenant's time zone.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub total_fen: i64,
    pub lines: Vec<LineInput>,
    /// Absent means all paid in cash-like methods; when present the parts sum to `total_fen`.
    #[serde(default)]
    pub payments: Vec<PaymentInput>,
}

/// The body of `POST /orders/{id}/claim`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimInput {
    pub member_id: MemberId,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineInput {
    pub line_no: u32,
    pub quantity: u32,
}

/// The body of `POST /orders/{id}/refunds`; without `lines`, everything not yet refunded.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    pub external_refund_id: String,
    pub lines: Option<Vec<RefundLineInput>>,
}
