//! Member codes (一客一码): a short-lived signed code a member shows (QR or barcode) and a till
//! scans instead of asking for a phone number. `GET /members/{id}/code` issues one;
//! `POST /member-codes/resolve` turns a scanned code back into the member.
//!
//! A code is `M1` + base64url(member id ‖ expiry ‖ HMAC tag), keyed per tenant (see
//! [`crate::app::vault::Vault::sign_member_code`]): nothing is stored, a code of another tenant fails
//! its tag, and an old code of a merged member still finds the survivor.

use crate::app::access::visible_member;
use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::view::{MemberView, member_view};
use crate::app::state::AppState;
use crate::app::vault::{Vault, VaultError};
use crate::http::extract::{ApiPath, Caller, PublicJson};
use axum::Json;
use axum::extract::State;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::members::StoredMember;
use huiyuan_store::utc_now;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest code accepted; a genuine one is 42 characters.
const CODE_MAX_LEN: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_code))
        .routes(routes!(resolve_code))
}

/// A member code and how long it stays valid.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCode {
    /// Show as a QR or barcode; `M1…`.
    pub code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Seconds from issue to expiry, for a client's refresh timer.
    pub ttl_secs: u32,
}

/// `POST /member-codes/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveCode {
    /// The scanned code.
    pub code: String,
}

/// Issue a fresh member code, valid for `member_code_ttl_secs` (default 60). A merged member's
/// id issues the survivor's code.
#[utoipa::path(get, path = "/members/{id}/code", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, description = "A fresh code", body = MemberCode),
        (status = 403, description = "The caller lacks members:read", body = crate::http::problem::Problem),
        (status = 404, description = "No such member in the caller's scope", body = crate::http::problem::Problem),
        (status = 422, description = "The member is erased (`member_erased`)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn issue_code(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
) -> ApiResult<Json<MemberCode>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let (row, _) = visible_member(&mut session, &caller, id, Access::Read).await?;
    refuse_erased(&row, "id")?;
    let ttl_secs = app.settings.member_code_ttl_secs;
    let expires_at = utc_now()
        .replace_nanosecond(0)
        .map_err(ApiError::internal)?
        + time::Duration::seconds(i64::from(ttl_secs));
    let expires_unix = u32::try_from(expires_at.unix_timestamp()).map_err(ApiError::internal)?;
    let code = app
        .vault
        .sign_member_code(caller.tenant_id, row.id, expires_unix);
    Ok(Json(MemberCode {
        code,
        expires_at,
        ttl_secs,
    }))
}

/// Resolve a scanned member code to the member (masked unless the caller holds `pii:read`).
/// Refusals are 422 with a stable field code on `code`: `malformed` (not a member code),
/// `invalid` (forged, altered, or issued by another tenant), `expired`, `member_erased`.
#[utoipa::path(post, path = "/member-codes/resolve", tag = "members", request_body = ResolveCode,
    responses((status = 200, description = "The member the code names", body = MemberView),
        (status = 403, description = "The caller lacks members:read", body = crate::http::problem::Problem),
        (status = 404, description = "The member is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 422, description = "The code is malformed, invalid or expired, or the member is erased", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn resolve_code(
    State(app): State<AppState>,
    Caller(caller): Caller,
    PublicJson(body): PublicJson<ResolveCode>,
) -> ApiResult<Json<MemberView>> {
    caller.require(Permission::MembersRead)?;
    let member = verify(&app.vault, caller.tenant_id, &body.code)?;
    let mut session = app.store.read().await?;
    let (row, resolved_from) = visible_member(&mut session, &caller, member, Access::Read).await?;
    refuse_erased(&row, "code")?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let view = member_view(
        &mut session,
        &app.vault,
        app.profile_sections,
        caller.tenant_id,
        row,
        reveal,
        resolved_from,
    )
    .await?;
    Ok(Json(view))
}

/// The member a code names, or the field error saying why not.
fn verify(vault: &Vault, tenant: TenantId, code: &str) -> ApiResult<MemberId> {
    if code.len() > CODE_MAX_LEN {
        return Err(code_error(VaultError::Malformed));
    }
    vault
        .verify_member_code(tenant, code, utc_now().unix_timestamp())
        .map_err(code_error)
}

fn code_error(error: VaultError) -> ApiError {
    let (code, message) = match error {
        VaultError::Expired => (
            "expired",
            "the member code has expired; ask for a fresh one",
        ),
        VaultError::Forged | VaultError::UnknownKey(_) => {
            ("invalid", "the member code is not genuine for this tenant")
        }
        VaultError::Malformed => ("malformed", "this is not a member code"),
    };
    ApiError {
        detail: Some(message.to_owned()),
        ..FieldError::new("code", code, message).into()
    }
}

/// An erased member has no code: nothing should identify them any more.
fn refuse_erased(row: &StoredMember, field: &str) -> ApiResult<()> {
    if row.status == MemberStatus::Erased.as_str() {
        return Err(FieldError::new(field, "member_erased", "the member's data was erased").into());
    }
    Ok(())
}
