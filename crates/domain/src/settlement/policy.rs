//! The settlement configuration: who funds redeemed points, what a point is worth between
//! formats, and how a merchant's mall revenue is split.

use crate::org::wire_enum;
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

wire_enum!(
    /// How points redeemed in one format but issued by another are paid for.
    SettlementMode {
        /// Headquarters funds every redemption: no transfers between formats.
        HqFunded => "hq_funded",
        /// Each format accounts for itself: the issuer pays the format where its points were
        /// spent, and a coupon's cost bearer pays the format that gave the discount.
        Independent => "independent",
    }
);

/// `fen` per `per_points` points (e.g. 1 fen per point, or 80 fen per 100 points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub fen: i64,
    pub per_points: i64,
}

/// Upper bounds that keep rates meaningful (and the arithmetic far from overflow).
pub const MAX_RATE_FEN: i64 = 1_000_000;
pub const MAX_PER_POINTS: i64 = 1_000_000;

impl Rate {
    pub fn validate(&self, field: &str, errors: &mut FieldErrors) {
        if !(0..=MAX_RATE_FEN).contains(&self.fen) {
            errors.push(FieldError::new(
                format!("{field}.fen"),
                "out_of_range",
                format!("must be 0 to {MAX_RATE_FEN}"),
            ));
        }
        if !(1..=MAX_PER_POINTS).contains(&self.per_points) {
            errors.push(FieldError::new(
                format!("{field}.per_points"),
                "out_of_range",
                format!("must be 1 to {MAX_PER_POINTS} (e.g. 1 or 100)"),
            ));
        }
    }

    /// `points` valued at this rate.
    pub fn value_fen(&self, points: i64) -> i64 {
        super::value_fen(points, self.fen, self.per_points)
    }
}

/// The tenant's settlement policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementPolicy {
    pub mode: SettlementMode,
    /// What a point is worth when formats settle with each other; may differ from the points
    /// value members see.
    pub settlement_rate: Rate,
}

impl SettlementPolicy {
    /// Until a tenant sets its own: HQ funds everything; 1 fen per point between formats.
    pub const DEFAULT: SettlementPolicy = SettlementPolicy {
        mode: SettlementMode::HqFunded,
        settlement_rate: Rate {
            fen: 1,
            per_points: 1,
        },
    };

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        self.settlement_rate
            .validate("settlement_rate", &mut errors);
        errors.finish()
    }
}

/// How a merchant's mall revenue is split with the platform (分润).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueSplitRule {
    /// The platform's commission on the cash part, in basis points (0–10 000).
    pub cash_commission_bps: i64,
    /// The platform's commission on the points part's value, in basis points (0–10 000).
    #[serde(default)]
    pub points_commission_bps: i64,
    /// What the points a member paid with are worth to the merchant.
    pub points_rate: Rate,
}

impl RevenueSplitRule {
    /// A merchant without a rule: no commission; points worth the tenant's points value.
    pub fn default_for(points_value: Rate) -> Self {
        Self {
            cash_commission_bps: 0,
            points_commission_bps: 0,
            points_rate: points_value,
        }
    }

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        for (field, bps) in [
            ("cash_commission_bps", self.cash_commission_bps),
            ("points_commission_bps", self.points_commission_bps),
        ] {
            if !(0..=10_000).contains(&bps) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    "must be 0 to 10000 basis points",
                ));
            }
        }
        self.points_rate.validate("points_rate", &mut errors);
        errors.finish()
    }
}
