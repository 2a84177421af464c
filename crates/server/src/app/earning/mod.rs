//! Earning: evaluating an order through the earning rules and accruing what it earned, with the
//! per-rule counters that caps read.

pub mod accrual;
