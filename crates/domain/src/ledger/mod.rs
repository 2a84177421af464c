//! The points ledger's rules: its accounts, expiry policies and how spends, expiries and
//! claw-backs draw on lots. Storage keeps the entries; these functions decide what they say.
//!
//! - [`account`]: [`LedgerAccount`], every account an entry debits or credits, by its stored name.
//! - [`adjustment`]: [`Adjustment`], a manual adjustment as staff enter it; what points are worth.
//! - [`expiry`]: [`ExpiryPolicy`], when earned points expire.
//! - [`lots`]: [`plan_spend`], first-to-expire-first draws over a member's lots.

pub mod account;
pub mod adjustment;
pub mod expiry;
pub mod lots;

pub use account::{LedgerAccount, UnknownAccount};
pub use adjustment::{Adjustment, points_value_fen};
pub use expiry::ExpiryPolicy;
pub use lots::{Draw, Lot, Shortfall, plan_spend};
