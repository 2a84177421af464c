//! Huiyuan's server: the use cases over the domain and the store, and the HTTP API over them.
//!
//! - [`app`]: the use cases, one module per capability (identity, orders, earning, ledger,
//!   event_rewards, tiers, coupons, checkout, mall, settlement, tenancy, credentials, access), the
//!   write path and the error catalogue. Never imports HTTP.
//! - [`http`]: routers (one module per resource), extractors, problem+json, OpenAPI, and the
//!   service with its layers.
//! - [`config`]: settings from defaults, file, environment and flags.
//! - [`telemetry`]: logs and metrics.
//! - [`workers`]: background jobs (expiry, checkout expiry, tier evaluation, birthdays, coupon rules).
//! - [`writer_lane`], [`writer_affinity`]: where SQLite write transactions run, grouped, and
//!   optionally keeping its threads on one CPU.

pub mod app;
pub mod config;
pub mod http;
pub mod telemetry;
pub mod workers;
pub mod writer_affinity;
pub mod writer_lane;

use app::profile::ProfileSection;
use app::state::AppState;
use config::Settings;
use huiyuan_store::Store;

/// The member profile's sections, in display order (see [`app::profile`]). Listed here, outside
/// `app`, so that identity does not import the capabilities that import it.
pub const PROFILE_SECTIONS: &[ProfileSection] = &[
    ProfileSection {
        name: "merges",
        load: app::identity::merge::merges_section,
    },
    ProfileSection {
        name: "tier",
        load: app::tiers::tier_section,
    },
    ProfileSection {
        name: "points",
        load: app::ledger::points_section,
    },
    ProfileSection {
        name: "coupons",
        load: app::coupons::coupons_section,
    },
    ProfileSection {
        name: "mall",
        load: app::mall::mall_section,
    },
];

/// A ready server state and, on first start, the generated admin password to show once.
pub struct Opened {
    pub state: AppState,
    pub default_tenant: huiyuan_domain::org::Tenant,
    pub generated_admin_password: Option<String>,
}

/// Connects, migrates, ensures the default tenant exists and builds the shared state.
pub async fn open(settings: Settings) -> anyhow::Result<Opened> {
    settings.validate()?;
    let store = Store::connect(&settings.database()).await?;
    store.migrate().await?;
    let (default_tenant, generated_admin_password) = app::tenancy::ensure_default_tenant(
        &store,
        &settings.default_tenant,
        settings.admin_password.clone(),
        settings.argon2_memory_kib,
    )
    .await
    .map_err(|error| anyhow::anyhow!("creating the default tenant failed: {error:?}"))?;
    let dummy = app::secrets::dummy_hash(settings.argon2_memory_kib)
        .await
        .map_err(|error| anyhow::anyhow!("hashing failed: {error:?}"))?;
    let keyring = app::vault::Keyring::load_or_create(&settings.keyring_path())?;
    let vault = app::vault::Vault::new(&keyring)?;
    let identity = app::identity::policy::IdentityPolicy::new(
        &settings.identity_blocked,
        &settings.identity_limits,
    )?;
    let state = AppState::new(store, settings, dummy, vault, identity, PROFILE_SECTIONS);
    Ok(Opened {
        state,
        default_tenant,
        generated_admin_password,
    })
}
