//! Roles, staff accounts, login sessions and channel API keys.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::auth::{DataScope, PermissionSet, Username};
use huiyuan_domain::credentials::{ApiKey, Role, StaffAccount};
use huiyuan_domain::ids::{ApiKeyId, ChannelId, RoleId, SessionId, StaffId, StoreId, TenantId};
use huiyuan_domain::org::Name;
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

// ---- roles ----

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: Uuid,
    name: String,
    permissions: Json<PermissionSet>,
    builtin: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Self {
        Role {
            id: RoleId(row.id),
            name: Name::from_trusted(row.name),
            permissions: row.permissions.0,
            builtin: row.builtin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const ROLE_SELECT: &str =
    "SELECT id, name, permissions, builtin, created_at, updated_at FROM roles WHERE tenant_id = ";

pub async fn insert_role(s: &mut Session, tenant: TenantId, role: &Role) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO roles (tenant_id, id, name, permissions, builtin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant.0).bind(role.id.0).bind(role.name.as_str()).bind(Json(&role.permissions))
        .bind(role.builtin).bind(Ts(role.created_at)).bind(Ts(role.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_role(s: &mut Session, tenant: TenantId, id: RoleId) -> StoreResult<Option<Role>> {
    let row: Option<RoleRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(ROLE_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(Role::from))
}

pub async fn get_role_by_name(
    s: &mut Session,
    tenant: TenantId,
    name: &str,
) -> StoreResult<Option<Role>> {
    let row: Option<RoleRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(ROLE_SELECT);
        query.push_bind(tenant.0).push(" AND name = ").push_bind(name.to_owned());
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(Role::from))
}

pub async fn list_roles(
    s: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> StoreResult<Page<Role>> {
    let rows: Vec<RoleRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(ROLE_SELECT);
        query.push_bind(tenant.0);
        crate::scope_sql::push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(Role::from))
}

pub async fn update_role(s: &mut Session, tenant: TenantId, role: &Role) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE roles SET name = $3, permissions = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(role.id.0).bind(role.name.as_str()).bind(Json(&role.permissions)).bind(Ts(role.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub fn is_role_name_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("roles_name_key", "roles.name")
}

// ---- staff ----

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: Uuid,
    username: String,
    display_name: String,
    role_id: Uuid,
    scope: Json<DataScope>,
    active: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<StaffRow> for StaffAccount {
    fn from(row: StaffRow) -> Self {
        StaffAccount {
            id: StaffId(row.id),
            username: Username::from_trusted(row.username),
            display_name: Name::from_trusted(row.display_name),
            role_id: RoleId(row.role_id),
            scope: row.scope.0,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const STAFF_SELECT: &str = "SELECT id, username, display_name, role_id, scope, active, created_at, updated_at FROM staff WHERE tenant_id = ";

pub async fn insert_staff(
    s: &mut Session,
    tenant: TenantId,
    staff: &StaffAccount,
    password_hash: &str,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO staff (tenant_id, id, username, display_name, password_hash, role_id, scope, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(tenant.0).bind(staff.id.0).bind(staff.username.as_str()).bind(staff.display_name.as_str())
        .bind(password_hash).bind(staff.role_id.0).bind(Json(&staff.scope)).bind(staff.active)
        .bind(Ts(staff.created_at)).bind(Ts(staff.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_staff(
    s: &mut Session,
    tenant: TenantId,
    id: StaffId,
) -> StoreResult<Option<StaffAccount>> {
    let row: Option<StaffRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(STAFF_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(StaffAccount::from))
}

pub async fn list_staff(
    s: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> StoreResult<Page<StaffAccount>> {
    let rows: Vec<StaffRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(STAFF_SELECT);
        query.push_bind(tenant.0);
        crate::scope_sql::push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(StaffAccount::from))
}

/// Writes display name, role, scope and active flag.
pub async fn update_staff(
    s: &mut Session,
    tenant: TenantId,
    staff: &StaffAccount,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE staff SET display_name = $3, role_id = $4, scope = $5, active = $6, updated_at = $7 \
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(staff.id.0).bind(staff.display_name.as_str()).bind(staff.role_id.0)
        .bind(Json(&staff.scope)).bind(staff.active).bind(Ts(staff.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn set_password_hash(
    s: &mut Session,
    tenant: TenantId,
    id: StaffId,
    hash: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query("UPDATE staff SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(id.0).bind(hash).bind(Ts(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// What login needs: the account, whether it is active, and its password hash.
pub struct LoginRecord {
    pub staff_id: StaffId,
    pub active: bool,
    pub password_hash: String,
}

pub async fn find_login(
    s: &mut Session,
    tenant: TenantId,
    username: &str,
) -> StoreResult<Option<LoginRecord>> {
    let row: Option<(Uuid, bool, String)> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, active, password_hash FROM staff WHERE tenant_id = $1 AND username = $2")
        .bind(tenant.0).bind(username).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(id, active, password_hash)| LoginRecord {
        staff_id: StaffId(id),
        active,
        password_hash,
    }))
}

pub fn is_username_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("staff_username_key", "staff.username")
}

// ---- sessions ----

pub async fn insert_session(
    s: &mut Session,
    tenant: TenantId,
    id: SessionId,
    staff: StaffId,
    token_hash: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO sessions (tenant_id, id, staff_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(tenant.0).bind(id.0).bind(staff.0).bind(token_hash).bind(Ts(now)).bind(Ts(expires_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A live session's holder: who they are, what their role grants, and their scope.
pub struct SessionGrant {
    pub session_id: SessionId,
    pub staff_id: StaffId,
    pub permissions: PermissionSet,
    pub scope: DataScope,
    pub expires_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct SessionGrantRow {
    session_id: Uuid,
    staff_id: Uuid,
    permissions: Json<PermissionSet>,
    scope: Json<DataScope>,
    expires_at: OffsetDateTime,
}

/// The unexpired, unrevoked session of an active account with this token hash.
pub async fn find_session(
    s: &mut Session,
    tenant: TenantId,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<SessionGrant>> {
    let row: Option<SessionGrantRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT se.id AS session_id, st.id AS staff_id, r.permissions, st.scope, se.expires_at \
         FROM sessions se \
         JOIN staff st ON st.tenant_id = se.tenant_id AND st.id = se.staff_id \
         JOIN roles r ON r.tenant_id = st.tenant_id AND r.id = st.role_id \
         WHERE se.tenant_id = $1 AND se.token_hash = $2 AND se.revoked_at IS NULL AND se.expires_at > $3 AND st.active = $4")
        .bind(tenant.0).bind(token_hash).bind(Ts(now)).bind(true)
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(|row| SessionGrant {
        session_id: SessionId(row.session_id),
        staff_id: StaffId(row.staff_id),
        permissions: row.permissions.0,
        scope: row.scope.0,
        expires_at: row.expires_at,
    }))
}

pub async fn revoke_session(
    s: &mut Session,
    tenant: TenantId,
    id: SessionId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let affected = on_backend!(s, c => sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(tenant.0).bind(id.0).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected > 0)
}

/// Ends every live session of an account (deactivation, password change).
pub async fn revoke_staff_sessions(
    s: &mut Session,
    tenant: TenantId,
    staff: StaffId,
    now: OffsetDateTime,
) -> StoreResult<u64> {
    let affected = on_backend!(s, c => sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND staff_id = $2 AND revoked_at IS NULL")
        .bind(tenant.0).bind(staff.0).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected)
}

// ---- API keys ----

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    name: String,
    channel_id: Uuid,
    store_id: Option<Uuid>,
    permissions: Json<PermissionSet>,
    key_prefix: String,
    created_by: Option<Uuid>,
    created_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: ApiKeyId(row.id),
            name: Name::from_trusted(row.name),
            channel_id: ChannelId(row.channel_id),
            store_id: row.store_id.map(StoreId),
            permissions: row.permissions.0,
            key_prefix: row.key_prefix,
            created_by: row.created_by,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        }
    }
}

const API_KEY_SELECT: &str = "SELECT id, name, channel_id, store_id, permissions, key_prefix, created_by, created_at, \
     revoked_at, last_used_at FROM api_keys WHERE tenant_id = ";

pub async fn insert_api_key(
    s: &mut Session,
    tenant: TenantId,
    key: &ApiKey,
    key_hash: &str,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, channel_id, store_id, permissions, key_hash, key_prefix, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(tenant.0).bind(key.id.0).bind(key.name.as_str()).bind(key.channel_id.0).bind(key.store_id.map(|id| id.0))
        .bind(Json(&key.permissions)).bind(key_hash).bind(&key.key_prefix).bind(key.created_by).bind(Ts(key.created_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_api_key(
    s: &mut Session,
    tenant: TenantId,
    id: ApiKeyId,
) -> StoreResult<Option<ApiKey>> {
    let row: Option<ApiKeyRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(API_KEY_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(ApiKey::from))
}

pub async fn list_api_keys(
    s: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> StoreResult<Page<ApiKey>> {
    let rows: Vec<ApiKeyRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(API_KEY_SELECT);
        query.push_bind(tenant.0);
        crate::scope_sql::push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(ApiKey::from))
}

/// Revokes once; `false` when it was already revoked.
pub async fn revoke_api_key(
    s: &mut Session,
    tenant: TenantId,
    id: ApiKeyId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let affected = on_backend!(s, c => sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(tenant.0).bind(id.0).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected > 0)
}

/// The live key with this hash, on a channel that is not archived.
pub async fn find_api_key(
    s: &mut Session,
    tenant: TenantId,
    key_hash: &str,
) -> StoreResult<Option<ApiKey>> {
    let row: Option<ApiKeyRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT k.id, k.name, k.channel_id, k.store_id, k.permissions, k.key_prefix, k.created_by, k.created_at, \
         k.revoked_at, k.last_used_at FROM api_keys k \
         JOIN channels ch ON ch.tenant_id = k.tenant_id AND ch.id = k.channel_id \
         WHERE k.tenant_id = $1 AND k.key_hash = $2 AND k.revoked_at IS NULL AND ch.archived = $3")
        .bind(tenant.0).bind(key_hash).bind(false)
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(ApiKey::from))
}

pub async fn touch_api_key(
    s: &mut Session,
    tenant: TenantId,
    id: ApiKeyId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(id.0).bind(Ts(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
