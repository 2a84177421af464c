//! A period's sums, each one aggregate query over a range of the time events were recorded
//! (`created_at` of entries and redemptions, `reversed_at`/`cancelled_at` of their undoing), so
//! an event posted late — an offline order arriving after its period closed — counts in the
//! period it was recorded in. The indexes of migration 0023 make every range a range scan; the
//! answers are grouped by account, format or store, never row by row.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

/// Points moved out of (`debited`) and into (`credited`) one ledger account in the period.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountFlow {
    pub account: String,
    pub debited: i64,
    pub credited: i64,
}

/// Every account's flows in `[from, until)`, by account name.
pub async fn account_flows(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<AccountFlow>> {
    let rows = on_backend!(s, c => sqlx::query_as(
        "SELECT account, CAST(SUM(debited) AS BIGINT) AS debited, CAST(SUM(credited) AS BIGINT) AS credited FROM ( \
           SELECT debit_account AS account, amount AS debited, 0 AS credited FROM points_entries \
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
           UNION ALL \
           SELECT credit_account AS account, 0 AS debited, amount AS credited FROM points_entries \
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
         ) flows GROUP BY account ORDER BY account")
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Points expired in `[from, until)` by the format that issued them (`None`: group-issued).
pub async fn expired_by_format(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<(Option<Uuid>, i64)>> {
    let rows = on_backend!(s, c => sqlx::query_as(
        "SELECT format_id, CAST(SUM(amount) AS BIGINT) FROM points_entries \
         WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND credit_account = 'expiry' \
         GROUP BY format_id ORDER BY format_id")
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Points claimed by a redemption or donation account, by the format whose lot they were drawn
/// from: spends count positive, their reversals negative.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct IssuerFlow {
    pub account: String,
    pub issuing_format_id: Option<Uuid>,
    pub points: i64,
}

const CLAIM_ACCOUNT: &str =
    "(e.{side}_account LIKE 'redemption:%' OR e.{side}_account LIKE 'donation:%')";

/// The inter-format matrix's raw material for `[from, until)`: each claiming entry's draws,
/// joined to the lots they name (wherever a merge moved them) for the issuing format. Draws are
/// JSON, expanded with each database's own JSON table function; everything else is shared.
pub async fn claims_by_issuer(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<IssuerFlow>> {
    let (expand, lot, points, join) = if s.is_postgres() {
        (
            "CROSS JOIN LATERAL jsonb_array_elements(e.draws) AS d(value)",
            "(d.value->>'lot_id')::uuid",
            "(d.value->>'points')::bigint",
            "l.id = x.lot",
        )
    } else {
        (
            "CROSS JOIN json_each(e.draws) AS d",
            "json_extract(d.value, '$.lot_id')",
            "json_extract(d.value, '$.points')",
            // Lot ids are 16-byte blobs on SQLite; the draws spell them as hyphenated text.
            "l.id = unhex(replace(x.lot, '-', ''))",
        )
    };
    let side = |name: &str, sign: &str| {
        format!(
            "SELECT e.{name}_account AS account, {lot} AS lot, {sign}{points} AS points FROM points_entries e {expand} \
             WHERE e.tenant_id = $1 AND e.created_at >= $2 AND e.created_at < $3 AND {}",
            CLAIM_ACCOUNT.replace("{side}", name)
        )
    };
    let sql = format!(
        "SELECT x.account, l.format_id AS issuing_format_id, CAST(SUM(x.points) AS BIGINT) AS points FROM ({} UNION ALL {}) x \
         LEFT JOIN points_lots l ON l.tenant_id = $1 AND {join} GROUP BY x.account, l.format_id ORDER BY x.account",
        side("credit", ""),
        side("debit", "-"),
    );
    let rows = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Coupon discounts given in the period, by who bears them (the template's placement: a merchant
/// store, else a format, else HQ) and where they were given; reversals in the period count
/// negative.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CouponCost {
    pub bearer_format_id: Option<Uuid>,
    pub bearer_store_id: Option<Uuid>,
    pub redeeming_format_id: Option<Uuid>,
    pub redemptions: i64,
    pub discount_fen: i64,
}

pub async fn coupon_costs(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<CouponCost>> {
    let rows = on_backend!(s, c => sqlx::query_as(
        "SELECT t.format_id AS bearer_format_id, t.store_id AS bearer_store_id, x.format_id AS redeeming_format_id, \
         CAST(SUM(x.n) AS BIGINT) AS redemptions, CAST(SUM(x.discount_fen) AS BIGINT) AS discount_fen FROM ( \
           SELECT template_id, format_id, 1 AS n, discount_fen FROM coupon_redemptions \
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
           UNION ALL \
           SELECT template_id, format_id, -1 AS n, -discount_fen AS discount_fen FROM coupon_redemptions \
           WHERE tenant_id = $1 AND reversed_at >= $2 AND reversed_at < $3 \
         ) x JOIN coupon_templates t ON t.tenant_id = $1 AND t.id = x.template_id \
         GROUP BY t.format_id, t.store_id, x.format_id ORDER BY t.format_id, t.store_id, x.format_id")
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Mall redemptions of rewards a store supplies: made in the period positive, cancelled in it
/// negative.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MallSupply {
    pub store_id: Uuid,
    pub format_id: Option<Uuid>,
    pub redemptions: i64,
    pub points: i64,
    pub cash_fen: i64,
}

pub async fn mall_supply(
    s: &mut Session,
    tenant: TenantId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<MallSupply>> {
    let rows = on_backend!(s, c => sqlx::query_as(
        "SELECT supplier_store_id AS store_id, supplier_format_id AS format_id, CAST(SUM(n) AS BIGINT) AS redemptions, \
         CAST(SUM(points) AS BIGINT) AS points, CAST(SUM(cash_fen) AS BIGINT) AS cash_fen FROM ( \
           SELECT supplier_store_id, supplier_format_id, 1 AS n, points, cash_fen FROM reward_redemptions \
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND supplier_store_id IS NOT NULL \
           UNION ALL \
           SELECT supplier_store_id, supplier_format_id, -1 AS n, -points AS points, -cash_fen AS cash_fen FROM reward_redemptions \
           WHERE tenant_id = $1 AND cancelled_at >= $2 AND cancelled_at < $3 AND supplier_store_id IS NOT NULL \
         ) x GROUP BY supplier_store_id, supplier_format_id ORDER BY supplier_store_id")
        .bind(tenant.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}
