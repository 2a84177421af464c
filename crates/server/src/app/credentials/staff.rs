//! Staff accounts, each with one role and one data scope: creating, changing, deactivating,
//! setting passwords, reading and listing. No one hands out more than they hold: a role granted
//! must be within the granter's permissions, and an account more powerful than the caller cannot
//! be changed by them.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::secrets::hash_password;
use crate::app::state::AppState;
use huiyuan_domain::auth::{DataScope, PermissionSet, Principal, Username, check_new_password};
use huiyuan_domain::credentials::StaffAccount;
use huiyuan_domain::ids::{FormatId, RoleId, StaffId, StoreId, TenantId};
use huiyuan_domain::org::Name;
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, auth, org};
use serde_json::json;

/// Validated input for a new account, its password already hashed.
pub struct NewStaff {
    pub username: Username,
    pub display_name: Name,
    pub password_hash: String,
    pub role_id: RoleId,
    pub scope: DataScope,
}

/// A new account's fields as they arrive.
pub struct NewStaffFields<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: String,
    pub role_id: RoleId,
    pub scope: DataScope,
}

/// Validates a new account, reporting every invalid field, and hashes its password (off the
/// async threads, before any write begins: hashing is slow on purpose).
pub async fn prepare_new(app: &AppState, fields: NewStaffFields<'_>) -> ApiResult<NewStaff> {
    let mut errors = FieldErrors::new();
    let username = errors.take(Username::parse("username", fields.username));
    let display_name = errors.take(Name::parse("display_name", fields.display_name));
    errors.take(check_new_password("password", &fields.password));
    errors.take(fields.scope.validate("scope"));
    errors.finish()?;
    let (Some(username), Some(display_name)) = (username, display_name) else {
        return Err(FieldErrors::new().into());
    };
    let password_hash = hash_password(fields.password, app.settings.argon2_memory_kib).await?;
    Ok(NewStaff {
        username,
        display_name,
        password_hash,
        role_id: fields.role_id,
        scope: fields.scope,
    })
}

/// What a change of an account sets; `None` leaves a field as it is.
pub struct StaffChange {
    pub display_name: Option<Name>,
    pub role_id: Option<RoleId>,
    pub scope: Option<DataScope>,
    /// `false` deactivates the account and ends its sessions.
    pub active: Option<bool>,
}

/// Validates `caller`'s change of the account `id`, reporting every invalid field; an account
/// cannot deactivate itself (409).
pub fn parse_change(
    caller: &Principal,
    id: StaffId,
    display_name: Option<&str>,
    role_id: Option<RoleId>,
    scope: Option<DataScope>,
    active: Option<bool>,
) -> ApiResult<StaffChange> {
    let mut errors = FieldErrors::new();
    let display_name = display_name.and_then(|name| errors.take(Name::parse("display_name", name)));
    if let Some(scope) = &scope {
        errors.take(scope.validate("scope"));
    }
    errors.finish()?;
    if caller.staff_id() == Some(id) && active == Some(false) {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "an account cannot deactivate itself",
        ));
    }
    Ok(StaffChange {
        display_name,
        role_id,
        scope,
        active,
    })
}

/// Checks a new password and hashes it (off the async threads, before any write begins).
pub async fn prepare_password(app: &AppState, password: String) -> ApiResult<String> {
    check_new_password("password", &password)?;
    hash_password(password, app.settings.argon2_memory_kib).await
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

/// The tenant's staff accounts, by id.
pub async fn list(
    session: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> ApiResult<Page<StaffAccount>> {
    Ok(auth::list_staff(session, tenant, page).await?)
}

/// The staff account `id`.
pub async fn get(session: &mut Session, tenant: TenantId, id: StaffId) -> ApiResult<StaffAccount> {
    auth::get_staff(session, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff account"))
}

/// Creates an account with a role within `granter`'s permissions, audited as `staff.created`;
/// its username is unique in the tenant (409).
pub async fn create(
    m: &mut Mutation,
    granter: &PermissionSet,
    input: NewStaff,
) -> ApiResult<StaffAccount> {
    check_references(m, granter, Some(input.role_id), Some(&input.scope)).await?;
    let staff = StaffAccount {
        id: StaffId::new(),
        username: input.username,
        display_name: input.display_name,
        role_id: input.role_id,
        scope: input.scope,
        active: true,
        created_at: m.now,
        updated_at: m.now,
    };
    auth::insert_staff(&mut m.session, m.tenant, &staff, &input.password_hash)
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
}

/// Changes the account `id` on behalf of a caller holding `granter`, audited as `staff.updated`
/// with the record before and after; deactivating it ends its sessions.
pub async fn change(
    m: &mut Mutation,
    granter: &PermissionSet,
    id: StaffId,
    change: StaffChange,
) -> ApiResult<StaffAccount> {
    let before = auth::get_staff(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff account"))?;
    ensure_may_manage(m, granter, &before).await?;
    check_references(m, granter, change.role_id, change.scope.as_ref()).await?;
    let mut after = before.clone();
    after.display_name = change.display_name.unwrap_or(after.display_name);
    after.role_id = change.role_id.unwrap_or(after.role_id);
    after.scope = change.scope.unwrap_or(after.scope);
    after.active = change.active.unwrap_or(after.active);
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
}

/// Sets the account `id`'s password, audited as `staff.password_set`; every session of the
/// account ends. Anyone may set their own; another's needs the caller to hold at least what the
/// account holds.
pub async fn set_password(
    m: &mut Mutation,
    caller: &Principal,
    id: StaffId,
    password_hash: &str,
) -> ApiResult<StaffAccount> {
    let staff = auth::get_staff(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff account"))?;
    if caller.staff_id() != Some(id) {
        ensure_may_manage(m, &caller.permissions, &staff).await?;
    }
    auth::set_password_hash(&mut m.session, m.tenant, id, password_hash, m.now).await?;
    let ended = auth::revoke_staff_sessions(&mut m.session, m.tenant, id, m.now).await?;
    m.audit(
        "staff.password_set",
        "staff",
        id,
        json!({ "sessions_ended": ended }),
    )
    .await?;
    Ok(staff)
}
