//! `/api/v1/earning-rules`: the earning rules (积分规则) the engine evaluates every order
//! against; validated on save, paused or edited in place (accruals keep the names they fired with).

use crate::app::earning::rules::{self, RulePatch};
use crate::app::error::ApiResult;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::Permission;
use huiyuan_domain::earning::{Caps, Conditions, EarningRule, EarningRuleInput, Effect, Stacking};
use huiyuan_store::earning_rules::StoredRule;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule))
}

/// A rule with its bookkeeping times.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarningRuleView {
    #[serde(flatten)]
    pub rule: EarningRule,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<StoredRule> for EarningRuleView {
    fn from(stored: StoredRule) -> Self {
        Self {
            rule: stored.rule,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// The earning rules, by id.
#[utoipa::path(get, path = "/earning-rules", tag = "earning", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<EarningRuleView>),
        (status = 403, description = "Missing permission", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_rules(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<EarningRuleView>>> {
    caller.require(Permission::OrgRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let listed = rules::list(&mut session, caller.tenant_id, page).await?;
    Ok(Json(listed.map(EarningRuleView::from).into()))
}

/// One earning rule.
#[utoipa::path(get, path = "/earning-rules/{id}", tag = "earning", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = EarningRuleView),
        (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn get_rule(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<EarningRuleView>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    let rule = rules::get(&mut session, caller.tenant_id, id).await?;
    Ok(Json(rule.into()))
}

/// Create an earning rule (permission `config:write`); every invalid field is reported (422).
#[utoipa::path(post, path = "/earning-rules", tag = "earning", request_body = EarningRuleInput,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = EarningRuleView),
        (status = 403, description = "Missing permission", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid rule, with every reason", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn create_rule(
    State(app): State<AppState>,
    command: Command<EarningRuleInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    let rule = rules::parse_new(body)?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { rules::create(m, rule).await.map(EarningRuleView::from) })
    })
    .await
}

/// The body of `PATCH /earning-rules/{id}`: fields given replace the stored ones.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEarningRule {
    pub name: Option<String>,
    pub priority: Option<i32>,
    /// `false` pauses the rule; `true` resumes it.
    pub enabled: Option<bool>,
    pub conditions: Option<Conditions>,
    pub effect: Option<Effect>,
    pub caps: Option<Caps>,
    pub stacking: Option<Stacking>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub active_until: Option<OffsetDateTime>,
}

impl From<UpdateEarningRule> for RulePatch {
    fn from(body: UpdateEarningRule) -> Self {
        Self {
            name: body.name,
            priority: body.priority,
            enabled: body.enabled,
            conditions: body.conditions,
            effect: body.effect,
            caps: body.caps,
            stacking: body.stacking,
            active_from: body.active_from,
            active_until: body.active_until,
        }
    }
}

/// Enable, disable or edit an earning rule (permission `config:write`); the result is validated
/// as a whole (422 with every reason). Orders already accrued keep what they earned.
#[utoipa::path(patch, path = "/earning-rules/{id}", tag = "earning", request_body = UpdateEarningRule,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Updated", body = EarningRuleView),
        (status = 404, description = "Not found", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid rule, with every reason", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn update_rule(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    command: Command<UpdateEarningRule>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    let patch = RulePatch::from(body);
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { rules::change(m, id, patch).await.map(EarningRuleView::from) })
    })
    .await
}
