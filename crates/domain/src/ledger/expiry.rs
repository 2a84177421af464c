//! When earned points expire (积分有效期): never, N days after earning, at the end of the Nth month
//! after earning, or year-end clearing (年终清零: points earned in year Y expire at the end of
//! 31 December of Y + N). Calendar rules are evaluated in the tenant's time zone: "the end of the
//! year" in Shanghai is 16:00 UTC on 31 December.

use crate::validation::FieldError;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Longest expiry a tenant may configure, in days (ten years).
const MAX_DAYS: u32 = 3660;
/// Longest month or year offsets accepted.
const MAX_MONTHS: u32 = 120;
const MAX_YEARS: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExpiryPolicy {
    Never,
    /// Expire `days` days (24 h each) after earning.
    DaysAfterEarning {
        days: u32,
    },
    /// Expire at the end of the `months`-th month after the month of earning (0: this month).
    EndOfMonth {
        months: u32,
    },
    /// Expire at the end of 31 December of the earning year plus `years`.
    YearEnd {
        years: u32,
    },
}

impl ExpiryPolicy {
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        let ok = match *self {
            ExpiryPolicy::Never => true,
            ExpiryPolicy::DaysAfterEarning { days } => (1..=MAX_DAYS).contains(&days),
            ExpiryPolicy::EndOfMonth { months } => months <= MAX_MONTHS,
            ExpiryPolicy::YearEnd { years } => years <= MAX_YEARS,
        };
        if ok {
            Ok(())
        } else {
            Err(FieldError::new(
                field,
                "out_of_range",
                format!("days 1–{MAX_DAYS}, months 0–{MAX_MONTHS}, years 0–{MAX_YEARS}"),
            ))
        }
    }

    /// The instant points earned at `earned_at` stop being usable, in the tenant's zone `tz`;
    /// `None` when they never expire. The instant itself is already expired.
    pub fn expires_at(&self, earned_at: OffsetDateTime, tz: &TimeZone) -> Option<OffsetDateTime> {
        let earned = Timestamp::from_nanosecond(earned_at.unix_timestamp_nanos()).ok()?;
        let local = earned.to_zoned(tz.clone());
        let start_of = |date: Date| date.to_zoned(tz.clone()).ok().map(|z| z.timestamp());
        let instant = match *self {
            ExpiryPolicy::Never => return None,
            ExpiryPolicy::DaysAfterEarning { days } => earned
                .checked_add(i64::from(days).saturating_mul(24).hours())
                .ok()?,
            ExpiryPolicy::EndOfMonth { months } => {
                let first_of_month = local.date().first_of_month();
                start_of(
                    first_of_month
                        .checked_add(i64::from(months + 1).months())
                        .ok()?,
                )?
            }
            ExpiryPolicy::YearEnd { years } => {
                let next_year =
                    i16::try_from(i32::from(local.date().year()) + i32::try_from(years).ok()? + 1)
                        .ok()?;
                start_of(Date::new(next_year, 1, 1).ok()?)?
            }
        };
        OffsetDateTime::from_unix_timestamp_nanos(instant.as_nanosecond()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    #[test]
    fn year_end_clearing_follows_the_tenant_calendar() {
        let policy = ExpiryPolicy::YearEnd { years: 1 };
        // 2025-12-31 23:30 in Shanghai is still 2025 there: expires at the end of 2026, Shanghai time.
        let late_in_2025 = datetime!(2025-12-31 15:30 UTC);
        assert_eq!(
            policy.expires_at(late_in_2025, &shanghai()),
            Some(datetime!(2026-12-31 16:00 UTC))
        );
        // 2025-12-31 16:30 UTC is already 2026 in Shanghai: a year later.
        let early_in_2026 = datetime!(2025-12-31 16:30 UTC);
        assert_eq!(
            policy.expires_at(early_in_2026, &shanghai()),
            Some(datetime!(2027-12-31 16:00 UTC))
        );
        assert_eq!(
            ExpiryPolicy::YearEnd { years: 0 }.expires_at(late_in_2025, &shanghai()),
            Some(datetime!(2025-12-31 16:00 UTC))
        );
    }

    #[test]
    fn end_of_month_and_days() {
        let earned = datetime!(2026-01-31 02:00 UTC); // 10:00 in Shanghai
        assert_eq!(
            ExpiryPolicy::EndOfMonth { months: 0 }.expires_at(earned, &shanghai()),
            Some(datetime!(2026-01-31 16:00 UTC))
        );
        assert_eq!(
            ExpiryPolicy::EndOfMonth { months: 1 }.expires_at(earned, &shanghai()),
            Some(datetime!(2026-02-28 16:00 UTC))
        );
        assert_eq!(
            ExpiryPolicy::DaysAfterEarning { days: 30 }.expires_at(earned, &shanghai()),
            Some(datetime!(2026-03-02 02:00 UTC))
        );
        assert_eq!(ExpiryPolicy::Never.expires_at(earned, &shanghai()), None);
    }

    #[test]
    fn policies_are_bounded() {
        assert!(
            ExpiryPolicy::DaysAfterEarning { days: 0 }
                .validate("expiry")
                .is_err()
        );
        assert!(
            ExpiryPolicy::YearEnd { years: 11 }
                .validate("expiry")
                .is_err()
        );
        assert!(
            ExpiryPolicy::EndOfMonth { months: 12 }
                .validate("expiry")
                .is_ok()
        );
    }
}
