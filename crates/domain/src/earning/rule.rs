//! The earning rule as it is saved, served and evaluated. The same struct is the wire type of
//! `GET /earning-rules`; [`EarningRuleInput`] is the body of `POST /earning-rules`.

use crate::ids::{ChannelId, FormatId, StoreId};
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::{Date, OffsetDateTime, Time};
use utoipa::ToSchema;
use uuid::Uuid;

time::serde::format_description!(pub(crate) local_date, Date, "[year]-[month]-[day]");
time::serde::format_description!(pub(crate) local_time, Time, "[hour]:[minute]");

/// One earning rule. See the [module documentation](super) for how rules combine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarningRule {
    pub id: Uuid,
    /// Shown to operators and recorded on every accrual the rule fires in.
    pub name: String,
    /// Higher priorities are considered first: the first matching base rate applies to a line.
    #[serde(default)]
    pub priority: i32,
    /// A paused rule matches nothing but keeps its history.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub effect: Effect,
    #[serde(default)]
    pub caps: Caps,
    #[serde(default)]
    pub stacking: Stacking,
    /// The rule applies to orders placed at or after this instant.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_from: Option<OffsetDateTime>,
    /// The rule applies to orders placed before this instant.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_until: Option<OffsetDateTime>,
}

fn enabled_by_default() -> bool {
    true
}

/// The body of `POST /earning-rules`: a rule without its id, which the server assigns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarningRuleInput {
    pub name: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub effect: Effect,
    #[serde(default)]
    pub caps: Caps,
    #[serde(default)]
    pub stacking: Stacking,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_until: Option<OffsetDateTime>,
}

impl EarningRuleInput {
    /// The rule under `id`, or every field error of the input. The name is trimmed.
    pub fn into_rule(self, id: Uuid) -> Result<EarningRule, FieldErrors> {
        let rule = EarningRule {
            id,
            name: self.name.trim().to_owned(),
            priority: self.priority,
            enabled: self.enabled,
            conditions: self.conditions,
            effect: self.effect,
            caps: self.caps,
            stacking: self.stacking,
            active_from: self.active_from,
            active_until: self.active_until,
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// When a rule applies. Every condition is optional; the present ones must all hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Orders of any of these business formats (业态).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_ids: Option<BTreeSet<FormatId>>,
    /// Orders through any of these channels; orders without a channel do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_ids: Option<BTreeSet<ChannelId>>,
    /// Orders in any of these stores; orders without a store do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ids: Option<BTreeSet<StoreId>>,
    /// Category paths, e.g. `[["beauty", "skincare"]]`: a line matches when its category path
    /// starts with one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<BTreeSet<Vec<String>>>,
    /// Lines with any of these SKUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skus: Option<BTreeSet<String>>,
    /// Members in any of these tiers (tier codes); members without a tier do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<BTreeSet<String>>,
    /// Members carrying at least one of these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_tags: Option<BTreeSet<String>>,
    /// Local calendar dates in the tenant's zone, both ends included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<DateRange>,
    /// ISO weekdays in the tenant's zone: 1 = Monday … 7 = Sunday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<BTreeSet<u8>>,
    /// Local time of day in the tenant's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_day: Option<TimeOfDayRange>,
    /// The order's net eligible amount (after points and coupons, excluded lines left out) must
    /// be at least this much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order_amount_fen: Option<i64>,
}

/// Local dates `from` to `until`, both included, as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    #[serde(with = "local_date")]
    pub from: Date,
    #[serde(with = "local_date")]
    pub until: Date,
}

impl DateRange {
    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.until
    }
}

/// Local time of day as `HH:MM`: `from` included, `until` excluded. When `until` is earlier than
/// `from` the range wraps past midnight (`22:00`–`02:00` is a night market).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDayRange {
    #[serde(with = "local_time")]
    #[schema(value_type = String, example = "10:00")]
    pub from: Time,
    #[serde(with = "local_time")]
    #[schema(value_type = String, example = "14:00")]
    pub until: Time,
}

impl TimeOfDayRange {
    pub fn contains(&self, time: Time) -> bool {
        if self.from <= self.until {
            self.from <= time && time < self.until
        } else {
            time >= self.from || time < self.until
        }
    }
}

/// What a rule gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Base rate: `points` for every whole `per_fen` of a line's net amount, rounded down per
    /// line (1 point per ¥1 is `points: 1, per_fen: 100`).
    PointsPerYuan { points: u32, per_fen: u32 },
    /// Multiplies the base-rate points of the matching lines: `2000` is ×2, `1500` is ×1.5.
    Multiplier { permille: u32 },
    /// A fixed number of points once per order.
    FixedBonus { points: u32 },
}

impl Effect {
    /// The wire name of the effect kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::PointsPerYuan { .. } => "points_per_yuan",
            Effect::Multiplier { .. } => "multiplier",
            Effect::FixedBonus { .. } => "fixed_bonus",
        }
    }
}

/// Upper bounds on what one rule gives; each is optional and must be positive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// At most this many points from this rule per order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_order_points: Option<i64>,
    /// At most this many points from this rule per member per local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_member_day_points: Option<i64>,
    /// At most this many points from this rule per member per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_member_period: Option<PeriodCap>,
}

impl Caps {
    /// Whether evaluation needs the storage layer's counters for this rule.
    pub fn needs_counters(&self) -> bool {
        self.per_member_day_points.is_some() || self.per_member_period.is_some()
    }
}

/// A cap over a calendar period in the tenant's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodCap {
    pub points: i64,
    pub period: CapPeriod,
}

/// The calendar period of a [`PeriodCap`]; see [`CapPeriod::window`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapPeriod {
    /// The ISO week, Monday to Sunday.
    Week,
    /// The calendar month.
    Month,
    /// The calendar year.
    Year,
    /// Everything the rule ever gave the member.
    Lifetime,
}

/// How a rule combines with others of its effect kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stacking {
    /// Adds to whatever else applies.
    #[default]
    Additive,
    /// Only the largest of the matching rules of `group` applies.
    BestOf { group: String },
}
