//! Tiers (会员等级): the ladder a tenant configures, the benefits each level gives per format, and
//! the decisions that move members up and down it.
//!
//! - [`ladder`]: [`TierLadder`] — basis (tier points or spend), window, evaluation schedule,
//!   levels with upgrade threshold (升级), retention threshold (保级) and benefits; validation.
//! - [`benefits`]: group-wide [`Benefits`] with per-format overrides, resolved by
//!   [`Benefits::for_format`].
//! - [`window`]: window and evaluation-date math in the tenant's time zone.
//! - [`state`]: a member's [`TierState`], manual [`Override`]s and the [`TierChange`] history.
//! - [`decisions`]: [`TierLadder::on_activity`], [`TierLadder::on_evaluation`] and the override,
//!   merge and progress functions.
//!
//! The rules, in short:
//! - **Upgrade at once.** After any qualifying activity the store sums the member's qualifying
//!   amounts from [`TierLadder::window_start`] to now; reaching a higher threshold upgrades
//!   straight to the highest level reached.
//! - **Downgrade only at an evaluation.** With [`Evaluation::WindowEnd`] (the default) a member is
//!   evaluated one window after their last tier change or evaluation — the anniversary of the
//!   change for a 365-day window, 1 January for a calendar year; with [`Evaluation::YearEnd`]
//!   every 1 January. The period judged is the window that ends at the evaluation. Meeting the
//!   level's retention keeps it; otherwise the member drops straight to the highest lower level
//!   whose retention they meet. Refunds never downgrade between evaluations.
//! - **Overrides win while active**; the computed level keeps moving underneath and applies again
//!   once the override expires or is cleared.
//!
//! Everything here is pure: instants and the tenant's time zone are passed in, and the store sums
//! the qualifying totals.

pub mod benefits;
pub mod decisions;
pub mod ladder;
pub mod state;
pub mod window;

pub use benefits::{Benefits, EffectiveBenefits, FormatBenefits};
pub use decisions::TierProgress;
pub use ladder::{Basis, TierLadder, TierLevel};
pub use state::{ChangeReason, Override, TierChange, TierState};
pub use window::{Evaluation, OutOfRange, Window};

#[cfg(test)]
mod tests;
