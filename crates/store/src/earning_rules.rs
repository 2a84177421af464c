//! Earning rules as saved: the whole rule as JSON, with its priority and enabled flag also in
//! columns so the engine's working set (the enabled rules) is one indexed read.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::push_page;
use crate::timestamp::Ts;
use huiyuan_domain::earning::EarningRule;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A saved rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRule {
    pub rule: EarningRule,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    rule: Json<EarningRule>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<RuleRow> for StoredRule {
    fn from(row: RuleRow) -> Self {
        Self {
            rule: row.rule.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// More enabled rules than this is a configuration mistake, not a loyalty programme; the engine
/// reads them all for every order.
pub const MAX_ENABLED_RULES: i64 = 500;

pub async fn insert_rule(s: &mut Session, tenant: TenantId, rule: &StoredRule) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO earning_rules (tenant_id, id, rule, priority, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant.0).bind(rule.rule.id).bind(Json(&rule.rule)).bind(i64::from(rule.rule.priority))
        .bind(rule.rule.enabled).bind(Ts(rule.created_at)).bind(Ts(rule.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces a rule; `false` when there is none under its id.
pub async fn update_rule(
    s: &mut Session,
    tenant: TenantId,
    rule: &StoredRule,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE earning_rules SET rule = $3, priority = $4, enabled = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(rule.rule.id).bind(Json(&rule.rule)).bind(i64::from(rule.rule.priority))
        .bind(rule.rule.enabled).bind(Ts(rule.updated_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

pub async fn get_rule(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredRule>> {
    let row: Option<RuleRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT rule, created_at, updated_at FROM earning_rules WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(StoredRule::from))
}

/// All rules, by id.
pub async fn list_rules(
    s: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> StoreResult<Page<StoredRule>> {
    let rows: Vec<RuleRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new("SELECT rule, created_at, updated_at FROM earning_rules WHERE tenant_id = ");
        query.push_bind(tenant.0);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.rule.0.id).map(StoredRule::from))
}

/// The enabled rules, at most [`MAX_ENABLED_RULES`]: what the engine evaluates an order against.
pub async fn enabled_rules(s: &mut Session, tenant: TenantId) -> StoreResult<Vec<EarningRule>> {
    let rows: Vec<Json<EarningRule>> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT rule FROM earning_rules WHERE tenant_id = $1 AND enabled = TRUE ORDER BY priority DESC, id LIMIT $2")
        .bind(tenant.0).bind(MAX_ENABLED_RULES).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(|row| row.0).collect())
}

/// How many rules are enabled.
pub async fn count_enabled(s: &mut Session, tenant: TenantId) -> StoreResult<i64> {
    let count: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM earning_rules WHERE tenant_id = $1 AND enabled = TRUE")
        .bind(tenant.0).fetch_one(&mut *c).await)?;
    Ok(count)
}
