//! Settlement (积分结算 and 分润): the pure arithmetic of a period's statement.
//!
//! - [`policy`]: the tenant's settlement mode (HQ-funded or independent accounting), the
//!   settlement rate points are valued at between formats, and a merchant's revenue split rule,
//!   each validated on save.
//! - [`money`]: valuing points in fen and taking basis-point shares, rounding half away from zero
//!   in one place.
//! - [`transfers`]: the inter-format matrix (points issued by one party and spent in another, and
//!   coupon discounts borne by one party and given in another) and the net transfer per party;
//!   nets always sum to zero, and are all zero in HQ-funded mode.
//! - [`split`]: a merchant's revenue split — platform commission and merchant share add up to the
//!   gross, never losing a fen.
//!
//! Which events fall into a period is storage's concern (by the time they were recorded); these
//! functions only turn the period's sums into a statement.

pub mod money;
pub mod policy;
pub mod split;
pub mod transfers;

pub use money::{share_bps, value_fen};
pub use policy::{Rate, RevenueSplitRule, SettlementMode, SettlementPolicy};
pub use split::{Split, split};
pub use transfers::{Charge, NetTransfers, Party, net_transfers};

#[cfg(test)]
mod tests;
