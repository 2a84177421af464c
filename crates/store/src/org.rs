//! Business formats, stores and channels.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{ChannelId, FormatId, StoreId, TenantId};
use huiyuan_domain::org::{Channel, ChannelKind, Code, Format, Name, Store, StoreKind};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

pub const FORMAT_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("id"),
    store: None,
    guide: None,
};
pub const STORE_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: Some("id"),
    guide: None,
};
pub const CHANNEL_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: None,
    guide: None,
};

// ---- formats ----

#[derive(sqlx::FromRow)]
struct FormatRow {
    id: Uuid,
    code: String,
    name: String,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<FormatRow> for Format {
    fn from(row: FormatRow) -> Self {
        Format {
            id: FormatId(row.id),
            code: Code::from_trusted(row.code),
            name: Name::from_trusted(row.name),
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const FORMAT_SELECT: &str =
    "SELECT id, code, name, archived, created_at, updated_at FROM formats WHERE tenant_id = ";

pub async fn insert_format(s: &mut Session, tenant: TenantId, format: &Format) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO formats (tenant_id, id, code, name, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant.0).bind(format.id.0).bind(format.code.as_str()).bind(format.name.as_str())
        .bind(format.archived).bind(Ts(format.created_at)).bind(Ts(format.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_format(
    s: &mut Session,
    tenant: TenantId,
    id: FormatId,
) -> StoreResult<Option<Format>> {
    let row: Option<FormatRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(FORMAT_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row.map(Format::from))
}

pub async fn list_formats(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    page: PageRequest,
) -> StoreResult<Page<Format>> {
    let rows: Vec<FormatRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(FORMAT_SELECT);
        query.push_bind(tenant.0);
        push_scope(&mut query, scope, &FORMAT_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(Format::from))
}

/// Writes name and archived flag; code and id never change.
pub async fn update_format(s: &mut Session, tenant: TenantId, format: &Format) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE formats SET name = $3, archived = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(format.id.0).bind(format.name.as_str()).bind(format.archived).bind(Ts(format.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub fn is_format_code_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("formats_code_key", "formats.code")
}

// ---- stores ----

#[derive(sqlx::FromRow)]
struct StoreRow {
    id: Uuid,
    format_id: Uuid,
    code: String,
    name: String,
    kind: String,
    address: String,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<StoreRow> for Store {
    type Error = StoreError;

    fn try_from(row: StoreRow) -> Result<Self, StoreError> {
        Ok(Store {
            id: StoreId(row.id),
            format_id: FormatId(row.format_id),
            code: Code::from_trusted(row.code),
            name: Name::from_trusted(row.name),
            kind: StoreKind::parse("kind", &row.kind)
                .map_err(|_| StoreError::Corrupt("stores.kind"))?,
            address: row.address,
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const STORE_SELECT: &str = "SELECT id, format_id, code, name, kind, address, archived, created_at, updated_at FROM stores WHERE tenant_id = ";

pub async fn insert_store(s: &mut Session, tenant: TenantId, store: &Store) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO stores (tenant_id, id, format_id, code, name, kind, address, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(tenant.0).bind(store.id.0).bind(store.format_id.0).bind(store.code.as_str())
        .bind(store.name.as_str()).bind(store.kind.as_str()).bind(&store.address).bind(store.archived)
        .bind(Ts(store.created_at)).bind(Ts(store.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_store(
    s: &mut Session,
    tenant: TenantId,
    id: StoreId,
) -> StoreResult<Option<Store>> {
    let row: Option<StoreRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(STORE_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    row.map(Store::try_from).transpose()
}

/// Stores visible to `scope`, optionally of one format.
pub async fn list_stores(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    format: Option<FormatId>,
    page: PageRequest,
) -> StoreResult<Page<Store>> {
    let rows: Vec<StoreRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(STORE_SELECT);
        query.push_bind(tenant.0);
        if let Some(format) = format {
            query.push(" AND format_id = ").push_bind(format.0);
        }
        push_scope(&mut query, scope, &STORE_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    let page = Page::from_rows(rows, page, |row| row.id);
    let items = page
        .items
        .into_iter()
        .map(Store::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Writes name, address and archived flag.
pub async fn update_store(s: &mut Session, tenant: TenantId, store: &Store) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE stores SET name = $3, address = $4, archived = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(store.id.0).bind(store.name.as_str()).bind(&store.address).bind(store.archived)
        .bind(Ts(store.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// How many of `ids` are stores of this tenant (to validate scopes and references).
pub async fn count_existing_stores(
    s: &mut Session,
    tenant: TenantId,
    ids: &[StoreId],
) -> StoreResult<usize> {
    count_existing(s, "stores", tenant, ids.iter().map(|id| id.0).collect()).await
}

pub async fn count_existing_formats(
    s: &mut Session,
    tenant: TenantId,
    ids: &[FormatId],
) -> StoreResult<usize> {
    count_existing(s, "formats", tenant, ids.iter().map(|id| id.0).collect()).await
}

async fn count_existing(
    s: &mut Session,
    table: &'static str,
    tenant: TenantId,
    ids: Vec<Uuid>,
) -> StoreResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let count: i64 = on_backend!(s, c => {
        let mut query = QueryBuilder::new("SELECT CAST(COUNT(*) AS BIGINT) FROM ");
        query.push(table).push(" WHERE tenant_id = ").push_bind(tenant.0).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in &ids {
            list.push_bind(*id);
        }
        query.push(")");
        query.build_query_scalar().fetch_one(&mut *c).await
    })?;
    Ok(usize::try_from(count).unwrap_or(0))
}

pub fn is_store_code_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("stores_code_key", "stores.code")
}

// ---- channels ----

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    code: String,
    name: String,
    kind: String,
    format_id: Option<Uuid>,
    app_id: Option<String>,
    archived: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;

    fn try_from(row: ChannelRow) -> Result<Self, StoreError> {
        Ok(Channel {
            id: ChannelId(row.id),
            code: Code::from_trusted(row.code),
            name: Name::from_trusted(row.name),
            kind: ChannelKind::parse("kind", &row.kind)
                .map_err(|_| StoreError::Corrupt("channels.kind"))?,
            format_id: row.format_id.map(FormatId),
            app_id: row.app_id,
            archived: row.archived,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const CHANNEL_SELECT: &str = "SELECT id, code, name, kind, format_id, app_id, archived, created_at, updated_at FROM channels WHERE tenant_id = ";

pub async fn insert_channel(
    s: &mut Session,
    tenant: TenantId,
    channel: &Channel,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO channels (tenant_id, id, code, name, kind, format_id, app_id, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(tenant.0).bind(channel.id.0).bind(channel.code.as_str()).bind(channel.name.as_str())
        .bind(channel.kind.as_str()).bind(channel.format_id.map(|id| id.0)).bind(channel.app_id.as_deref())
        .bind(channel.archived).bind(Ts(channel.created_at)).bind(Ts(channel.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_channel(
    s: &mut Session,
    tenant: TenantId,
    id: ChannelId,
) -> StoreResult<Option<Channel>> {
    let row: Option<ChannelRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(CHANNEL_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id.0);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    row.map(Channel::try_from).transpose()
}

pub async fn get_channel_by_code(
    s: &mut Session,
    tenant: TenantId,
    code: &str,
) -> StoreResult<Option<Channel>> {
    let row: Option<ChannelRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(CHANNEL_SELECT);
        query.push_bind(tenant.0).push(" AND code = ").push_bind(code.to_owned());
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    row.map(Channel::try_from).transpose()
}

pub async fn get_store_by_code(
    s: &mut Session,
    tenant: TenantId,
    code: &str,
) -> StoreResult<Option<Store>> {
    let row: Option<StoreRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(STORE_SELECT);
        query.push_bind(tenant.0).push(" AND code = ").push_bind(code.to_owned());
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    row.map(Store::try_from).transpose()
}

pub async fn list_channels(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    page: PageRequest,
) -> StoreResult<Page<Channel>> {
    let rows: Vec<ChannelRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(CHANNEL_SELECT);
        query.push_bind(tenant.0);
        push_scope(&mut query, scope, &CHANNEL_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    let page = Page::from_rows(rows, page, |row| row.id);
    let items = page
        .items
        .into_iter()
        .map(Channel::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Writes name, app id and archived flag.
pub async fn update_channel(
    s: &mut Session,
    tenant: TenantId,
    channel: &Channel,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE channels SET name = $3, app_id = $4, archived = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(channel.id.0).bind(channel.name.as_str()).bind(channel.app_id.as_deref())
        .bind(channel.archived).bind(Ts(channel.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub fn is_channel_code_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("channels_code_key", "channels.code")
}
