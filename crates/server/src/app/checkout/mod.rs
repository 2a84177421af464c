//! Checkout (积分抵现, 积分+现金) as a service: pricing a cart for a member with chosen coupons
//! and points (the pure calculation is `huiyuan_domain::checkout::quote`), reserving them for a
//! limited time, and confirming, cancelling or expiring the reservation.
//!
//! - this module: the request and views, the tenant's points-as-cash settings, pricing;
//! - [`reserve`]: the reservation — coupons `available → reserved` by compare-and-set, points
//!   spent (first to expire first) into the `checkout_hold` account;
//! - [`close`]: confirmation (coupons redeemed through the coupon journal, points moved from the
//!   hold to the spending format's `redemption:` account), cancellation and expiry (coupons back
//!   to `available`, points back into the lots they came from) — each decided by one
//!   compare-and-set on the checkout's state, so exactly one of them ever applies.

pub mod close;
pub mod reserve;

use crate::app::coupons::redeem::{self, CartInput, Till};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass};
use huiyuan_domain::checkout::{MAX_COUPONS, PointsAsCash, PointsRequest, Quote, QuoteError};
use huiyuan_domain::coupons::{Cart, CartContext, CartLine, CouponOffer, Reason};
use huiyuan_domain::ids::{ChannelId, FormatId, MemberId, OrderId, StoreId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::Session;
use huiyuan_store::checkout::{self as store, StoredCheckout, StoredCheckoutPolicy};
use huiyuan_store::coupons::{StoredCoupon, StoredTemplate};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest a reservation may be held, in minutes.
pub const MAX_HOLD_MINUTES: i64 = 24 * 60;

/// A cart to price (and reserve) for a member.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub member_id: MemberId,
    /// Coupon codes (or signed QR payloads) to use, at most 10.
    #[serde(default)]
    pub coupon_codes: Vec<String>,
    /// Points to use: a multiple of the tenant's points unit, within the cap.
    pub points: Option<i64>,
    /// Use as many points as the balance, the cap and the unit allow (instead of `points`).
    #[serde(default)]
    pub max_points: bool,
    #[serde(default)]
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub shipping_fen: i64,
    /// The store or merchant (a store-bound key's store by default).
    pub store_id: Option<StoreId>,
    /// Staff only; an API key checks out on its own channel.
    pub channel_id: Option<ChannelId>,
    /// Needed only without a store, on a group-wide channel.
    pub format_id: Option<FormatId>,
}

/// A priced checkout before anything is held.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub member_id: MemberId,
    pub quote: Quote,
    /// The member's usable points now.
    pub points_available: i64,
    pub policy: CheckoutPolicy,
}

/// The tenant's points-as-cash settings at checkout (`GET|PUT /checkout-policy`); the points'
/// value is the points policy's `fen_per_100_points`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutPolicy {
    /// The largest share (0–100 %) of what is left after coupons that points may pay.
    pub max_share_percent: i64,
    /// Points are used in multiples of this (1–10000).
    pub points_unit: i64,
    /// How long a reservation holds coupons and points (1–1440 minutes).
    pub hold_minutes: i64,
    /// What 100 points are worth in fen (read-only here: set it in `/points/policy`).
    #[serde(default)]
    pub fen_per_100_points: i64,
}

impl CheckoutPolicy {
    pub fn points_as_cash(&self) -> PointsAsCash {
        PointsAsCash {
            fen_per_100_points: self.fen_per_100_points,
            max_share_percent: self.max_share_percent,
            points_unit: self.points_unit,
        }
    }

    pub fn check(&self) -> Result<(), huiyuan_domain::validation::FieldErrors> {
        let mut errors = huiyuan_domain::validation::FieldErrors::new();
        let mut range = |field: &str, value: i64, low: i64, high: i64| {
            if !(low..=high).contains(&value) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    format!("{low} to {high}"),
                ));
            }
        };
        range("max_share_percent", self.max_share_percent, 0, 100);
        range("points_unit", self.points_unit, 1, 10_000);
        range("hold_minutes", self.hold_minutes, 1, MAX_HOLD_MINUTES);
        errors.finish()
    }
}

