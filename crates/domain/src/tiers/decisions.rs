//! The tier decisions, as pure functions of a member's state, their qualifying total and the
//! instant. Each returns the [`TierChange`] to record (and to [`TierState::apply`]), or `None`
//! when nothing changes — calling again with the same inputs then returns `None`, so a retried
//! job cannot record a change twice.

use super::benefits::EffectiveBenefits;
use super::ladder::{TierLadder, TierLevel};
use super::state::{
    ChangeReason, MAX_OVERRIDE_DAYS, MAX_REASON_CHARS, Override, TierChange, TierState,
};
use crate::validation::{FieldError, FieldErrors};
use jiff::tz::TimeZone;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// How far a member is from the next level and from keeping their own (for "再消费¥X升级").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierProgress {
    pub level_code: String,
    /// `None` on the top level.
    pub next_level_code: Option<String>,
    /// Qualifying amount still missing for the next level.
    pub to_next_level: Option<i64>,
    /// Qualifying amount still missing, by the next evaluation, to keep the level (0: kept).
    pub to_retain: i64,
}

impl TierLadder {
    /// A new member: the lowest level from `at`, nothing to evaluate. `None` for an empty ladder.
    pub fn initial_state(&self, at: OffsetDateTime) -> Option<TierState> {
        self.lowest()
            .map(|level| TierState::new(level.code.clone(), at))
    }

    /// After qualifying activity (an order, a tier-points grant, a refund …): upgrade at once when
    /// the total over the window, summed from [`Self::window_start`] to `at`, reaches a higher
    /// threshold — straight to the highest level reached, skipping levels in between. Never
    /// downgrades: a refund that lowers the total changes nothing until the next evaluation, so
    /// a refund and a repurchase cannot make the tier flap. The upgrade restarts the evaluation
    /// clock.
    ///
    /// A computed level that is no longer on the ladder counts as the lowest level.
    pub fn on_activity(
        &self,
        state: &TierState,
        qualifying_total: i64,
        at: OffsetDateTime,
        tz: &TimeZone,
    ) -> Option<TierChange> {
        let current = self.rank(&state.level_code).unwrap_or(0);
        let target = self.qualifying_rank(qualifying_total);
        if target <= current {
            return None;
        }
        self.rule_change(
            state,
            target,
            ChangeReason::Upgrade,
            qualifying_total,
            at,
            tz,
        )
    }

    /// At a scheduled evaluation (`state.next_evaluation_at`, see [`TierState::evaluation_due`]),
    /// with the total over the period summed from [`Self::evaluation_period_start`] to
    /// `evaluation_at` (exclusive). `None` when no evaluation is due at `evaluation_at`.
    ///
    /// The member keeps the highest level at or below their current one whose retention the
    /// total meets: retention met on the current level is 保级 (`retained`); otherwise they drop
    /// straight to the level they keep (one evaluation, however many levels), judged on the
    /// retention of each level below theirs, because they held those levels too. A total that
    /// reaches a higher threshold upgrades (late offline orders can lift a period after the
    /// fact). The lowest level is the floor. The next evaluation is scheduled from
    /// `evaluation_at`, except on the lowest level, which has none.
    ///
    /// Evaluations run on the computed level even while an override is active, so the level
    /// that applies after the override expires is the one the rules give.
    pub fn on_evaluation(
        &self,
        state: &TierState,
        qualifying_total: i64,
        evaluation_at: OffsetDateTime,
        tz: &TimeZone,
    ) -> Option<TierChange> {
        state.evaluation_due(evaluation_at)?;
        let current = self.rank(&state.level_code);
        let kept = current
            .and_then(|current| {
                self.levels
                    .get(..=current)?
                    .iter()
                    .rposition(|level| level.retention <= qualifying_total)
            })
            .unwrap_or(0);
        let result = kept.max(self.qualifying_rank(qualifying_total));
        let reason = match current {
            Some(current) if result == current => ChangeReason::Retained,
            Some(current) if result < current => ChangeReason::Downgrade,
            // A level removed from the ladder: re-place the member.
            None if result == 0 => ChangeReason::Downgrade,
            _ => ChangeReason::Upgrade,
        };
        self.rule_change(state, result, reason, qualifying_total, evaluation_at, tz)
    }

    fn rule_change(
        &self,
        state: &TierState,
        rank: usize,
        reason: ChangeReason,
        qualifying_total: i64,
        at: OffsetDateTime,
        tz: &TimeZone,
    ) -> Option<TierChange> {
        let to = self.levels.get(rank)?;
        Some(TierChange {
            from: state.level_code.clone(),
            to: to.code.clone(),
            reason,
            at,
            qualifying_total: Some(qualifying_total),
            next_evaluation_at: self.next_evaluation_at(rank, at, tz),
            r#override: None,
        })
    }

