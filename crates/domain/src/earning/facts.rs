//! The order and the member as the earning engine sees them, and what the caller supplies around
//! them: the tenant's time zone, the tenant's order cap and the per-rule counters for day and
//! period caps. The engine reads no clock: the order's own time decides every date condition.

use super::rule::CapPeriod;
use crate::ids::{ChannelId, FormatId, StoreId};
use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use std::collections::{BTreeMap, BTreeSet};
use time::{Date, Month, OffsetDateTime, Time};
use uuid::Uuid;

/// One order line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    /// The line's number within the order; unique per order, used to attribute points.
    pub line_no: u32,
    pub sku: String,
    /// From the broadest category down, e.g. `["beauty", "skincare", "serum"]`.
    pub category_path: Vec<String>,
    pub quantity: u32,
    /// What the line costs after line discounts.
    pub amount_fen: i64,
    /// Lines that never earn (tobacco, gift cards, deposits …), flagged by the orders module.
    pub excluded: bool,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFacts {
    pub format_id: FormatId,
    pub channel_id: Option<ChannelId>,
    pub store_id: Option<StoreId>,
    pub occurred_at: OffsetDateTime,
    pub lines: Vec<LineFacts>,
    /// Paid with points as cash (积分抵现): earns nothing.
    pub paid_by_points_fen: i64,
    /// Paid with order-level coupons: earns nothing.
    pub paid_by_coupons_fen: i64,
}

/// The member placing the order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberFacts {
    /// The member's current tier code, e.g. `gold` or `金卡`.
    pub tier_code: Option<String>,
    pub tags: BTreeSet<String>,
}

/// What one rule already gave this member, supplied by storage for rules with day or period caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EarnedSoFar {
    /// Within [`day_window`] of the order.
    pub already_earned_today: i64,
    /// Within the rule's [`CapPeriod::window`] of the order.
    pub already_earned_in_period: i64,
}

/// Everything around the order that the engine needs.
#[derive(Clone, Debug)]
pub struct EarningContext {
    /// The tenant's zone: dates, weekdays, times of day and cap periods are local to it.
    pub time_zone: TimeZone,
    /// The tenant's limit on the points of one order, over all rules.
    pub order_cap_points: Option<i64>,
    /// Counters per rule id; a rule with no entry has earned nothing yet.
    pub earned_so_far: BTreeMap<Uuid, EarnedSoFar>,
}

impl EarningContext {
    /// No order cap, no counters.
    pub fn new(time_zone: TimeZone) -> Self {
        Self {
            time_zone,
            order_cap_points: None,
            earned_so_far: BTreeMap::new(),
        }
    }

    pub(crate) fn earned_so_far(&self, rule_id: Uuid) -> EarnedSoFar {
        self.earned_so_far
            .get(&rule_id)
            .copied()
            .unwrap_or_default()
    }
}

/// A half-open interval of instants, `start <= t < end`, over which storage sums a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterWindow {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// The local day (in `tz`) containing `at`, for `per_member_day_points` counters. `None` only for
/// instants outside the supported calendar (beyond the years ±9999).
pub fn day_window(at: OffsetDateTime, tz: &TimeZone) -> Option<CounterWindow> {
    let date = to_zoned(at, tz)?.date();
    window(date, date.checked_add(1.day()).ok()?, tz)
}

impl CapPeriod {
    /// The local period (in `tz`) containing `at`, for `per_member_period` counters. `None` for
    /// [`CapPeriod::Lifetime`]: the counter covers everything the rule ever gave the member.
    pub fn window(&self, at: OffsetDateTime, tz: &TimeZone) -> Option<CounterWindow> {
        let date = to_zoned(at, tz)?.date();
        let (start, end) = match self {
            CapPeriod::Week => {
                let back = i64::from(date.weekday().to_monday_zero_offset());
                let monday = date.checked_sub(back.days()).ok()?;
                (monday, monday.checked_add(1.week()).ok()?)
            }
            CapPeriod::Month => {
                let first = date.first_of_month();
                (first, first.checked_add(1.month()).ok()?)
            }
            CapPeriod::Year => {
                let first = date.first_of_year();
                (first, first.checked_add(1.year()).ok()?)
            }
            CapPeriod::Lifetime => return None,
        };
        window(start, end, tz)
    }
}

fn window(start: civil::Date, end: civil::Date, tz: &TimeZone) -> Option<CounterWindow> {
    let instant = |date: civil::Date| {
        let nanos = date.to_zoned(tz.clone()).ok()?.timestamp().as_nanosecond();
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    };
    Some(CounterWindow {
        start: instant(start)?,
        end: instant(end)?,
    })
}

fn to_zoned(at: OffsetDateTime, tz: &TimeZone) -> Option<Zoned> {
    let timestamp = Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
    Some(timestamp.to_zoned(tz.clone()))
}

/// The order's wall-clock reading in the tenant's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LocalMoment {
    pub date: Date,
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    pub time: Time,
}

impl LocalMoment {
    pub(crate) fn of(at: OffsetDateTime, tz: &TimeZone) -> Option<Self> {
        let zoned = to_zoned(at, tz)?;
        let (date, clock) = (zoned.date(), zoned.time());
        let month = Month::try_from(u8::try_from(date.month()).ok()?).ok()?;
        Some(Self {
            date: Date::from_calendar_date(
                i32::from(date.year()),
                month,
                u8::try_from(date.day()).ok()?,
            )
            .ok()?,
            weekday: u8::try_from(date.weekday().to_monday_one_offset()).ok()?,
            time: Time::from_hms(
                u8::try_from(clock.hour()).ok()?,
                u8::try_from(clock.minute()).ok()?,
                u8::try_from(clock.second()).ok()?,
            )
            .ok()?,
        })
    }
}
