//! The tier ladder (等级体系) a tenant configures: what counts, over which window, and the levels
//! with their upgrade thresholds (升级门槛), retention thresholds (保级门槛) and benefits.

use super::benefits::Benefits;
use super::window::{Evaluation, Window};
use crate::org::{Code, Name, wire_enum};
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Most levels in a ladder.
pub const MAX_LEVELS: usize = 20;
/// Highest threshold accepted: 10¹² tier points, or ¥10 billion in fen.
pub const MAX_THRESHOLD: i64 = 1_000_000_000_000;

wire_enum!(
    /// What the qualifying total counts.
    Basis {
        /// Tier points (成长值): earned alongside redeemable points but kept apart, so spending
        /// or expiring points never costs a member their tier.
        TierPoints => "tier_points",
        /// Net spend in fen (消费金额): paid amounts less refunds.
        SpendFen => "spend_fen",
    }
);

/// One rung of the ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierLevel {
    /// Stable key, e.g. `gold`; members' states and other modules refer to levels by code.
    pub code: String,
    /// Display name, e.g. 金卡.
    pub name: String,
    /// Qualifying total (tier points or fen, per the basis) that reaches this level (升级门槛).
    pub threshold: i64,
    /// Qualifying total over the evaluated period that keeps this level (保级门槛), ≤ threshold.
    pub retention: i64,
    pub benefits: Benefits,
}

/// A tenant's tier ladder, lowest level first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierLadder {
    pub basis: Basis,
    pub window: Window,
    /// When downgrades happen; `window_end` when absent.
    #[serde(default)]
    pub evaluation: Evaluation,
    pub levels: Vec<TierLevel>,
}

impl TierLadder {
    /// Checks a ladder before it is saved and reports every problem at once, with paths such as
    /// `levels[2].threshold`. Rules:
    /// - one to [`MAX_LEVELS`] levels; codes are unique [`Code`]s, names are [`Name`]s;
    /// - the first level's threshold is 0: every member is on the ladder;
    /// - thresholds strictly increase, up to [`MAX_THRESHOLD`];
    /// - `0 ≤ retention ≤ threshold`, and retention never decreases up the ladder (a higher tier
    ///   is never easier to keep). Retention may be below the previous level's threshold: at an
    ///   evaluation a member is judged on the retention of every level they held (see
    ///   [`TierLadder::on_evaluation`]), so a lenient retention is coherent;
    /// - rolling windows of 1 to 1830 days; benefits within their bounds.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.take(self.window.validate("window"));
        if self.levels.is_empty() {
            errors.push(FieldError::new(
                "levels",
                "required",
                "a ladder needs at least one level",
            ));
        }
        if self.levels.len() > MAX_LEVELS {
            errors.push(FieldError::new(
                "levels",
                "too_many",
                format!("at most {MAX_LEVELS} levels"),
            ));
        }
        let mut codes = BTreeSet::new();
        let mut previous: Option<&TierLevel> = None;
        for (index, level) in self.levels.iter().enumerate() {
            let path = format!("levels[{index}]");
            match Code::parse(&format!("{path}.code"), &level.code) {
                Ok(code) if code.as_str() != level.code => errors.push(FieldError::new(
                    format!("{path}.code"),
                    "invalid_format",
                    "must not have surrounding spaces",
                )),
                Ok(_) if !codes.insert(level.code.as_str()) => errors.push(FieldError::new(
                    format!("{path}.code"),
                    "duplicate",
                    format!("another level already has the code '{}'", level.code),
                )),
                result => {
                    errors.take(result);
                }
            }
            errors.take(Name::parse(&format!("{path}.name"), &level.name));
            check_amounts(&path, level, previous, &mut errors);
            level
                .benefits
                .validate(&format!("{path}.benefits"), &mut errors);
            previous = Some(level);
        }
        errors.finish()
    }

    /// The level every member starts on.
    pub fn lowest(&self) -> Option<&TierLevel> {
        self.levels.first()
    }

    pub fn level(&self, code: &str) -> Option<&TierLevel> {
        self.levels.iter().find(|level| level.code == code)
    }

    /// Position of the level on the ladder, 0 for the lowest.
    pub fn rank(&self, code: &str) -> Option<usize> {
        self.levels.iter().position(|level| level.code == code)
    }

    /// The highest level whose threshold `qualifying_total` reaches; the lowest level for totals
    /// below every threshold (e.g. negative after refunds). `None` only for an empty ladder.
    pub fn qualifying_level(&self, qualifying_total: i64) -> Option<&TierLevel> {
        self.levels.get(self.qualifying_rank(qualifying_total))
    }

    pub(crate) fn qualifying_rank(&self, qualifying_total: i64) -> usize {
        self.levels
            .iter()
            .rposition(|level| level.threshold <= qualifying_total)
            .unwrap_or(0)
    }

    /// The first instant of the qualifying window containing `at`, in the tenant's zone `tz`:
    /// the store sums qualifying amounts in `[window_start(at), at]` for [`Self::on_activity`].
    pub fn window_start(
        &self,
        at: OffsetDateTime,
        tz: &jiff::tz::TimeZone,
    ) -> Result<OffsetDateTime, super::OutOfRange> {
        self.window.start(at, tz)
    }

    /// The first instant of the period an evaluation at `evaluation_at` judges: the store sums
    /// qualifying amounts in `[evaluation_period_start(evaluation_at), evaluation_at)` for
    /// [`Self::on_evaluation`].
    pub fn evaluation_period_start(
        &self,
        evaluation_at: OffsetDateTime,
        tz: &jiff::tz::TimeZone,
    ) -> Result<OffsetDateTime, super::OutOfRange> {
        self.window.period_start(evaluation_at, tz)
    }

    /// When a member who reached (or was evaluated on) the level of rank `rank` at `at` is next
    /// evaluated. `None` for the lowest level, which cannot be lost, and for instants beyond the
    /// supported calendar.
    pub(crate) fn next_evaluation_at(
        &self,
        rank: usize,
        at: OffsetDateTime,
        tz: &jiff::tz::TimeZone,
    ) -> Option<OffsetDateTime> {
        if rank == 0 {
            return None;
        }
        self.evaluation.next_after(self.window, at, tz).ok()
    }
}

fn check_amounts(
    path: &str,
    level: &TierLevel,
    previous: Option<&TierLevel>,
    errors: &mut FieldErrors,
) {
    let threshold_field = format!("{path}.threshold");
    let retention_field = format!("{path}.retention");
    match previous {
        None if level.threshold != 0 => errors.push(FieldError::new(
            threshold_field,
            "out_of_range",
            "the first level's threshold must be 0: every member starts on it",
        )),
        Some(previous) if level.threshold <= previous.threshold => errors.push(FieldError::new(
            threshold_field,
            "not_increasing",
            format!(
                "must be greater than the previous level's threshold ({})",
                previous.threshold
            ),
        )),
        _ if level.threshold > MAX_THRESHOLD => errors.push(FieldError::new(
            threshold_field,
            "out_of_range",
            format!("must be at most {MAX_THRESHOLD}"),
        )),
        _ => {}
    }
    if level.retention < 0 || level.retention > level.threshold.max(0) {
        errors.push(FieldError::new(
            retention_field,
            "out_of_range",
            "must be between 0 and the level's threshold",
        ));
    } else if let Some(previous) = previous.filter(|p| level.retention < p.retention) {
        errors.push(FieldError::new(
            retention_field,
            "not_increasing",
            format!(
                "must be at least the previous level's retention ({})",
                previous.retention
            ),
        ));
    }
}
