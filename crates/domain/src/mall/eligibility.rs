//! Whether a member may redeem a reward now, before anything is taken: archived, time window,
//! tier, quantity bounds. Stock, per-member limits and points are then taken by guarded updates
//! in the redemption's transaction — the only place they can be decided under concurrency — and
//! [`limit_counters`] names the counters a redemption takes.

use super::reward::{LimitPeriod, RewardSpec};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use time::OffsetDateTime;

/// What the check needs to know about the member and the ladder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberFacts {
    /// Rank of the member's effective tier on the ladder (0 lowest); `None` without a ladder.
    pub tier_rank: Option<usize>,
    /// Rank of the reward's `min_tier_code` on the ladder; `None` when the reward has none or
    /// the code is no longer on the ladder (then nobody qualifies).
    pub required_rank: Option<usize>,
}

/// A reward and the state the check depends on.
#[derive(Clone, Copy, Debug)]
pub struct Eligibility<'a> {
    pub reward: &'a RewardSpec,
    pub archived: bool,
    pub member: MemberFacts,
}

/// Why a member may not redeem a reward now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("the reward is archived")]
    Archived,
    #[error("the reward can be redeemed from {0}")]
    NotYetAvailable(OffsetDateTime),
    #[error("the reward could be redeemed until {0}")]
    NoLongerAvailable(OffsetDateTime),
    #[error("the reward is for members of tier '{0}' and above")]
    TierTooLow(String),
    #[error("a redemption takes 1 to {0} units")]
    Quantity(i64),
}

impl Ineligible {
    /// Stable reason code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Ineligible::Archived => "archived",
            Ineligible::NotYetAvailable(_) => "not_yet_available",
            Ineligible::NoLongerAvailable(_) => "no_longer_available",
            Ineligible::TierTooLow(_) => "tier_too_low",
            Ineligible::Quantity(_) => "out_of_range",
        }
    }

    /// The request field the reason is about.
    pub fn field(&self) -> &'static str {
        match self {
            Ineligible::Quantity(_) => "quantity",
            Ineligible::TierTooLow(_) => "member_id",
            _ => "reward",
        }
    }
}

impl Eligibility<'_> {
    /// Checks a redemption of `quantity` units at `now`; the first reason found wins.
    pub fn check(&self, quantity: i64, now: OffsetDateTime) -> Result<(), Ineligible> {
        let reward = self.reward;
        if self.archived {
            return Err(Ineligible::Archived);
        }
        if let Some(from) = reward.available_from.filter(|from| now < *from) {
            return Err(Ineligible::NotYetAvailable(from));
        }
        if let Some(until) = reward.available_until.filter(|until| now >= *until) {
            return Err(Ineligible::NoLongerAvailable(until));
        }
        if !(1..=reward.max_quantity).contains(&quantity) {
            return Err(Ineligible::Quantity(reward.max_quantity));
        }
        if let Some(code) = &reward.min_tier_code {
            let qualifies = matches!(
                (self.member.tier_rank, self.member.required_rank),
                (Some(rank), Some(required)) if rank >= required
            );
            if !qualifies {
                return Err(Ineligible::TierTooLow(code.clone()));
            }
        }
        Ok(())
    }
}

/// The key of the limit period containing `at` in `tz`: `d2026-11-23`, `w2026-W48` (ISO week),
/// `m2026-11`, `y2026`. `None` for instants outside the supported calendar.
pub fn period_key(period: LimitPeriod, at: OffsetDateTime, tz: &TimeZone) -> Option<String> {
    let timestamp = Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
    let local: Zoned = timestamp.to_zoned(tz.clone());
    let date = local.date();
    Some(match period {
        LimitPeriod::Day => format!("d{date}"),
        LimitPeriod::Week => {
            let week = date.iso_week_date();
            format!("w{:04}-W{:02}", week.year(), week.week())
        }
        LimitPeriod::Month => format!("m{:04}-{:02}", date.year(), date.month()),
        LimitPeriod::Year => format!("y{:04}", date.year()),
    })
}

/// The key of the all-time counter.
pub const TOTAL_KEY: &str = "total";

/// The per-member counters a redemption at `at` takes, with their limits: the all-time one and
/// the current period's. `None` when `at` lies outside the supported calendar.
pub fn limit_counters(
    reward: &RewardSpec,
    at: OffsetDateTime,
    tz: &TimeZone,
) -> Option<Vec<(String, i64)>> {
    let mut counters = Vec::new();
    if let Some(total) = reward.limit_total {
        counters.push((TOTAL_KEY.to_owned(), total));
    }
    if let Some(limit) = reward.limit_per_period {
        counters.push((period_key(limit.period, at, tz)?, limit.quantity));
    }
    Some(counters)
}
