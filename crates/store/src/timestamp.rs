//! Binding timestamps so both databases compare them as instants. PostgreSQL has `timestamptz`;
//! SQLite compares text, and sqlx's default text for a time trims trailing fraction digits and
//! keeps the offset, so `12:00:00.5Z` would sort before `12:00:00Z`. Every time bound to a query
//! goes through [`Ts`], which on SQLite writes one fixed-width UTC form with six fraction digits —
//! text order is then time order. Reading needs nothing special: sqlx parses that form.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const SQLITE_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A timestamp to bind: `Ts(now)`.
#[derive(Clone, Copy, Debug)]
pub struct Ts(pub OffsetDateTime);

impl Ts {
    fn sqlite_text(self) -> Result<String, BoxDynError> {
        Ok(self
            .0
            .to_offset(time::UtcOffset::UTC)
            .format(SQLITE_FORMAT)?)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <OffsetDateTime as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <OffsetDateTime as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<'_, Sqlite>>::encode(self.sqlite_text()?, buf)
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_sorts_as_time() {
        let times = [
            datetime!(2026-11-23 12:00:00 UTC),
            datetime!(2026-11-23 12:00:00.1 UTC),
            datetime!(2026-11-23 12:00:00.123456 UTC),
            datetime!(2026-11-23 12:00:00.5 UTC),
            datetime!(2026-11-23 20:00:01 +08:00),
            datetime!(2026-11-23 12:00:02 UTC),
        ];
        let texts: Vec<String> = times
            .iter()
            .map(|t| Ts(*t).sqlite_text().unwrap())
            .collect();
        assert!(texts.windows(2).all(|pair| pair[0] < pair[1]), "{texts:?}");
        assert_eq!(texts[0], "2026-11-23T12:00:00.000000Z");
        assert_eq!(texts[4], "2026-11-23T12:00:01.000000Z");
    }
}
