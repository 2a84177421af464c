//! `/api/v1/staff`: staff accounts, each with one role and one data scope. Administered by
//! tenant-wide staff.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::secrets::hash_password;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{DataScope, Permission, PermissionSet, Username, check_new_password};
use huiyuan_domain::credentials::StaffAccount;
use huiyuan_domain::ids::{FormatId, RoleId, StaffId, StoreId};
use huiyuan_domain::org::Name;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{auth, org};
use serde::Deserialize;
use serde_json::json;
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

/// Checks that a role and the ids a scope names exist in the tenant, and that the role grants
/// nothing beyond `granter`'s own permissions (no one hands out more than they hold).
async fn check_references(
    m: &mut Mutation,
    granter: &PermissionSet,
    role_id: Option<RoleId>,
    scope: Option<&DataScope>,
) -> ApiResult<()> {
    if let Some(role_id) = role_id {
        let role = auth::get_role(&mut m.session, m.tenant, role_id)
            .await?
            .ok_or_else(|| FieldError::new("role_id", "not_found", "no such role"))?;
        if !role.permissions.is_subset(granter) {
            return Err(FieldError::new(
                "role_id",
                "exceeds_own",
                "the role grants permissions the caller does not hold",
            )
            .into());
        }
    }
    let missing = match scope {
        Some(DataScope::Formats { format_ids }) => {
            let ids: Vec<FormatId> = format_ids.iter().copied().collect();
            org::count_existing_formats(&mut m.session, m.tenant, &ids).await? != ids.len()
        }
        Some(DataScope::Stores { store_ids } | DataScope::OwnMembers { store_ids }) => {
            let ids: Vec<StoreId> = store_ids.iter().copied().collect();
            org::count_existing_stores(&mut m.session, m.tenant, &ids).await? != ids.len()
        }
        Some(DataScope::Tenant) | None => false,
    };
    if missing {
        return Err(FieldError::new(
            "scope",
            "not_found",
            "the scope names a format or store that does not exist",
        )
        .into());
    }
    Ok(())
}

/// Refuses to manage an account more powerful than the caller: changing it, or its password,
/// would hand the caller its permissions.
async fn ensure_may_manage(
    m: &mut Mutation,
    manager: &PermissionSet,
    target: &StaffAccount,
) -> ApiResult<()> {
    let role = auth::get_role(&mut m.session, m.tenant, target.role_id).await?;
    if role.is_some_and(|role| role.permissions.is_subset(manager)) {
        Ok(())
    } else {
        Err(ApiError::with_detail(
            ErrorCode::PermissionDenied,
            "the account holds permissions the caller does not hold",
        ))
    }
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
    Ok(Json(
        auth::list_staff(&mut session, caller.tenant_id, page)
            .await?
            .into(),
    ))
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
    let mut errors = FieldErrors::new();
    let username = errors.take(Username::parse("username", &body.username));
    let display_name = errors.take(Name::parse("display_name", &body.display_name));
    errors.take(check_new_password("password", &body.password));
    errors.take(body.scope.validate("scope"));
    errors.finish()?;
    let (Some(username), Some(display_name)) = (username, display_name) else {
        return Err(FieldErrors::new().into());
    };
    let password_hash = hash_password(body.password, app.settings.argon2_memory_kib).await?;
    let (role_id, scope) = (body.role_id, body.scope);
    let granter = caller.permissions.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            check_references(m, &granter, Some(role_id), Some(&scope)).await?;
            let staff = StaffAccount {
                id: StaffId::new(),
                username,
                display_name,
                role_id,
                scope,
                active: true,
                created_at: m.now,
                updated_at: m.now,
            };
            auth::insert_staff(&mut m.session, m.tenant, &staff, &password_hash)
                .await
                .map_err(|error| {
                    if auth::is_username_conflict(&error) {
                        ApiError::conflict("username", "this username is taken")
                    } else {
                        error.into()
                    }
                })?;
            m.audit("staff.created", "staff", staff.id, json!(staff))
                .await?;
            Ok(staff)
        })
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
    auth::get_staff(&mut session, caller.tenant_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("staff account"))
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
    let mut errors = FieldErrors::new();
    let display_name = body
        .display_name
        .as_deref()
        .and_then(|name| errors.take(Name::parse("display_name", name)));
    if let Some(scope) = &body.scope {
        errors.take(scope.validate("scope"));
    }
    errors.finish()?;
    if caller.staff_id() == Some(id) && body.active == Some(false) {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "an account cannot deactivate itself",
        ));
    }
    let granter = caller.permissions.clone();
    let UpdateStaff {
        role_id,
        scope,
        active,
        ..
    } = body;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = auth::get_staff(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("staff account"))?;
            ensure_may_manage(m, &granter, &before).await?;
            check_references(m, &granter, role_id, scope.as_ref()).await?;
            let mut after = before.clone();
            after.display_name = display_name.unwrap_or(after.display_name);
            after.role_id = role_id.unwrap_or(after.role_id);
            after.scope = scope.unwrap_or(after.scope);
            after.active = active.unwrap_or(after.active);
            after.updated_at = m.now;
            auth::update_staff(&mut m.session, m.tenant, &after).await?;
            if before.active && !after.active {
                auth::revoke_staff_sessions(&mut m.session, m.tenant, id, m.now).await?;
            }
            m.audit(
                "staff.updated",
                "staff",
                id,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
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
    check_new_password("password", &body.password)?;
    let password_hash = hash_password(body.password, app.settings.argon2_memory_kib).await?;
    let own = caller.staff_id() == Some(id);
    let manager = caller.permissions.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let staff = auth::get_staff(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("staff account"))?;
            if !own {
                ensure_may_manage(m, &manager, &staff).await?;
            }
            auth::set_password_hash(&mut m.session, m.tenant, id, &password_hash, m.now).await?;
            let ended = auth::revoke_staff_sessions(&mut m.session, m.tenant, id, m.now).await?;
            m.audit(
                "staff.password_set",
                "staff",
                id,
                json!({ "sessions_ended": ended }),
            )
            .await?;
            Ok(staff)
        })
    })
    .await
}
