//! Business dates in the tenant's time zone: blackout dates are checked on the local date of a
//! purchase, and "valid for N days" ends at a local midnight.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use time::{Date, Month, OffsetDateTime};

/// The local date of `at` in `tz`; `None` only outside the supported range of years.
pub fn local_date(at: OffsetDateTime, tz: &TimeZone) -> Option<Date> {
    let zoned = Timestamp::from_nanosecond(at.unix_timestamp_nanos())
        .ok()?
        .to_zoned(tz.clone());
    let date = zoned.date();
    let month = Month::try_from(u8::try_from(date.month()).ok()?).ok()?;
    Date::from_calendar_date(
        i32::from(date.year()),
        month,
        u8::try_from(date.day()).ok()?,
    )
    .ok()
}

/// The first instant after the local day that comes `days_after` days after the local date of
/// `at` (`0`: the end of `at`'s own day), in `tz`.
pub fn end_of_local_day(
    at: OffsetDateTime,
    days_after: u32,
    tz: &TimeZone,
) -> Option<OffsetDateTime> {
    let date = local_date(at, tz)?;
    let next = date.checked_add(time::Duration::days(i64::from(days_after) + 1))?;
    start_of_local_date(next, tz)
}

/// The first instant of the local date `date` in `tz`.
pub fn start_of_local_date(date: Date, tz: &TimeZone) -> Option<OffsetDateTime> {
    let civil = jiff::civil::date(
        i16::try_from(date.year()).ok()?,
        i8::try_from(u8::from(date.month())).ok()?,
        i8::try_from(date.day()).ok()?,
    );
    let zoned = civil.to_zoned(tz.clone()).ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn local_days_follow_the_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // 23:30 UTC is already the next morning in Shanghai.
        let at = datetime!(2026-11-23 23:30 UTC);
        assert_eq!(local_date(at, &tz), Some(date!(2026 - 11 - 24)));
        assert_eq!(
            end_of_local_day(at, 0, &tz),
            Some(datetime!(2026-11-24 16:00 UTC))
        );
        assert_eq!(
            end_of_local_day(at, 6, &tz),
            Some(datetime!(2026-11-30 16:00 UTC))
        );
        assert_eq!(
            start_of_local_date(date!(2026 - 01 - 01), &tz),
            Some(datetime!(2025-12-31 16:00 UTC))
        );
    }
}
