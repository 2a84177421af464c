//! Huiyuan's storage: one layer over SQLite (embedded default) and PostgreSQL (production).
//!
//! - [`backend`]: the pools and [`Session`], a read connection or a write transaction on either
//!   database; every query is written once and runs on both.
//! - [`tenants`], [`org`], [`auth`], [`audit`], [`idempotency`]: one module per capability.
//! - [`members`]: member rows, identifiers, search tokens, bulk import; [`members::merges`]: the
//!   merge registry and member locks.
//! - [`ledger`], [`orders`], [`earning_rules`], [`tiers`], [`event_rewards`]: points entries and
//!   lots, orders and refunds, earning rules and their counters, tiers, event-reward claims.
//! - [`coupons`]: coupon templates, issued coupons with their quota counters;
//!   [`coupons::redemptions`]: the redemption journal and cross-format settlement records.
//! - [`reseal`]: re-encrypting personal data sealed under older keys.
//! - [`checkout`]: checkouts holding coupons and points until confirmed, cancelled or expired,
//!   and the points-as-cash settings.
//! - [`mall`]: the points mall — rewards with guarded stock, redemptions, per-member limit counters.
//! - [`settlement`]: settlement policy and revenue split rules, a period's sums by aggregate
//!   range queries, statements (draft → closed by compare-and-set) and their merchant lines.
//! - [`order_intake`]: a member's order inserted and its balance locked in one round trip.
//! - [`deferred`], [`write_group`]: writes nobody reads the outcome of, queued and sent in one
//!   round trip; SQLite changes grouped under one commit.
//! - [`ids`]: typed ids bound and read as bare UUIDs.
//! - [`scope_sql`]: compiles the domain's data-scope predicate into SQL, so list queries and
//!   single-record checks apply the same rule.
//!
//! Migrations live in `migrations/sqlite` and `migrations/postgres`, kept in lock step; the
//! conformance tests run every query on both databases and compare the two schemas.

pub mod audit;
pub mod auth;
pub mod backend;
pub mod checkout;
pub mod coupons;
pub mod deferred;
pub mod earning_rules;
mod error;
pub mod event_rewards;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod mall;
pub mod members;
pub mod order_intake;
pub mod orders;
pub mod org;
pub mod reseal;
pub mod scope_sql;
pub mod settlement;
pub mod tenants;
pub mod tiers;
pub mod timestamp;
pub mod write_group;

pub use backend::{DatabaseSettings, Session, Store};
pub use error::{StoreError, StoreResult};
pub use timestamp::Ts;

/// Now, in UTC, at the microsecond precision both databases keep.
pub fn utc_now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}
