//! `/api/v1/reward-redemptions`: points mall redemption orders — list by store and state, read,
//! ship, collect, complete, cancel — and `GET /members/{id}/reward-redemptions`.

use crate::app::access::visible_member;
use crate::app::error::ApiResult;
use crate::app::mall::fulfil::{self, ActionRequest, visible_redemption};
use crate::app::mall::views::issued_coupons;
use crate::app::mall::{RedemptionView, redemption_scope};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, Principal};
use huiyuan_domain::ids::{MemberId, RewardId};
use huiyuan_domain::mall::{Action, RedemptionState};
use huiyuan_store::mall::{RedemptionFilter, redemptions};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reward_redemptions))
        .routes(routes!(get_reward_redemption))
        .routes(routes!(ship_redemption))
        .routes(routes!(collect_redemption))
        .routes(routes!(complete_redemption))
        .routes(routes!(cancel_redemption))
        .routes(routes!(member_reward_redemptions))
}

fn require_read(caller: &Principal) -> ApiResult<()> {
    caller
        .require(Permission::MembersRead)
        .or_else(|_| caller.require(Permission::MallWrite))?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedemptionQuery {
    /// Redemptions of rewards this store supplies, or collected at it.
    pub store_id: Option<Uuid>,
    pub state: Option<RedemptionState>,
    pub reward_id: Option<RewardId>,
    pub member_id: Option<MemberId>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn page_of(
    app: &AppState,
    caller: &Principal,
    filter: RedemptionFilter,
    limit: Option<u32>,
    cursor: Option<String>,
) -> ApiResult<PageBody<RedemptionView>> {
    let page = PageQuery { limit, cursor }.request()?;
    let mut session = app.store.read().await?;
    let found = redemptions::list(
        &mut session,
        caller.tenant_id,
        &redemption_scope(caller),
        &filter,
        page,
    )
    .await?;
    let items = found
        .items
        .into_iter()
        .map(|r| RedemptionView::build(&app.vault, caller, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(PageBody {
        items,
        next_cursor: found.next_cursor,
    })
}

/// Redemptions in the caller's scope, oldest first: a merchant's staff see their own rewards'
/// redemptions, a store's staff those collected at the store.
#[utoipa::path(get, path = "/reward-redemptions", tag = "mall", params(RedemptionQuery),
    responses((status = 200, description = "One page of redemptions", body = PageBody<RedemptionView>),
        (status = 422, description = "Invalid filter or page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_reward_redemptions(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<RedemptionQuery>,
) -> ApiResult<Json<PageBody<RedemptionView>>> {
    require_read(&caller)?;
    let filter = RedemptionFilter {
        member_id: query.member_id,
        store_id: query.store_id,
        reward_id: query.reward_id,
        state: query.state.map(|state| state.as_str().to_owned()),
    };
    Ok(Json(
        page_of(&app, &caller, filter, query.limit, query.cursor).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberRedemptionQuery {
    pub state: Option<RedemptionState>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A member's redemptions (in the caller's scope), oldest first.
#[utoipa::path(get, path = "/members/{id}/reward-redemptions", tag = "mall",
    params(("id" = Uuid, Path), MemberRedemptionQuery),
    responses((status = 200, description = "One page of the member's redemptions", body = PageBody<RedemptionView>),
        (status = 404, description = "No such member", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn member_reward_redemptions(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
    ApiQuery(query): ApiQuery<MemberRedemptionQuery>,
) -> ApiResult<Json<PageBody<RedemptionView>>> {
    require_read(&caller)?;
    let member = {
        let mut session = app.store.read().await?;
        visible_member(&mut session, &caller, id, Access::Read)
            .await?
            .0
    };
    let filter = RedemptionFilter {
        member_id: Some(member.id),
        state: query.state.map(|state| state.as_str().to_owned()),
        ..RedemptionFilter::default()
    };
    Ok(Json(
        page_of(&app, &caller, filter, query.limit, query.cursor).await?,
    ))
}

/// One redemption.
#[utoipa::path(get, path = "/reward-redemptions/{id}", tag = "mall", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The redemption", body = RedemptionView),
        (status = 404, description = "No such redemption in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_reward_redemption(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RedemptionView>> {
    require_read(&caller)?;
    let mut session = app.store.read().await?;
    let found = visible_redemption(&mut session, &caller, id).await?;
    let coupons = issued_coupons(&mut session, caller.tenant_id, &found).await?;
    let mut view = RedemptionView::build(&app.vault, &caller, found)?;
    view.coupons = coupons;
    Ok(Json(view))
}

async fn run(
    app: AppState,
    id: Uuid,
    action: Action,
    command: Command<ActionRequest>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { fulfil::act(m, &vault, &scope, id, action, body).await })
    })
    .await
}

/// Mark a pending redemption shipped (permission `mall:write`); `carrier` and `tracking_no`
/// required.
#[utoipa::path(post, path = "/reward-redemptions/{id}/ship", tag = "mall", request_body = ActionRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The redemption, shipped", body = RedemptionView),
        (status = 404, description = "No such redemption in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Not a pending shipment (`errors[0].code` = `invalid_transition`)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn ship_redemption(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<ActionRequest>,
) -> ApiResult<Response> {
    run(app, id, Action::Ship, command).await
}

/// Hand over (or serve) a pending redemption at a store (permission `mall:write`); `store_id`
/// defaults to the store the member chose.
#[utoipa::path(post, path = "/reward-redemptions/{id}/collect", tag = "mall", request_body = ActionRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The redemption, collected", body = RedemptionView),
        (status = 404, description = "No such redemption in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Not a pending collection", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn collect_redemption(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<ActionRequest>,
) -> ApiResult<Response> {
    run(app, id, Action::Collect, command).await
}

/// Complete a shipped or collected redemption (`mall:write`, or `members:write` for the member
/// confirming receipt).
#[utoipa::path(post, path = "/reward-redemptions/{id}/complete", tag = "mall", request_body = ActionRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The redemption, completed", body = RedemptionView),
        (status = 404, description = "No such redemption in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Not shipped or collected", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn complete_redemption(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<ActionRequest>,
) -> ApiResult<Response> {
    run(app, id, Action::Complete, command).await
}

/// Cancel a pending or shipped redemption (`mall:write`; `members:write` while pending): the
/// points go back into the lots they came from, the stock and the member's limit come back,
/// exactly once. Any cash part is reported in `cash_refund_due_fen` for the payment system.
#[utoipa::path(post, path = "/reward-redemptions/{id}/cancel", tag = "mall", request_body = ActionRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The redemption, cancelled", body = RedemptionView),
        (status = 404, description = "No such redemption in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Already collected, completed or cancelled", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn cancel_redemption(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<ActionRequest>,
) -> ApiResult<Response> {
    run(app, id, Action::Cancel, command).await
}
