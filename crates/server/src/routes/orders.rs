//! `/api/v1/orders`: ingestion from any channel (idempotent on the channel's own order id),
//! the order with its accrual, refunds, receipt claims (补积分) and the accrual dry run.

use crate::error::ApiResult;
use crate::extract::{ApiPath, Caller, Command};
use crate::orders::{
    ClaimInput, OrderInput, OrderView, ParsedOrder, RefundInput, RefundView, claim, ingest,
    order_view, prepare, preview, refund, visible_order,
};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_domain::earning::Evaluation;
use huiyuan_store::utc_now;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
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
    params(crate::routes::IdempotencyKeyHeader),
    responses((status = 201, description = "Posted and accrued", body = OrderView),
        (status = 200, description = "The channel already posted this order: the stored order", body = OrderView),
        (status = 403, description = "Missing permission or outside the caller's scope", body = crate::error::Problem),
        (status = 422, description = "Invalid input, unknown member, store or channel", body = crate::error::Problem)),
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
                Ok((
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    view,
                ))
            })
        },
    )
    .await
}

/// Dry run: what the order would earn and, for every earning rule, why it fired or not (unmet
/// conditions, outranked, beaten in its group, capped). Writes nothing.
#[utoipa::path(post, path = "/orders/preview", tag = "orders", request_body = OrderInput,
    responses((status = 200, description = "The accrual and a report on every rule", body = Evaluation),
        (status = 403, description = "Missing permission", body = crate::error::Problem),
        (status = 422, description = "Invalid input", body = crate::error::Problem)),
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
        (status = 404, description = "Not found", body = crate::error::Problem)),
    security(("bearer" = [])))]
async fn get_order(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
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
    params(("id" = Uuid, Path), crate::routes::IdempotencyKeyHeader),
    responses((status = 201, description = "Refunded", body = RefundView),
        (status = 200, description = "This refund was already posted: the stored refund", body = RefundView),
        (status = 404, description = "Not found", body = crate::error::Problem),
        (status = 409, description = "A concurrent refund of the same order; retry", body = crate::error::Problem),
        (status = 422, description = "Invalid input or more than is left to refund", body = crate::error::Problem)),
    security(("bearer" = [])))]
async fn create_refund(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
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
                Ok((
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    view,
                ))
            })
        },
    )
    .await
}

/// A member claims an anonymous order (补积分) within 30 days of it; the order earns as of its
/// own time. Claiming again for the same member answers the order unchanged.
#[utoipa::path(post, path = "/orders/{id}/claim", tag = "orders", request_body = ClaimInput,
    params(("id" = Uuid, Path), crate::routes::IdempotencyKeyHeader),
    responses((status = 200, description = "Claimed and accrued", body = OrderView),
        (status = 404, description = "Not found", body = crate::error::Problem),
        (status = 409, description = "The order belongs to another member", body = crate::error::Problem),
        (status = 422, description = "Unknown member, refunded order or claim window passed", body = crate::error::Problem)),
    security(("bearer" = [])))]
async fn claim_order(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
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
