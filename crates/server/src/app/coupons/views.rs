//! What the API shows of templates, coupons and redemptions, and the profile's `coupons` section.

use crate::app::profile::SectionFuture;
use crate::app::vault::Vault;
use huiyuan_domain::coupons::{Benefit, CouponState, CouponTemplate, EffectiveState, IssueSource};
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use huiyuan_store::coupons::redemptions::StoredRedemption;
use huiyuan_store::coupons::{self as store, StoredCoupon, StoredTemplate};
use huiyuan_store::{Session, utc_now};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A template with its bookkeeping.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TemplateView {
    #[serde(flatten)]
    pub template: CouponTemplate,
    /// Coupons issued so far (counted against `total_quota`).
    pub issued_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<StoredTemplate> for TemplateView {
    fn from(stored: StoredTemplate) -> Self {
        Self {
            template: stored.template,
            issued_count: stored.issued_count,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// An issued coupon.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CouponView {
    pub id: Uuid,
    /// As printed and typed at a till: four groups of four (`7KQ2-M9XD-4TNB-E1WZ`).
    pub code: String,
    /// What the coupon's QR code encodes: the code with a signature (`C1.<code>.<tag>`); either
    /// form is accepted wherever a code is.
    pub qr_payload: String,
    pub member_id: MemberId,
    pub template_id: Uuid,
    pub name: String,
    pub benefit: Benefit,
    /// `available`, `reserved` (held by a checkout), `used`, `expired` or `voided`, as of now.
    pub state: EffectiveState,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub source: IssueSource,
    pub issuing_format_id: Option<Uuid>,
    /// The redemption that used it, while used.
    pub redemption_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

impl CouponView {
    pub fn new(
        vault: &Vault,
        tenant: TenantId,
        coupon: &StoredCoupon,
        template: &CouponTemplate,
        now: OffsetDateTime,
    ) -> Self {
        let state = CouponState::parse("state", &coupon.state)
            .unwrap_or(CouponState::Voided)
            .effective(coupon.expires_at, now);
        let code = huiyuan_domain::coupons::CouponCode::from_trusted(coupon.code.clone());
        Self {
            id: coupon.id,
            code: code.grouped(),
            qr_payload: vault.sign_coupon_code(tenant, code.as_str()),
            member_id: coupon.member_id,
            template_id: coupon.template_id,
            name: template.spec.name.clone(),
            benefit: template.spec.benefit.clone(),
            state,
            starts_at: coupon.starts_at,
            expires_at: coupon.expires_at,
            source: IssueSource::parse("source", &coupon.source).unwrap_or(IssueSource::Manual),
            issuing_format_id: coupon.issuing_format_id,
            redemption_id: coupon.redemption_id,
            used_at: coupon.used_at,
            issued_at: coupon.created_at,
        }
    }
}

/// One entry of the redemption journal.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RedemptionView {
    pub id: Uuid,
    pub coupon_id: Uuid,
    pub template_id: Uuid,
    pub code: String,
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    /// The staff account that redeemed it, for a staff caller.
    pub staff_id: Option<Uuid>,
    /// The API key that redeemed it, for a till or integration.
    pub api_key_id: Option<Uuid>,
    pub order_ref: Option<String>,
    pub order_id: Option<OrderId>,
    /// The coupon's nominal value.
    pub face_fen: i64,
    /// What it took off the cart.
    pub discount_fen: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub redeemed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reversed_at: Option<OffsetDateTime>,
    pub reversal_reason: Option<String>,
}

impl From<StoredRedemption> for RedemptionView {
    fn from(r: StoredRedemption) -> Self {
        let code = huiyuan_domain::coupons::CouponCode::from_trusted(r.code);
        Self {
            id: r.id,
            coupon_id: r.coupon_id,
            template_id: r.template_id,
            code: code.grouped(),
            format_id: r.format_id,
            store_id: r.store_id,
            channel_id: r.channel_id,
            staff_id: r.staff_id,
            api_key_id: r.api_key_id,
            order_ref: r.order_ref,
            order_id: r.order_id,
            face_fen: r.face_fen,
            discount_fen: r.discount_fen,
            redeemed_at: r.created_at,
            reversed_at: r.reversed_at,
            reversal_reason: r.reversal_reason,
        }
    }
}

/// The member profile's `coupons` summary: how many are available, used and expired, and the
/// available coupon expiring first.
pub fn coupons_section(s: &mut Session, tenant: TenantId, member: MemberId) -> SectionFuture<'_> {
    Box::pin(async move {
        let summary = store::member_summary(s, tenant, member, utc_now()).await?;
        if summary.available + summary.used + summary.expired == 0 {
            return Ok(None);
        }
        let rfc3339 = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        Ok(Some(json!({
            "available": summary.available,
            "used": summary.used,
            "expired": summary.expired,
            "next_expiring": summary.next_expiring.map(|(id, at)| json!({ "coupon_id": id, "expires_at": rfc3339(at) })),
        })))
    })
}
