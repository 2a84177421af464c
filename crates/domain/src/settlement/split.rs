//! A merchant's revenue split (分润): the gross is the cash taken plus the points valued at the
//! rule's rate; the platform keeps its commissions and the merchant gets the rest, so the two
//! shares always add up to the gross.

use super::policy::RevenueSplitRule;
use super::share_bps;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One merchant's split for a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Split {
    pub points_value_fen: i64,
    pub gross_fen: i64,
    pub platform_fen: i64,
    pub merchant_fen: i64,
}

/// Splits `points` and `cash_fen` (net for the period; may be negative after cancellations of
/// earlier redemptions) by `rule`.
pub fn split(points: i64, cash_fen: i64, rule: &RevenueSplitRule) -> Split {
    let points_value_fen = rule.points_rate.value_fen(points);
    let gross_fen = cash_fen.saturating_add(points_value_fen);
    let platform_fen = share_bps(cash_fen, rule.cash_commission_bps)
        .saturating_add(share_bps(points_value_fen, rule.points_commission_bps));
    Split {
        points_value_fen,
        gross_fen,
        platform_fen,
        // The remainder, not a second rounding: nothing is lost between the two shares.
        merchant_fen: gross_fen.saturating_sub(platform_fen),
    }
}
