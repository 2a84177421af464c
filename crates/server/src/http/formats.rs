//! `/api/v1/formats`: business formats (业态).

use crate::app::error::ApiResult;
use crate::app::mutation::WriteMeta;
use crate::app::org::formats::{self, FormatChange};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::ids::FormatId;
use huiyuan_domain::org::Format;
use serde::Deserialize;
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
    Ok(Json(
        formats::list(&mut session, &caller, page).await?.into(),
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
    let input = formats::parse_new(&caller, &body.code, &body.name)?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { formats::create(m, input).await })
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
    formats::get(&mut session, &caller, id).await.map(Json)
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
    let change = formats::parse_change(body.name.as_deref(), body.archived)?;
    change_format(app, caller, meta, id, change).await
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
    change_format(app, caller, meta, id, formats::archiving()).await
}

async fn change_format(
    app: AppState,
    caller: Principal,
    meta: WriteMeta,
    id: FormatId,
    change: FormatChange,
) -> ApiResult<Response> {
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { formats::change(m, &scope, id, change).await })
    })
    .await
}
