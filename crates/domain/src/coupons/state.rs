//! The redemption state machine of one coupon. Stored states are `available`, `reserved` (held
//! by a checkout), `used` and `voided`; expiry is not stored but derived from the validity window, so a coupon expires at
//! its instant without a job having to run.
//!
//! ```text
//!   available ──redeem (核销)──▶ used ──reverse──▶ available
//!    │  ▲                                  ▲
//!    │  └──release── reserved ──confirm────┘
//!    ├──reserve (checkout)──▶ reserved
//!    └──void──▶ voided (final)
//! ```
//! A reserved coupon cannot be redeemed at a till nor reserved again: only its checkout moves it,
//! to `used` on confirmation or back to `available` on cancellation or expiry.
//! A reversed coupon is available again until its original expiry; reversing after expiry leaves
//! it expired.

use super::discount::Reason;
use crate::org::wire_enum;
use time::OffsetDateTime;

wire_enum!(
    /// A coupon's stored state.
    CouponState {
        Available => "available",
        /// Held by a checkout until it is confirmed, cancelled or expires.
        Reserved => "reserved",
        Used => "used",
        Voided => "voided",
    }
);

wire_enum!(
    /// A coupon's state as the member sees it at an instant.
    EffectiveState {
        /// Held and usable (or usable once its validity starts).
        Available => "available",
        /// Held by a checkout in progress.
        Reserved => "reserved",
        Used => "used",
        /// Not used before its validity ended.
        Expired => "expired",
        Voided => "voided",
    }
);

/// A change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Redeem,
    Reverse,
    Void,
    /// A checkout holds the coupon.
    Reserve,
    /// The checkout was cancelled or expired.
    Release,
}

impl CouponState {
    /// The state shown at `now` for a coupon valid in `[starts_at, expires_at)`.
    pub fn effective(self, expires_at: OffsetDateTime, now: OffsetDateTime) -> EffectiveState {
        match self {
            CouponState::Used => EffectiveState::Used,
            CouponState::Reserved => EffectiveState::Reserved,
            CouponState::Voided => EffectiveState::Voided,
            CouponState::Available if now >= expires_at => EffectiveState::Expired,
            CouponState::Available => EffectiveState::Available,
        }
    }

    /// Whether a coupon in this state, valid in `[starts_at, expires_at)`, may be redeemed at
    /// `now`; the reason it may not otherwise.
    pub fn redeemable(
        self,
        starts_at: OffsetDateTime,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), Reason> {
        match self {
            CouponState::Used => Err(Reason::Used),
            CouponState::Reserved => Err(Reason::Reserved),
            CouponState::Voided => Err(Reason::Voided),
            CouponState::Available if now >= expires_at => Err(Reason::Expired),
            CouponState::Available if now < starts_at => Err(Reason::NotYetValid),
            CouponState::Available => Ok(()),
        }
    }

    /// The state after `transition`, or `None` when the transition is not allowed from here.
    /// Redeeming also needs [`CouponState::redeemable`] at the instant.
    pub fn after(self, transition: Transition) -> Option<CouponState> {
        match (self, transition) {
            (CouponState::Available, Transition::Redeem) => Some(CouponState::Used),
            (CouponState::Used, Transition::Reverse) => Some(CouponState::Available),
            (CouponState::Available, Transition::Void) => Some(CouponState::Voided),
            (CouponState::Available, Transition::Reserve) => Some(CouponState::Reserved),
            (CouponState::Reserved, Transition::Release) => Some(CouponState::Available),
            // Confirming a checkout redeems the coupon it holds.
            (CouponState::Reserved, Transition::Redeem) => Some(CouponState::Used),
            _ => None,
        }
    }
}

wire_enum!(
    /// Where an issued coupon came from.
    IssueSource {
        /// Issued by hand (staff or an integration) through `POST /coupons/issue`.
        Manual => "manual",
        /// The registration reward.
        Registration => "registration",
        /// An upgrade to a tier level.
        TierUpgrade => "tier_upgrade",
        /// The member's birthday.
        Birthday => "birthday",
        /// Bought in the points mall.
        Mall => "mall",
        /// A journey's action.
        Journey => "journey",
        /// Checkout or another module's rule.
        Rule => "rule",
    }
);
