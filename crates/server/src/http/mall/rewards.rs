//! `/api/v1/rewards`: the points mall catalogue (积分商城) — list, create, read, change, archive
//! and restore rewards — and `POST /rewards/{id}/redemptions`, redeeming one for a member.

use crate::app::access::visible;
use crate::app::access::visible_member;
use crate::app::error::{ApiError, ApiResult};
use crate::app::json::parse_json;
use crate::app::mall::preview::{self, EligibilityView};
use crate::app::mall::redeem::RedeemRequest;
use crate::app::mall::{RedemptionView, RewardView, catalogue, redeem, require_catalogue_read};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, RecordClass};
use huiyuan_domain::ids::{FormatId, MemberId, RewardId};
use huiyuan_domain::mall::{RewardKind, RewardPatch, RewardSpec};
use huiyuan_store::mall::{RewardFilter, StoredReward, rewards};
use huiyuan_store::utc_now;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rewards, create_reward))
        .routes(routes!(get_reward, update_reward))
        .routes(routes!(archive_reward))
        .routes(routes!(restore_reward))
        .routes(routes!(redeem_reward))
        .routes(routes!(reward_eligibility))
}

/// A new reward: its configuration and its initial stock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewReward {
    #[serde(flatten)]
    pub spec: RewardSpec,
    /// Units in stock; absent for an unlimited stock.
    pub stock: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RewardQuery {
    pub kind: Option<RewardKind>,
    /// Rewards of this format's catalogue or supplied by it.
    pub format_id: Option<FormatId>,
    /// Only rewards a member can redeem now: not archived, inside their time window, in stock.
    #[serde(default)]
    pub available: bool,
    /// Include archived rewards (operators' view).
    #[serde(default)]
    pub include_archived: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The catalogue visible to the caller, oldest first.
#[utoipa::path(get, path = "/rewards", tag = "mall", params(RewardQuery),
    responses((status = 200, description = "One page of rewards", body = PageBody<RewardView>),
        (status = 422, description = "Invalid filter or page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_rewards(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<RewardQuery>,
) -> ApiResult<Json<PageBody<RewardView>>> {
    require_catalogue_read(&caller)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let filter = RewardFilter {
        kind: query.kind,
        format_id: query.format_id,
        include_archived: query.include_archived,
        available_at: query.available.then(utc_now),
    };
    let mut session = app.store.read().await?;
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    let found = rewards::list(&mut session, caller.tenant_id, &predicate, filter, page).await?;
    Ok(Json(found.map(RewardView::from).into()))
}

/// Add a reward (permission `mall:write`, in the caller's scope: a merchant adds rewards it
/// supplies). Validated as a whole; 422 names every bad field.
#[utoipa::path(post, path = "/rewards", tag = "mall", request_body = NewReward,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "The reward as saved", body = RewardView),
        (status = 403, description = "Missing permission or outside the caller's scope", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid reward; `errors` name the fields", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_reward(
    State(app): State<AppState>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command {
        caller,
        mut body,
        meta,
    } = command;
    caller.require(Permission::MallWrite)?;
    // `stock` is not part of the configuration; the rest must be a valid `RewardSpec`.
    let stock = match body
        .as_object_mut()
        .and_then(|object| object.remove("stock"))
    {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(
            parse_json::<i64>(value.to_string().as_bytes()).map_err(|_| {
                ApiError::invalid_field("stock", "invalid_value", "must be an integer, or null")
            })?,
        ),
    };
    let spec: RewardSpec = parse_json(body.to_string().as_bytes())?;
    spec.validate()?;
    RewardSpec::validate_stock(stock)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { catalogue::create(m, &scope, spec, stock).await })
    })
    .await
}

/// One reward.
#[utoipa::path(get, path = "/rewards/{id}", tag = "mall", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The reward", body = RewardView),
        (status = 404, description = "No such reward in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_reward(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<RewardId>,
) -> ApiResult<Json<RewardView>> {
    require_catalogue_read(&caller)?;
    let mut session = app.store.read().await?;
    let reward = rewards::get(&mut session, caller.tenant_id, id).await?;
    let reward = visible(
        &caller,
        reward,
        RecordClass::Org,
        |reward: &StoredReward| crate::app::mall::reward_placement(&reward.spec),
        "reward",
    )?;
    Ok(Json(RewardView::from(reward)))
}

