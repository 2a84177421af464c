//! Window math in the tenant's time zone: which stretch of time a member's qualifying total is
//! summed over, and when their tier is next evaluated.
//!
//! Windows are aligned to local days so the store can pre-aggregate qualifying amounts per local
//! day and so a member reads "近365天" the way a calendar shows it: a rolling window of `n` days
//! is today (local) and the `n - 1` days before it, from local midnight. A calendar year runs
//! from local midnight of 1 January: in Shanghai, 2026 starts at 2025-12-31 16:00 UTC.

use crate::validation::FieldError;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Longest rolling window a tenant may configure, in days (five years).
pub const MAX_WINDOW_DAYS: u32 = 1830;

/// The stretch of time whose qualifying amounts count towards a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    /// The last `days` local calendar days, today included (e.g. 365: 近一年).
    RollingDays { days: u32 },
    /// The local calendar year (自然年).
    CalendarYear,
}

/// When a member's tier is evaluated for retention or downgrade (降级只在评定日).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Evaluation {
    /// At the end of the window that begins on the day of the last tier change or evaluation:
    /// `days` days later for a rolling window (the anniversary of the change for 365 days), the
    /// next 1 January for a calendar year. The total evaluated is then exactly what the member
    /// earned while holding the tier.
    #[default]
    WindowEnd,
    /// Every 1 January (local), whatever the window: one campaign date for all members.
    YearEnd,
}

/// An instant outside the calendar this build computes with (years −9999 to 9999).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the instant is outside the supported calendar")]
pub struct OutOfRange;

impl Window {
    pub(crate) fn validate(&self, field: &str) -> Result<(), FieldError> {
        match *self {
            Window::RollingDays { days } if !(1..=MAX_WINDOW_DAYS).contains(&days) => {
                Err(FieldError::new(
                    format!("{field}.days"),
                    "out_of_range",
                    format!("must be between 1 and {MAX_WINDOW_DAYS}"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The first instant of the window that contains `at`. A qualifying total "now" sums the
    /// amounts that occurred in `[start(at), at]`.
    pub fn start(&self, at: OffsetDateTime, tz: &TimeZone) -> Result<OffsetDateTime, OutOfRange> {
        let today = local(at, tz)?.date();
        match *self {
            Window::RollingDays { days } => {
                let back = i64::from(days.saturating_sub(1));
                start_of_day(today.checked_sub(back.days()).map_err(|_| OutOfRange)?, tz)
            }
            Window::CalendarYear => start_of_year(i32::from(today.year()), tz),
        }
    }

    /// The first instant of the window that ends just before `end`: an evaluation at `end` sums
    /// the amounts that occurred in `[period_start(end), end)`. For an evaluation at local
    /// midnight of 1 January that is the whole previous year; for a rolling window of `n` days
    /// at local midnight, the `n` full days before it.
    pub fn period_start(
        &self,
        end: OffsetDateTime,
        tz: &TimeZone,
    ) -> Result<OffsetDateTime, OutOfRange> {
        let last_instant = end
            .checked_sub(time::Duration::NANOSECOND)
            .ok_or(OutOfRange)?;
        self.start(last_instant, tz)
    }
}

impl Evaluation {
    /// The next evaluation after a tier change or an evaluation at `at`: always a local midnight
    /// strictly after `at`, so evaluating twice at one instant cannot happen.
    pub fn next_after(
        self,
        window: Window,
        at: OffsetDateTime,
        tz: &TimeZone,
    ) -> Result<OffsetDateTime, OutOfRange> {
        let today = local(at, tz)?.date();
        match (self, window) {
            (Evaluation::WindowEnd, Window::RollingDays { days }) => {
                let ahead = i64::from(days.max(1));
                start_of_day(today.checked_add(ahead.days()).map_err(|_| OutOfRange)?, tz)
            }
            (Evaluation::WindowEnd, Window::CalendarYear) | (Evaluation::YearEnd, _) => {
                start_of_year(i32::from(today.year()) + 1, tz)
            }
        }
    }
}

fn local(at: OffsetDateTime, tz: &TimeZone) -> Result<Zoned, OutOfRange> {
    let instant = Timestamp::from_nanosecond(at.unix_timestamp_nanos()).map_err(|_| OutOfRange)?;
    Ok(instant.to_zoned(tz.clone()))
}

/// Local midnight of `date`; where a DST change skips midnight, the first instant of the day.
fn start_of_day(date: Date, tz: &TimeZone) -> Result<OffsetDateTime, OutOfRange> {
    let zoned = date.to_zoned(tz.clone()).map_err(|_| OutOfRange)?;
    OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond())
        .map_err(|_| OutOfRange)
}

fn start_of_year(year: i32, tz: &TimeZone) -> Result<OffsetDateTime, OutOfRange> {
    let year = i16::try_from(year).map_err(|_| OutOfRange)?;
    start_of_day(Date::new(year, 1, 1).map_err(|_| OutOfRange)?, tz)
}
