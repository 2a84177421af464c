//! The audit log: appended in the same transaction as the change it records; never updated.

use crate::backend::Session;
use crate::deferred::Write;
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::push_page;
use crate::timestamp::Ts;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::ids::{AuditEntryId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Appends an entry now (the statement runs before this returns).
pub async fn append(s: &mut Session, tenant: TenantId, entry: &AuditEntry) -> StoreResult<()> {
    defer_append(s, tenant, entry);
    s.flush_deferred().await?;
    Ok(())
}

/// Queues an entry with the session's deferred writes (see [`crate::deferred`]): its id is new,
/// and nothing reads its outcome.
pub fn defer_append(s: &mut Session, tenant: TenantId, entry: &AuditEntry) {
    s.defer(Write::insert(
        "audit_log",
        &[
            "tenant_id",
            "id",
            "actor_kind",
            "actor_id",
            "credential_id",
            "action",
            "target_type",
            "target_id",
            "summary",
            "request_id",
            "created_at",
        ],
        [[
            tenant.0.into(),
            entry.id.0.into(),
            entry.actor_kind.as_str().into(),
            entry.actor_id.into(),
            entry.credential_id.into(),
            entry.action.as_str().into(),
            entry.target_type.as_str().into(),
            entry.target_id.as_str().into(),
            entry.summary.clone().into(),
            entry.request_id.as_deref().into(),
            entry.created_at.into(),
        ]],
    ));
}

/// Filters for reading the log; all optional and combined with AND.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    actor_kind: String,
    actor_id: Option<Uuid>,
    credential_id: Option<Uuid>,
    action: String,
    target_type: String,
    target_id: String,
    summary: Json<serde_json::Value>,
    request_id: Option<String>,
    created_at: OffsetDateTime,
}

/// Entries oldest first (by their time-ordered id).
pub async fn list(
    s: &mut Session,
    tenant: TenantId,
    filter: &AuditFilter,
    page: PageRequest,
) -> StoreResult<Page<AuditEntry>> {
    let rows: Vec<AuditRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT id, actor_kind, actor_id, credential_id, action, target_type, target_id, summary, request_id, \
             created_at FROM audit_log WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if let Some(actor) = filter.actor_id {
            query.push(" AND actor_id = ").push_bind(actor);
        }
        if let Some(target_type) = &filter.target_type {
            query.push(" AND target_type = ").push_bind(target_type.clone());
        }
        if let Some(target_id) = &filter.target_id {
            query.push(" AND target_id = ").push_bind(target_id.clone());
        }
        if let Some(action) = &filter.action {
            query.push(" AND action = ").push_bind(action.clone());
        }
        if let Some(from) = filter.from {
            query.push(" AND created_at >= ").push_bind(Ts(from));
        }
        if let Some(until) = filter.until {
            query.push(" AND created_at < ").push_bind(Ts(until));
        }
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(
        Page::from_rows(rows, page, |row| row.id).map(|row| AuditEntry {
            id: AuditEntryId(row.id),
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            credential_id: row.credential_id,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            summary: row.summary.0,
            request_id: row.request_id,
            created_at: row.created_at,
        }),
    )
}
