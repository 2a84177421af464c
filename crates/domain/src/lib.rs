//! Huiyuan's domain: the types and rules of the membership platform, free of HTTP and SQL.
//!
//! - [`identity`]: member identifiers (phones, emails, WeChat ids …), member numbers, profiles.
//! - [`ids`]: typed, time-ordered identifiers (UUIDv7) for every entity.
//! - [`amounts`]: [`Points`](amounts::Points) and [`Fen`](amounts::Fen), integer amounts with
//!   checked sums and exact pro rata shares.
//! - [`validation`]: field errors collected while parsing wire input into domain values.
//! - [`org`]: the organisation — tenants, business formats (业态), stores and merchants, channels.
//! - [`credentials`]: roles, staff accounts, API keys and the bearer token format.
//! - [`audit`]: the append-only audit trail entry.
//! - [`auth`]: permissions, roles, data scopes and the single access decision every handler uses.
//! - [`checkout`]: pricing a cart with coupons and points as cash (cap, unit, "points + cash").
//! - [`coupons`]: coupon templates, applicability, the discount calculation over a cart, the
//!   redemption state machine and typeable codes.
//! - [`earning`]: earning rules — conditions, rates, multipliers, bonuses, caps, stacking — and the
//!   accrual (with per-rule, per-line attribution) and explanation of an order.
//! - [`ledger`]: the ledger's accounts ([`LedgerAccount`](ledger::LedgerAccount)), points expiry
//!   policies and first-to-expire-first spending over lots.
//! - [`mall`]: the points mall — rewards (goods, services, donations, coupons) with price, stock,
//!   limits, tier-only and time window; eligibility; the redemption state machine.
//! - [`orders`]: the refund plan — money, points per line and per earning rule a refund gives
//!   and takes back.
//! - [`paging`]: cursor pagination limits and opaque cursors.
//! - [`settlement`]: settlement policy and revenue split rules, points valued in fen, the
//!   inter-format matrix with net transfers, merchant revenue split (分润).
//! - [`tiers`]: tier ladders, upgrade at once, downgrade only at evaluation unless retained (保级),
//!   overrides with expiry, benefits per format.
//!
//! Wire input becomes these types at the edge; past the edge an invalid value cannot exist.

pub mod amounts;
pub mod audit;
pub mod auth;
pub mod checkout;
pub mod coupons;
pub mod credentials;
pub mod earning;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod mall;
pub mod orders;
pub mod org;
pub mod paging;
pub mod settlement;
pub mod tiers;
pub mod validation;
