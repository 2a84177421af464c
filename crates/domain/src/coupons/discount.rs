//! What coupons take off a cart. [`compute_discounts`] is the one calculation validation,
//! redemption and checkout share: pure, deterministic, and never more than the cart's eligible
//! amount.
//!
//! The order is defined: coupons are taken by kind — gifts, cash off (满减), percent off, free
//! shipping, then parking and service vouchers — and, within a kind, in the order given. Each
//! accepted coupon's discount is shared over the lines it covers (largest remainder, by what is
//! left of each line), and the next coupon sees only what is left: thresholds are judged on the
//! eligible amount after earlier coupons, and a percentage applies to what is left. So no line is
//! ever discounted below zero, whatever the combination.

use super::applicability::{Mismatch, Place};
use super::calendar::local_date;
use super::state::CouponState;
use super::template::{Benefit, BenefitKind, CouponTemplate};
use crate::earning::allocate_largest_remainder;
use crate::ids::{ChannelId, FormatId, MemberId, StoreId};
use crate::org::wire_enum;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

fn one() -> u32 {
    1
}

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartLine {
    pub sku: String,
    /// From the broadest category down, e.g. `["beauty", "skincare"]`.
    #[serde(default)]
    pub category_path: Vec<String>,
    /// What the line costs (after line discounts), in fen.
    pub amount_fen: i64,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Lines no coupon pays for (tobacco, gift cards, deposits).
    #[serde(default)]
    pub excluded: bool,
}

/// Where, when and for whom the cart is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartContext {
    pub format_id: Option<FormatId>,
    pub store_id: Option<StoreId>,
    pub channel_id: Option<ChannelId>,
    /// The member's tier level code now, when known.
    pub tier_code: Option<String>,
    /// The member buying, when known: a coupon held by someone else does not apply.
    pub member_id: Option<MemberId>,
    pub at: OffsetDateTime,
}

/// A cart to price coupons against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub shipping_fen: i64,
    pub context: CartContext,
}

/// A coupon offered for the cart, with its template.
#[derive(Clone, Copy, Debug)]
pub struct CouponOffer<'a> {
    pub coupon_id: Uuid,
    pub member_id: MemberId,
    pub state: CouponState,
    pub starts_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub template: &'a CouponTemplate,
}

wire_enum!(
    /// Why a coupon does not apply: stable codes a till can branch on.
    Reason {
        NotYetValid => "not_yet_valid",
        Expired => "expired",
        Used => "used",
        Reserved => "reserved",
        Voided => "voided",
        WrongMember => "wrong_member",
        FormatNotApplicable => "format_not_applicable",
        StoreNotApplicable => "store_not_applicable",
        ChannelNotApplicable => "channel_not_applicable",
        TierNotEligible => "tier_not_eligible",
        BlackoutDate => "blackout_date",
        NoEligibleItems => "no_eligible_items",
        BelowThreshold => "below_threshold",
        GiftNotInCart => "gift_not_in_cart",
        NoShippingFee => "no_shipping_fee",
        NotStackable => "not_stackable",
        DuplicateCoupon => "duplicate_coupon",
    }
);

impl Reason {
    pub fn message(self) -> &'static str {
        match self {
            Reason::NotYetValid => "the coupon is not valid yet",
            Reason::Expired => "the coupon has expired",
            Reason::Used => "the coupon has already been used",
            Reason::Reserved => "the coupon is held by a checkout in progress",
            Reason::Voided => "the coupon was voided",
            Reason::WrongMember => "the coupon belongs to another member",
            Reason::FormatNotApplicable => "the coupon is not accepted in this business format",
            Reason::StoreNotApplicable => "the coupon is not accepted in this store",
            Reason::ChannelNotApplicable => "the coupon is not accepted on this channel",
            Reason::TierNotEligible => "the member's tier level may not use this coupon",
            Reason::BlackoutDate => "the coupon is not accepted on this date",
            Reason::NoEligibleItems => "nothing in the cart is eligible for this coupon",
            Reason::BelowThreshold => "the eligible amount is below the coupon's threshold",
            Reason::GiftNotInCart => "the gift item is not in the cart",
            Reason::NoShippingFee => "the cart has no shipping fee",
            Reason::NotStackable => "the coupon cannot be combined with another coupon here",
            Reason::DuplicateCoupon => "the same coupon was offered twice",
        }
    }
}

/// What an accepted coupon gives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Applied {
    /// Taken off the cart: `line_discounts_fen` plus `shipping_discount_fen`.
    pub discount_fen: i64,
    /// The eligible amount the coupon was judged on (after earlier coupons).
    pub eligible_fen: i64,
    /// Per cart line, in the cart's order.
    pub line_discounts_fen: Vec<i64>,
    pub shipping_discount_fen: i64,
    /// Free parking hours granted.
    pub parking_hours: u32,
    /// The service granted.
    pub service: Option<String>,
    /// The gift item given.
    pub gift_sku: Option<String>,
}

/// One coupon's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub coupon_id: Uuid,
    pub kind: BenefitKind,
    pub result: Result<Applied, Reason>,
}

