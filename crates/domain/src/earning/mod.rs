//! Earning rules (积分规则): how many points an order earns, which rules gave them, and why the
//! other rules did not.
//!
//! - [`rule`]: the rule as saved and served (`GET|POST /earning-rules`): conditions, effect, caps,
//!   stacking and the active window; [`validate`](EarningRule::validate) reports every bad field.
//! - [`facts`]: the order and the member as the engine sees them, the tenant's time zone and
//!   order cap, and the per-rule counters the storage layer supplies for day and period caps.
//! - [`allocate`]: the largest-remainder split used wherever an amount is shared out exactly.
//! - [`engine`]: [`evaluate`] and [`accrue`], the pure evaluation.
//! - [`accrual`]: the result ([`Accrual`], [`Fired`]) and refund look-ups
//!   ([`points_for_lines`]).
//! - [`explain`]: the per-rule report of a dry run (`POST /orders/preview`).
//! - [`validate`]: the limits a saved rule must keep.
//! - [`tier_benefit`]: the member's tier earning multiplier as one more (lowest-priority,
//!   additive) multiplier rule.
//!
//! # Semantics
//!
//! **Amounts.** Everything is integer fen and integer points; no floats anywhere. A line earns only
//! when it is not flagged `excluded` and its amount (after line discounts) is positive; negative
//! amounts count as zero. The part of the order paid by points (积分抵现) or coupons earns nothing:
//! `paid_by_points_fen + paid_by_coupons_fen` (never more than the eligible amount) is shared over
//! the eligible lines pro rata by amount with a largest-remainder split, so the shares sum exactly,
//! and each line earns on what remains, its *net* amount. Excluded lines take no share, so adding
//! or removing an excluded line never changes what the other lines earn.
//!
//! **Conditions** are all optional and AND-ed; an omitted condition matches everything (an empty
//! list is rejected on save rather than read as "nothing"). Order conditions: formats, channels,
//! stores, member tier, member tags (any of), local dates (inclusive), ISO weekdays (1 = Monday …
//! 7 = Sunday), local time of day (`from` inclusive, `until` exclusive, wrapping past midnight when
//! `until` < `from`) and a minimum order amount, compared with the order's net eligible amount
//! (what the member paid in cash for eligible lines: 实付). Dates, weekdays and times are read in
//! the tenant's time zone. Line conditions — categories (a rule category matches every line whose
//! category path starts with it) and SKUs — pick the lines a rule applies to; a rule matches the
//! order when at least one eligible line with a positive net amount passes them.
//!
//! **Effects and stacking.** Rules are considered in order of `priority` (higher first), then id.
//! - A *base rate* ([`Effect::PointsPerYuan`]): per line, only the first matching base rate in that
//!   order applies, earning `floor(net_fen × points / per_fen)` — rounded down per line. A
//!   format- or category-specific rate therefore overrides the group-wide one by having a higher
//!   priority. Base rates always stack this way; `best_of` is rejected for them.
//! - A *multiplier* ([`Effect::Multiplier`], ×1 to ×100 in permille) adds its extra on each
//!   matching line, `floor(base × (permille − 1000) / 1000)`, where `base` is that line's
//!   base-rate points. Additive multipliers add their extras (×2 and ×3 give base × (1 + 1 + 2) =
//!   ×4). Among `best_of` multipliers of one group only the largest applies, decided per line
//!   (ties go to the earlier rule). Multipliers below ×1 are rejected: reduced earning is a
//!   higher-priority base rate with a lower rate, which keeps every contribution non-negative.
//! - A *fixed bonus* ([`Effect::FixedBonus`]) gives its points once per order. Bonuses add up,
//!   except that of the `best_of` bonuses of one group only the largest applies. The bonus is
//!   attributed to the rule's matching lines pro rata by net amount (largest remainder), so a
//!   refund of some lines takes back exactly the share recorded on them.
//!
//! Groups are per effect kind: a multiplier group and a bonus group of the same name are unrelated.
//!
//! **Caps** apply per rule after stacking, to what that rule contributed: at most
//! `per_order_points`, at most what is left of `per_member_day_points` today (local day) and of
//! `per_member_period.points` in the period, given the counters in [`EarningContext`] (a missing
//! counter counts as zero earned). Then the tenant's order cap, if any, limits the total: it is
//! shared over the fired rules pro rata by their points. Whenever a rule loses points to a cap, its
//! remaining points are re-spread over its lines pro rata (largest remainder) and it is marked
//! `capped`; a rule that reaches a cap exactly is not.
//!
//! **Attribution.** Every accrual lists each fired rule with its points and its per-line points,
//! and the per-line totals; `sum(fired) == total == sum(per_line)` always holds, so
//! [`points_for_lines`] gives exactly what refunded lines earned. Refund policy (whether a partial
//! refund that drops the order below a bonus threshold takes back the whole bonus) belongs to the
//! orders module, which can re-evaluate the remaining lines and post the difference.

pub mod accrual;
pub mod allocate;
pub mod engine;
pub mod explain;
pub mod facts;
mod matching;
pub mod rule;
pub mod tier_benefit;
pub mod validate;

#[cfg(test)]
mod tests;

pub use accrual::{Accrual, Fired, LinePoints, points_for_lines};
pub use allocate::allocate_largest_remainder;
pub use engine::{accrue, evaluate};
pub use explain::{Evaluation, Outcome, RuleReport, Unmet};
pub use facts::{
    CounterWindow, EarnedSoFar, EarningContext, LineFacts, MemberFacts, OrderFacts, day_window,
};
pub use rule::{
    CapPeriod, Caps, Conditions, DateRange, EarningRule, EarningRuleInput, Effect, PeriodCap,
    Stacking, TimeOfDayRange,
};
pub use tier_benefit::{TIER_BENEFIT_RULE_ID, tier_benefit_rule};
