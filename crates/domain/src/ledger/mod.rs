//! The points ledger's rules: expiry policies and how spends, expiries and claw-backs draw on lots.
//! Storage keeps the entries; these functions decide what they say.

pub mod expiry;
pub mod lots;

pub use expiry::ExpiryPolicy;
pub use lots::{Draw, Lot, Shortfall, plan_spend};