/// Prices `offers` against `cart`: one [`Outcome`] per offer, in the order they were applied
/// (see the module documentation). The sum of accepted discounts never exceeds what the eligible
/// lines and the shipping fee cost, and no discount is negative. `tz` is the tenant's time zone,
/// for blackout dates.
pub fn compute_discounts(offers: &[CouponOffer<'_>], cart: &Cart, tz: &TimeZone) -> Vec<Outcome> {
    let context = &cart.context;
    let place = Place {
        format_id: context.format_id,
        store_id: context.store_id,
        channel_id: context.channel_id,
        tier_code: context.tier_code.as_deref(),
        local_date: local_date(context.at, tz),
    };
    let mut order: Vec<usize> = (0..offers.len()).collect();
    order.sort_by_key(|&index| {
        (
            offers[index]
                .template
                .spec
                .benefit
                .kind()
                .application_rank(),
            index,
        )
    });
    let mut left: Vec<i64> = cart
        .lines
        .iter()
        .map(|line| line.amount_fen.max(0))
        .collect();
    let mut shipping_left = cart.shipping_fen.max(0);
    let mut accepted: Vec<&CouponOffer<'_>> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(offers.len());
    for index in order {
        let offer = &offers[index];
        let kind = offer.template.spec.benefit.kind();
        let result = if seen.insert(offer.coupon_id) {
            check(offer, context, &place, &accepted)
                .and_then(|()| price(offer, &cart.lines, &left, shipping_left))
        } else {
            Err(Reason::DuplicateCoupon)
        };
        if let Ok(applied) = &result {
            for (remaining, taken) in left.iter_mut().zip(&applied.line_discounts_fen) {
                *remaining -= taken;
            }
            shipping_left -= applied.shipping_discount_fen;
            accepted.push(offer);
        }
        outcomes.push(Outcome {
            coupon_id: offer.coupon_id,
            kind,
            result,
        });
    }
    outcomes
}

/// Everything but the amount: state, holder, place, stacking with the coupons accepted so far.
fn check(
    offer: &CouponOffer<'_>,
    context: &CartContext,
    place: &Place<'_>,
    accepted: &[&CouponOffer<'_>],
) -> Result<(), Reason> {
    offer
        .state
        .redeemable(offer.starts_at, offer.expires_at, context.at)?;
    if context
        .member_id
        .is_some_and(|member| member != offer.member_id)
    {
        return Err(Reason::WrongMember);
    }
    let spec = &offer.template.spec;
    if let Some(mismatch) = spec.applicability.mismatch(place) {
        return Err(match mismatch {
            Mismatch::Format => Reason::FormatNotApplicable,
            Mismatch::Store => Reason::StoreNotApplicable,
            Mismatch::Channel => Reason::ChannelNotApplicable,
            Mismatch::Tier => Reason::TierNotEligible,
            Mismatch::Blackout => Reason::BlackoutDate,
        });
    }
    let kind = spec.benefit.kind();
    let combines = accepted.iter().all(|other| {
        let theirs = &other.template.spec;
        spec.stacking
            .combines(kind, &theirs.stacking, theirs.benefit.kind())
    });
    if combines {
        Ok(())
    } else {
        Err(Reason::NotStackable)
    }
}

/// The amount, on what is `left` of each line and of the shipping fee.
fn price(
    offer: &CouponOffer<'_>,
    lines: &[CartLine],
    left: &[i64],
    shipping_left: i64,
) -> Result<Applied, Reason> {
    let spec = &offer.template.spec;
    let covered: Vec<i64> = lines
        .iter()
        .zip(left)
        .map(|(line, remaining)| {
            if spec
                .applicability
                .covers(&line.sku, &line.category_path, line.excluded)
            {
                *remaining
            } else {
                0
            }
        })
        .collect();
    let eligible_fen = covered
        .iter()
        .fold(0i64, |sum, fen| sum.saturating_add(*fen));
    let mut applied = Applied {
        eligible_fen,
        line_discounts_fen: vec![0; lines.len()],
        ..Applied::default()
    };
    let on_goods = |applied: &mut Applied, threshold: i64, wanted: i64| -> Result<(), Reason> {
        if eligible_fen <= 0 {
            return Err(Reason::NoEligibleItems);
        }
        if eligible_fen < threshold {
            return Err(Reason::BelowThreshold);
        }
        let discount = wanted.clamp(0, eligible_fen);
        applied.line_discounts_fen = allocate_largest_remainder(discount, &covered);
        applied.discount_fen = discount;
        Ok(())
    };
    match &spec.benefit {
        Benefit::CashOff {
            amount_fen,
            threshold_fen,
        } => on_goods(&mut applied, *threshold_fen, *amount_fen)?,
        Benefit::PercentOff {
            off_permille,
            cap_fen,
            threshold_fen,
        } => {
            let share = i128::from(eligible_fen.max(0)) * i128::from(*off_permille) / 1000;
            let share = i64::try_from(share).unwrap_or(i64::MAX);
            let wanted = cap_fen.map_or(share, |cap| share.min(cap));
            on_goods(&mut applied, *threshold_fen, wanted)?;
        }
        Benefit::Gift { sku, value_fen } => {
            let found = lines
                .iter()
                .zip(&covered)
                .position(|(line, covered)| line.sku == *sku && *covered > 0)
                .ok_or(Reason::GiftNotInCart)?;
            let line = &lines[found];
            let unit = line.amount_fen.max(0) / i64::from(line.quantity.max(1));
            let discount = unit
                .min(covered[found])
                .min(value_fen.unwrap_or(i64::MAX))
                .max(0);
            applied.line_discounts_fen[found] = discount;
            applied.discount_fen = discount;
            applied.gift_sku = Some(sku.clone());
        }
        Benefit::FreeShipping { cap_fen } => {
            if shipping_left <= 0 {
                return Err(Reason::NoShippingFee);
            }
            let discount = cap_fen.map_or(shipping_left, |cap| shipping_left.min(cap.max(0)));
            applied.shipping_discount_fen = discount;
            applied.discount_fen = discount;
        }
        Benefit::Parking { hours, .. } => applied.parking_hours = *hours,
        Benefit::ServiceVoucher { service, .. } => applied.service = Some(service.clone()),
    }
    Ok(applied)
}
