//! Roles, named permission sets: creating, renaming, changing their permissions, reading and
//! listing them. Nobody grants a permission they do not hold themselves, and built-in roles
//! never change.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::PermissionSet;
use huiyuan_domain::credentials::Role;
use huiyuan_domain::ids::{RoleId, TenantId};
use huiyuan_domain::org::Name;
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, StoreError, auth};
use serde_json::json;

/// Validated input for a new role.
pub struct NewRole {
    pub name: Name,
    pub permissions: PermissionSet,
}

/// What a change of a role sets; `None` leaves a field as it is.
pub struct RoleChange {
    pub name: Option<Name>,
    pub permissions: Option<PermissionSet>,
}

/// The permissions `names` stand for, when `granter` holds all of them.
fn parse_grant(granter: &PermissionSet, names: &[String]) -> Result<PermissionSet, FieldErrors> {
    let permissions = PermissionSet::parse("permissions", names).map_err(FieldErrors)?;
    if !permissions.is_subset(granter) {
        return Err(FieldErrors::single(FieldError::new(
            "permissions",
            "exceeds_own",
            "a role cannot grant permissions its creator does not hold",
        )));
    }
    Ok(permissions)
}

/// Validates a new role, reporting every invalid field; `granter` is what the creator holds.
pub fn parse_new(
    granter: &PermissionSet,
    name: &str,
    permissions: &[String],
) -> Result<NewRole, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = errors.take(Name::parse("name", name));
    let permissions = match parse_grant(granter, permissions) {
        Ok(permissions) => Some(permissions),
        Err(more) => {
            more.0.into_iter().for_each(|error| errors.push(error));
            None
        }
    };
    errors.finish()?;
    let (Some(name), Some(permissions)) = (name, permissions) else {
        return Err(FieldErrors::new());
    };
    Ok(NewRole { name, permissions })
}

/// Validates a change of a role; an invalid name is reported before the permissions are looked
/// at.
pub fn parse_change(
    granter: &PermissionSet,
    name: Option<&str>,
    permissions: Option<&[String]>,
) -> ApiResult<RoleChange> {
    let name = name.map(|name| Name::parse("name", name)).transpose()?;
    let permissions = permissions
        .map(|names| parse_grant(granter, names))
        .transpose()?;
    Ok(RoleChange { name, permissions })
}

/// The tenant's roles, by id.
pub async fn list(
    session: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> ApiResult<Page<Role>> {
    Ok(auth::list_roles(session, tenant, page).await?)
}

/// The role `id`.
pub async fn get(session: &mut Session, tenant: TenantId, id: RoleId) -> ApiResult<Role> {
    auth::get_role(session, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("role"))
}

/// A taken role name as the 409 that names the field.
fn name_conflict(error: StoreError) -> ApiError {
    if auth::is_role_name_conflict(&error) {
        ApiError::conflict("name", "a role with this name already exists")
    } else {
        error.into()
    }
}

/// Creates a role, audited as `role.created`; its name is unique in the tenant (409).
pub async fn create(m: &mut Mutation, input: NewRole) -> ApiResult<Role> {
    let role = Role {
        id: RoleId::new(),
        name: input.name,
        permissions: input.permissions,
        builtin: false,
        created_at: m.now,
        updated_at: m.now,
    };
    auth::insert_role(&mut m.session, m.tenant, &role)
        .await
        .map_err(name_conflict)?;
    m.audit("role.created", "role", role.id, json!(role))
        .await?;
    Ok(role)
}

/// Changes the role `id`, audited as `role.updated` with the record before and after; built-in
/// roles are refused (409).
pub async fn change(m: &mut Mutation, id: RoleId, change: RoleChange) -> ApiResult<Role> {
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
    if let Some(name) = change.name {
        after.name = name;
    }
    if let Some(permissions) = change.permissions {
        after.permissions = permissions;
    }
    after.updated_at = m.now;
    auth::update_role(&mut m.session, m.tenant, &after)
        .await
        .map_err(name_conflict)?;
    m.audit(
        "role.updated",
        "role",
        id,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(after)
}
