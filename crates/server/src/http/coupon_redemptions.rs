//! Redemption (核销) at a till: `POST /api/v1/coupons/{code}/validate` prices a coupon against a
//! cart without changing anything; `…/redeem` redeems it exactly once; `…/redemptions/{id}/reverse`
//! gives it back; `GET /api/v1/coupon-redemptions` is the journal, limited to where the caller
//! may see (a merchant sees its own store's redemptions only).

use crate::app::coupons::redeem::{self, CartInput, RedeemView, ValidationView};
use crate::app::coupons::views::RedemptionView;
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, RecordClass};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::coupons::redemptions::{self as journal, RedemptionFilter};
use huiyuan_store::utc_now;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(redeem_coupon))
        .routes(routes!(reverse))
        .routes(routes!(list_redemptions))
}

/// Check a coupon against a cart (permission `coupons:read`): the discount it gives, or the
/// stable reason it does not apply (`expired`, `used`, `below_threshold`, `store_not_applicable`,
/// `not_stackable` …). Nothing changes.
#[utoipa::path(post, path = "/coupons/{code}/validate", operation_id = "validate_coupon", tag = "coupons", request_body = CartInput,
    params(("code" = String, Path)),
    responses((status = 200, description = "Whether and how much the coupon applies", body = ValidationView),
        (status = 403, description = "Missing permission, or the store is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No coupon has this code", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid cart", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn validate(
    State(app): State<AppState>,
    ApiPath(code): ApiPath<String>,
    command: Command<CartInput>,
) -> ApiResult<Json<ValidationView>> {
    let Command { caller, body, .. } = command;
    caller.require(Permission::CouponsRead)?;
    let mut session = app.store.read().await?;
    let view = redeem::validate(&mut session, &app.vault, &caller, &code, &body, utc_now()).await?;
    Ok(Json(view))
}

/// Redeem (核销) a coupon against a cart (permission `coupons:redeem`), exactly once: of
/// concurrent redemptions one succeeds (201) and the others get 409 `coupon_already_used`.
/// Repeating it with the same `order_ref` from the same channel answers the same redemption
/// (200); so does a repeated `Idempotency-Key`. A coupon that does not apply is refused with 422
/// `coupon_not_applicable`, the reason in `errors[0].code`.
#[utoipa::path(post, path = "/coupons/{code}/redeem", operation_id = "redeem_coupon", tag = "coupons", request_body = CartInput,
    params(("code" = String, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Redeemed", body = RedeemView),
        (status = 200, description = "Already redeemed for this order reference", body = RedeemView),
        (status = 403, description = "Missing permission, or the store is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No coupon has this code", body = crate::http::problem::Problem),
        (status = 409, description = "Already redeemed (`coupon_already_used`)", body = crate::http::problem::Problem),
        (status = 422, description = "The coupon does not apply (`coupon_not_applicable`) or the cart is invalid", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn redeem_coupon(
    State(app): State<AppState>,
    ApiPath(code): ApiPath<String>,
    command: Command<CartInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CouponsRedeem)?;
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate_answering(
        &caller,
        &meta,
        |_| {},
        move |m| {
            Box::pin(async move {
                let (new, view) = redeem::redeem(m, &vault, &scope, &code, body).await?;
                let status = if new {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok((status, view))
            })
        },
    )
    .await
}

/// The body of a reversal.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseInput {
    /// Why (kept in the journal), 1 to 200 characters; `reversed by request` when absent.
    pub reason: Option<String>,
}

/// Reverse a redemption (permission `coupons:redeem`, at the store where it happened): the coupon
/// is available again until its original expiry and the settlement record is offset. Reversing a
/// reversed redemption answers it unchanged.
#[utoipa::path(post, path = "/coupons/{code}/redemptions/{id}/reverse", operation_id = "reverse_coupon_redemption", tag = "coupons", request_body = ReverseInput,
    params(("code" = String, Path), ("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The reversed redemption and the coupon", body = RedeemView),
        (status = 403, description = "Outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No such coupon or redemption", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid reason", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn reverse(
    State(app): State<AppState>,
    ApiPath((code, id)): ApiPath<(String, Uuid)>,
    command: Command<ReverseInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CouponsRedeem)?;
    let reason = body
        .reason
        .unwrap_or_else(|| "reversed by request".to_owned());
    if reason.trim().is_empty()
        || reason.chars().count() > 200
        || reason.chars().any(char::is_control)
    {
        return Err(
            FieldError::new("reason", "invalid_format", "1 to 200 printable characters").into(),
        );
    }
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { redeem::reverse(m, &vault, &scope, &code, id, reason.trim()).await })
    })
    .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedemptionQuery {
    pub store_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    /// RFC 3339: redeemed at or after.
    pub from: Option<String>,
    /// RFC 3339: redeemed before.
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn instant(field: &str, raw: Option<&str>) -> ApiResult<Option<OffsetDateTime>> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
            .map_err(|_| FieldError::new(field, "invalid_value", "an RFC 3339 instant").into())
    })
    .transpose()
}

/// The redemption journal where the caller may see it (a merchant: its own store), by id.
#[utoipa::path(get, path = "/coupon-redemptions", operation_id = "list_coupon_redemptions", tag = "coupons", params(RedemptionQuery),
    responses((status = 200, description = "One page of redemptions", body = PageBody<RedemptionView>),
        (status = 403, description = "Missing permission `coupons:read`", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid filter or page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_redemptions(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<RedemptionQuery>,
) -> ApiResult<Json<PageBody<RedemptionView>>> {
    caller.require(Permission::CouponsRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let filter = RedemptionFilter {
        store_id: query.store_id,
        template_id: query.template_id,
        from: instant("from", query.from.as_deref())?,
        until: instant("until", query.until.as_deref())?,
    };
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    let mut session = app.store.read().await?;
    let listed =
        journal::list_redemptions(&mut session, caller.tenant_id, &predicate, &filter, page)
            .await?;
    Ok(Json(listed.map(RedemptionView::from).into()))
}
