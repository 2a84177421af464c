//! `/api/v1/roles`: named permission sets. Administered by tenant-wide staff only, and nobody can
//! grant a permission they do not hold themselves.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Permission, PermissionSet, Principal};
use huiyuan_domain::credentials::Role;
use huiyuan_domain::ids::RoleId;
use huiyuan_domain::org::Name;
use huiyuan_domain::validation::FieldErrors;
use huiyuan_store::auth;
use serde::Deserialize;
use serde_json::json;
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

fn parse_grant(caller: &Principal, names: &[String]) -> Result<PermissionSet, FieldErrors> {
    let permissions = PermissionSet::parse("permissions", names).map_err(FieldErrors)?;
    if !permissions.is_subset(&caller.permissions) {
        return Err(FieldErrors::single(
            huiyuan_domain::validation::FieldError::new(
                "permissions",
                "exceeds_own",
                "a role cannot grant permissions its creator does not hold",
            ),
        ));
    }
    Ok(permissions)
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
    Ok(Json(
        auth::list_roles(&mut session, caller.tenant_id, page)
            .await?
            .into(),
    ))
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
    let mut errors = FieldErrors::new();
    let name = errors.take(Name::parse("name", &body.name));
    let permissions = match parse_grant(&caller, &body.permissions) {
        Ok(permissions) => Some(permissions),
        Err(more) => {
            more.0.into_iter().for_each(|error| errors.push(error));
            None
        }
    };
    errors.finish()?;
    let (Some(name), Some(permissions)) = (name, permissions) else {
        return Err(FieldErrors::new().into());
    };
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let role = Role {
                id: RoleId::new(),
                name,
                permissions,
                builtin: false,
                created_at: m.now,
                updated_at: m.now,
            };
            auth::insert_role(&mut m.session, m.tenant, &role)
                .await
                .map_err(|error| {
                    if auth::is_role_name_conflict(&error) {
                        ApiError::conflict("name", "a role with this name already exists")
                    } else {
                        error.into()
                    }
                })?;
            m.audit("role.created", "role", role.id, json!(role))
                .await?;
            Ok(role)
        })
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
    auth::get_role(&mut session, caller.tenant_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("role"))
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
    let name = body
        .name
        .as_deref()
        .map(|name| Name::parse("name", name))
        .transpose()?;
    let permissions = body
        .permissions
        .as_deref()
        .map(|names| parse_grant(&caller, names))
        .transpose()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = auth::get_role(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("role"))?;
            if before.builtin {
                return Err(ApiError::with_detail(
                    ErrorCode::Conflict,
                    "built-in roles cannot be changed",
                ));
            }
            let mut after = before.clone();
            if let Some(name) = name {
                after.name = name;
            }
            if let Some(permissions) = permissions {
                after.permissions = permissions;
            }
            after.updated_at = m.now;
            auth::update_role(&mut m.session, m.tenant, &after)
                .await
                .map_err(|error| {
                    if auth::is_role_name_conflict(&error) {
                        ApiError::conflict("name", "a role with this name already exists")
                    } else {
                        error.into()
                    }
                })?;
            m.audit(
                "role.updated",
                "role",
                id,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
    })
    .await
}
