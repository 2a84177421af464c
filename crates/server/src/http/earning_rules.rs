//! `/api/v1/earning-rules`: the earning rules (积分规则) the engine evaluates every order
//! against; validated on save, paused or edited in place (accruals keep the names they fired with).

use crate::app::error::{ApiError, ApiResult};
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
use huiyuan_domain::validation::FieldError;
use huiyuan_store::earning_rules::{self, MAX_ENABLED_RULES, StoredRule};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    let rules = earning_rules::list_rules(&mut session, caller.tenant_id, page).await?;
    Ok(Json(rules.map(EarningRuleView::from).into()))
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
    let rule = earning_rules::get_rule(&mut session, caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("earning rule"))?;
    Ok(Json(rule.into()))
}

async fn check_enabled_room(m: &mut crate::app::mutation::Mutation) -> ApiResult<()> {
    if earning_rules::count_enabled(&mut m.session, m.tenant).await? >= MAX_ENABLED_RULES {
        return Err(FieldError::new(
            "enabled",
            "too_many",
            format!("at most {MAX_ENABLED_RULES} rules can be enabled"),
        )
        .into());
    }
    Ok(())
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
    let rule = body.into_rule(Uuid::now_v7())?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            if rule.enabled {
                check_enabled_room(m).await?;
            }
            let stored = StoredRule {
                rule,
                created_at: m.now,
                updated_at: m.now,
            };
            m.config_changed();
            earning_rules::insert_rule(&mut m.session, m.tenant, &stored).await?;
            m.audit(
                "earning_rule.created",
                "earning_rule",
                stored.rule.id,
                json!({ "rule": stored.rule }),
            )
            .await?;
            Ok(EarningRuleView::from(stored))
        })
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
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let stored = earning_rules::get_rule(&mut m.session, m.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("earning rule"))?;
            let before = stored.rule.clone();
            let input = EarningRuleInput {
                name: body.name.unwrap_or(before.name.clone()),
                priority: body.priority.unwrap_or(before.priority),
                enabled: body.enabled.unwrap_or(before.enabled),
                conditions: body.conditions.unwrap_or(before.conditions.clone()),
                effect: body.effect.unwrap_or(before.effect),
                caps: body.caps.unwrap_or(before.caps),
                stacking: body.stacking.unwrap_or(before.stacking.clone()),
                active_from: body.active_from.or(before.active_from),
                active_until: body.active_until.or(before.active_until),
            };
            let rule = input.into_rule(id)?;
            if rule.enabled && !before.enabled {
                check_enabled_room(m).await?;
            }
            let updated = StoredRule {
                rule,
                created_at: stored.created_at,
                updated_at: m.now,
            };
            m.config_changed();
            if !earning_rules::update_rule(&mut m.session, m.tenant, &updated).await? {
                return Err(ApiError::not_found("earning rule"));
            }
            m.audit(
                "earning_rule.updated",
                "earning_rule",
                id,
                json!({ "before": before, "after": updated.rule }),
            )
            .await?;
            Ok(EarningRuleView::from(updated))
        })
    })
    .await
}
