//! Orders as a service: ingestion from any channel (idempotent on the channel and its own order
//! id, late offline batches evaluated at the order's own time), the accrual through the earning
//! engine, anonymous orders and their later claim (补积分), refunds that take back exactly what
//! the refunded lines earned, and the dry run that explains an order without writing.
//!
//! Every write runs inside the caller's open [`Mutation`](crate::app::mutation::Mutation): the order, its accrual, the ledger
//! entries, the rule counters and the audit record commit together or not at all.

mod claim;
mod ingest;
mod input;
mod origin;
mod parse;
mod preview;
mod refunds;
mod views;

pub use claim::claim;
pub use ingest::{NewOrder, Prepared, ingest, prepare};
pub use input::{
    ClaimInput, LineInput, OrderInput, PaymentInput, PaymentMethod, RefundInput, RefundLineInput,
};
pub use origin::order_member;
pub use parse::ParsedOrder;
pub use preview::preview;
pub use refunds::refund;
pub use views::{
    LineView, OrderView, PaymentView, RefundView, RefundedLineView, assemble_view, order_placement,
    order_view, visible_order,
};

/// How long after an anonymous order a member may still claim it (补积分).
pub const CLAIM_WINDOW_DAYS: i64 = 30;
/// How late an offline batch may deliver an order.
pub const MAX_ORDER_AGE_DAYS: i64 = 366;
/// Clock skew tolerated on an order's time.
const FUTURE_SKEW_MINUTES: i64 = 5;
/// Most lines and payments in one order.
pub const MAX_LINES: usize = 500;
const MAX_PAYMENTS: usize = 20;
/// Largest amount accepted anywhere in an order: ¥100 million.
const MAX_FEN: i64 = 10_000_000_000;
const MAX_QUANTITY: u32 = 1_000_000;

/// `status` of an order.
pub const COMPLETED: &str = "completed";
pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
pub const REFUNDED: &str = "refunded";
