//! Creating tenants: the tenant, its built-in admin role and its first admin account, in one
//! transaction. Used on first start (the default tenant), by `huiyuan tenant create`, and by tests.
//! [`zone`]: the tenant's time zone.

pub mod zone;

use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use crate::app::secrets::{generate_password, hash_password};
use huiyuan_domain::auth::{Actor, DataScope, PermissionSet, Username, check_new_password};
use huiyuan_domain::credentials::{ADMIN_ROLE, Role, StaffAccount};
use huiyuan_domain::ids::{RoleId, StaffId, TenantId};
use huiyuan_domain::org::{Code, Name, Tenant, TimeZoneName};
use huiyuan_domain::validation::FieldErrors;
use huiyuan_store::{Store, auth, tenants, utc_now};
use serde_json::json;

/// Username of every tenant's first admin.
pub const ADMIN_USERNAME: &str = "admin";

/// A tenant just created, with its admin's password when it was generated (to print once).
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub generated_password: Option<String>,
}

/// Validated input for a new tenant.
pub struct NewTenant {
    pub slug: Code,
    pub name: Name,
    pub time_zone: TimeZoneName,
}

impl NewTenant {
    pub fn parse(slug: &str, name: &str, time_zone: Option<&str>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let slug = errors.take(Code::parse("slug", slug));
        let name = errors.take(Name::parse("name", name));
        let time_zone = match time_zone {
            Some(zone) => errors.take(TimeZoneName::parse("time_zone", zone)),
            None => Some(TimeZoneName::default_zone()),
        };
        errors.finish()?;
        match (slug, name, time_zone) {
            (Some(slug), Some(name), Some(time_zone)) => Ok(Self {
                slug,
                name,
                time_zone,
            }),
            _ => Err(FieldErrors::new()),
        }
    }
}

/// Creates the tenant with an `admin` role holding every permission and an `admin` account.
pub async fn create_tenant(
    store: &Store,
    input: NewTenant,
    admin_password: Option<String>,
    argon2_memory_kib: u32,
) -> ApiResult<CreatedTenant> {
    let (password, generated_password) = match admin_password {
        Some(password) => {
            check_new_password("admin_password", &password)?;
            (password, None)
        }
        None => {
            let password = generate_password();
            (password.clone(), Some(password))
        }
    };
    let password_hash = hash_password(password, argon2_memory_kib).await?;
    let now = utc_now();
    let tenant = Tenant {
        id: TenantId::new(),
        slug: input.slug,
        name: input.name,
        time_zone: input.time_zone,
        created_at: now,
    };
    let role = Role {
        id: RoleId::new(),
        name: Name::from_trusted(ADMIN_ROLE.to_owned()),
        permissions: PermissionSet::all(),
        builtin: true,
        created_at: now,
        updated_at: now,
    };
    let admin = StaffAccount {
        id: StaffId::new(),
        username: Username::from_trusted(ADMIN_USERNAME.to_owned()),
        display_name: Name::from_trusted("Administrator".to_owned()),
        role_id: role.id,
        scope: DataScope::Tenant,
        active: true,
        created_at: now,
        updated_at: now,
    };
    // Not through `AppState::write_as`: a tenant is created before any server state (and its
    // writer lane) exists — on first start and by `huiyuan tenant create` — so it opens its own
    // transaction, audited like every other write.
    let mut mutation = Mutation::begin(store, tenant.id, Actor::System, None).await?;
    tenants::insert(&mut mutation.session, &tenant)
        .await
        .map_err(|error| {
            if tenants::is_slug_conflict(&error) {
                ApiError::conflict(
                    "slug",
                    format!("a tenant with slug '{}' exists", tenant.slug.as_str()),
                )
            } else {
                error.into()
            }
        })?;
    auth::insert_role(&mut mutation.session, tenant.id, &role).await?;
    auth::insert_staff(&mut mutation.session, tenant.id, &admin, &password_hash).await?;
    mutation
        .audit("tenant.created", "tenant", tenant.id, json!(tenant))
        .await?;
    mutation
        .audit("role.created", "role", role.id, json!(role))
        .await?;
    mutation
        .audit("staff.created", "staff", admin.id, json!(admin))
        .await?;
    mutation.commit().await?;
    Ok(CreatedTenant {
        tenant,
        generated_password,
    })
}

/// On first start, creates the default tenant; afterwards finds it. Several nodes starting at
/// once are fine: the slug is unique, and the losers find the winner's tenant.
pub async fn ensure_default_tenant(
    store: &Store,
    slug: &str,
    admin_password: Option<String>,
    argon2_memory_kib: u32,
) -> ApiResult<(Tenant, Option<String>)> {
    if let Some(tenant) = find_tenant(store, slug).await? {
        return Ok((tenant, None));
    }
    let input = NewTenant::parse(slug, "Default tenant", None)?;
    match create_tenant(store, input, admin_password, argon2_memory_kib).await {
        Ok(created) => Ok((created.tenant, created.generated_password)),
        Err(error) if error.code == crate::app::error::ErrorCode::Conflict => {
            let tenant = find_tenant(store, slug)
                .await?
                .ok_or_else(|| ApiError::internal("default tenant vanished"))?;
            Ok((tenant, None))
        }
        Err(error) => Err(error),
    }
}

pub async fn find_tenant(store: &Store, slug: &str) -> ApiResult<Option<Tenant>> {
    let mut session = store.read().await?;
    Ok(tenants::get_by_slug(&mut session, slug).await?)
}
