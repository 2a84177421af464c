//! `/api/v1/members/{id}/points`: balances (available, pending, expiring), the entries that
//! explain them, manual adjustments; `/api/v1/points/policy`: the tenant's points policy.

use crate::app::access::visible_member;
use crate::app::error::ApiResult;
use crate::app::ledger::balance::member_points;
use crate::app::ledger::configure::{PointsPolicy, parse_policy, set_policy};
use crate::app::ledger::{self, adjust_by_hand};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::{Adjustment, Draw, LedgerAccount};
use huiyuan_store::ledger::Entry;
use huiyuan_store::utc_now;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_points))
        .routes(routes!(list_points_entries))
        .routes(routes!(create_adjustment))
        .routes(routes!(get_policy, put_policy))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Expiring {
    /// The instant the points expire (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub points: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsView {
    pub member_id: MemberId,
    pub available: i64,
    /// Frozen for a return window; usable once released.
    pub pending: i64,
    pub tier_points: i64,
    pub lifetime_earned: i64,
    /// What the available points are worth, in fen, at the tenant's points value.
    pub value_fen: i64,
    /// Points expiring in the next 30 days, by expiry instant.
    pub expiring: Vec<Expiring>,
}

/// A member's points: available, pending, and what expires in the next 30 days.
#[utoipa::path(get, path = "/members/{id}/points", tag = "points", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = PointsView), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_points(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
) -> ApiResult<Json<PointsView>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let points = member_points(&mut session, &caller, id).await?;
    Ok(Json(PointsView {
        member_id: points.member_id,
        available: points.balance.available,
        pending: points.balance.pending,
        tier_points: points.balance.tier_points,
        lifetime_earned: points.balance.lifetime_earned,
        value_fen: points.value_fen,
        expiring: points
            .expiring
            .into_iter()
            .map(|(expires_at, points)| Expiring { expires_at, points })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub id: Uuid,
    /// `earn`, `spend`, `expire`, `release`, `adjust`, `clawback` …
    pub kind: String,
    /// Signed effect on the member's available (or pending) balance.
    pub points: i64,
    pub debit_account: String,
    pub credit_account: String,
    pub format_id: Option<Uuid>,
    pub reference: Option<String>,
    /// Why: the order, the rule, the adjustment reason, the expiry.
    pub reason: String,
    /// Lots drawn from or created: `[{ lot_id, points }]`.
    #[schema(value_type = Vec<Object>)]
    pub lots: Vec<Draw>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Entry> for EntryView {
    fn from(entry: Entry) -> Self {
        let member_side = |account: &str| {
            account
                .parse::<LedgerAccount>()
                .is_ok_and(|account| account.is_member())
        };
        let points = if member_side(&entry.credit_account) && !member_side(&entry.debit_account) {
            entry.amount
        } else if member_side(&entry.debit_account) && !member_side(&entry.credit_account) {
            -entry.amount
        } else {
            0 // pending → available: the member's total is unchanged
        };
        EntryView {
            id: entry.id,
            kind: entry.kind,
            points,
            debit_account: entry.debit_account,
            credit_account: entry.credit_account,
            format_id: entry.format_id,
            reference: entry.reference,
            reason: entry.reason,
            lots: entry.draws,
            created_at: entry.created_at,
        }
    }
}

/// The entries behind a member's balance, oldest first, each saying why.
#[utoipa::path(get, path = "/members/{id}/points/entries", tag = "points", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "OK", body = PageBody<EntryView>), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_points_entries(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<EntryView>>> {
    caller.require(Permission::MembersRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let (member, _) = visible_member(&mut session, &caller, id, Access::Read).await?;
    let entries =
        huiyuan_store::ledger::list_entries(&mut session, caller.tenant_id, member.id, page)
            .await?;
    Ok(Json(entries.map(EntryView::from).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdjustment {
    /// Positive grants points (a new lot), negative takes them (never below zero).
    pub points: i64,
    pub reason: String,
}

/// Adjust a member's points by hand, with a reason (permission `points:adjust`).
#[utoipa::path(post, path = "/members/{id}/points/adjustments", tag = "points", request_body = CreateAdjustment,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Posted", body = EntryView),
        (status = 409, description = "Not enough points", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_adjustment(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<CreateAdjustment>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::PointsAdjust)?;
    let adjustment = Adjustment::parse(body.points, &body.reason)?;
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let posted = adjust_by_hand(m, &scope, id, &adjustment).await?;
            Ok(EntryView::from(posted))
        })
    })
    .await
}

/// The tenant's points policy (defaults until set).
#[utoipa::path(get, path = "/points/policy", tag = "points",
    responses((status = 200, description = "OK", body = PointsPolicy)), security(("bearer" = [])))]
async fn get_policy(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<PointsPolicy>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    Ok(Json(
        ledger::policy::load(&mut session, caller.tenant_id, utc_now())
            .await?
            .into(),
    ))
}

/// Set the tenant's points policy; applies to points earned from now on.
#[utoipa::path(put, path = "/points/policy", tag = "points", request_body = PointsPolicy,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = PointsPolicy), (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_policy(
    State(app): State<AppState>,
    command: Command<PointsPolicy>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    let policy = parse_policy(body)?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { set_policy(m, policy).await })
    })
    .await
}
