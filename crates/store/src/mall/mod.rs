//! Points mall storage: the rewards catalogue with its guarded stock, members' redemptions with
//! their compare-and-set state, and the guarded per-member limit counters.
//!
//! - [`rewards`]: rewards, stock taken and returned with guarded updates (`stock >= q`).
//! - [`redemptions`]: redemption orders (member-owned), listed by member, store and state within
//!   a data scope; state changes only from the state the caller read.
//! - [`limits`]: one counter row per member, reward and period, taken with one guarded upsert.

pub mod limits;
pub mod redemptions;
pub mod rewards;

pub use redemptions::{
    NewRedemption, PointsSource, REDEMPTION_COLUMNS, RedemptionFilter, StoredRedemption,
};
pub use rewards::{REWARD_COLUMNS, RewardFilter, StoredReward};
