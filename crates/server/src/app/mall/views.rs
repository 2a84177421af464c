//! What the API shows of rewards and redemptions, with shipping addresses opened for callers
//! who may read personal information and masked for everyone else; and the member profile's
//! `mall` section.

use crate::app::error::{ApiError, ApiResult};
use crate::app::profile::SectionFuture;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::identity::member::mask_name;
use huiyuan_domain::identity::phone::mask_phone;
use huiyuan_domain::ids::{MemberId, RewardId, TenantId};
use huiyuan_domain::mall::{
    DeliveryMethod, RedemptionState, RewardKind, RewardSpec, ShippingAddress, reward::MAX_QUANTITY,
};
use huiyuan_store::Session;
use huiyuan_store::coupons::{self, StoredCoupon};
use huiyuan_store::mall::{StoredRedemption, StoredReward, redemptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A reward of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct RewardView {
    pub id: RewardId,
    #[serde(flatten)]
    pub spec: RewardSpec,
    /// Units left; absent when the stock is unlimited.
    pub stock: Option<i64>,
    pub unlimited_stock: bool,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<StoredReward> for RewardView {
    fn from(reward: StoredReward) -> Self {
        RewardView {
            id: reward.id,
            unlimited_stock: reward.stock.is_none(),
            spec: reward.spec,
            stock: reward.stock,
            archived: reward.archived,
            created_at: reward.created_at,
            updated_at: reward.updated_at,
        }
    }
}

/// Carrier and tracking number of a shipped redemption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_no: String,
}

/// How a redemption is delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub method: DeliveryMethod,
    /// The store chosen for collection.
    pub store_id: Option<Uuid>,
    /// The shipping address; masked without `pii:read`, absent once erased.
    pub address: Option<ShippingAddress>,
    pub address_masked: bool,
}

/// Points a redemption spent, by the format that issued them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointsSourceView {
    /// The issuing format; absent for group-issued points and adjustments.
    pub format_id: Option<Uuid>,
    pub points: i64,
}

/// A coupon a coupon reward's redemption issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedCouponView {
    pub coupon_id: Uuid,
    /// The code to type at a till, grouped as in the member's coupons.
    pub code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<&StoredCoupon> for IssuedCouponView {
    fn from(coupon: &StoredCoupon) -> Self {
        IssuedCouponView {
            coupon_id: coupon.id,
            code: huiyuan_domain::coupons::CouponCode::from_trusted(coupon.code.clone()).grouped(),
            expires_at: coupon.expires_at,
        }
    }
}

/// The coupons a coupon reward's redemption issued, found by their natural keys (at most the
/// reward's `max_quantity`, so a bounded number of indexed look-ups).
pub async fn issued_coupons(
    session: &mut Session,
    tenant: TenantId,
    redemption: &StoredRedemption,
) -> ApiResult<Vec<IssuedCouponView>> {
    if redemption.reward_kind != RewardKind::Coupon.as_str() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for unit in 0..redemption.quantity.min(MAX_QUANTITY) {
        let key = super::coupon_key(redemption.id, unit);
        if let Some(coupon) = coupons::coupon_by_natural_key(session, tenant, &key).await? {
            out.push(IssuedCouponView::from(&coupon));
        }
    }
    Ok(out)
}

/// A redemption order (兑换订单).
#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionView {
    pub id: Uuid,
    pub member_id: MemberId,
    pub reward_id: RewardId,
    pub reward_kind: String,
    pub reward_name: String,
    pub quantity: i64,
    /// Points in all.
    pub points: i64,
    /// Cash in all, in fen (积分+现金).
    pub cash_fen: i64,
    pub cash_payment_reference: Option<String>,
    pub state: RedemptionState,
    pub delivery: DeliveryView,
    pub shipment: Option<Shipment>,
    /// Where it was handed over or served.
    pub collected_store_id: Option<Uuid>,
    /// The merchant store supplying the reward (revenue split).
    pub supplier_store_id: Option<Uuid>,
    pub supplier_format_id: Option<Uuid>,
    /// The format whose account claimed the points (inter-format settlement).
    pub spending_format_id: Option<Uuid>,
    /// The ledger account credited: `redemption:<format>` or `donation:<format>`.
    pub points_account: String,
    pub points_sources: Vec<PointsSourceView>,
    pub spend_entry_id: Uuid,
    /// Coupon rewards: the coupons issued, one per unit. Shown in the redemption's own answer
    /// and by `GET /reward-redemptions/{id}`; lists leave it empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coupons: Vec<IssuedCouponView>,
    pub channel_id: Option<Uuid>,
    pub cancel_reason: Option<String>,
    /// Cash the payer must get back after a cancellation (refunded outside Huiyuan).
    pub cash_refund_due_fen: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub shipped_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub collected_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
}

