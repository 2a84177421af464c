//! Event rewards: points for what members do besides buying — registering, signing in daily (with
//! streak and monthly ladders), checking in at a store, sharing, reviewing, completing their
//! profile, custom events a tenant names, their birthday, and bringing in a friend who then pays
//! for a first order.
//!
//! Each reward is decided twice over by the database, never by a read-then-write here:
//! - an event claims its slot in `member_events` (unique per member, kind, subject, local day and
//!   slot number), so a sign-in counts once per local day, a check-in once per store and day, and
//!   a capped event takes one of its day's numbered slots;
//! - every points posting carries a natural key (`sign_in:<member>:<day>`, `registration:<member>`,
//!   `birthday:<member>:<year>`, `referral:<referee>` …), unique in the ledger, so a retry or a
//!   concurrent twin never grants twice.
//!
//! Days are calendar days in the tenant's time zone. Every grant is a `reward` entry from the
//! `reward:<type>` account (a check-in's from its store's format issuance account), explained in
//! the entry's reason and audited as `event.rewarded`.
//!
//! Defaults until a tenant saves its own configuration: a daily sign-in earns 5 points, 10 from
//! the third day of a streak and 50 on the seventh, in a 7-day cycle; the 10th and 30th sign-in of
//! a month earn 20 and 100 more. Every other reward is off (0 points) until configured.

mod activity;
mod birthday;
pub mod config;
mod configure;
mod days;
mod events;
mod outcome;
mod posting;
mod referral;
mod sign_in;

pub use birthday::{birthday_tick, grant_birthday_rewards};
pub use config::{CappedReward, CustomEvent, MonthlyRung, RewardConfig, SignInConfig, StreakRung};
pub use configure::{put_config, set_config};
pub use days::local_day;
pub use events::{Event, record};
pub use outcome::{EventOutcome, Grant, Milestone};
pub use referral::{on_first_paid_order, on_first_paid_order_of, on_registered};

use time::Duration;

/// The ledger entry kind of every event reward.
pub const REWARD_KIND: &str = "reward";

/// Members rewarded per tenant per birthday round.
pub(crate) const BIRTHDAY_BATCH: i64 = 500;
/// How often a node looks for birthdays (the settlement loop ticks every minute).
pub(crate) const BIRTHDAY_INTERVAL: Duration = Duration::hours(1);
