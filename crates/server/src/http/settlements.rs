//! `/api/v1/settlement-policy` and `/api/v1/settlements`: the tenant's settlement mode and rate,
//! computing a period's statement (a draft), reading and listing statements, closing one (then
//! immutable) and its CSV export. Format-level figures are for the tenant scope; others see only
//! what lies in their own scope (a merchant: its own merchant line).

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::settlement::view::{self, StatementSummary, StatementView};
use crate::app::settlement::{check_period, compute, csv, policy_of, stored_policy};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::settlement::SettlementPolicy;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::settlement::{policy, statements};
use huiyuan_store::{Session, utc_now};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settlement_policy, put_settlement_policy))
        .routes(routes!(list_settlements, create_settlement))
        .routes(routes!(get_settlement))
        .routes(routes!(close_settlement))
        .routes(routes!(export_settlement))
}

/// The tenant's settlement policy (the default until set: `hq_funded`, 1 fen per point).
#[utoipa::path(get, path = "/settlement-policy", tag = "settlement", operation_id = "get_settlement_policy",
    responses((status = 200, description = "The policy in force", body = SettlementPolicy),
        (status = 403, description = "Missing `settlement:read`", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_settlement_policy(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<SettlementPolicy>> {
    caller.require(Permission::SettlementRead)?;
    let mut session = app.store.read().await?;
    Ok(Json(policy_of(&mut session, caller.tenant_id).await?))
}

/// Set the settlement mode (`hq_funded`: headquarters funds every redemption, no transfers
/// between formats; `independent`: the issuing format pays the format where its points were
/// spent) and the settlement rate (`fen` per `per_points` points). Applies to statements
/// computed from now on; closed statements keep theirs.
#[utoipa::path(put, path = "/settlement-policy", tag = "settlement", operation_id = "put_settlement_policy",
    request_body = SettlementPolicy, params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The policy as saved", body = SettlementPolicy),
        (status = 403, description = "Missing `settlement:write` or not tenant-wide", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid mode or rate", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_settlement_policy(
    State(app): State<AppState>,
    command: Command<SettlementPolicy>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::SettlementWrite)?;
    caller.require_tenant_scope()?;
    body.validate()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = policy_of(&mut m.session, m.tenant).await?;
            policy::put_policy(&mut m.session, m.tenant, &stored_policy(&body, m.now)).await?;
            m.audit(
                "settlement.policy_set",
                "settlement_policy",
                m.tenant,
                json!({ "before": before, "after": body }),
            )
            .await?;
            Ok(body)
        })
    })
    .await
}

/// The period of a new statement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStatement {
    /// Start of the period (inclusive), RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub period_start: OffsetDateTime,
    /// End of the period (exclusive), RFC 3339; not in the future.
    #[serde(with = "time::serde::rfc3339")]
    pub period_end: OffsetDateTime,
}

fn closed_conflict(code: &'static str, message: String) -> ApiError {
    ApiError {
        errors: vec![FieldError::new("id", code, message.clone())],
        ..ApiError::with_detail(ErrorCode::SettlementClosed, message)
    }
}

fn require_finance(caller: &Principal) -> ApiResult<()> {
    caller.require(Permission::SettlementWrite)?;
    caller.require_tenant_scope()?;
    Ok(())
}

