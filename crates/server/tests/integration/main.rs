//! The server's HTTP integration suite: every test drives the real router over a socket, once on
//! SQLite and once on PostgreSQL, each on a fresh database. One test binary, so the suite links
//! once.
//!
//! PostgreSQL comes from `HUIYUAN_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets its own database, copied from a template migrated once per migration tree (see
//! `huiyuan_testkit`). When the server is unreachable the PostgreSQL half is skipped with a note
//! on stderr, unless `CI` is set or `HUIYUAN_REQUIRE_POSTGRES=1`.

#[macro_use]
mod support;

mod auth;
mod checkout;
mod checkout_merge;
mod checkout_parallel;
mod concurrency;
mod coupon_scopes;
mod coupons;
mod earning_rules;
mod events;
mod failures;
mod fixtures;
mod idempotency;
mod import;
mod journey;
mod ledger_props;
mod loyalty_flow;
mod mall;
mod mall_coupons;
mod mall_fulfilment;
mod member_codes;
mod members;
mod merchant_assistant;
mod merge;
mod observability;
mod orders;
mod orders_config;
mod points;
mod privacy;
mod referral;
mod scopes;
mod settlement;
mod settlement_periods;
mod smoke;
mod staff;
mod tenancy;
mod tier_earning;
mod tier_merge;
mod tiers;
mod validation;
