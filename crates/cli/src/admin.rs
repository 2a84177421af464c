//! Administration from the shell: migrations, tenants, API keys. Changes are audited with the
//! `system` actor.

use clap::Subcommand;
use huiyuan_domain::auth::{Actor, PermissionSet};
use huiyuan_server::app::credentials::api_keys::{create_api_key, parse_new_key};
use huiyuan_server::app::mutation::Mutation;
use huiyuan_server::app::tenancy::{self, ADMIN_USERNAME, NewTenant};
use huiyuan_server::config::Settings;
use huiyuan_store::{Store, org};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its own `admin` account.
    Create {
        /// Short unique key used at login, e.g. `acme`.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// IANA time zone for business dates.
        #[arg(long, default_value = "Asia/Shanghai")]
        time_zone: String,
        /// The admin's password (else one is generated and printed).
        #[arg(long, env = "HUIYUAN_TENANT_ADMIN_PASSWORD")]
        admin_password: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Issue a channel API key and print it once.
    Create {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Channel code.
        #[arg(long)]
        channel: String,
        #[arg(long)]
        name: String,
        /// Store code, to bind the key to one store.
        #[arg(long)]
        store: Option<String>,
        /// Comma-separated permissions (default: what a channel integration needs).
        #[arg(long, value_delimiter = ',')]
        permissions: Option<Vec<String>>,
    },
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database()).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    println!("migrations applied ({})", store.backend_name());
    store.close().await;
    Ok(())
}

pub async fn tenant(settings: Settings, command: TenantCommand) -> anyhow::Result<()> {
    let TenantCommand::Create {
        slug,
        name,
        time_zone,
        admin_password,
    } = command;
    let store = open_store(&settings).await?;
    let input = NewTenant::parse(&slug, &name, Some(&time_zone))
        .map_err(|errors| anyhow::anyhow!("invalid input: {errors:?}"))?;
    let created = tenancy::create_tenant(&store, input, admin_password, settings.argon2_memory_kib)
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "{}",
                error
                    .detail
                    .unwrap_or_else(|| error.code.title().to_owned())
            )
        })?;
    println!(
        "tenant '{}' created (id {})",
        created.tenant.slug.as_str(),
        created.tenant.id
    );
    match created.generated_password {
        Some(password) => {
            println!("admin account '{ADMIN_USERNAME}', password: {password} (shown once)")
        }
        None => println!("admin account '{ADMIN_USERNAME}' with the given password"),
    }
    store.close().await;
    Ok(())
}

pub async fn api_key(settings: Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let ApiKeyCommand::Create {
        tenant,
        channel,
        name,
        store: store_code,
        permissions,
    } = command;
    let store = open_store(&settings).await?;
    let tenant = tenancy::find_tenant(&store, &tenant)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?
        .ok_or_else(|| anyhow::anyhow!("no tenant with slug '{tenant}'"))?;
    let mut session = store.read().await?;
    let channel = org::get_channel_by_code(&mut session, tenant.id, &channel)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no channel with code '{channel}'"))?;
    let store_id = match store_code {
        Some(code) => Some(
            org::get_store_by_code(&mut session, tenant.id, &code)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no store with code '{code}'"))?
                .id,
        ),
        None => None,
    };
    drop(session);
    let input = parse_new_key(
        &name,
        channel.id,
        store_id,
        permissions.as_deref(),
        &PermissionSet::all(),
    )
    .map_err(|errors| anyhow::anyhow!("invalid input: {errors:?}"))?;
    let mut mutation = Mutation::begin(&store, tenant.id, Actor::System, None)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let (key, token) = create_api_key(&mut mutation, input)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    mutation
        .commit()
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    println!(
        "API key '{}' (id {}) created; it is shown only now:\n{token}",
        key.name.as_str(),
        key.id
    );
    store.close().await;
    Ok(())
}
