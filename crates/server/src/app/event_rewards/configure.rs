//! Saving a tenant's event-reward configuration, and replacing it on staff's request.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::config::{self, RewardConfig};
use crate::app::mutation::Mutation;
use huiyuan_store::event_rewards::{self, StoredConfig};
use serde_json::json;

/// Saves a validated configuration; returns the one it replaced.
pub async fn put_config(m: &mut Mutation, config: &RewardConfig) -> ApiResult<RewardConfig> {
    let before = config::load(&mut m.session, m.tenant).await?;
    let stored = StoredConfig {
        config: serde_json::to_value(config).map_err(ApiError::internal)?,
        updated_at: m.now,
    };
    m.config_changed();
    event_rewards::put_config(&mut m.session, m.tenant, &stored).await?;
    Ok(before)
}

/// Replaces the tenant's configuration with a validated one, audited as
/// `event_rewards.config_set` with the configuration before and after; applies to events from now
/// on.
pub async fn set_config(m: &mut Mutation, config: RewardConfig) -> ApiResult<RewardConfig> {
    let before = put_config(m, &config).await?;
    m.audit(
        "event_rewards.config_set",
        "event_rewards",
        m.tenant,
        json!({ "before": before, "after": config }),
    )
    .await?;
    Ok(config)
}
