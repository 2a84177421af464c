//! The dry-run report (`POST /orders/preview`): for every rule, whether it fired and what it gave,
//! or every condition that failed, or which rule it lost to.

use super::accrual::Accrual;
use super::rule::{local_date, local_time};
use crate::ids::{ChannelId, FormatId, StoreId};
use serde::Serialize;
use time::{Date, OffsetDateTime, Time};
use utoipa::ToSchema;
use uuid::Uuid;

/// The accrual and the report on every rule, in evaluation order (priority, then id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Evaluation {
    pub accrual: Accrual,
    pub rules: Vec<RuleReport>,
}

/// What became of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleReport {
    pub rule_id: Uuid,
    pub rule_name: String,
    pub priority: i32,
    /// `points_per_yuan`, `multiplier` or `fixed_bonus`.
    pub effect: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The rule applied; the same figures are in the accrual's `fired`.
    Fired { points: i64, capped: bool },
    /// At least one condition failed; all failed conditions are listed.
    NotMatched { unmet: Vec<Unmet> },
    /// A base rate that matched, but a higher-priority base rate applied to each of its lines.
    Outranked { by_rule_id: Uuid },
    /// A `best_of` rule that matched, but a larger rule of its group applied instead.
    BeatenInGroup { group: String, by_rule_id: Uuid },
}

/// A failed condition, with the order's value where that helps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub enum Unmet {
    /// The rule is paused.
    Disabled,
    NotYetActive {
        #[serde(with = "time::serde::rfc3339")]
        active_from: OffsetDateTime,
    },
    NoLongerActive {
        #[serde(with = "time::serde::rfc3339")]
        active_until: OffsetDateTime,
    },
    Format {
        format_id: FormatId,
    },
    Channel {
        channel_id: Option<ChannelId>,
    },
    Store {
        store_id: Option<StoreId>,
    },
    Tier {
        tier_code: Option<String>,
    },
    MemberTags,
    Dates {
        #[serde(with = "local_date")]
        local_date: Date,
    },
    Weekday {
        local_weekday: u8,
    },
    TimeOfDay {
        #[serde(with = "local_time")]
        #[schema(value_type = String)]
        local_time: Time,
    },
    /// The order's instant lies outside the calendar (years beyond ±9999).
    LocalTimeUnknown,
    MinOrderAmount {
        min_fen: i64,
        order_net_fen: i64,
    },
    /// Every line is excluded, or the order has no lines.
    NoEligibleLines,
    /// No eligible line is in the rule's categories.
    Categories,
    /// No eligible line in the rule's categories has one of the rule's SKUs.
    Skus,
    /// The matching lines were paid entirely by points or coupons, or cost nothing.
    NothingToEarnOn,
}
