//! `/api/v1/coupons`: issuing coupons by hand, looking one up by code (typed or scanned), the
//! coupons expiring soon (for journeys), and `/api/v1/members/{id}/coupons`: a member's coupons
//! by state.

use crate::app::access::visible_member;
use crate::app::coupons::issue::{IssueInput, issue_manual};
use crate::app::coupons::redeem::{load, redemption_placement};
use crate::app::coupons::views::{CouponView, RedemptionView};
use crate::app::error::{ApiError, ApiResult};
use crate::app::state::AppState;
use crate::app::vault::Vault;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, RecordClass};
use huiyuan_domain::coupons::CouponTemplate;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::Page;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::coupons::redemptions as journal;
use huiyuan_store::coupons::{self, CouponFilter, StoredCoupon};
use huiyuan_store::{Session, utc_now};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Redemptions shown with a coupon.
const REDEMPTIONS_SHOWN: i64 = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue))
        .routes(routes!(list_expiring))
        .routes(routes!(get_coupon))
        .routes(routes!(member_coupons))
}

/// Views of stored coupons, reading each template once.
async fn views(
    session: &mut Session,
    vault: &Vault,
    tenant: TenantId,
    stored: Vec<StoredCoupon>,
    now: OffsetDateTime,
) -> ApiResult<Vec<CouponView>> {
    let mut templates: BTreeMap<Uuid, CouponTemplate> = BTreeMap::new();
    let mut out = Vec::with_capacity(stored.len());
    for coupon in stored {
        let template = match templates.entry(coupon.template_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let stored = coupons::get_template(session, tenant, coupon.template_id)
                    .await?
                    .ok_or_else(|| ApiError::internal("a coupon without its template"))?;
                slot.insert(stored.template)
            }
        };
        out.push(CouponView::new(vault, tenant, &coupon, template, now));
    }
    Ok(out)
}

