//! The points mall (积分商城): a catalogue of rewards members buy with points (or points plus
//! cash), and the redemption orders that deliver them.
//!
//! - [`reward`]: [`RewardSpec`] — kind (goods, service, charity donation, coupon), price, stock,
//!   per-member limits, tier-only, time window, supplier — and its validation on save.
//! - [`eligibility`]: whether a member may redeem a reward now ([`Eligibility::check`]), and the
//!   limit period a redemption counts in, as a calendar key in the tenant's time zone.
//! - [`redemption`]: a redemption's [`Delivery`] and its state machine — pending → shipped or
//!   collected → completed, or cancelled from pending (and from shipped when the parcel came
//!   back), which returns points and stock.
//!
//! The store guards what the rules cannot see alone: stock and per-member counters are taken with
//! guarded updates in the redemption's transaction, and every state change is a compare-and-set
//! on the state this module decided from.

pub mod eligibility;
pub mod redemption;
pub mod reward;

pub use eligibility::{
    Eligibility, Ineligible, MemberFacts, TOTAL_KEY, limit_counters, period_key,
};
pub use redemption::{
    Action, Delivery, DeliveryMethod, InvalidTransition, RedemptionState, ShippingAddress,
    initial_state, is_open, next_state,
};
pub use reward::{
    Fulfilment, LimitPeriod, PeriodLimit, RewardKind, RewardPatch, RewardSpec, Supplier,
};

#[cfg(test)]
mod tests;
