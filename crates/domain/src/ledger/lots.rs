//! Lots: each accrual is a lot with its own expiry. A spend consumes the lot that expires first
//! (lots that never expire last, then the oldest), and records every lot it drew from, so a
//! later reversal can put points back exactly where they came from.

use crate::ids::LotId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A lot as the planner needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lot {
    pub id: LotId,
    pub remaining: i64,
    /// Points are pending (frozen for a return window) until this instant.
    pub available_at: OffsetDateTime,
    /// Points are unusable from this instant on; `None` never expires.
    pub expires_at: Option<OffsetDateTime>,
}

impl Lot {
    pub fn usable_at(&self, now: OffsetDateTime) -> bool {
        self.remaining > 0
            && self.available_at <= now
            && self.expires_at.is_none_or(|expiry| expiry > now)
    }
}

/// Points taken from one lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    pub lot_id: LotId,
    pub points: i64,
}

/// Not enough usable points: how many were usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("only {available} points are usable")]
pub struct Shortfall {
    pub available: i64,
}

/// Which lots a spend of `amount` draws on at `now`, first to expire first.
pub fn plan_spend(lots: &[Lot], amount: i64, now: OffsetDateTime) -> Result<Vec<Draw>, Shortfall> {
    let mut usable: Vec<&Lot> = lots.iter().filter(|lot| lot.usable_at(now)).collect();
    usable.sort_by_key(|lot| {
        (
            lot.expires_at.is_none(),
            lot.expires_at,
            lot.available_at,
            lot.id,
        )
    });
    let available: i64 = usable.iter().map(|lot| lot.remaining).sum();
    if amount > available {
        return Err(Shortfall { available });
    }
    let mut left = amount;
    let mut draws = Vec::new();
    for lot in usable {
        if left == 0 {
            break;
        }
        let take = left.min(lot.remaining);
        draws.push(Draw {
            lot_id: lot.id,
            points: take,
        });
        left -= take;
    }
    Ok(draws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn lot(remaining: i64, expires_at: Option<OffsetDateTime>) -> Lot {
        Lot {
            id: LotId::new(),
            remaining,
            available_at: datetime!(2026-01-01 0:00 UTC),
            expires_at,
        }
    }

    #[test]
    fn spends_draw_first_to_expire_first() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let never = lot(100, None);
        let late = lot(50, Some(datetime!(2026-12-31 16:00 UTC)));
        let soon = lot(30, Some(datetime!(2026-06-30 16:00 UTC)));
        let expired = lot(500, Some(datetime!(2026-05-31 16:00 UTC)));
        let draws = plan_spend(
            &[never.clone(), late.clone(), soon.clone(), expired],
            100,
            now,
        )
        .unwrap();
        assert_eq!(
            draws,
            [
                Draw {
                    lot_id: soon.id,
                    points: 30
                },
                Draw {
                    lot_id: late.id,
                    points: 50
                },
                Draw {
                    lot_id: never.id,
                    points: 20
                }
            ]
        );
        assert_eq!(
            plan_spend(&[never, late, soon], 181, now),
            Err(Shortfall { available: 180 })
        );
    }

    #[test]
    fn pending_points_cannot_be_spent() {
        let mut pending = lot(100, None);
        pending.available_at = datetime!(2026-06-08 0:00 UTC);
        assert_eq!(
            plan_spend(&[pending.clone()], 1, datetime!(2026-06-01 0:00 UTC)),
            Err(Shortfall { available: 0 })
        );
        assert!(plan_spend(&[pending], 100, datetime!(2026-06-08 0:00 UTC)).is_ok());
    }

    proptest! {
        /// A spend either draws exactly the amount from usable lots, never more than a lot holds,
        /// or is refused because the usable total is smaller.
        #[test]
        fn draws_add_up_and_never_overdraw(
            sizes in proptest::collection::vec((0i64..500, 0u8..3), 0..12),
            amount in 0i64..3000,
        ) {
            let now = datetime!(2026-06-01 0:00 UTC);
            let lots: Vec<Lot> = sizes.iter().enumerate().map(|(i, (size, state))| {
                let expires_at = match state {
                    0 => None,
                    1 => Some(now + time::Duration::days(i as i64 + 1)),
                    _ => Some(now - time::Duration::days(1)),
                };
                lot(*size, expires_at)
            }).collect();
            let usable: i64 = lots.iter().filter(|l| l.usable_at(now)).map(|l| l.remaining).sum();
            match plan_spend(&lots, amount, now) {
                Ok(draws) => {
                    prop_assert_eq!(draws.iter().map(|d| d.points).sum::<i64>(), amount);
                    for draw in &draws {
                        let source = lots.iter().find(|l| l.id == draw.lot_id).unwrap();
                        prop_assert!(source.usable_at(now) && draw.points > 0 && draw.points <= source.remaining);
                    }
                }
                Err(shortfall) => {
                    prop_assert!(amount > usable);
                    prop_assert_eq!(shortfall.available, usable);
                }
            }
        }
    }
}
