//! Orders after the sale: what a refund of some or all of an order's lines gives back and takes
//! back.
//!
//! - [`refund`]: [`plan_refund`], the pure refund calculation — which units, how much money, how
//!   many points per line and per earning rule, and whether the order is then fully refunded. The
//!   server reads the order, asks for the plan and writes what it says.

pub mod refund;

#[cfg(test)]
mod tests;

pub use refund::{
    PlannedLine, RefundPlan, RefundRequest, RefundableLine, RefundableOrder, RequestedLine,
    plan_refund,
};