/// Compute a draft statement for `[period_start, period_end)`: per format the points issued
/// (and their liability at the points value), redeemed (claims, at the settlement rate) and
/// expired; the inter-format matrix and net transfers (zero in `hq_funded` mode); coupon costs by
/// bearer; and per merchant its mall redemptions and revenue split. Events count in the period
/// they were recorded in, so one posted late falls into a later period. A period overlapping a
/// closed statement is refused.
#[utoipa::path(post, path = "/settlements", tag = "settlement", operation_id = "create_settlement",
    request_body = NewStatement, params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "The draft statement", body = StatementView),
        (status = 403, description = "Missing `settlement:write` or not tenant-wide", body = crate::http::problem::Problem),
        (status = 409, description = "`settlement_closed`: the period overlaps a closed statement", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid period (`before_start`, `in_future`, `too_long`)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_settlement(
    State(app): State<AppState>,
    command: Command<NewStatement>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    require_finance(&caller)?;
    check_period(body.period_start, body.period_end, utc_now())?;
    let viewer = caller.clone();
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let (start, end) = (body.period_start, body.period_end);
            if let Some(closed) =
                statements::overlapping_closed(&mut m.session, m.tenant, start, end).await?
            {
                return Err(closed_conflict(
                    "overlaps_closed",
                    format!("the period overlaps closed statement {closed}"),
                ));
            }
            let (statement, merchants) = compute::compute_draft(m, start, end).await?;
            m.audit(
                "settlement.computed",
                "settlement",
                statement.header.id,
                json!({ "period_start": start, "period_end": end, "merchants": merchants.len() }),
            )
            .await?;
            view::build(&mut m.session, &viewer, statement).await
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `draft` or `closed`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Statements, oldest first, without figures.
#[utoipa::path(get, path = "/settlements", tag = "settlement", operation_id = "list_settlements",
    params(StatementQuery),
    responses((status = 200, description = "One page of statements", body = PageBody<StatementSummary>),
        (status = 403, description = "Missing `settlement:read`", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_settlements(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> ApiResult<Json<PageBody<StatementSummary>>> {
    caller.require(Permission::SettlementRead)?;
    if let Some(status) = query.status.as_deref()
        && !matches!(status, "draft" | "closed")
    {
        return Err(ApiError::invalid_field(
            "status",
            "unknown_value",
            "must be one of: draft, closed",
        ));
    }
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let mut session = app.store.read().await?;
    let found = statements::list_statements(
        &mut session,
        caller.tenant_id,
        query.status.as_deref(),
        page,
    )
    .await?;
    Ok(Json(PageBody {
        items: found
            .items
            .into_iter()
            .map(StatementSummary::from)
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

async fn visible_statement(
    session: &mut Session,
    caller: &Principal,
    id: Uuid,
) -> ApiResult<StatementView> {
    caller.require(Permission::SettlementRead)?;
    let stored = statements::get_statement(session, caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("settlement"))?;
    view::build(session, caller, stored).await
}

/// A statement as far as the caller's scope reaches: everything for the tenant scope; a format's
/// team its own formats' lines; a merchant only its own merchant line.
#[utoipa::path(get, path = "/settlements/{id}", tag = "settlement", operation_id = "get_settlement",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The statement", body = StatementView),
        (status = 404, description = "No such statement", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_settlement(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<StatementView>> {
    let mut session = app.store.read().await?;
    Ok(Json(visible_statement(&mut session, &caller, id).await?))
}

/// Close a draft: from now on the statement never changes. Refused when it is already closed or
/// another closed statement overlaps its period (`settlement_closed`, `errors[0].code`
/// `already_closed` / `overlaps_closed`); concurrent closes are serialised per tenant.
#[utoipa::path(post, path = "/settlements/{id}/close", tag = "settlement", operation_id = "close_settlement",
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "The closed statement", body = StatementView),
        (status = 404, description = "No such statement", body = crate::http::problem::Problem),
        (status = 409, description = "`settlement_closed`", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn close_settlement(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    require_finance(&caller)?;
    let viewer = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let defaults = stored_policy(&policy_of(&mut m.session, m.tenant).await?, m.now);
            policy::take_close_turn(&mut m.session, m.tenant, &defaults).await?;
            let stored = statements::get_statement(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("settlement"))?;
            let h = &stored.header;
            if h.status == "closed" {
                return Err(closed_conflict(
                    "already_closed",
                    "the statement is already closed".to_owned(),
                ));
            }
            if let Some(other) = statements::overlapping_closed(
                &mut m.session,
                m.tenant,
                h.period_start,
                h.period_end,
            )
            .await?
            {
                return Err(closed_conflict(
                    "overlaps_closed",
                    format!("the period overlaps closed statement {other}"),
                ));
            }
            if !statements::close_statement(&mut m.session, m.tenant, id, m.now).await? {
                return Err(closed_conflict(
                    "already_closed",
                    "the statement changed meanwhile".to_owned(),
                ));
            }
            m.audit(
                "settlement.closed",
                "settlement",
                id,
                json!({ "period_start": h.period_start, "period_end": h.period_end }),
            )
            .await?;
            let closed = statements::get_statement(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::internal("a closed statement vanished"))?;
            view::build(&mut m.session, &viewer, closed).await
        })
    })
    .await
}

/// The statement as CSV (`text/csv`), one row per figure with the columns
/// `section,metric,party_id,counterparty_id,points,amount_fen` (`group` is headquarters);
/// limited to the caller's scope like the JSON view.
#[utoipa::path(get, path = "/settlements/{id}/export.csv", tag = "settlement", operation_id = "export_settlement_csv",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The statement as CSV", content_type = "text/csv", body = String),
        (status = 404, description = "No such statement", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn export_settlement(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let mut session = app.store.read().await?;
    let statement = visible_statement(&mut session, &caller, id).await?;
    let disposition = format!("attachment; filename=\"settlement-{id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv::render(&statement),
    )
        .into_response())
}
