//! Per-tenant configuration every order reads — time zone, enabled earning rules, points policy,
//! tier ladder, referral reward, and the channels, stores and formats orders name — kept in
//! memory so the order path reads it without a database round trip.
//!
//! Correctness:
//! - On this node a change applies to the very next request: every change of this configuration
//!   goes through [`crate::app::mutation::Mutation::config_changed`], and `AppState::mutate*` bumps the
//!   tenant's generation **after** the commit, before answering. An entry is used only while its
//!   generation is current, and it carries the generation seen *before* its load began, so a load
//!   that read the old rows while the change was committing is never used after the bump.
//! - Other nodes sharing the database see a change within [`TTL`]: entries older than that are
//!   loaded again. That is the staleness bound across nodes (rules carry their own validity
//!   windows, so a rule published "from Monday" is never affected).
//! - Only configuration is cached, never balances, counters or member state; nothing cached is
//!   written back.

use crate::app::error::{ApiError, ApiResult};
use huiyuan_domain::earning::EarningRule;
use huiyuan_domain::ids::{ChannelId, FormatId, StoreId, TenantId};
use huiyuan_domain::org::{Channel, Format, Store as OrgStore};
use huiyuan_domain::tiers::TierLadder;
use huiyuan_store::ledger::StoredPolicy;
use huiyuan_store::{Session, Store, earning_rules, org};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long another node's change may go unseen here.
pub const TTL: Duration = Duration::from_secs(2);
/// Most entries of one kind kept; past that the shelf is emptied (it refills on demand).
const MAX_ENTRIES: usize = 10_000;

/// What an order reads of its tenant's configuration.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    pub zone: jiff::tz::TimeZone,
    /// The enabled rules, highest priority first (as the store answers them).
    pub rules: Vec<EarningRule>,
    pub policy: StoredPolicy,
    pub ladder: Option<TierLadder>,
    /// Points a referrer earns on the referee's first paid order (0: off).
    pub referral_points: i64,
}

struct Stamped<V> {
    generation: u64,
    loaded: Instant,
    value: V,
}

/// One kind of cached value, keyed by tenant and id.
struct Shelf<K, V> {
    map: Mutex<HashMap<(TenantId, K), Stamped<V>>>,
}

impl<K: Eq + Hash, V: Clone> Shelf<K, V> {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, tenant: TenantId, key: K, generation: Option<u64>) -> Option<V> {
        let generation = generation?;
        let map = self.map.lock().ok()?;
        map.get(&(tenant, key))
            .filter(|entry| entry.generation == generation && entry.loaded.elapsed() < TTL)
            .map(|entry| entry.value.clone())
    }

    fn put(&self, tenant: TenantId, key: K, generation: Option<u64>, loaded: Instant, value: V) {
        let Some(generation) = generation else {
            return;
        };
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            (tenant, key),
            Stamped {
                generation,
                loaded,
                value,
            },
        );
    }
}

/// The cache; one per server, shared by every request.
pub struct ConfigCache {
    generations: Mutex<HashMap<TenantId, u64>>,
    tenants: Shelf<(), Arc<TenantConfig>>,
    channels: Shelf<Uuid, Channel>,
    stores: Shelf<Uuid, OrgStore>,
    formats: Shelf<Uuid, Format>,
}

impl Default for ConfigCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigCache {
    pub fn new() -> Self {
        Self {
            generations: Mutex::new(HashMap::new()),
            tenants: Shelf::new(),
            channels: Shelf::new(),
            stores: Shelf::new(),
            formats: Shelf::new(),
        }
    }

    /// The tenant's current generation; `None` (never cache) if the lock was poisoned.
    fn generation(&self, tenant: TenantId) -> Option<u64> {
        self.generations
            .lock()
            .ok()
            .map(|g| g.get(&tenant).copied().unwrap_or(0))
    }

    /// Forgets everything cached for the tenant; call after a configuration change committed.
    pub fn invalidate(&self, tenant: TenantId) {
        match self.generations.lock() {
            Ok(mut generations) => {
                let generation = generations.entry(tenant).or_insert(0);
                *generation = generation.wrapping_add(1);
            }
            // Never leave a stale entry usable: a poisoned lock disables the cache instead.
            Err(poisoned) => {
                let mut generations = poisoned.into_inner();
                let generation = generations.entry(tenant).or_insert(0);
                *generation = generation.wrapping_add(1);
            }
        }
    }

