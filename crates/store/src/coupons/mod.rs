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

pub use issued::{
    COUPON_MEMBER_COLUMNS, CouponFilter, CouponSummary, MARK_USED, MEMBER_AVAILABLE,
    MEMBER_EXPIRED, MEMBER_USED, StoredCoupon, birthday_members_without, coupon_by_code,
    coupon_by_id, coupon_by_natural_key, expiring_coupons, insert_coupon, mark_available,
    mark_used, member_coupons, member_summary,
};
pub use templates::{
    AutoRule, MAX_AUTO_TEMPLATES, StoredTemplate, TEMPLATE_COLUMNS, auto_templates, get_template,
    give_back_quota, insert_template, list_templates, member_issued, take_member_quota,
    take_total_quota, update_template,
};
