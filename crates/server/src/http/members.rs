//! `/api/v1/members`: registration from any channel, the member profile (360°), look-up by
//! identifier or member number, name search, and profile changes.

use crate::app::access::{locked_member, visible_member};
use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::register::{
    RegisterMember, Registered, Registration, profile_fields, register,
};
use crate::app::identity::sealed::{open_profile, seal_profile};
use crate::app::identity::view::{MemberView, member_view, placement, resolve};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, RecordClass};
use huiyuan_domain::identity::{
    Identifier, IdentifierInput, IdentifierKind, MemberNo, Profile, ProfileInput,
};
use huiyuan_domain::ids::{MemberId, StaffId, StoreId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::{auth, members, org, utc_now};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, register_member))
        .routes(routes!(get_member, update_member))
}

/// Today in the tenant's zone would be exact; a day's slack either side does not matter for
/// birthday validation, so UTC's date serves.
fn today() -> time::Date {
    utc_now().date()
}

/// Register a member, or return the existing one when any identifier is already known (200).
#[utoipa::path(post, path = "/members", tag = "members", request_body = RegisterMember,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Registered", body = MemberView),
        (status = 200, description = "An identifier was known: the existing member", body = MemberView),
        (status = 409, description = "The identifiers belong to different members", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn register_member(
    State(app): State<AppState>,
    command: Command<RegisterMember>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let registration = Registration::parse(body, today())?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let (vault, policy, registrant) = (app.vault.clone(), app.identity.clone(), caller.clone());
    let sections = app.profile_sections;
    app.mutate_answering(
        &caller,
        &meta,
        |_| {},
        move |m| {
            Box::pin(async move {
                let outcome = register(m, &vault, &policy, &registrant, registration).await?;
                let (status, id) = match outcome {
                    Registered::Created(id) => (StatusCode::CREATED, id),
                    Registered::Existing(id) => (StatusCode::OK, id),
                };
                let (row, _) = resolve(&mut m.session, m.tenant, id)
                    .await?
                    .ok_or_else(|| ApiError::internal("registered member vanished"))?;
                Ok((
                    status,
                    member_view(
                        &mut m.session,
                        &vault,
                        sections,
                        m.tenant,
                        row,
                        reveal,
                        None,
                    )
                    .await?,
                ))
            })
        },
    )
    .await
}

/// The member's profile: identifiers, consents, source, guide and every module's summary.
/// Personal fields are masked unless the caller holds `pii:read`. A merged member's id answers
/// with the survivor (`resolved_from` names the id asked for).
#[utoipa::path(get, path = "/members/{id}", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = MemberView), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_member(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
) -> ApiResult<Json<MemberView>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let (row, resolved_from) = visible_member(&mut session, &caller, id, Access::Read).await?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    Ok(Json(
        member_view(
            &mut session,
            &app.vault,
            app.profile_sections,
            caller.tenant_id,
            row,
            reveal,
            resolved_from,
        )
        .await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Exact phone, in any common spelling.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub unionid: Option<String>,
    pub card_no: Option<String>,
    pub legacy_id: Option<String>,
    pub member_no: Option<String>,
    /// Name prefix (1–4 characters count), within the caller's data scope.
    pub name: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Find members by identifier or member number (exact), or by name prefix; without a filter,
/// list the members in the caller's data scope.
#[utoipa::path(get, path = "/members", tag = "members", params(MemberQuery),
    responses((status = 200, description = "OK", body = PageBody<MemberView>), (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_members(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<MemberQuery>,
) -> ApiResult<Json<PageBody<MemberView>>> {
    caller.require(Permission::MembersRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let mut session = app.store.read().await?;
    let exact = [
        (IdentifierKind::Phone, &query.phone),
        (IdentifierKind::Email, &query.email),
        (IdentifierKind::WechatUnionid, &query.unionid),
        (IdentifierKind::CardNo, &query.card_no),
        (IdentifierKind::LegacyId, &query.legacy_id),
    ]
    .into_iter()
    .find_map(|(kind, value)| value.as_ref().map(|value| (kind, value.clone())));
    let found = if let Some((kind, value)) = exact {
        let input = IdentifierInput {
            kind,
            value,
            app_id: None,
            namespace: None,
        };
        let identifier = Identifier::parse(kind.as_str(), &input)?;
        let index = app.vault.blind_index(kind.as_str(), &identifier.key);
        let owner = members::find_member_by_identifier(
            &mut session,
            caller.tenant_id,
            kind.as_str(),
            &index,
        )
        .await?;
        Some(owner)
    } else if let Some(member_no) = &query.member_no {
        let member_no = MemberNo::parse("member_no", member_no)?;
        Some(
            members::get_member_by_no(&mut session, caller.tenant_id, member_no.as_str())
                .await?
                .map(|row| row.id),
        )
    } else {
        None
    };
    let rows = match found {
        Some(owner) => {
            let row = match owner {
                Some(id) => resolve(&mut session, caller.tenant_id, id)
                    .await?
                    .map(|(row, _)| row),
                None => None,
            };
            let predicate = caller.predicate(Access::Read, RecordClass::MemberData);
            let rows = row
                .into_iter()
                .filter(|row| predicate.matches(&placement(row)))
                .collect();
            huiyuan_domain::paging::Page {
                items: rows,
                next_cursor: None,
            }
        }
        None => {
            let token = match &query.name {
                Some(name) => Some(
                    app.vault
                        .name_query_token(name)
                        .ok_or_else(|| FieldError::new("name", "required", "must not be empty"))?,
                ),
                None => None,
            };
            let predicate = caller.predicate(Access::Read, RecordClass::MemberData);
            members::list_members(
                &mut session,
                caller.tenant_id,
                &predicate,
                token.as_deref(),
                page,
            )
            .await?
        }
    };
    let mut items = Vec::with_capacity(rows.items.len());
    for row in rows.items {
        items.push(
            member_view(
                &mut session,
                &app.vault,
                app.profile_sections,
                caller.tenant_id,
                row,
                reveal,
                None,
            )
            .await?,
        );
    }
    Ok(Json(PageBody {
        items,
        next_cursor: rows.next_cursor,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// Fields given replace the stored ones; absent fields stay.
    #[serde(default)]
    pub profile: ProfileInput,
    pub guide_id: Option<StaffId>,
    pub preferred_store_id: Option<StoreId>,
}

/// Change a member's profile, guide or preferred store.
#[utoipa::path(patch, path = "/members/{id}", tag = "members", request_body = UpdateMember,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = MemberView), (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_member(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<UpdateMember>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let change = Profile::parse("profile", &body.profile, today())?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let vault = app.vault.clone();
    let sections = app.profile_sections;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let (mut row, _) = locked_member(&mut m.session, &scope, id).await?;
            if row.status != "active" {
                return Err(FieldError::new("id", "not_active", "only active members can change").into());
            }
            let mut profile = open_profile(&vault, &row).map_err(ApiError::internal)?;
            let changed = profile_fields(&change);
            let name_changed = change.name.is_some();
            profile.overlay(change);
            seal_profile(&vault, &profile, &mut row);
            if let Some(guide_id) = body.guide_id {
                if !auth::get_staff(&mut m.session, m.tenant, guide_id).await?.is_some_and(|staff| staff.active) {
                    return Err(FieldError::new("guide_id", "not_found", "no such active staff account").into());
                }
                row.guide_id = Some(guide_id.0);
            }
            if let Some(store_id) = body.preferred_store_id {
                if org::get_store(&mut m.session, m.tenant, store_id).await?.is_none() {
                    return Err(FieldError::new("preferred_store_id", "not_found", "no such store").into());
                }
                row.preferred_store_id = Some(store_id.0);
            }
            row.updated_at = m.now;
            members::update_member(&mut m.session, m.tenant, &row).await?;
            if name_changed && let Some(name) = &profile.name {
                members::replace_search_tokens(&mut m.session, m.tenant, row.id, &vault.name_tokens(name)).await?;
            }
            let summary = json!({ "profile_fields": changed, "guide_id": body.guide_id, "preferred_store_id": body.preferred_store_id });
            m.audit("member.updated", "member", row.id, summary).await?;
            member_view(&mut m.session, &vault, sections, m.tenant, row, reveal, None).await
        })
    })
    .await
}
