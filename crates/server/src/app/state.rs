//! What every handler shares: the store, settings, metrics and the login limiter.

use crate::app::config_cache::ConfigCache;
use crate::app::identity::policy::IdentityPolicy;
use crate::app::limiter::LoginLimiter;
use crate::app::profile::ProfileSection;
use crate::app::vault::Vault;
use crate::config::Settings;
use crate::telemetry::Metrics;
use crate::writer_lane::WriterLane;
use huiyuan_domain::ids::ApiKeyId;
use huiyuan_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often at most an API key's last use is written: once a minute per key keeps the write
/// load of busy POS keys negligible.
const KEY_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    pub login_limiter: Arc<LoginLimiter>,
    /// Compared against when a username is unknown, so failures take the same time.
    pub dummy_password_hash: Arc<String>,
    /// Keys sealing personal data and signing member codes.
    pub vault: Arc<Vault>,
    /// Which identifiers match people, and how many a member may hold.
    pub identity: Arc<IdentityPolicy>,
    /// Tenant configuration the order path reads (rules, zone, policy, ladder, org look-ups).
    pub config: Arc<ConfigCache>,
    /// Where SQLite write transactions run (see [`WriterLane`]).
    pub writer_lane: WriterLane,
    /// The member profile's sections (`crate::PROFILE_SECTIONS`).
    pub profile_sections: &'static [ProfileSection],
    key_touches: Arc<Mutex<HashMap<ApiKeyId, Instant>>>,
}

impl AppState {
    pub fn new(
        store: Store,
        settings: Settings,
        dummy_password_hash: String,
        vault: Vault,
        identity: IdentityPolicy,
        profile_sections: &'static [ProfileSection],
    ) -> Self {
        let login_limiter = LoginLimiter::new(
            settings.login_max_failures,
            Duration::from_secs(settings.login_window_secs),
        );
        let writer_lane = WriterLane::new(&store, settings.sqlite_pin_writer);
        Self {
            store,
            writer_lane,
            profile_sections,
            settings: Arc::new(settings),
            metrics: Metrics::new(),
            login_limiter: Arc::new(login_limiter),
            dummy_password_hash: Arc::new(dummy_password_hash),
            vault: Arc::new(vault),
            identity: Arc::new(identity),
            config: Arc::new(ConfigCache::new()),
            key_touches: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether this key's last use is due to be written now (and marks it written).
    pub fn key_touch_due(&self, key: ApiKeyId) -> bool {
        let now = Instant::now();
        let Ok(mut touches) = self.key_touches.lock() else {
            return false;
        };
        match touches.get(&key) {
            Some(last) if now.duration_since(*last) < KEY_TOUCH_INTERVAL => false,
            _ => {
                // Bounded: forget stale entries before the map grows past what many keys need.
                if touches.len() >= 100_000 {
                    touches.retain(|_, last| now.duration_since(*last) < KEY_TOUCH_INTERVAL);
                }
                touches.insert(key, now);
                true
            }
        }
    }
}
