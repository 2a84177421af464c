//! Saving a tenant's event-reward configuration.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::config::{self, RewardConfig};
use crate::app::mutation::Mutation;
use huiyuan_store::event_rewards::{self, StoredConfig};

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
