//! `/api/v1/rewards…`: the points mall's catalogue and its redemptions.

pub mod redemptions;
pub mod rewards;
