//! `/api/v1/tiers`: the tenant's tier ladder; `/api/v1/members/{id}/tier`: a member's current and
//! effective level, benefits, progress and history, and manual overrides with expiry.

use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::app::tiers::member::{self, LevelName, MemberTier};
use crate::app::tiers::{ChangeView, ProgressView, configure};
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::Permission;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::tiers::{EffectiveBenefits, Override, TierLadder};
use huiyuan_store::tiers::StoredLadder;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ladder, put_ladder))
        .routes(routes!(get_member_tier))
        .routes(routes!(set_override, clear_override))
        .routes(routes!(list_history))
}

/// The ladder as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct LadderView {
    #[serde(flatten)]
    pub ladder: TierLadder,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<StoredLadder> for LadderView {
    fn from(stored: StoredLadder) -> Self {
        Self {
            ladder: stored.ladder,
            updated_at: stored.updated_at,
        }
    }
}

/// The tenant's tier ladder.
#[utoipa::path(get, path = "/tiers", tag = "tiers",
    responses((status = 200, description = "The ladder", body = LadderView),
        (status = 404, description = "No ladder is configured yet", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_ladder(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<LadderView>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    let stored = configure::get(&mut session, caller.tenant_id).await?;
    Ok(Json(stored.into()))
}

/// Set the tenant's tier ladder (permission `config:write`, whole-tenant scope). Members keep
/// their levels; a level removed from the ladder counts as the lowest until their next change.
#[utoipa::path(put, path = "/tiers", tag = "tiers", request_body = TierLadder,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The ladder as saved", body = LadderView),
        (status = 403, description = "Missing permission or not tenant-wide", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid ladder; `errors` name the fields, e.g. `levels[2].threshold`", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_ladder(
    State(app): State<AppState>,
    command: Command<TierLadder>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    body.validate()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { configure::set(m, body).await.map(LadderView::from) })
    })
    .await
}

/// A level by code and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelRef {
    pub code: String,
    pub name: String,
}

/// A member's tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberTierView {
    pub member_id: MemberId,
    /// The level in force now: an active override's, else the computed one.
    pub level: LevelRef,
    /// The level the rules give, whatever an override says.
    pub computed_level: LevelRef,
    /// When the computed level last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the computed level is next evaluated for retention (保级); absent on the lowest level.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_evaluation_at: Option<OffsetDateTime>,
    /// The active manual override, if any.
    pub r#override: Option<Override>,
    /// The benefits in force, in the format asked for (group-wide without `format`).
    pub benefits: EffectiveBenefits,
    /// The format code the benefits are for.
    pub format: Option<String>,
    pub progress: Option<ProgressView>,
    /// The latest history entries, newest first.
    pub recent_changes: Vec<ChangeView>,
}

impl From<LevelName> for LevelRef {
    fn from(level: LevelName) -> Self {
        Self {
            code: level.code,
            name: level.name,
        }
    }
}

impl From<MemberTier> for MemberTierView {
    fn from(tier: MemberTier) -> Self {
        Self {
            member_id: tier.member_id,
            level: tier.level.into(),
            computed_level: tier.computed_level.into(),
            since: tier.since,
            next_evaluation_at: tier.next_evaluation_at,
            r#override: tier.r#override,
            benefits: tier.benefits,
            format: tier.format,
            progress: tier.progress,
            recent_changes: tier.recent_changes,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TierQuery {
    /// Business format code whose benefits to show (group-wide when absent).
    pub format: Option<String>,
}

/// A member's tier: current and effective level, benefits, since, next evaluation, override,
/// progress and the latest changes.
#[utoipa::path(get, path = "/members/{id}/tier", tag = "tiers", params(("id" = Uuid, Path), TierQuery),
    responses((status = 200, description = "The member's tier", body = MemberTierView),
        (status = 404, description = "No such member, or no ladder is configured", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_member_tier(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
    ApiQuery(query): ApiQuery<TierQuery>,
) -> ApiResult<Json<MemberTierView>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let tier = member::read(&mut session, &caller, id, query.format).await?;
    Ok(Json(tier.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOverride {
    /// The level to hold, a code of the ladder.
    pub level_code: String,
    /// The first instant the override no longer applies; at most ten years ahead.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Why (shown in the history), 1 to 500 characters.
    pub reason: String,
}

/// Set a manual override (人工调级) until `expires_at` (permission `members:write`). Replaces an
/// override already set; the computed level keeps moving underneath.
#[utoipa::path(post, path = "/members/{id}/tier/override", tag = "tiers", request_body = SetOverride,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The member's tier with the override", body = MemberTierView),
        (status = 404, description = "No such member, or no ladder is configured", body = crate::http::problem::Problem),
        (status = 422, description = "Unknown level, expiry not ahead, or no reason", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn set_override(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<SetOverride>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let manual = Override {
        level_code: body.level_code,
        expires_at: body.expires_at,
        reason: body.reason,
    };
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            member::override_by_hand(m, &scope, id, manual)
                .await
                .map(MemberTierView::from)
        })
    })
    .await
}

/// End a member's active override now (permission `members:write`); the computed level applies
/// again.
#[utoipa::path(delete, path = "/members/{id}/tier/override", tag = "tiers",
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The member's tier without the override", body = MemberTierView),
        (status = 404, description = "No such member, no ladder, or no active override", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn clear_override(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::MembersWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            member::end_override_by_hand(m, &scope, id)
                .await
                .map(MemberTierView::from)
        })
    })
    .await
}

/// A member's tier history, oldest first: upgrades, retentions, downgrades and overrides, each
/// with its reason and the qualifying total decided on.
#[utoipa::path(get, path = "/members/{id}/tier/history", tag = "tiers", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "One page of the history", body = PageBody<ChangeView>),
        (status = 404, description = "No such member", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_history(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<ChangeView>>> {
    caller.require(Permission::MembersRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let changes = member::history(&mut session, &caller, id, page).await?;
    Ok(Json(changes.map(ChangeView::from).into()))
}
