//! Integer amounts with their unit in the type: [`Points`] (the loyalty currency) and [`Fen`]
//! (1/100 yuan). Both serialise as a bare JSON integer, so replacing an `i64` with one of them
//! does not change the wire or the stored JSON. There is no `+` or `-`: sums and differences are
//! checked, because an order or a period can be large enough to overflow and a wrapped balance
//! is worse than a refused request.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A number of points; negative where a rule or an entry takes points away.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Points(i64);

/// An amount of money in fen (分), the smallest unit of the yuan.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

impl Points {
    pub const ZERO: Points = Points(0);

    pub const fn new(points: i64) -> Self {
        Self(points)
    }

    /// The number, for storage and for the places that still count in raw `i64`.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Points) -> Option<Points> {
        self.0.checked_add(other.0).map(Points)
    }

    pub fn checked_sub(self, other: Points) -> Option<Points> {
        self.0.checked_sub(other.0).map(Points)
    }

    /// The sum, or `None` when it does not fit.
    pub fn checked_sum(items: impl IntoIterator<Item = Points>) -> Option<Points> {
        items
            .into_iter()
            .try_fold(Points::ZERO, |sum, item| sum.checked_add(item))
    }

    /// The share of `self` that `done` of `of` units carry; see [`pro_rata`].
    pub fn pro_rata(self, done: i64, of: i64) -> Points {
        Points(pro_rata(self.0, done, of))
    }
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    /// The number of fen, for storage and for the places that still count in raw `i64`.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// The sum, or `None` when it does not fit.
    pub fn checked_sum(items: impl IntoIterator<Item = Fen>) -> Option<Fen> {
        items
            .into_iter()
            .try_fold(Fen::ZERO, |sum, item| sum.checked_add(item))
    }

    /// The share of `self` that `done` of `of` units carry; see [`pro_rata`].
    pub fn pro_rata(self, done: i64, of: i64) -> Fen {
        Fen(pro_rata(self.0, done, of))
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The part of `whole` that `done` of `of` units carry, rounded toward zero. Taking the share of
/// everything done so far and subtracting the share of what was done before gives each step its
/// part, and the parts of all steps add up to exactly `whole` once `done` reaches `of`: rounding
/// never loses or invents a unit. Nothing of nothing: a non-positive `of` gives 0. The product is
/// taken in i128, so it cannot overflow; with `0 <= done <= of` the result lies between 0 and
/// `whole`.
pub fn pro_rata(whole: i64, done: i64, of: i64) -> i64 {
    if of <= 0 {
        return 0;
    }
    let share = i128::from(whole) * i128::from(done) / i128::from(of);
    // Only reachable with `done > of`; saturate rather than wrap.
    i64::try_from(share).unwrap_or(if share > 0 { i64::MAX } else { i64::MIN })
}

#[cfg(test)]
mod tests {
    use super::{Fen, Points, pro_rata};

    #[test]
    fn amounts_serialise_as_bare_integers() {
        assert_eq!(serde_json::json!(Points::new(-42)), serde_json::json!(-42));
        assert_eq!(serde_json::json!(Fen::new(1999)), serde_json::json!(1999));
        let back: Fen = serde_json::from_str("1999").unwrap_or_default();
        assert_eq!(back, Fen::new(1999));
    }

    #[test]
    fn sums_refuse_to_overflow() {
        assert_eq!(Points::new(i64::MAX).checked_add(Points::new(1)), None);
        assert_eq!(Fen::new(i64::MIN).checked_sub(Fen::new(1)), None);
        assert_eq!(
            Points::checked_sum([Points::new(2), Points::new(3)]),
            Some(Points::new(5))
        );
        assert_eq!(Fen::checked_sum([Fen::new(i64::MAX), Fen::new(1)]), None);
        assert_eq!(Points::checked_sum([]), Some(Points::ZERO));
    }

    #[test]
    fn pro_rata_shares_add_up_to_the_whole() {
        // 100 over 3 units, one at a time: 33, 33, 34.
        let steps: Vec<i64> = (1..=3)
            .map(|done| pro_rata(100, done, 3) - pro_rata(100, done - 1, 3))
            .collect();
        assert_eq!(steps, [33, 33, 34]);
        assert_eq!(pro_rata(100, 1, 0), 0);
        assert_eq!(pro_rata(-7, 1, 2), -3);
        assert_eq!(pro_rata(i64::MAX, 5, 5), i64::MAX);
    }
}
