//! Checkout (积分抵现, 积分+现金): pricing a cart for a member with chosen coupons and points.
//!
//! [`quote`] works in a fixed order, so the same cart always gives the same answer:
//! 1. the coupons, through [`compute_discounts`] — the very calculation till validation and
//!    redemption use, with its application order (gifts, cash off, percent off, free shipping,
//!    vouchers) and stacking rules; any coupon that does not apply refuses the quote with its
//!    stable [`Reason`];
//! 2. points as cash on what is left (`payable_fen`): at most `max_share_percent` of it may be
//!    paid by points, points go in multiples of `points_unit`, and `fen_per_100_points` gives
//!    their value (rounded down to whole fen). The member asks for a number of points or for
//!    "as many as allowed" ([`PointsRequest::Max`]);
//! 3. the rest is cash.
//!
//! Always: `subtotal_fen = coupon_discount_fen + points_value_fen + cash_due_fen`, every amount
//! is non-negative, and no more points are used than the member holds.

use crate::coupons::{Applied, Cart, CouponOffer, Reason, compute_discounts};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[cfg(test)]
mod tests;

/// Most coupons one checkout may use.
pub const MAX_COUPONS: usize = 10;

/// How points pay at checkout: their value, the cap, the unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PointsAsCash {
    /// What 100 points are worth, in fen (the ledger policy's `fen_per_100_points`).
    pub fen_per_100_points: i64,
    /// The largest share (0–100 %) of the amount left after coupons that points may pay.
    pub max_share_percent: i64,
    /// Points are used in multiples of this (≥ 1).
    pub points_unit: i64,
}

/// How many points the member wants to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointsRequest {
    None,
    /// Exactly this many (refused when not allowed).
    Exactly(i64),
    /// As many as the balance, the cap and the unit allow.
    Max,
}

/// One accepted coupon and what it took off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CouponLine {
    pub coupon_id: Uuid,
    pub discount: Applied,
}

/// The priced checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Quote {
    /// Goods plus shipping, in fen.
    pub subtotal_fen: i64,
    /// Coupons in the order they were applied.
    pub coupons: Vec<CouponLine>,
    pub coupon_discount_fen: i64,
    /// Left to pay after coupons.
    pub payable_fen: i64,
    /// The most points could pay here (the share cap), in fen.
    pub points_cap_fen: i64,
    /// The most points this member could use here (cap, unit and balance).
    pub max_points: i64,
    pub points_used: i64,
    pub points_value_fen: i64,
    /// What the member pays in cash.
    pub cash_due_fen: i64,
}

/// Why a checkout cannot be priced as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuoteError {
    /// A coupon (by its index in the request) does not apply.
    Coupon { index: usize, reason: Reason },
    /// Points must be positive.
    PointsNotPositive,
    /// Points go in multiples of `unit`.
    PointsNotMultiple { unit: i64 },
    /// More than the member holds.
    InsufficientPoints { available: i64 },
    /// More than the cap allows here.
    PointsAboveCap { max_points: i64 },
}

impl QuoteError {
    /// The stable code a client branches on.
    pub fn code(&self) -> &'static str {
        match self {
            QuoteError::Coupon { reason, .. } => reason.as_str(),
            QuoteError::PointsNotPositive => "out_of_range",
            QuoteError::PointsNotMultiple { .. } => "not_multiple_of_unit",
            QuoteError::InsufficientPoints { .. } => "insufficient_points",
            QuoteError::PointsAboveCap { .. } => "above_cap",
        }
    }

    pub fn message(&self) -> String {
        match self {
            QuoteError::Coupon { reason, .. } => reason.message().to_owned(),
            QuoteError::PointsNotPositive => "must be positive".to_owned(),
            QuoteError::PointsNotMultiple { unit } => format!("points go in multiples of {unit}"),
            QuoteError::InsufficientPoints { available } => {
                format!("only {available} points are available")
            }
            QuoteError::PointsAboveCap { max_points } => {
                format!("at most {max_points} points may be used on this cart")
            }
        }
    }
}

/// What `points` are worth in fen, rounded down.
pub fn points_value_fen(points: i64, policy: &PointsAsCash) -> i64 {
    crate::ledger::points_value_fen(points, policy.fen_per_100_points)
}

/// The most points, a multiple of the unit, whose value stays within `cap_fen`.
fn points_within(cap_fen: i64, policy: &PointsAsCash) -> i64 {
    let rate = i128::from(policy.fen_per_100_points);
    if rate <= 0 || cap_fen <= 0 {
        return 0;
    }
    // floor(p × rate / 100) ≤ cap  ⇔  p × rate < 100 × (cap + 1).
    let most = (100 * (i128::from(cap_fen) + 1) - 1) / rate;
    round_down(i64::try_from(most).unwrap_or(i64::MAX), policy.points_unit)
}

fn round_down(points: i64, unit: i64) -> i64 {
    let unit = unit.max(1);
    points.max(0) / unit * unit
}

/// Prices `cart` with `offers` (in the order the member chose them) and the points asked for,
/// against a balance of `available` points.
pub fn quote(
    offers: &[CouponOffer<'_>],
    cart: &Cart,
    tz: &TimeZone,
    policy: &PointsAsCash,
    request: PointsRequest,
    available: i64,
) -> Result<Quote, QuoteError> {
    let subtotal_fen = cart
        .lines
        .iter()
        .map(|line| line.amount_fen.max(0))
        .fold(cart.shipping_fen.max(0), i64::saturating_add);
    let mut coupons = Vec::with_capacity(offers.len());
    for outcome in compute_discounts(offers, cart, tz) {
        let index = offers
            .iter()
            .position(|offer| offer.coupon_id == outcome.coupon_id)
            .unwrap_or_default();
        match outcome.result {
            Ok(discount) => coupons.push(CouponLine {
                coupon_id: outcome.coupon_id,
                discount,
            }),
            Err(reason) => return Err(QuoteError::Coupon { index, reason }),
        }
    }
    let coupon_discount_fen = coupons
        .iter()
        .map(|line| line.discount.discount_fen)
        .sum::<i64>()
        .min(subtotal_fen);
    let payable_fen = subtotal_fen - coupon_discount_fen;
    let share = i128::from(payable_fen) * i128::from(policy.max_share_percent.clamp(0, 100)) / 100;
    let points_cap_fen = i64::try_from(share).unwrap_or(payable_fen);
    let by_cap = points_within(points_cap_fen, policy);
    let max_points = by_cap.min(round_down(available, policy.points_unit));
    let points_used = match request {
        PointsRequest::None => 0,
        PointsRequest::Max => max_points,
        PointsRequest::Exactly(points) => {
            if points <= 0 {
                return Err(QuoteError::PointsNotPositive);
            }
            if points % policy.points_unit.max(1) != 0 {
                return Err(QuoteError::PointsNotMultiple {
                    unit: policy.points_unit.max(1),
                });
            }
            if points > available {
                return Err(QuoteError::InsufficientPoints {
                    available: available.max(0),
                });
            }
            if points > by_cap {
                return Err(QuoteError::PointsAboveCap { max_points });
            }
            points
        }
    };
    let points_value_fen = points_value_fen(points_used, policy).min(payable_fen);
    Ok(Quote {
        subtotal_fen,
        coupons,
        coupon_discount_fen,
        payable_fen,
        points_cap_fen,
        max_points,
        points_used,
        points_value_fen,
        cash_due_fen: payable_fen - points_value_fen,
    })
}
