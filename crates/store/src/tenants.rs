//! Tenants: one customer of a shared deployment each.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::org::{Code, Name, Tenant, TimeZoneName};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: Uuid,
    slug: String,
    name: String,
    time_zone: String,
    created_at: OffsetDateTime,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Tenant {
            id: TenantId(row.tenant_id),
            slug: Code::from_trusted(row.slug),
            name: Name::from_trusted(row.name),
            time_zone: TimeZoneName::from_trusted(row.time_zone),
            created_at: row.created_at,
        }
    }
}

const SELECT: &str = "SELECT tenant_id, slug, name, time_zone, created_at FROM tenants";

/// Fails with [`StoreError::Conflict`] on `tenants.slug` when the slug is taken.
pub async fn insert(s: &mut Session, tenant: &Tenant) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO tenants (tenant_id, slug, name, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant.id.0)
        .bind(tenant.slug.as_str())
        .bind(tenant.name.as_str())
        .bind(tenant.time_zone.as_str())
        .bind(Ts(tenant.created_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get(s: &mut Session, id: TenantId) -> StoreResult<Option<Tenant>> {
    let row: Option<TenantRow> = on_backend!(s, c => sqlx::query_as(const_format(SELECT, " WHERE tenant_id = $1"))
        .bind(id.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(Tenant::from))
}

pub async fn get_by_slug(s: &mut Session, slug: &str) -> StoreResult<Option<Tenant>> {
    let row: Option<TenantRow> = on_backend!(s, c => sqlx::query_as(const_format(SELECT, " WHERE slug = $1"))
        .bind(slug).fetch_optional(&mut *c).await)?;
    Ok(row.map(Tenant::from))
}

/// All tenants, oldest first; a deployment has few.
pub async fn list(s: &mut Session, limit: i64) -> StoreResult<Vec<Tenant>> {
    let rows: Vec<TenantRow> = on_backend!(s, c => sqlx::query_as(const_format(SELECT, " ORDER BY created_at LIMIT $1"))
        .bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Tenant::from).collect())
}

/// Whether the conflict was the tenant slug.
pub fn is_slug_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("tenants_slug_key", "tenants.slug")
}

/// Joins two static SQL fragments at compile time's cost once per call site.
fn const_format(head: &'static str, tail: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{head}{tail}"))
}
