//! `/api/v1/audit-log`: read-only; there is no route that edits or deletes entries.

use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiQuery, Caller};
use crate::http::paging::{PageBody, PageQuery};
use axum::Json;
use axum::extract::State;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::auth::Permission;
use huiyuan_store::audit::{self, AuditFilter};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_entries))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Staff account or API key that acted.
    pub actor_id: Option<Uuid>,
    /// e.g. `store`.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// e.g. `store.created`.
    pub action: Option<String>,
    /// Entries at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// Entries before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Read the audit log, oldest first, filtered by actor, target, action and time.
#[utoipa::path(get, path = "/audit-log", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "OK", body = PageBody<AuditEntry>)), security(("bearer" = [])))]
async fn list_entries(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<PageBody<AuditEntry>>> {
    caller.require(Permission::AuditRead)?;
    caller.require_tenant_scope()?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let utc = |t: OffsetDateTime| t.to_offset(time::UtcOffset::UTC);
    let filter = AuditFilter {
        actor_id: query.actor_id,
        target_type: query.target_type,
        target_id: query.target_id,
        action: query.action,
        from: query.from.map(utc),
        until: query.until.map(utc),
    };
    let mut session = app.store.read().await?;
    Ok(Json(
        audit::list(&mut session, caller.tenant_id, &filter, page)
            .await?
            .into(),
    ))
}
