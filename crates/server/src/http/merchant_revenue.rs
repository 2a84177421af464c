//! `/api/v1/merchants/{store_id}/revenue-split` (a merchant's revenue split rule, 分润) and
//! `/api/v1/merchants/{store_id}/revenue` (its lines across statements). A merchant's staff read
//! their own; HQ finance sets the rules. Another merchant's store answers 404.

use crate::app::error::{ApiError, ApiResult};
use crate::app::settlement::view::MerchantLineView;
use crate::app::settlement::{points_value, rule_of, stored_rule};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, Placement, Principal, RecordClass};
use huiyuan_domain::ids::StoreId;
use huiyuan_domain::org::{Store, StoreKind};
use huiyuan_domain::settlement::RevenueSplitRule;
use huiyuan_store::settlement::{policy, statements};
use huiyuan_store::{Session, org, utc_now};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_revenue_split, put_revenue_split))
        .routes(routes!(merchant_revenue))
}

/// A merchant store the caller's own scope reaches (a merchant: only itself); 404 otherwise.
async fn own_merchant(session: &mut Session, caller: &Principal, id: Uuid) -> ApiResult<Store> {
    org::get_store(session, caller.tenant_id, StoreId(id))
        .await?
        .filter(|store| store.kind == StoreKind::Merchant)
        .filter(|store| {
            caller.permits(
                Access::Write,
                RecordClass::Org,
                &Placement::store(store.format_id, store.id),
            )
        })
        .ok_or_else(|| ApiError::not_found("merchant"))
}

/// A merchant's revenue split rule, and whether it is the default.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueSplitView {
    pub store_id: Uuid,
    #[serde(flatten)]
    pub rule: RevenueSplitRule,
    /// True until a rule is set: no commission, points at the tenant's points value.
    pub is_default: bool,
}

/// The merchant's revenue split rule (permission `settlement:read`).
#[utoipa::path(get, path = "/merchants/{store_id}/revenue-split", tag = "settlement",
    operation_id = "get_revenue_split", params(("store_id" = Uuid, Path)),
    responses((status = 200, description = "The rule in force", body = RevenueSplitView),
        (status = 404, description = "No such merchant in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_revenue_split(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(store_id): ApiPath<Uuid>,
) -> ApiResult<Json<RevenueSplitView>> {
    caller.require(Permission::SettlementRead)?;
    let mut session = app.store.read().await?;
    let store = own_merchant(&mut session, &caller, store_id).await?;
    let stored = policy::get_split(&mut session, caller.tenant_id, store.id.0).await?;
    let view = match stored {
        Some(stored) => RevenueSplitView {
            store_id,
            rule: rule_of(&stored),
            is_default: false,
        },
        None => RevenueSplitView {
            store_id,
            rule: RevenueSplitRule::default_for(
                points_value(&mut session, caller.tenant_id, utc_now()).await?,
            ),
            is_default: true,
        },
    };
    Ok(Json(view))
}

/// Set a merchant's revenue split rule (`settlement:write`, tenant-wide): the platform's
/// commission on the cash part and on the points part's value (basis points), and what the
/// points are worth to the merchant. Applies to statements computed from now on.
#[utoipa::path(put, path = "/merchants/{store_id}/revenue-split", tag = "settlement",
    operation_id = "put_revenue_split", request_body = RevenueSplitRule,
    params(("store_id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The rule as saved", body = RevenueSplitView),
        (status = 403, description = "Missing `settlement:write` or not tenant-wide", body = crate::http::problem::Problem),
        (status = 404, description = "No such merchant", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid rule", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_revenue_split(
    State(app): State<AppState>,
    ApiPath(store_id): ApiPath<Uuid>,
    command: Command<RevenueSplitRule>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::SettlementWrite)?;
    caller.require_tenant_scope()?;
    body.validate()?;
    let setter = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let store = own_merchant(&mut m.session, &setter, store_id).await?;
            let before = policy::get_split(&mut m.session, m.tenant, store.id.0)
                .await?
                .map(|stored| rule_of(&stored));
            policy::put_split(
                &mut m.session,
                m.tenant,
                &stored_rule(store.id.0, &body, m.now),
            )
            .await?;
            m.audit(
                "settlement.revenue_split_set",
                "store",
                store_id,
                json!({ "before": before, "after": body }),
            )
            .await?;
            Ok(RevenueSplitView {
                store_id,
                rule: body,
                is_default: false,
            })
        })
    })
    .await
}

/// The merchant's lines across statements, oldest statement first (permission
/// `settlement:read`): its mall redemptions, revenue split and coupon costs per period.
#[utoipa::path(get, path = "/merchants/{store_id}/revenue", tag = "settlement",
    operation_id = "get_merchant_revenue", params(("store_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "One page of the merchant's statement lines", body = PageBody<MerchantLineView>),
        (status = 404, description = "No such merchant in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn merchant_revenue(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(store_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<MerchantLineView>>> {
    caller.require(Permission::SettlementRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let store = own_merchant(&mut session, &caller, store_id).await?;
    let found = statements::store_lines(&mut session, caller.tenant_id, store.id.0, page).await?;
    Ok(Json(PageBody {
        items: found
            .items
            .into_iter()
            .map(MerchantLineView::build)
            .collect::<ApiResult<Vec<_>>>()?,
        next_cursor: found.next_cursor,
    }))
}
