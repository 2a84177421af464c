//! `/api/v1/formats`: business formats (业态).

use crate::app::access::{visible, writable};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::WriteMeta;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, Placement, Principal, RecordClass};
use huiyuan_domain::ids::FormatId;
use huiyuan_domain::org::{Code, Format, Name};
use huiyuan_domain::validation::FieldErrors;
use huiyuan_store::org;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_formats, create_format))
        .routes(routes!(get_format, update_format, archive_format))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFormat {
    /// Business key, unique in the tenant (e.g. `retail`).
    pub code: String,
    pub name: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFormat {
    pub name: Option<String>,
    pub archived: Option<bool>,
}

/// List the formats visible to the caller.
#[utoipa::path(get, path = "/formats", tag = "organisation", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<Format>)), security(("bearer" = [])))]
async fn list_formats(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<Format>>> {
    caller.require(Permission::OrgRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(Json(
        org::list_formats(&mut session, caller.tenant_id, &predicate, page)
            .await?
            .into(),
    ))
}

/// Create a format (tenant-wide administrators only).
#[utoipa::path(post, path = "/formats", tag = "organisation", request_body = CreateFormat,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = Format), (status = 409, description = "Conflict", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_format(
    State(app): State<AppState>,
    command: Command<CreateFormat>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", &body.code));
    let name = errors.take(Name::parse("name", &body.name));
    errors.finish()?;
    let (Some(code), Some(name)) = (code, name) else {
        return Err(FieldErrors::new().into());
    };
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let format = Format {
                id: FormatId::new(),
                code,
                name,
                archived: false,
                created_at: m.now,
                updated_at: m.now,
            };
            org::insert_format(&mut m.session, m.tenant, &format)
                .await
                .map_err(|error| {
                    if org::is_format_code_conflict(&error) {
                        ApiError::conflict("code", "a format with this code already exists")
                    } else {
                        error.into()
                    }
                })?;
            m.audit("format.created", "format", format.id, json!(format))
                .await?;
            Ok(format)
        })
    })
    .await
}

/// Get one format.
#[utoipa::path(get, path = "/formats/{id}", tag = "organisation", params(("id" = FormatId, Path)),
    responses((status = 200, description = "OK", body = Format), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_format(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<FormatId>,
) -> ApiResult<Json<Format>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    let format = org::get_format(&mut session, caller.tenant_id, id).await?;
    visible(
        &caller,
        format,
        RecordClass::Org,
        |format| Placement::format(format.id),
        "format",
    )
    .map(Json)
}

/// Rename or (un)archive a format.
#[utoipa::path(patch, path = "/formats/{id}", tag = "organisation", request_body = UpdateFormat,
    params(("id" = FormatId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Format), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_format(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<FormatId>,
    command: Command<UpdateFormat>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    let name = body
        .name
        .as_deref()
        .map(|name| Name::parse("name", name))
        .transpose()?;
    change_format(app, caller, meta, id, name, body.archived).await
}

/// Archive a format: it keeps its history but takes no new stores.
#[utoipa::path(delete, path = "/formats/{id}", tag = "organisation",
    params(("id" = FormatId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Format), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn archive_format(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<FormatId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::ConfigWrite)?;
    change_format(app, caller, meta, id, None, Some(true)).await
}

async fn change_format(
    app: AppState,
    caller: Principal,
    meta: WriteMeta,
    id: FormatId,
    name: Option<Name>,
    archived: Option<bool>,
) -> ApiResult<Response> {
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = org::get_format(&mut m.session, m.tenant, id).await?;
            let before = visible(
                &scope,
                before,
                RecordClass::Org,
                |format| Placement::format(format.id),
                "format",
            )?;
            writable(&scope, RecordClass::Org, &Placement::format(id))?;
            let mut after = before.clone();
            if let Some(name) = name {
                after.name = name;
            }
            if let Some(archived) = archived {
                after.archived = archived;
            }
            after.updated_at = m.now;
            m.config_changed();
            org::update_format(&mut m.session, m.tenant, &after).await?;
            m.audit(
                "format.updated",
                "format",
                id,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
    })
    .await
}