/// Change a reward (permission `mall:write`): absent fields stay; stock moves by `stock_delta`
/// (restock or write-off, never below zero) or switches with `unlimited_stock`. Kind, formats,
/// supplier and coupon template are fixed.
#[utoipa::path(patch, path = "/rewards/{id}", tag = "mall", request_body = RewardPatch,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The reward as saved", body = RewardView),
        (status = 404, description = "No such reward in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "`out_of_stock`: the delta would take the stock below zero", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid change", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn update_reward(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<RewardId>,
    command: Command<RewardPatch>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MallWrite)?;
    body.validate_stock()?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { catalogue::update(m, &scope, id, body).await })
    })
    .await
}

/// Take a reward off the catalogue (permission `mall:write`). Redemptions already made go on.
#[utoipa::path(post, path = "/rewards/{id}/archive", tag = "mall",
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The reward, archived", body = RewardView),
        (status = 404, description = "No such reward in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn archive_reward(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<RewardId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    set_archived(app, id, command, true).await
}

/// Put an archived reward back on the catalogue (permission `mall:write`).
#[utoipa::path(post, path = "/rewards/{id}/restore", tag = "mall",
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The reward, restored", body = RewardView),
        (status = 404, description = "No such reward in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn restore_reward(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<RewardId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    set_archived(app, id, command, false).await
}

async fn set_archived(
    app: AppState,
    id: RewardId,
    command: Command<serde_json::Value>,
    archived: bool,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::MallWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { catalogue::set_archived(m, &scope, id, archived).await })
    })
    .await
}

/// Redeem a reward for a member (permission `members:write`): checks archive, time window, tier
/// and quantity, then in one transaction takes stock, the member's limit counters and the
/// points. Send an `Idempotency-Key`: a retry answers the same redemption.
#[utoipa::path(post, path = "/rewards/{id}/redemptions", tag = "mall", request_body = RedeemRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "The redemption", body = RedemptionView),
        (status = 404, description = "No such reward or member in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "`out_of_stock` or `limit_reached`; nothing was taken", body = crate::http::problem::Problem),
        (status = 422, description = "`insufficient_points`, `not_eligible` (archived, outside the window, tier too low, quantity) or invalid input; nothing was taken", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn redeem_reward(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<RewardId>,
    command: Command<RedeemRequest>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let (member, _) =
                visible_member(&mut m.session, &scope, body.member_id, Access::Write).await?;
            redeem::redeem(m, &vault, &scope, id, member, body).await
        })
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EligibilityQuery {
    pub member_id: MemberId,
    /// Units (default 1).
    pub quantity: Option<i64>,
}

/// Whether a member could redeem the reward now (permission `members:read`), with every reason
/// they could not: archive, window, tier, quantity, stock, limits, points. Takes nothing; the
/// redemption decides again under its guards.
#[utoipa::path(get, path = "/rewards/{id}/eligibility", tag = "mall", params(("id" = Uuid, Path), EligibilityQuery),
    responses((status = 200, description = "The check", body = EligibilityView),
        (status = 404, description = "No such reward or member in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn reward_eligibility(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<RewardId>,
    ApiQuery(query): ApiQuery<EligibilityQuery>,
) -> ApiResult<Json<EligibilityView>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let reward = visible(
        &caller,
        rewards::get(&mut session, caller.tenant_id, id).await?,
        RecordClass::Org,
        |reward: &StoredReward| crate::app::mall::reward_placement(&reward.spec),
        "reward",
    )?;
    let (member, _) = visible_member(&mut session, &caller, query.member_id, Access::Read).await?;
    let quantity = query.quantity.unwrap_or(1);
    let view = preview::preview(
        &mut session,
        caller.tenant_id,
        &reward,
        member.id,
        quantity,
        utc_now(),
    )
    .await?;
    Ok(Json(view))
}
