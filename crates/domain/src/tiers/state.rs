//! A member's tier state and the history of its changes. The state is a fold of the history:
//! [`TierState::apply`] turns a state and a change into the next state, so storage writes both in
//! one transaction and the history alone can rebuild the state.

use crate::org::wire_enum;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Longest override reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest override, in days (ten years).
pub const MAX_OVERRIDE_DAYS: i64 = 3660;

/// Where a member stands on the ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierState {
    /// The level the rules give the member (computed tier), whatever any override says.
    pub level_code: String,
    /// When the computed level last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the computed level is next evaluated for retention; `None` on the lowest level,
    /// which cannot be lost.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_evaluation_at: Option<OffsetDateTime>,
    /// A manual override (人工调级); while active it decides the effective level.
    #[serde(default)]
    pub r#override: Option<Override>,
}

/// A level set by staff until `expires_at`, e.g. a trial diamond card or a demotion for abuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub level_code: String,
    /// The first instant the override no longer applies.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub reason: String,
}

wire_enum!(
    /// Why a tier change happened.
    ChangeReason {
        /// The qualifying total reached a higher threshold (升级), at once or at an evaluation.
        Upgrade => "upgrade",
        /// An evaluation found the retention threshold met (保级); the level stays.
        Retained => "retained",
        /// An evaluation found the retention threshold missed (降级).
        Downgrade => "downgrade",
        /// Staff set an override.
        OverrideSet => "override_set",
        /// An override reached its expiry; the computed level applies again.
        OverrideExpired => "override_expired",
        /// Staff removed an override before its expiry.
        OverrideCleared => "override_cleared",
    }
);

/// One entry of a member's tier history.
///
/// For `upgrade`, `retained` and `downgrade`, `from` and `to` are computed levels; for the
/// override reasons they are effective levels (what the member saw before and after).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    pub from: String,
    pub to: String,
    pub reason: ChangeReason,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The qualifying total the rules decided on; `None` for overrides.
    #[serde(default)]
    pub qualifying_total: Option<i64>,
    /// The next evaluation the decision scheduled (rule decisions only).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_evaluation_at: Option<OffsetDateTime>,
    /// The override that was set (`override_set` only).
    #[serde(default)]
    pub r#override: Option<Override>,
}

impl TierChange {
    /// Whether the effective level a member sees changed at `at` — what "tier changed"
    /// journeys and messages trigger on. `state_before` is the state the change applies to.
    pub fn changes_effective_level(&self, state_before: &TierState) -> bool {
        let after = state_before.apply(self);
        state_before.effective_level_code(self.at) != after.effective_level_code(self.at)
    }
}

impl TierState {
    /// A member placed on `level_code` at `at` with nothing scheduled; see
    /// [`super::TierLadder::initial_state`] for a new member.
    pub fn new(level_code: impl Into<String>, at: OffsetDateTime) -> Self {
        Self {
            level_code: level_code.into(),
            since: at,
            next_evaluation_at: None,
            r#override: None,
        }
    }

    /// The override in force at `at`, if any; expired overrides no longer count even before
    /// their `override_expired` change is recorded.
    pub fn active_override(&self, at: OffsetDateTime) -> Option<&Override> {
        self.r#override
            .as_ref()
            .filter(|manual| at < manual.expires_at)
    }

    /// The level the member has at `at`: an active override wins, otherwise the computed level.
    pub fn effective_level_code(&self, at: OffsetDateTime) -> &str {
        self.active_override(at)
            .map_or(self.level_code.as_str(), |manual| {
                manual.level_code.as_str()
            })
    }

    /// The scheduled evaluation instant when it is due by `now`. Pass this instant, not `now`,
    /// to [`super::TierLadder::on_evaluation`]: a worker that runs late then decides exactly as
    /// one on time would, and catches up one period at a time.
    pub fn evaluation_due(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.next_evaluation_at.filter(|due| *due <= now)
    }

    /// The state after `change`.
    pub fn apply(&self, change: &TierChange) -> TierState {
        let mut next = self.clone();
        match change.reason {
            ChangeReason::Upgrade | ChangeReason::Downgrade => {
                next.level_code.clone_from(&change.to);
                next.since = change.at;
                next.next_evaluation_at = change.next_evaluation_at;
            }
            ChangeReason::Retained => next.next_evaluation_at = change.next_evaluation_at,
            ChangeReason::OverrideSet => next.r#override.clone_from(&change.r#override),
            ChangeReason::OverrideExpired | ChangeReason::OverrideCleared => next.r#override = None,
        }
        next
    }
}
