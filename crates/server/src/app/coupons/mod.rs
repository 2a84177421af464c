//! Coupons as a service: templates (with their place in the organisation for data scopes),
//! issuing — by hand, and from inside other modules' transactions with [`issue_in_tx`] —, the
//! rule-based sources (registration, tier upgrade, birthday), validation and redemption (核销)
//! against a cart, the redemption journal with reversals (also on a full refund), cross-format
//! settlement records, and the member profile's `coupons` section.
//!
//! The rules themselves are the pure functions of [`huiyuan_domain::coupons`]; the discount
//! every path computes comes from [`huiyuan_domain::coupons::compute_discounts`].
//!
//! - [`templates`]: create, change and archive templates; where a template sits.
//! - [`issue`]: [`issue_in_tx`], quotas, codes, manual issue.
//! - [`rules`]: coupons issued on registration, tier upgrade and birthday.
//! - [`redeem`]: the cart context, validation, redemption, reversal, refunds.
//! - [`views`]: what the API shows.

pub mod issue;
pub mod redeem;
pub mod rules;
pub mod templates;
pub mod views;

pub use issue::{Issued, issue_in_tx};
pub use redeem::on_order_refunded;
pub use rules::{birthday_tick, on_registered, on_tier_upgrade};
pub use views::coupons_section;
