//! `/api/v1/checkouts`: quote a cart with coupons and points (`/checkouts/quote`), reserve it
//! (`POST /checkouts`), read it, confirm it with the paid order, cancel it; and
//! `/api/v1/checkout-policy`, the tenant's points-as-cash settings.

use crate::app::checkout::close::{self, CancelRequest, ConfirmRequest};
use crate::app::checkout::{
    self, CheckoutPolicy, CheckoutRequest, CheckoutView, QuoteView, reserve, visible,
};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, Caller, Command};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_store::checkout::StoredCheckoutPolicy;
use huiyuan_store::utc_now;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(quote_checkout))
        .routes(routes!(create_checkout))
        .routes(routes!(get_checkout))
        .routes(routes!(confirm_checkout))
        .routes(routes!(cancel_checkout))
        .routes(routes!(get_checkout_policy, put_checkout_policy))
}

/// Price a cart for a member (permission `checkout:write`) without holding anything: coupons
/// first, in the order the shared discount calculation defines (gifts, cash off, percent off,
/// free shipping, vouchers), then points as cash on what is left — at most the policy's share,
/// in multiples of its unit — then cash. `max_points: true` uses as many points as allowed.
#[utoipa::path(post, path = "/checkouts/quote", operation_id = "quote_checkout", tag = "checkout",
    request_body = CheckoutRequest,
    responses((status = 200, description = "The priced cart", body = QuoteView),
        (status = 404, description = "No such member in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "A coupon is used or held by another checkout (`coupon_already_used`, `coupon_reserved`)", body = crate::http::problem::Problem),
        (status = 422, description = "A coupon does not apply (`coupon_not_applicable`, `errors[0].code` says why), too few points (`insufficient_points`), points not a multiple of the unit or above the cap (`validation_failed`)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn quote_checkout(
    State(app): State<AppState>,
    command: Command<CheckoutRequest>,
) -> ApiResult<Json<QuoteView>> {
    let Command { caller, body, .. } = command;
    caller.require(Permission::CheckoutWrite)?;
    let mut session = app.store.read().await?;
    let (member, _) =
        crate::app::access::visible_member(&mut session, &caller, body.member_id, Access::Read)
            .await?;
    let priced = checkout::price(
        &mut session,
        &app.vault,
        &caller,
        member.id,
        &body,
        utc_now(),
    )
    .await?;
    Ok(Json(QuoteView {
        member_id: member.id,
        quote: priced.quote,
        points_available: priced.points_available,
        policy: priced.policy,
    }))
}

/// Price and reserve (permission `checkout:write`): the coupons become `reserved` (no till or
/// other checkout can take them) and the points leave the member's balance into a hold, until
/// the checkout is confirmed, cancelled, or expires after the policy's `hold_minutes`. Of
/// concurrent checkouts wanting one coupon exactly one succeeds; points are never overdrawn.
#[utoipa::path(post, path = "/checkouts", operation_id = "create_checkout", tag = "checkout",
    request_body = CheckoutRequest, params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "The reserved checkout", body = CheckoutView),
        (status = 403, description = "Missing permission, or the store or member is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No such member in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "A coupon is used or held (`coupon_already_used`, `coupon_reserved`)", body = crate::http::problem::Problem),
        (status = 422, description = "As for a quote", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_checkout(
    State(app): State<AppState>,
    command: Command<CheckoutRequest>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CheckoutWrite)?;
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { reserve::reserve(m, &vault, &scope, body).await })
    })
    .await
}

/// One checkout (permission `checkout:write` or `members:read`).
#[utoipa::path(get, path = "/checkouts/{id}", tag = "checkout", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The checkout", body = CheckoutView),
        (status = 404, description = "No such checkout in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_checkout(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CheckoutView>> {
    caller
        .require(Permission::CheckoutWrite)
        .or_else(|_| caller.require(Permission::MembersRead))?;
    let mut session = app.store.read().await?;
    let found = visible(&mut session, &caller, id, Access::Read).await?;
    Ok(Json(CheckoutView::new(found, utc_now())))
}

/// Confirm a reserved checkout with the order paid (permission `checkout:write`): the coupons
/// are redeemed (核销, in the coupon journal) and the points go to the spending format's
/// redemption account. Confirming again answers the confirmed checkout.
#[utoipa::path(post, path = "/checkouts/{id}/confirm", tag = "checkout", request_body = ConfirmRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The confirmed checkout", body = CheckoutView),
        (status = 404, description = "No such checkout in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Past its hold (`checkout_expired`) or cancelled (`checkout_closed`)", body = crate::http::problem::Problem),
        (status = 422, description = "The order is unknown or another member's", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn confirm_checkout(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<ConfirmRequest>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CheckoutWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { close::confirm(m, &scope, id, body).await })
    })
    .await
}

/// Cancel a reserved checkout (permission `checkout:write`): the coupons become available and
/// the points return into the lots they came from, exactly once. Cancelling a cancelled or
/// expired checkout answers it as it is.
#[utoipa::path(post, path = "/checkouts/{id}/cancel", tag = "checkout", request_body = CancelRequest,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The cancelled checkout", body = CheckoutView),
        (status = 404, description = "No such checkout in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "Already confirmed (`checkout_closed`)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn cancel_checkout(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<CancelRequest>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CheckoutWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { close::cancel(m, &scope, id, body).await })
    })
    .await
}

/// The tenant's points-as-cash settings (defaults until set).
#[utoipa::path(get, path = "/checkout-policy", tag = "checkout",
    responses((status = 200, description = "OK", body = CheckoutPolicy)), security(("bearer" = [])))]
async fn get_checkout_policy(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<CheckoutPolicy>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    Ok(Json(
        checkout::policy(&mut session, caller.tenant_id, utc_now()).await?,
    ))
}

/// Set the points-as-cash settings (permission `config:write`, whole tenant); they apply to
/// checkouts from now on.
#[utoipa::path(put, path = "/checkout-policy", tag = "checkout", request_body = CheckoutPolicy,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = CheckoutPolicy),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_checkout_policy(
    State(app): State<AppState>,
    command: Command<CheckoutPolicy>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    body.check()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = checkout::policy(&mut m.session, m.tenant, m.now).await?;
            let stored = StoredCheckoutPolicy {
                max_share_percent: body.max_share_percent,
                points_unit: body.points_unit,
                hold_minutes: body.hold_minutes,
                updated_at: m.now,
            };
            huiyuan_store::checkout::put_policy(&mut m.session, m.tenant, &stored).await?;
            let after = checkout::policy(&mut m.session, m.tenant, m.now).await?;
            m.audit(
                "checkout.policy_set",
                "checkout_policy",
                m.tenant,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
    })
    .await
}
