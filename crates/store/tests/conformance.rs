//! The storage conformance suite: every function of `huiyuan-store` runs against SQLite and
//! against PostgreSQL, each test on a fresh database, and a parity test compares the two migrated
//! schemas. One test binary, so the suite links once.
//!
//! PostgreSQL comes from `HUIYUAN_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets its own database, copied from a template migrated once per migration tree (see
//! `huiyuan_testkit`). When the server is unreachable the PostgreSQL half is skipped with a note
//! on stderr, unless `CI` is set or `HUIYUAN_REQUIRE_POSTGRES=1`.

#[macro_use]
#[path = "conformance/harness.rs"]
mod harness;

#[path = "conformance/api_keys.rs"]
mod api_keys;
#[path = "conformance/audit.rs"]
mod audit;
#[path = "conformance/checkout.rs"]
mod checkout;
#[path = "conformance/coupons.rs"]
mod coupons;
#[path = "conformance/deferred.rs"]
mod deferred;
#[path = "conformance/event_rewards.rs"]
mod event_rewards;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "conformance/idempotency.rs"]
mod idempotency;
#[path = "conformance/import.rs"]
mod import;
#[path = "conformance/isolation.rs"]
mod isolation;
#[path = "conformance/mall.rs"]
mod mall;
#[path = "conformance/merges.rs"]
mod merges;
#[path = "conformance/orders.rs"]
mod orders;
#[path = "conformance/org.rs"]
mod org;
#[path = "conformance/reseal.rs"]
mod reseal;
#[path = "conformance/schema.rs"]
mod schema;
#[path = "conformance/scopes.rs"]
mod scopes;
#[path = "conformance/sessions.rs"]
mod sessions;
#[path = "conformance/settlement.rs"]
mod settlement;
#[path = "conformance/staff.rs"]
mod staff;
#[path = "conformance/tenants.rs"]
mod tenants;
#[path = "conformance/tiers.rs"]
mod tiers;
#[path = "conformance/times.rs"]
mod times;
