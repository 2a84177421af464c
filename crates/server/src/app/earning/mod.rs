//! Earning: evaluating an order through the earning rules and accruing what it earned, with the
//! per-rule counters that caps read.
//!
//! - [`accrual`]: evaluating and accruing an order's points.
//! - [`rules`]: the earning rules themselves — created, edited, paused, read.

pub mod accrual;
pub mod rules;
