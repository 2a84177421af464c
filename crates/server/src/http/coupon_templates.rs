//! `/api/v1/coupon-templates`: coupon templates (券模板) — what coupons are worth, where they
//! apply, how they stack, quotas, who bears the cost, and which events issue them. Merchants and
//! formats manage the templates they bear; HQ manages group-wide ones.

use crate::app::access::visible;
use crate::app::coupons::templates::{self, stored_placement};
use crate::app::coupons::views::TemplateView;
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
use huiyuan_domain::coupons::{TemplateInput, TemplateStatus};
use huiyuan_store::coupons;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template))
        .routes(routes!(archive_template))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// `active` or `archived`; both when absent.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The coupon templates the caller may see (group-wide ones and those of their formats or
/// stores), by id.
#[utoipa::path(get, path = "/coupon-templates", operation_id = "list_coupon_templates", tag = "coupons", params(TemplateQuery),
    responses((status = 200, description = "One page of templates", body = PageBody<TemplateView>),
        (status = 403, description = "Missing permission `coupons:read`", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid status or page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_templates(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<PageBody<TemplateView>>> {
    caller.require(Permission::CouponsRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let status = query
        .status
        .as_deref()
        .map(|raw| TemplateStatus::parse("status", raw))
        .transpose()?;
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    let mut session = app.store.read().await?;
    let listed =
        coupons::list_templates(&mut session, caller.tenant_id, &predicate, status, page).await?;
    Ok(Json(listed.map(TemplateView::from).into()))
}

/// Create a coupon template (permission `coupons:write`). Its cost bearer decides who may manage
/// it: HQ templates need a tenant-wide account, a merchant's template the merchant's (or a wider)
/// scope. Every invalid field is reported (422).
#[utoipa::path(post, path = "/coupon-templates", operation_id = "create_coupon_template", tag = "coupons", request_body = TemplateInput,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = TemplateView),
        (status = 403, description = "Missing permission, or the cost bearer is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid template; `errors` name the fields, e.g. `benefit.amount_fen`", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_template(
    State(app): State<AppState>,
    command: Command<TemplateInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CouponsWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { templates::create(m, &scope, body).await })
    })
    .await
}

/// One coupon template.
#[utoipa::path(get, path = "/coupon-templates/{id}", operation_id = "get_coupon_template", tag = "coupons", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = TemplateView),
        (status = 404, description = "No such template within the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_template(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<TemplateView>> {
    caller.require(Permission::CouponsRead)?;
    let mut session = app.store.read().await?;
    let found = coupons::get_template(&mut session, caller.tenant_id, id).await?;
    let stored = visible(
        &caller,
        found,
        RecordClass::Org,
        stored_placement,
        "coupon template",
    )?;
    Ok(Json(stored.into()))
}

/// Change a coupon template (permission `coupons:write`): a JSON merge patch of the fields of
/// `TemplateInput` plus `status` (`active`/`archived`). `benefit`, `validity`, `stacking`,
/// `cost_bearer` and `issuing_format_id` are fixed once coupons have been issued (409); the total
/// quota cannot drop below what was issued (422).
#[utoipa::path(patch, path = "/coupon-templates/{id}", operation_id = "update_coupon_template", tag = "coupons", request_body = Object,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The template as saved", body = TemplateView),
        (status = 403, description = "Outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No such template", body = crate::http::problem::Problem),
        (status = 409, description = "A locked field changed after issue", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid template", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn update_template(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CouponsWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { templates::update(m, &scope, id, body).await })
    })
    .await
}

/// Archive a coupon template (permission `coupons:write`): it issues no more coupons; coupons
/// already issued stay usable. Archiving an archived template changes nothing.
#[utoipa::path(post, path = "/coupon-templates/{id}/archive", operation_id = "archive_coupon_template", tag = "coupons",
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The archived template", body = TemplateView),
        (status = 403, description = "Outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No such template", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn archive_template(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::CouponsWrite)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let patch = json!({ "status": "archived" });
            let patch = patch.as_object().cloned().unwrap_or_default();
            templates::update(m, &scope, id, patch).await
        })
    })
    .await
}