async fn page_of(
    session: &mut Session,
    vault: &Vault,
    tenant: TenantId,
    page: Page<StoredCoupon>,
) -> ApiResult<PageBody<CouponView>> {
    let items = views(session, vault, tenant, page.items, utc_now()).await?;
    Ok(PageBody {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The coupons a manual issue created (or found under its reference).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedView {
    pub coupons: Vec<CouponView>,
}

/// Issue coupons by hand (permission `coupons:write`): one coupon of the template to each member
/// named, all or nothing. Quotas hold under concurrency (409 `quota_exhausted`); with a
/// `reference`, repeating the issue never gives a member a second coupon. Issuing to a segment is
/// not available yet (422 on `segment_id`).
#[utoipa::path(post, path = "/coupons/issue", operation_id = "issue_coupons", tag = "coupons", request_body = IssueInput,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "The coupons issued", body = IssuedView),
        (status = 403, description = "Missing permission, or the template is outside the caller's scope", body = crate::http::problem::Problem),
        (status = 404, description = "No such template", body = crate::http::problem::Problem),
        (status = 409, description = "Quota used up (`quota_exhausted`), or the template is archived or expired", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid request, unknown member, or a segment target", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn issue(State(app): State<AppState>, command: Command<IssueInput>) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::CouponsWrite)?;
    let (scope, vault) = (caller.clone(), app.vault.clone());
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let issued = issue_manual(m, &scope, body).await?;
            let now = m.now;
            let coupons = views(&mut m.session, &vault, m.tenant, issued, now).await?;
            Ok(IssuedView { coupons })
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpiringQuery {
    /// RFC 3339 instant: available coupons expiring before it (and not yet expired).
    pub expiring_before: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Available coupons expiring before `expiring_before`, of members the caller may see, by id —
/// what a journey's "coupon expiring" trigger reads.
#[utoipa::path(get, path = "/coupons", operation_id = "list_expiring_coupons", tag = "coupons", params(ExpiringQuery),
    responses((status = 200, description = "One page of coupons", body = PageBody<CouponView>),
        (status = 403, description = "Missing permission `coupons:read`", body = crate::http::problem::Problem),
        (status = 422, description = "Missing or invalid `expiring_before`, or an invalid page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_expiring(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<ExpiringQuery>,
) -> ApiResult<Json<PageBody<CouponView>>> {
    caller.require(Permission::CouponsRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let raw = query.expiring_before.unwrap_or_default();
    let before = OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            FieldError::new(
                "expiring_before",
                "invalid_value",
                "an RFC 3339 instant is required",
            )
        })?;
    let predicate = caller.predicate(Access::Read, RecordClass::MemberData);
    let mut session = app.store.read().await?;
    let listed = coupons::expiring_coupons(
        &mut session,
        caller.tenant_id,
        &predicate,
        before,
        utc_now(),
        page,
    )
    .await?;
    Ok(Json(
        page_of(&mut session, &app.vault, caller.tenant_id, listed).await?,
    ))
}

/// A coupon with the redemptions the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponDetail {
    #[serde(flatten)]
    pub coupon: CouponView,
    /// The redemption journal of this coupon, oldest first, limited to the caller's scope.
    pub redemptions: Vec<RedemptionView>,
}

/// A coupon by its code, typed (`7KQ2-M9XD-4TNB-E1WZ`, any case) or scanned (`C1.…`). Knowing
/// the code is what a till needs; the coupon's member is shown by id only.
#[utoipa::path(get, path = "/coupons/{code}", operation_id = "get_coupon", tag = "coupons", params(("code" = String, Path)),
    responses((status = 200, description = "The coupon", body = CouponDetail),
        (status = 404, description = "No coupon has this code", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_coupon(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<CouponDetail>> {
    caller.require(Permission::CouponsRead)?;
    let mut session = app.store.read().await?;
    let (coupon, template) = load(&mut session, &app.vault, caller.tenant_id, &code).await?;
    let redemptions =
        journal::coupon_redemptions(&mut session, caller.tenant_id, coupon.id, REDEMPTIONS_SHOWN)
            .await?
            .into_iter()
            .filter(|r| caller.permits(Access::Read, RecordClass::Org, &redemption_placement(r)))
            .map(RedemptionView::from)
            .collect();
    Ok(Json(CouponDetail {
        coupon: CouponView::new(
            &app.vault,
            caller.tenant_id,
            &coupon,
            &template.template,
            utc_now(),
        ),
        redemptions,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberCouponsQuery {
    /// `available`, `used` or `expired`; every coupon when absent.
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A member's coupons by state, by id.
#[utoipa::path(get, path = "/members/{id}/coupons", operation_id = "list_member_coupons", tag = "coupons", params(("id" = Uuid, Path), MemberCouponsQuery),
    responses((status = 200, description = "One page of the member's coupons", body = PageBody<CouponView>),
        (status = 404, description = "No such member", body = crate::http::problem::Problem),
        (status = 422, description = "Unknown state or invalid page request", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn member_coupons(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
    ApiQuery(query): ApiQuery<MemberCouponsQuery>,
) -> ApiResult<Json<PageBody<CouponView>>> {
    caller.require(Permission::CouponsRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let filter = match query.state.as_deref() {
        None => CouponFilter::All,
        Some("available") => CouponFilter::Available,
        Some("used") => CouponFilter::Used,
        Some("expired") => CouponFilter::Expired,
        Some(_) => {
            return Err(FieldError::new(
                "state",
                "unknown_value",
                "must be one of: available, used, expired",
            )
            .into());
        }
    };
    let mut session = app.store.read().await?;
    let (member, _) = visible_member(&mut session, &caller, id, Access::Read).await?;
    let listed = coupons::member_coupons(
        &mut session,
        caller.tenant_id,
        member.id,
        filter,
        utc_now(),
        page,
    )
    .await?;
    Ok(Json(
        page_of(&mut session, &app.vault, caller.tenant_id, listed).await?,
    ))
}
