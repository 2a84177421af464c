//! Setting a tenant's points policy: checked as a whole, audited with what it replaced, and
//! marked as a configuration change so cached configuration is refreshed after the commit.

use crate::app::error::ApiResult;
use crate::app::ledger::policy;
use crate::app::mutation::Mutation;
use huiyuan_domain::ledger::ExpiryPolicy;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::ledger::{self, StoredPolicy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsPolicy {
    /// `{"kind":"never"}`, `{"kind":"days_after_earning","days":365}`, `{"kind":"end_of_month","months":12}`,
    /// `{"kind":"year_end","years":1}` (年终清零: points of year Y expire at the end of Y+1).
    #[schema(value_type = Object)]
    pub expiry: ExpiryPolicy,
    /// Days earned points stay pending (the return window) before they can be spent.
    pub pending_days: i64,
    /// What 100 points are worth, in fen (100 → 100 points = ¥1).
    pub fen_per_100_points: i64,
    /// How far a refund claw-back may take a balance below zero.
    pub overdraft_limit: i64,
}

impl From<StoredPolicy> for PointsPolicy {
    fn from(policy: StoredPolicy) -> Self {
        Self {
            expiry: policy.expiry,
            pending_days: policy.pending_days,
            fen_per_100_points: policy.fen_per_100_points,
            overdraft_limit: policy.overdraft_limit,
        }
    }
}

/// A policy whose every field is within its range.
pub struct CheckedPolicy(PointsPolicy);

/// Checks every field and reports every problem at once.
pub fn parse_policy(policy: PointsPolicy) -> Result<CheckedPolicy, FieldErrors> {
    let mut errors = FieldErrors::new();
    errors.take(policy.expiry.validate("expiry"));
    if !(0..=90).contains(&policy.pending_days) {
        errors.push(FieldError::new(
            "pending_days",
            "out_of_range",
            "must be 0 to 90",
        ));
    }
    if !(1..=100_000).contains(&policy.fen_per_100_points) {
        errors.push(FieldError::new(
            "fen_per_100_points",
            "out_of_range",
            "must be 1 to 100000",
        ));
    }
    if !(0..=1_000_000).contains(&policy.overdraft_limit) {
        errors.push(FieldError::new(
            "overdraft_limit",
            "out_of_range",
            "must be 0 to 1000000",
        ));
    }
    errors.finish()?;
    Ok(CheckedPolicy(policy))
}

/// Replaces the tenant's policy; answers the new one.
pub async fn set_policy(m: &mut Mutation, policy: CheckedPolicy) -> ApiResult<PointsPolicy> {
    let CheckedPolicy(policy) = policy;
    let before: PointsPolicy = policy::load(&mut m.session, m.tenant, m.now).await?.into();
    let stored = StoredPolicy {
        expiry: policy.expiry,
        pending_days: policy.pending_days,
        fen_per_100_points: policy.fen_per_100_points,
        overdraft_limit: policy.overdraft_limit,
        updated_at: m.now,
    };
    m.config_changed();
    ledger::put_policy(&mut m.session, m.tenant, &stored).await?;
    let after = PointsPolicy::from(stored);
    m.audit(
        "points.policy_set",
        "points_policy",
        m.tenant,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(after)
}
