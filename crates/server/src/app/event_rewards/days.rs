//! Calendar days in the tenant's time zone.

use crate::app::error::{ApiError, ApiResult};
use time::{Date, Month, OffsetDateTime};

/// The calendar day of `at` in `tz`.
pub fn local_day(at: OffsetDateTime, tz: &jiff::tz::TimeZone) -> ApiResult<Date> {
    let instant = jiff::Timestamp::from_second(at.unix_timestamp()).map_err(ApiError::internal)?;
    let day = instant.to_zoned(tz.clone()).date();
    let month = u8::try_from(day.month())
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| ApiError::internal("month out of range"))?;
    let day_of_month =
        u8::try_from(day.day()).map_err(|_| ApiError::internal("day out of range"))?;
    Date::from_calendar_date(i32::from(day.year()), month, day_of_month).map_err(ApiError::internal)
}

/// First and last day of `day`'s month.
pub(super) fn month_bounds(day: Date) -> ApiResult<(Date, Date)> {
    let first = day.replace_day(1).map_err(ApiError::internal)?;
    let (year, month) = match day.month() {
        Month::December => (day.year() + 1, Month::January),
        month => (day.year(), month.next()),
    };
    let next = Date::from_calendar_date(year, month, 1).map_err(ApiError::internal)?;
    let last = next
        .previous_day()
        .ok_or_else(|| ApiError::internal("no previous day"))?;
    Ok((first, last))
}
