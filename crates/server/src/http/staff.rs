//! `/api/v1/staff`: staff accounts, each with one role and one data scope. Administered by
//! tenant-wide staff.

use crate::app::credentials::staff::{self, NewStaffFields};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{DataScope, Permission};
use huiyuan_domain::credentials::StaffAccount;
use huiyuan_domain::ids::{RoleId, StaffId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(set_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role_id: RoleId,
    pub scope: DataScope,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    pub display_name: Option<String>,
    pub role_id: Option<RoleId>,
    pub scope: Option<DataScope>,
    /// `false` deactivates the account and ends its sessions.
    pub active: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
}

/// List staff accounts.
#[utoipa::path(get, path = "/staff", tag = "access", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<StaffAccount>)), security(("bearer" = [])))]
async fn list_staff(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<StaffAccount>>> {
    caller.require(Permission::StaffRead)?;
    caller.require_tenant_scope()?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let listed = staff::list(&mut session, caller.tenant_id, page).await?;
    Ok(Json(listed.into()))
}

/// Create a staff account.
#[utoipa::path(post, path = "/staff", tag = "access", request_body = CreateStaff,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = StaffAccount), (status = 409, description = "Conflict", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_staff(
    State(app): State<AppState>,
    command: Command<CreateStaff>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::StaffWrite)?;
    caller.require_tenant_scope()?;
    let input = staff::prepare_new(
        &app,
        NewStaffFields {
            username: &body.username,
            display_name: &body.display_name,
            password: body.password,
            role_id: body.role_id,
            scope: body.scope,
        },
    )
    .await?;
    let granter = caller.permissions.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { staff::create(m, &granter, input).await })
    })
    .await
}

/// Get one staff account.
#[utoipa::path(get, path = "/staff/{id}", tag = "access", params(("id" = StaffId, Path)),
    responses((status = 200, description = "OK", body = StaffAccount), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_staff(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<StaffId>,
) -> ApiResult<Json<StaffAccount>> {
    caller.require(Permission::StaffRead)?;
    caller.require_tenant_scope()?;
    let mut session = app.store.read().await?;
    staff::get(&mut session, caller.tenant_id, id)
        .await
        .map(Json)
}

/// Change a staff account's name, role, scope or active flag. Deactivating ends its sessions.
#[utoipa::path(patch, path = "/staff/{id}", tag = "access", request_body = UpdateStaff,
    params(("id" = StaffId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = StaffAccount), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_staff(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<StaffId>,
    command: Command<UpdateStaff>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::StaffWrite)?;
    caller.require_tenant_scope()?;
    let change = staff::parse_change(
        &caller,
        id,
        body.display_name.as_deref(),
        body.role_id,
        body.scope,
        body.active,
    )?;
    let granter = caller.permissions.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { staff::change(m, &granter, id, change).await })
    })
    .await
}

/// Set a staff account's password; every session of the account ends.
#[utoipa::path(post, path = "/staff/{id}/password", tag = "access", request_body = SetPassword,
    params(("id" = StaffId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = StaffAccount), (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn set_password(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<StaffId>,
    command: Command<SetPassword>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    // Anyone may change their own password; others' need staff administration.
    if caller.staff_id() != Some(id) {
        caller.require(Permission::StaffWrite)?;
        caller.require_tenant_scope()?;
    }
    let password_hash = staff::prepare_password(&app, body.password).await?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { staff::set_password(m, &scope, id, &password_hash).await })
    })
    .await
}
