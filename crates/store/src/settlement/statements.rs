//! Settlement statements and their merchant lines. A statement is written once as a draft; its
//! only change is draft → closed, a compare-and-set that also refuses a period overlapping any
//! other closed statement. Nothing updates or deletes a closed statement or its lines.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A merchant line is placed at its merchant store (and the store's format).
pub const MERCHANT_LINE_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: Some("store_id"),
    guide: None,
};

/// A statement without its figures: what lists show.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StatementHeader {
    pub id: Uuid,
    pub period_start: OffsetDateTime,
    pub period_end: OffsetDateTime,
    /// `draft` or `closed`.
    pub status: String,
    pub mode: String,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StoredStatement {
    #[sqlx(flatten)]
    pub header: StatementHeader,
    /// The computed figures (the server's statement body).
    #[sqlx(json)]
    pub figures: serde_json::Value,
}

const HEADER_FIELDS: &str = "id, period_start, period_end, status, mode, created_at, closed_at";

pub async fn insert_statement(
    s: &mut Session,
    tenant: TenantId,
    statement: &StoredStatement,
) -> StoreResult<()> {
    let h = &statement.header;
    on_backend!(s, c => sqlx::query(
        "INSERT INTO settlement_statements (tenant_id, id, period_start, period_end, status, mode, figures, created_at, \
         closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(tenant.0).bind(h.id).bind(Ts(h.period_start)).bind(Ts(h.period_end)).bind(&h.status).bind(&h.mode)
        .bind(Json(&statement.figures)).bind(Ts(h.created_at)).bind(h.closed_at.map(Ts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn get_statement(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredStatement>> {
    let sql = format!(
        "SELECT {HEADER_FIELDS}, figures FROM settlement_statements WHERE tenant_id = $1 AND id = $2"
    );
    let row = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row)
}

/// Statements by id (newest last), optionally only those in one status.
pub async fn list_statements(
    s: &mut Session,
    tenant: TenantId,
    status: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<StatementHeader>> {
    let rows: Vec<StatementHeader> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!(
            "SELECT {HEADER_FIELDS} FROM settlement_statements WHERE tenant_id = "));
        query.push_bind(tenant.0);
        if let Some(status) = status {
            query.push(" AND status = ").push_bind(status);
        }
        crate::scope_sql::push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

/// A closed statement whose period overlaps `[start, end)`, if any.
pub async fn overlapping_closed(
    s: &mut Session,
    tenant: TenantId,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> StoreResult<Option<Uuid>> {
    let found = on_backend!(s, c => sqlx::query_scalar(
        "SELECT id FROM settlement_statements WHERE tenant_id = $1 AND status = 'closed' \
         AND period_start < $3 AND period_end > $2 ORDER BY period_start LIMIT 1")
        .bind(tenant.0).bind(Ts(start)).bind(Ts(end)).fetch_optional(&mut *c).await)?;
    Ok(found)
}

/// Closes a draft unless another closed statement overlaps its period; `false` when it was not
/// a draft any more or an overlap appeared (nothing written).
pub async fn close_statement(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE settlement_statements SET status = 'closed', closed_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'draft' AND NOT EXISTS ( \
           SELECT 1 FROM settlement_statements o WHERE o.tenant_id = $1 AND o.status = 'closed' AND o.id <> $2 \
           AND o.period_start < settlement_statements.period_end AND o.period_end > settlement_statements.period_start)")
        .bind(tenant.0).bind(id).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// One merchant's mall revenue and its split in a statement.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MerchantLine {
    pub statement_id: Uuid,
    pub store_id: Uuid,
    pub format_id: Option<Uuid>,
    pub redemptions: i64,
    pub points: i64,
    pub cash_fen: i64,
    pub points_value_fen: i64,
    pub gross_fen: i64,
    pub platform_fen: i64,
    pub merchant_fen: i64,
    pub coupon_cost_fen: i64,
    /// The revenue split rule applied.
    #[sqlx(json)]
    pub rule: serde_json::Value,
}

const LINE_FIELDS: &str = "statement_id, store_id, format_id, redemptions, points, cash_fen, points_value_fen, \
    gross_fen, platform_fen, merchant_fen, coupon_cost_fen, rule";

pub async fn insert_merchant_line(
    s: &mut Session,
    tenant: TenantId,
    line: &MerchantLine,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO settlement_merchant_lines (tenant_id, statement_id, store_id, format_id, redemptions, points, cash_fen, \
         points_value_fen, gross_fen, platform_fen, merchant_fen, coupon_cost_fen, rule) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(tenant.0).bind(line.statement_id).bind(line.store_id).bind(line.format_id).bind(line.redemptions)
        .bind(line.points).bind(line.cash_fen).bind(line.points_value_fen).bind(line.gross_fen)
        .bind(line.platform_fen).bind(line.merchant_fen).bind(line.coupon_cost_fen).bind(Json(&line.rule))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A statement's merchant lines the predicate admits, by store, at most `limit`.
pub async fn merchant_lines(
    s: &mut Session,
    tenant: TenantId,
    statement: Uuid,
    predicate: &ScopePredicate,
    limit: i64,
) -> StoreResult<Vec<MerchantLine>> {
    let rows: Vec<MerchantLine> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!(
            "SELECT {LINE_FIELDS} FROM settlement_merchant_lines WHERE tenant_id = "));
        query.push_bind(tenant.0).push(" AND statement_id = ").push_bind(statement);
        push_scope(&mut query, predicate, &MERCHANT_LINE_COLUMNS);
        query.push(" ORDER BY store_id LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// One merchant's lines across statements, by statement id (oldest first).
pub async fn store_lines(
    s: &mut Session,
    tenant: TenantId,
    store: Uuid,
    page: PageRequest,
) -> StoreResult<Page<MerchantLine>> {
    let rows: Vec<MerchantLine> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!(
            "SELECT {LINE_FIELDS} FROM settlement_merchant_lines WHERE tenant_id = "));
        query.push_bind(tenant.0).push(" AND store_id = ").push_bind(store);
        if let Some(after) = page.after {
            query.push(" AND statement_id > ").push_bind(after);
        }
        query.push(" ORDER BY statement_id LIMIT ").push_bind(page.fetch_limit());
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.statement_id))
}
