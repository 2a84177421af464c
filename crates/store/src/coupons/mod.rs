//! Coupon storage: templates (the configuration as JSON, with what queries filter on in
//! columns), the coupons issued to members, and the two quota counters.
//!
//! Every counter moves only through a guarded statement, never read-compute-write: the total
//! quota with `UPDATE … SET issued_count = issued_count + 1 WHERE total_quota IS NULL OR
//! issued_count < total_quota`, the per-member quota with an upsert guarded the same way, and a
//! coupon is redeemed with a compare-and-set on its state (`available` → `used`). So quotas hold
//! and a coupon is used once, however many requests race. Redemptions and settlement records are
//! in [`crate::coupons::redemptions`].

mod issued;
pub mod redemptions;
mod templates;

pub use issued::*;
pub use templates::*;