/// The tenant's settings: stored, or at most 50 % by points, in hundreds, held 15 minutes.
pub async fn policy(
    session: &mut Session,
    tenant: huiyuan_domain::ids::TenantId,
    now: OffsetDateTime,
) -> ApiResult<CheckoutPolicy> {
    let stored = store::policy(session, tenant).await?;
    let points = crate::app::ledger::policy::load(session, tenant, now).await?;
    let StoredCheckoutPolicy {
        max_share_percent,
        points_unit,
        hold_minutes,
        ..
    } = stored.unwrap_or(StoredCheckoutPolicy {
        max_share_percent: 50,
        points_unit: 100,
        hold_minutes: 15,
        updated_at: now,
    });
    Ok(CheckoutPolicy {
        max_share_percent,
        points_unit,
        hold_minutes,
        fen_per_100_points: points.fen_per_100_points,
    })
}

/// A checkout as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutView {
    pub id: Uuid,
    pub member_id: MemberId,
    /// `reserved`, `confirmed`, `cancelled` or `expired` (a reservation past `expires_at` shows
    /// `expired` even before the expiry job has released it).
    pub state: String,
    #[schema(value_type = Quote)]
    pub quote: serde_json::Value,
    pub points: i64,
    pub points_value_fen: i64,
    pub cash_due_fen: i64,
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub order_id: Option<OrderId>,
    pub order_ref: Option<String>,
    pub cancel_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

impl CheckoutView {
    pub fn new(c: StoredCheckout, now: OffsetDateTime) -> Self {
        let state = if c.state == "reserved" && c.expires_at <= now {
            "expired".to_owned()
        } else {
            c.state
        };
        CheckoutView {
            id: c.id,
            member_id: c.member_id,
            state,
            quote: c.quote,
            points: c.points,
            points_value_fen: c.points_value_fen,
            cash_due_fen: c.cash_due_fen,
            format_id: c.format_id,
            store_id: c.store_id,
            channel_id: c.channel_id,
            order_id: c.order_id,
            order_ref: c.order_ref,
            cancel_reason: c.cancel_reason,
            expires_at: c.expires_at,
            created_at: c.created_at,
            confirmed_at: c.confirmed_at,
            closed_at: c.closed_at,
        }
    }
}

/// Where a checkout happens, for data scopes.
pub fn placement(c: &StoredCheckout) -> Placement {
    Placement {
        format_id: c.format_id.map(Into::into),
        store_id: c.store_id.map(Into::into),
        guide_id: None,
    }
}

/// The till of a stored checkout, for the coupon journal.
pub fn till_of(c: &StoredCheckout) -> Till {
    Till {
        format_id: c.format_id.map(Into::into),
        store_id: c.store_id.map(Into::into),
        channel_id: c.channel_id.map(Into::into),
    }
}

/// A checkout the caller may see: its place in their scope and its member visible to them;
/// otherwise 404. With `Access::Write`, a 403 unless they may act there.
pub async fn visible(
    session: &mut Session,
    caller: &Principal,
    id: Uuid,
    access: Access,
) -> ApiResult<StoredCheckout> {
    let found = crate::app::access::visible(
        caller,
        store::get(session, caller.tenant_id, id).await?,
        RecordClass::Org,
        placement,
        "checkout",
    )?;
    crate::app::access::visible_member(session, caller, found.member_id, Access::Read)
        .await
        .map_err(|_| ApiError::not_found("checkout"))?;
    if access == Access::Write {
        crate::app::access::writable(caller, RecordClass::Org, &placement(&found))?;
    }
    Ok(found)
}

/// A priced checkout and what it needs to be held.
pub struct Priced {
    pub till: Till,
    pub quote: Quote,
    pub coupons: Vec<(StoredCoupon, StoredTemplate)>,
    pub policy: CheckoutPolicy,
    pub points_available: i64,
}

fn coupon_field(index: usize) -> String {
    format!("coupon_codes[{index}]")
}

