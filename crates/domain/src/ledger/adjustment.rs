//! A manual points adjustment as staff enter it: a signed amount within a limit and a reason.

use crate::validation::{FieldError, FieldErrors};

/// Largest adjustment accepted either way.
pub const ADJUSTMENT_MAX_POINTS: i64 = 100_000_000;
/// Longest reason, in characters.
pub const REASON_MAX_CHARS: usize = 200;

/// A checked manual adjustment: non-zero, within [`ADJUSTMENT_MAX_POINTS`] either way, with a
/// trimmed reason of 1 to [`REASON_MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjustment {
    /// Positive grants points (a new lot), negative takes them (never below zero).
    pub points: i64,
    pub reason: String,
}

impl Adjustment {
    /// Checks both fields and reports every problem at once.
    pub fn parse(points: i64, reason: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        // `unsigned_abs`: `i64::MIN.abs()` overflows.
        if points == 0 || points.unsigned_abs() > ADJUSTMENT_MAX_POINTS.unsigned_abs() {
            errors.push(FieldError::new(
                "points",
                "out_of_range",
                format!("must be non-zero and at most {ADJUSTMENT_MAX_POINTS} either way"),
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
            errors.push(FieldError::new(
                "reason",
                "required",
                "a reason of 1 to 200 characters is required",
            ));
        }
        errors.finish()?;
        Ok(Self {
            points,
            reason: reason.to_owned(),
        })
    }
}

/// What `points` are worth in fen at `fen_per_100_points`, rounded down; nothing for a negative
/// balance or rate.
pub fn points_value_fen(points: i64, fen_per_100_points: i64) -> i64 {
    let value = i128::from(points.max(0)) * i128::from(fen_per_100_points.max(0)) / 100;
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{ADJUSTMENT_MAX_POINTS, Adjustment, points_value_fen};

    #[test]
    fn a_reason_is_trimmed_and_required() {
        let adjustment = Adjustment::parse(-50, "  goodwill  ").unwrap();
        assert_eq!(adjustment.reason, "goodwill");
        let errors = Adjustment::parse(10, "   ").unwrap_err();
        assert_eq!(errors.0[0].field, "reason");
        assert!(Adjustment::parse(10, &"x".repeat(201)).is_err());
        assert!(Adjustment::parse(10, &"积".repeat(200)).is_ok());
    }

    #[test]
    fn zero_and_huge_amounts_are_refused_with_the_reason_checked_too() {
        let errors = Adjustment::parse(0, "").unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["points", "reason"]);
        assert!(Adjustment::parse(ADJUSTMENT_MAX_POINTS, "ok").is_ok());
        assert!(Adjustment::parse(-ADJUSTMENT_MAX_POINTS - 1, "ok").is_err());
        assert!(Adjustment::parse(i64::MIN, "ok").is_err());
    }

    #[test]
    fn value_rounds_down_and_never_goes_negative() {
        assert_eq!(points_value_fen(199, 100), 199);
        assert_eq!(points_value_fen(199, 50), 99);
        assert_eq!(points_value_fen(-500, 100), 0);
        assert_eq!(points_value_fen(500, -1), 0);
        assert_eq!(points_value_fen(i64::MAX, i64::MAX), i64::MAX);
    }
}
