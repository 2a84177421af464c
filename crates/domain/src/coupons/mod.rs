//! Coupons (卡券): templates a tenant configures, the coupons issued from them to members, where
//! a coupon applies, what it takes off a cart, and the states a coupon moves through.
//!
//! - [`template`]: [`CouponTemplate`] — the [`Benefit`] (满减 cash off above a threshold, percent
//!   off with a cap, gift item, free shipping, parking hours, service voucher), [`Validity`],
//!   [`Applicability`], [`Stacking`], quotas, [`CostBearer`], automatic issue rules; validation
//!   with a field path for every reason.
//! - [`applicability`]: where and for whom a coupon applies, and which cart lines it covers.
//! - [`discount`]: [`compute_discounts`] — given coupons and a [`Cart`], each coupon's discount in
//!   a defined order, or the stable [`Reason`] it does not apply. Checkout calls it too.
//! - [`state`]: the redemption state machine ([`CouponState`]): available → used (核销) → back to
//!   available on reversal; available ⇄ reserved while a checkout holds it; expiry is derived
//!   from time, voiding is final.
//! - [`calendar`]: business dates in the tenant's time zone.
//! - [`code`]: [`CouponCode`] — 80 random bits in Crockford base32, typeable at a till.
//!
//! Everything here is pure: instants, the tenant's time zone and random bytes are passed in.

pub mod applicability;
pub mod calendar;
pub mod code;
pub mod discount;
pub mod state;
pub mod template;

pub use applicability::Applicability;
pub use code::CouponCode;
pub use discount::{
    Applied, Cart, CartContext, CartLine, CouponOffer, Outcome, Reason, compute_discounts,
};
pub use state::{CouponState, EffectiveState, IssueSource, Transition};
pub use template::{
    AutoIssue, Benefit, BenefitKind, CostBearer, CouponTemplate, Stacking, TemplateInput,
    TemplateStatus, Validity,
};

#[cfg(test)]
mod tests;
