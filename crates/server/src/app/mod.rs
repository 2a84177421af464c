//! The use cases, one module per capability. Each takes a caller and typed input and answers
//! domain results or an [`error::ApiError`]; nothing here knows about HTTP routing or extractors
//! (the HTTP layer turns requests into these calls and their results into responses).
//!
//! - [`state`]: what every use case shares (store, settings, vault, caches, the writer lane).
//! - [`mutation`]: the write path — transaction, idempotency key, audit entry.
//! - [`error`]: the catalogue of stable error codes.
//! - [`access`]: what a caller may read and change (data scopes on records and members).
//! - [`tenancy`]: tenants, the first-start default tenant, a tenant's time zone.
//! - [`credentials`]: staff login and sessions, staff accounts and roles, channel API keys.
//! - [`org`]: formats, stores and merchants, channels — created, changed, read within scope.
//! - [`identity`]: member registration, views with masking, identifiers, merge, import, privacy.
//! - [`profile`]: the registry of member-profile sections other capabilities contribute.
//! - [`orders`]: orders, refunds, receipt claims, the accrual dry run.
//! - [`earning`]: the earning rules; evaluating and accruing points for orders; per-rule counters.
//! - [`ledger`]: points entries and lots — earning, spending, expiry, adjustment, merge.
//! - [`event_rewards`]: sign-in, check-in, birthday, referral and registration rewards.
//! - [`tiers`]: the tier ladder, evaluation, a member's tier, overrides.
//! - [`coupons`]: templates, issue, validation, redemption (核销) and reversals.
//! - [`checkout`]: quotes, reservations, confirmation, cancellation and expiry.
//! - [`mall`]: the points mall — catalogue, redemptions, fulfilment.
//! - [`settlement`]: statements per period, the inter-format matrix, revenue split.
//! - [`json`]: JSON input parsed into typed values with field-path errors.
//! - [`config_cache`]: tenant configuration the order path reads, invalidated on change.
//! - [`vault`], [`secrets`], [`limiter`]: PII keys and member-code signing, password and token
//!   hashing, login limiting.

pub mod access;
pub mod checkout;
pub mod config_cache;
pub mod coupons;
pub mod credentials;
pub mod earning;
pub mod error;
pub mod event_rewards;
pub mod identity;
pub mod json;
pub mod ledger;
pub mod limiter;
pub mod mall;
pub mod mutation;
pub mod orders;
pub mod org;
pub mod profile;
pub mod secrets;
pub mod settlement;
pub mod state;
pub mod tenancy;
pub mod tiers;
pub mod vault;