    /// Staff set (or replace) an override at `at`. The level must be on the ladder, the expiry
    /// in the future and at most ten years ahead, and the reason given. Errors name the fields
    /// of [`Override`].
    pub fn set_override(
        &self,
        state: &TierState,
        manual: Override,
        at: OffsetDateTime,
    ) -> Result<TierChange, FieldErrors> {
        let mut errors = FieldErrors::new();
        if self.level(&manual.level_code).is_none() {
            errors.push(FieldError::new(
                "level_code",
                "unknown_level",
                format!("'{}' is not a level of the ladder", manual.level_code),
            ));
        }
        let latest = at.checked_add(time::Duration::days(MAX_OVERRIDE_DAYS));
        if manual.expires_at <= at || latest.is_some_and(|latest| manual.expires_at > latest) {
            errors.push(FieldError::new(
                "expires_at",
                "out_of_range",
                format!("must be in the future and at most {MAX_OVERRIDE_DAYS} days ahead"),
            ));
        }
        let reason = manual.reason.trim();
        if reason.is_empty() {
            errors.push(FieldError::new("reason", "required", "must not be empty"));
        } else if reason.chars().count() > MAX_REASON_CHARS {
            errors.push(FieldError::new(
                "reason",
                "too_long",
                format!("must be at most {MAX_REASON_CHARS} characters"),
            ));
        }
        errors.finish()?;
        Ok(TierChange {
            from: state.effective_level_code(at).to_owned(),
            to: manual.level_code.clone(),
            reason: ChangeReason::OverrideSet,
            at,
            qualifying_total: None,
            next_evaluation_at: None,
            r#override: Some(Override {
                reason: reason.to_owned(),
                ..manual
            }),
        })
    }

    /// Records the end of an override whose expiry has passed by `now`, dated at its expiry. The
    /// computed level applies from then on — it was kept current by activity and evaluations
    /// during the override, and a downgrade still waits for its next evaluation. Reads need not
    /// wait for this record: [`TierState::effective_level_code`] ignores expired overrides.
    pub fn expire_override(&self, state: &TierState, now: OffsetDateTime) -> Option<TierChange> {
        let manual = state.r#override.as_ref()?;
        (manual.expires_at <= now).then(|| TierChange {
            from: manual.level_code.clone(),
            to: state.level_code.clone(),
            reason: ChangeReason::OverrideExpired,
            at: manual.expires_at,
            qualifying_total: None,
            next_evaluation_at: None,
            r#override: None,
        })
    }

    /// Staff end an active override early; `None` when none is active at `at` (an expired one is
    /// for [`Self::expire_override`]).
    pub fn clear_override(&self, state: &TierState, at: OffsetDateTime) -> Option<TierChange> {
        let manual = state.active_override(at)?;
        Some(TierChange {
            from: manual.level_code.clone(),
            to: state.level_code.clone(),
            reason: ChangeReason::OverrideCleared,
            at,
            qualifying_total: None,
            next_evaluation_at: None,
            r#override: None,
        })
    }

    /// The level in force at `at`: an active override's, else the computed one; a code no longer
    /// on the ladder falls back to the lowest level. `None` only for an empty ladder.
    pub fn effective_level(&self, state: &TierState, at: OffsetDateTime) -> Option<&TierLevel> {
        self.level(state.effective_level_code(at))
            .or_else(|| self.lowest())
    }

    /// The benefits in force at `at` in the format `format_code` (group-wide for `None`).
    pub fn effective_benefits(
        &self,
        state: &TierState,
        at: OffsetDateTime,
        format_code: Option<&str>,
    ) -> Option<EffectiveBenefits> {
        self.effective_level(state, at)
            .map(|level| level.benefits.for_format(format_code))
    }

    /// Merging member `source` into `target` keeps the better computed level (合并取高): an
    /// `upgrade` for the target when the source's level is higher, taking over the source's next
    /// evaluation. The target's override stays as it is; the source's is not carried over.
    pub fn merge(
        &self,
        target: &TierState,
        source: &TierState,
        at: OffsetDateTime,
    ) -> Option<TierChange> {
        let target_rank = self.rank(&target.level_code);
        let source_rank = self.rank(&source.level_code)?;
        if target_rank.is_some_and(|rank| rank >= source_rank) || source_rank == 0 {
            return None;
        }
        Some(TierChange {
            from: target.level_code.clone(),
            to: source.level_code.clone(),
            reason: ChangeReason::Upgrade,
            at,
            qualifying_total: None,
            next_evaluation_at: source.next_evaluation_at,
            r#override: None,
        })
    }

    /// Progress for the member-facing tier page: `window_total` is the total for
    /// [`Self::on_activity`] (towards the next level), `period_total` the total so far of the
    /// period the next evaluation judges (towards retention).
    pub fn progress(
        &self,
        state: &TierState,
        window_total: i64,
        period_total: i64,
    ) -> Option<TierProgress> {
        let rank = self.rank(&state.level_code).unwrap_or(0);
        let current = self.levels.get(rank)?;
        let next = self.levels.get(rank + 1);
        Some(TierProgress {
            level_code: current.code.clone(),
            next_level_code: next.map(|level| level.code.clone()),
            to_next_level: next.map(|level| level.threshold.saturating_sub(window_total).max(0)),
            to_retain: current.retention.saturating_sub(period_total).max(0),
        })
    }
}