/// Why a coupon cannot be held: 409 when another checkout or a till has it, 422 otherwise.
pub fn coupon_refused(index: usize, reason: Reason) -> ApiError {
    let mut error = match reason {
        Reason::Reserved => redeem::reserved(),
        Reason::Used => redeem::already_used(),
        other => redeem::not_applicable(other),
    };
    error.errors = vec![FieldError::new(
        coupon_field(index),
        reason.as_str(),
        reason.message(),
    )];
    error
}

fn refused(error: QuoteError) -> ApiError {
    match error {
        QuoteError::Coupon { index, reason } => coupon_refused(index, reason),
        QuoteError::InsufficientPoints { available } => ApiError {
            detail: Some(error.message()),
            errors: vec![FieldError::new(
                "points",
                error.code(),
                available.to_string(),
            )],
            ..ApiError::new(ErrorCode::InsufficientPoints)
        },
        other => ApiError::invalid_field("points", other.code(), other.message()),
    }
}

fn check(request: &CheckoutRequest) -> ApiResult<CartInput> {
    if request.coupon_codes.len() > MAX_COUPONS {
        return Err(FieldError::new(
            "coupon_codes",
            "too_many",
            format!("at most {MAX_COUPONS} coupons"),
        )
        .into());
    }
    if request.max_points && request.points.is_some() {
        return Err(
            FieldError::new("points", "conflicting", "give either points or max_points").into(),
        );
    }
    let cart = CartInput {
        lines: request.lines.clone(),
        shipping_fen: request.shipping_fen,
        store_id: request.store_id,
        channel_id: request.channel_id,
        format_id: request.format_id,
        member_id: Some(request.member_id),
        ..CartInput::default()
    };
    redeem::check_input(&cart)?;
    Ok(cart)
}

/// Prices `request` for `member` (already found visible) at `now`: the coupons by the shared
/// discount calculation, then points as cash. Nothing is written.
pub async fn price(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    member: MemberId,
    request: &CheckoutRequest,
    now: OffsetDateTime,
) -> ApiResult<Priced> {
    let cart_input = check(request)?;
    let tenant = caller.tenant_id;
    let till = redeem::till(session, caller, &cart_input).await?;
    let mut coupons = Vec::with_capacity(request.coupon_codes.len());
    for (index, code) in request.coupon_codes.iter().enumerate() {
        let found =
            redeem::load(session, vault, tenant, code)
                .await
                .map_err(|error| match error.code {
                    ErrorCode::NotFound => {
                        FieldError::new(coupon_field(index), "not_found", "no coupon has this code")
                            .into()
                    }
                    _ => error,
                })?;
        coupons.push(found);
    }
    let tier_code = if coupons
        .iter()
        .any(|(_, t)| !t.template.spec.applicability.tier_codes.is_empty())
    {
        crate::app::tiers::effective_level_code(session, tenant, member).await?
    } else {
        None
    };
    let offers = coupons
        .iter()
        .map(|(coupon, template)| {
            Ok(CouponOffer {
                coupon_id: coupon.id,
                member_id: coupon.member_id,
                state: coupon.state()?,
                starts_at: coupon.starts_at,
                expires_at: coupon.expires_at,
                template: &template.template,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let cart = Cart {
        lines: request.lines.clone(),
        shipping_fen: request.shipping_fen,
        context: CartContext {
            format_id: till.format_id,
            store_id: till.store_id,
            channel_id: till.channel_id,
            tier_code,
            member_id: Some(member),
            at: now,
        },
    };
    let policy = policy(session, tenant, now).await?;
    let points_available = huiyuan_store::ledger::balance(session, tenant, member)
        .await?
        .available
        .max(0);
    let points = match (request.points, request.max_points) {
        (_, true) => PointsRequest::Max,
        (Some(points), false) => PointsRequest::Exactly(points),
        (None, false) => PointsRequest::None,
    };
    let tz = crate::app::tenancy::zone::tenant_zone(session, tenant).await?;
    let quote = huiyuan_domain::checkout::quote(
        &offers,
        &cart,
        &tz,
        &policy.points_as_cash(),
        points,
        points_available,
    )
    .map_err(refused)?;
    Ok(Priced {
        till,
        quote,
        coupons,
        policy,
        points_available,
    })
}
