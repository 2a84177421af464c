//! Huiyuan's server: the HTTP API over the domain and the store.
//!
//! - [`config`]: settings from defaults, file, environment and flags.
//! - [`app`]: the router with its layers, and `serve` on a bound listener with a shutdown future.
//! - [`routes`]: one module per resource, each with its OpenAPI description.
//! - [`extract`]: the caller (bearer token → principal), JSON bodies, the write envelope.
//! - [`config_cache`]: tenant configuration the order path reads, invalidated on change.
//! - [`mutation`]: the single write path — transaction, idempotency key, audit entry.
//! - [`error`]: the catalogue of stable error codes, rendered as problem+json.
//! - [`tenancy`]: creating tenants and the first-start default tenant.
//! - [`identity`]: member registration, views with masking, the profile-section registry.
//! - [`coupons`]: coupon templates, issuing (also from other modules' transactions), rule-based
//!   issue, validation, redemption (核销) with its journal, reversals and settlement records.
//! - [`checkout`]: quoting a cart with coupons and points as cash, reserving, confirming,
//!   cancelling and expiring checkouts.
//! - [`mall`]: the points mall — catalogue, redemptions in one transaction, fulfilment, cancellation.
//! - [`settlement`]: settlement statements per period — points liability and claims per format,
//!   the inter-format matrix and net transfers, coupon costs by bearer, merchant revenue split.
//! - [`vault`]: the keyring — PII encryption at rest, blind indexes, member-code signing.
//! - [`secrets`], [`limiter`], [`telemetry`], [`workers`]: passwords and tokens, login limiting,
//!   logs and metrics, background jobs.
//! - [`writer_lane`], [`writer_affinity`]: where SQLite write transactions run, grouped, and
//!   keeping its threads on one CPU.

pub mod app;
pub mod checkout;
pub mod config;
pub mod config_cache;
pub mod coupons;
pub mod error;
pub mod extract;
pub mod identity;
pub mod ledger;
pub mod ledger_merge;
pub mod limiter;
pub mod mall;
pub mod mutation;
pub mod orders;
pub mod rewards;
pub mod routes;
pub mod secrets;
pub mod settlement;
pub mod state;
pub mod telemetry;
pub mod tenancy;
pub mod tiers;
pub mod vault;
pub mod workers;
pub mod writer_affinity;
pub mod writer_lane;

use config::Settings;
use huiyuan_store::Store;
use state::AppState;

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
    let (default_tenant, generated_admin_password) = tenancy::ensure_default_tenant(
        &store,
        &settings.default_tenant,
        settings.admin_password.clone(),
        settings.argon2_memory_kib,
    )
    .await
    .map_err(|error| anyhow::anyhow!("creating the default tenant failed: {error:?}"))?;
    let dummy = secrets::dummy_hash(settings.argon2_memory_kib)
        .await
        .map_err(|error| anyhow::anyhow!("hashing failed: {error:?}"))?;
    let keyring = vault::Keyring::load_or_create(&settings.keyring_path())?;
    let vault = vault::Vault::new(&keyring)?;
    let identity = identity::policy::IdentityPolicy::new(
        &settings.identity_blocked,
        &settings.identity_limits,
    )?;
    let state = AppState::new(store, settings, dummy, vault, identity);
    Ok(Opened {
        state,
        default_tenant,
        generated_admin_password,
    })
}