    /// The tenant's configuration, loaded on the read pool when missing or stale.
    pub async fn tenant(&self, store: &Store, tenant: TenantId) -> ApiResult<Arc<TenantConfig>> {
        let generation = self.generation(tenant);
        if let Some(config) = self.tenants.get(tenant, (), generation) {
            return Ok(config);
        }
        let started = Instant::now();
        let mut session = store.read().await?;
        let config = Arc::new(load_tenant(&mut session, tenant).await?);
        self.tenants
            .put(tenant, (), generation, started, Arc::clone(&config));
        Ok(config)
    }

    /// A channel of the tenant; `None` when it does not exist (not cached).
    pub async fn channel(
        &self,
        store: &Store,
        tenant: TenantId,
        id: ChannelId,
    ) -> ApiResult<Option<Channel>> {
        let generation = self.generation(tenant);
        if let Some(found) = self.channels.get(tenant, id.0, generation) {
            return Ok(Some(found));
        }
        let started = Instant::now();
        let found = org::get_channel(&mut store.read().await?, tenant, id).await?;
        if let Some(found) = &found {
            self.channels
                .put(tenant, id.0, generation, started, found.clone());
        }
        Ok(found)
    }

    /// A store of the tenant; `None` when it does not exist (not cached).
    pub async fn store(
        &self,
        store: &Store,
        tenant: TenantId,
        id: StoreId,
    ) -> ApiResult<Option<OrgStore>> {
        let generation = self.generation(tenant);
        if let Some(found) = self.stores.get(tenant, id.0, generation) {
            return Ok(Some(found));
        }
        let started = Instant::now();
        let found = org::get_store(&mut store.read().await?, tenant, id).await?;
        if let Some(found) = &found {
            self.stores
                .put(tenant, id.0, generation, started, found.clone());
        }
        Ok(found)
    }

    /// A format of the tenant; `None` when it does not exist (not cached).
    pub async fn format(
        &self,
        store: &Store,
        tenant: TenantId,
        id: FormatId,
    ) -> ApiResult<Option<Format>> {
        let generation = self.generation(tenant);
        if let Some(found) = self.formats.get(tenant, id.0, generation) {
            return Ok(Some(found));
        }
        let started = Instant::now();
        let found = org::get_format(&mut store.read().await?, tenant, id).await?;
        if let Some(found) = &found {
            self.formats
                .put(tenant, id.0, generation, started, found.clone());
        }
        Ok(found)
    }
}

/// Reads the tenant's configuration in `session` (the cache's loader; also for rare paths that
/// read it inside their transaction).
pub async fn load_tenant(session: &mut Session, tenant: TenantId) -> ApiResult<TenantConfig> {
    let zone = crate::app::tenancy::zone::tenant_zone(session, tenant).await?;
    let rules = earning_rules::enabled_rules(session, tenant).await?;
    let policy = crate::app::ledger::policy::load(session, tenant, huiyuan_store::utc_now())
        .await
        .map_err(ApiError::from)?;
    let ladder = crate::app::tiers::ladder::load(session, tenant).await?;
    let referral_points = crate::app::event_rewards::config::load(session, tenant)
        .await?
        .referral_points;
    Ok(TenantConfig {
        zone,
        rules,
        policy,
        ladder,
        referral_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_racing_an_invalidation_is_never_served() {
        let cache = ConfigCache::new();
        let shelf: Shelf<u32, i64> = Shelf::new();
        let (tenant, other) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
        shelf.put(tenant, 1, cache.generation(tenant), Instant::now(), 10);
        shelf.put(other, 1, cache.generation(other), Instant::now(), 20);
        assert_eq!(shelf.get(tenant, 1, cache.generation(tenant)), Some(10));

        // A load starts, the change commits and invalidates, then the load stores what it read.
        let loading = cache.generation(tenant);
        cache.invalidate(tenant);
        shelf.put(tenant, 1, loading, Instant::now(), 11);
        assert_eq!(shelf.get(tenant, 1, cache.generation(tenant)), None);
        // A load after the invalidation is served; other tenants keep theirs.
        shelf.put(tenant, 1, cache.generation(tenant), Instant::now(), 12);
        assert_eq!(shelf.get(tenant, 1, cache.generation(tenant)), Some(12));
        assert_eq!(shelf.get(other, 1, cache.generation(other)), Some(20));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = ConfigCache::new();
        let shelf: Shelf<u32, i64> = Shelf::new();
        let tenant = TenantId(Uuid::now_v7());
        let Some(long_ago) = Instant::now().checked_sub(TTL) else {
            return;
        };
        shelf.put(tenant, 1, cache.generation(tenant), long_ago, 10);
        assert_eq!(shelf.get(tenant, 1, cache.generation(tenant)), None);
    }
}
