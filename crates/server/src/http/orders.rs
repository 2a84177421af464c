//! `/api/v1/orders`: ingestion from any channel (idempotent on the channel's own order id),
//! the order with its accrual, refunds, receipt claims (补积分) and the accrual dry run, and the
//! order list within the caller's scope (a merchant's staff: their store's orders).

use crate::app::error::ApiResult;
use crate::app::orders::{
    ClaimInput, OrderInput, OrderView, ParsedOrder, RefundInput, RefundView, claim, ingest,
    order_view, prepare, preview, refund, visible_order,
};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_domain::earning::Evaluation;
use huiyuan_domain::ids::{MemberId, OrderId};
use huiyuan_store::utc_now;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, create_order))
        .routes(routes!(preview_order))
        .routes(routes!(get_order))
        .routes(routes!(create_refund))
        .routes(routes!(claim_order))
}

/// Post an order. The same (channel, `external_id`) is one order: a retry answers the stored
/// order with 200 and earns nothing again. The member earns at once, evaluated at the order's
/// `occurred_at` in the tenant's time zone; an order without a member is kept anonymous until
/// claimed.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = OrderInput,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Posted and accrued", body = OrderView),
        (status = 200, description = "The channel already posted this order: the stored order", body = OrderView),
        (status = 403, description = "Missing permission or outside the caller's scope", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input, unknown member, store or channel", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_order(
    State(app): State<AppState>,
    command: Command<OrderInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::OrdersWrite)?;
    let parsed = ParsedOrder::parse(body, utc_now())?;
    // Look-ups before the write transaction; a failure is answered from inside it, after the
    // Idempotency-Key check, so a retry of a completed request still replays its answer.
    let prepared = prepare(&app, &caller, parsed).await;
    app.mutate_answering(
        &caller,
        &meta,
        |_| {},
        move |m| {
            Box::pin(async move {
                let (created, view) = ingest(m, prepared?).await?;
                Ok((created_or_ok(created), view))
            })
        },
    )
    .await
}

/// 201 for a record this request created, 200 for the one a retry finds.
fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Dry run: what the order would earn and, for every earning rule, why it fired or not (unmet
/// conditions, outranked, beaten in its group, capped). Writes nothing.
#[utoipa::path(post, path = "/orders/preview", tag = "orders", request_body = OrderInput,
    responses((status = 200, description = "The accrual and a report on every rule", body = Evaluation),
        (status = 403, description = "Missing permission", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn preview_order(
    State(app): State<AppState>,
    command: Command<OrderInput>,
) -> ApiResult<Json<Evaluation>> {
    let Command { caller, body, .. } = command;
    caller.require(Permission::OrdersRead)?;
    let now = utc_now();
    let parsed = ParsedOrder::parse(body, now)?;
    Ok(Json(preview(&app, &caller, parsed, now).await?))
}

/// An order with its lines, payments, fired rules and refunds.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = OrderView),
        (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_order(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    caller.require(Permission::OrdersRead)?;
    let mut session = app.store.read().await?;
    let order = visible_order(&mut session, &caller, id, Access::Read).await?;
    Ok(Json(
        order_view(&mut session, caller.tenant_id, order).await?,
    ))
}

/// Refund some lines (`lines: [{ line_no, quantity }]`) or, without `lines`, everything not yet
/// refunded. Takes back exactly the points the refunded units earned: from the order's own lot,
/// then other lots, then as an overdraft within the tenant's policy; what cannot be taken is
/// reported as `unrecovered`. The same `external_refund_id` is one refund (200 on retry).
#[utoipa::path(post, path = "/orders/{id}/refunds", tag = "orders", request_body = RefundInput,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Refunded", body = RefundView),
        (status = 200, description = "This refund was already posted: the stored refund", body = RefundView),
        (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 409, description = "A concurrent refund of the same order; retry", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input or more than is left to refund", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_refund(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<OrderId>,
    command: Command<RefundInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::OrdersWrite)?;
    let refunder = caller.clone();
    app.mutate_answering(
        &caller,
        &meta,
        |_| {},
        move |m| {
            Box::pin(async move {
                let (created, view) = refund(m, &refunder, id, body).await?;
                Ok((created_or_ok(created), view))
            })
        },
    )
    .await
}

/// A member claims an anonymous order (补积分) within 30 days of it; the order earns as of its
/// own time. Claiming again for the same member answers the order unchanged.
#[utoipa::path(post, path = "/orders/{id}/claim", tag = "orders", request_body = ClaimInput,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Claimed and accrued", body = OrderView),
        (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 409, description = "The order belongs to another member", body = crate::http::problem::Problem),
        (status = 422, description = "Unknown member, refunded order or claim window passed", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn claim_order(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<OrderId>,
    command: Command<ClaimInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::OrdersWrite)?;
    let claimer = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { claim(m, &claimer, id, body.member_id).await })
    })
    .await
}

/// An order in a list: the order row without lines, payments and refunds.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    pub id: OrderId,
    pub external_id: String,
    pub channel_id: Uuid,
    pub member_id: Option<MemberId>,
    pub store_id: Option<Uuid>,
    pub format_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: time::OffsetDateTime,
    pub total_fen: i64,
    pub refunded_fen: i64,
    /// `completed`, `partially_refunded` or `refunded`.
    pub status: String,
    pub points_earned: i64,
    pub points_reversed: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

impl From<huiyuan_store::orders::StoredOrder> for OrderSummary {
    fn from(o: huiyuan_store::orders::StoredOrder) -> Self {
        Self {
            id: o.id,
            external_id: o.external_id,
            channel_id: o.channel_id,
            member_id: o.member_id,
            store_id: o.store_id,
            format_id: o.format_id,
            occurred_at: o.occurred_at,
            total_fen: o.total_fen,
            refunded_fen: o.refunded_fen,
            status: o.status,
            points_earned: o.points_earned,
            points_reversed: o.points_reversed,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    pub store_id: Option<Uuid>,
    pub member_id: Option<MemberId>,
    /// Orders that occurred at or after this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<time::OffsetDateTime>,
    /// Orders that occurred before this instant (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<time::OffsetDateTime>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Orders in the caller's scope, by id (oldest first): a store's or merchant's staff see their
/// store's orders only.
#[utoipa::path(get, path = "/orders", tag = "orders", operation_id = "list_orders", params(OrderQuery),
    responses((status = 200, description = "One page of orders", body = crate::http::paging::PageBody<OrderSummary>),
        (status = 403, description = "Missing `orders:read`", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid filter or page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_orders(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<OrderQuery>,
) -> ApiResult<Json<crate::http::paging::PageBody<OrderSummary>>> {
    caller.require(Permission::OrdersRead)?;
    let page = crate::http::paging::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let filter = huiyuan_store::orders::OrderFilter {
        store_id: query.store_id,
        member_id: query.member_id,
        from: query.from,
        until: query.until,
    };
    let predicate = caller.predicate(Access::Read, huiyuan_domain::auth::RecordClass::Org);
    let mut session = app.store.read().await?;
    let found = huiyuan_store::orders::list_orders(
        &mut session,
        caller.tenant_id,
        &predicate,
        &filter,
        page,
    )
    .await?;
    Ok(Json(crate::http::paging::PageBody {
        items: found.items.into_iter().map(OrderSummary::from).collect(),
        next_cursor: found.next_cursor,
    }))
}
