//! Settlement storage: the tenant's policy and merchants' revenue split rules ([`policy`]), a
//! period's sums read from the ledger, coupon redemptions and mall redemptions by the time each
//! event was recorded ([`figures`] — aggregate range queries, nothing loaded row by row), and
//! the statements with their merchant lines ([`statements`]; closing is a compare-and-set that
//! refuses a period overlapping another closed statement).

pub mod figures;
pub mod policy;
pub mod statements;

pub use figures::{AccountFlow, CouponCost, IssuerFlow, MallSupply};
pub use policy::{StoredSettlementPolicy, StoredSplitRule};
pub use statements::{MERCHANT_LINE_COLUMNS, MerchantLine, StatementHeader, StoredStatement};