fn masked(address: ShippingAddress) -> ShippingAddress {
    let street = address.address.chars().count().min(6);
    ShippingAddress {
        recipient: mask_name(&address.recipient),
        phone: mask_phone(&address.phone),
        address: "*".repeat(street),
        ..address
    }
}

/// The sealed address, opened; masked unless the caller may read personal information.
fn address(
    vault: &Vault,
    sealed: Option<&str>,
    reveal: bool,
) -> ApiResult<Option<ShippingAddress>> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let text = vault.open(sealed).map_err(ApiError::internal)?;
    let address: ShippingAddress = serde_json::from_str(&text).map_err(ApiError::internal)?;
    Ok(Some(if reveal { address } else { masked(address) }))
}

impl RedemptionView {
    pub fn build(vault: &Vault, caller: &Principal, r: StoredRedemption) -> ApiResult<Self> {
        let reveal = caller.require(Permission::PiiRead).is_ok();
        let state = RedemptionState::parse("state", &r.state)
            .map_err(|_| ApiError::internal("stored redemption state"))?;
        let method = DeliveryMethod::parse("delivery_method", &r.delivery_method)
            .map_err(|_| ApiError::internal("stored delivery method"))?;
        let shipment = r
            .shipment
            .as_ref()
            .map(|value| serde_json::from_value::<Shipment>(value.clone()))
            .transpose()
            .map_err(ApiError::internal)?;
        let address = address(vault, r.shipping_enc.as_deref(), reveal)?;
        Ok(RedemptionView {
            id: r.id,
            member_id: r.member_id,
            reward_id: r.reward_id,
            reward_kind: r.reward_kind,
            reward_name: r.reward_name,
            quantity: r.quantity,
            points: r.points,
            cash_fen: r.cash_fen,
            cash_payment_reference: r.cash_payment_reference,
            delivery: DeliveryView {
                method,
                store_id: r.collect_store_id,
                address_masked: address.is_some() && !reveal,
                address,
            },
            shipment,
            collected_store_id: r.collected_store_id,
            supplier_store_id: r.supplier_store_id,
            supplier_format_id: r.supplier_format_id,
            spending_format_id: r.spending_format_id,
            points_account: r.points_account,
            points_sources: r
                .points_sources
                .iter()
                .map(|source| PointsSourceView {
                    format_id: source.format_id,
                    points: source.points,
                })
                .collect(),
            spend_entry_id: r.spend_entry_id,
            coupons: Vec::new(),
            channel_id: r.channel_id,
            cancel_reason: r.cancel_reason,
            cash_refund_due_fen: if state == RedemptionState::Cancelled {
                r.cash_fen
            } else {
                0
            },
            state,
            created_at: r.created_at,
            updated_at: r.updated_at,
            shipped_at: r.shipped_at,
            collected_at: r.collected_at,
            completed_at: r.completed_at,
            cancelled_at: r.cancelled_at,
        })
    }
}

/// The member profile's `mall` summary: open redemptions and the latest one; absent for a
/// member who never redeemed.
pub fn mall_section<'a>(
    session: &'a mut Session,
    tenant: TenantId,
    member: MemberId,
) -> SectionFuture<'a> {
    Box::pin(async move {
        let summary = redemptions::member_summary(session, tenant, member).await?;
        Ok(summary.last.map(|last| {
            json!({
                "open_redemptions": summary.open,
                "last_redemption": {
                    "id": last.id,
                    "reward_id": last.reward_id,
                    "reward_name": last.reward_name,
                    "state": last.state,
                    "points": last.points,
                    "created_at": last.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
                },
            })
        }))
    })
}
