//! `/api/v1/roles`: named permission sets. Administered by tenant-wide staff only, and nobody can
//! grant a permission they do not hold themselves.

use crate::app::credentials::roles;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::Permission;
use huiyuan_domain::credentials::Role;
use huiyuan_domain::ids::RoleId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    /// Permission names, e.g. `members:read`.
    pub permissions: Vec<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
}

/// List roles.
#[utoipa::path(get, path = "/roles", tag = "access", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<Role>)), security(("bearer" = [])))]
async fn list_roles(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<Role>>> {
    caller.require(Permission::StaffRead)?;
    caller.require_tenant_scope()?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let listed = roles::list(&mut session, caller.tenant_id, page).await?;
    Ok(Json(listed.into()))
}

/// Create a role.
#[utoipa::path(post, path = "/roles", tag = "access", request_body = CreateRole,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = Role), (status = 409, description = "Conflict", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_role(
    State(app): State<AppState>,
    command: Command<CreateRole>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::StaffWrite)?;
    caller.require_tenant_scope()?;
    let input = roles::parse_new(&caller.permissions, &body.name, &body.permissions)?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { roles::create(m, input).await })
    })
    .await
}

/// Get one role.
#[utoipa::path(get, path = "/roles/{id}", tag = "access", params(("id" = RoleId, Path)),
    responses((status = 200, description = "OK", body = Role), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_role(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<RoleId>,
) -> ApiResult<Json<Role>> {
    caller.require(Permission::StaffRead)?;
    caller.require_tenant_scope()?;
    let mut session = app.store.read().await?;
    roles::get(&mut session, caller.tenant_id, id)
        .await
        .map(Json)
}

/// Rename a role or change its permissions; built-in roles cannot change.
#[utoipa::path(patch, path = "/roles/{id}", tag = "access", request_body = UpdateRole,
    params(("id" = RoleId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Role), (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 409, description = "Conflict", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_role(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<RoleId>,
    command: Command<UpdateRole>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::StaffWrite)?;
    caller.require_tenant_scope()?;
    let change = roles::parse_change(
        &caller.permissions,
        body.name.as_deref(),
        body.permissions.as_deref(),
    )?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { roles::change(m, id, change).await })
    })
    .await
}
