//! What a caller sees of a statement: the tenant scope (finance, HQ) sees everything; a format's
//! team only its own formats' lines and the matrix cells and coupon costs that touch them; a
//! merchant only its own merchant line — no format-level figures, no totals. Merchant lines are
//! filtered in SQL by the caller's own-scope predicate, the figures by the same predicate here.

use super::compute::{Figures, MAX_MERCHANT_LINES};
use crate::app::error::{ApiError, ApiResult};
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass, ScopePredicate};
use huiyuan_domain::ids::{FormatId, StoreId};
use huiyuan_domain::settlement::RevenueSplitRule;
use huiyuan_store::Session;
use huiyuan_store::settlement::{MerchantLine, StatementHeader, StoredStatement, statements};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A statement without figures, as lists show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatementSummary {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub period_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub period_end: OffsetDateTime,
    /// `draft` or `closed` (immutable).
    pub status: String,
    /// `hq_funded` or `independent`, as computed.
    pub mode: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

impl From<StatementHeader> for StatementSummary {
    fn from(h: StatementHeader) -> Self {
        Self {
            id: h.id,
            period_start: h.period_start,
            period_end: h.period_end,
            status: h.status,
            mode: h.mode,
            created_at: h.created_at,
            closed_at: h.closed_at,
        }
    }
}

/// One merchant's mall revenue in a statement and its split (分润).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MerchantLineView {
    pub statement_id: Uuid,
    pub store_id: Uuid,
    pub format_id: Option<Uuid>,
    /// Mall redemptions of the merchant's rewards, net of cancellations.
    pub redemptions: i64,
    pub points: i64,
    pub cash_fen: i64,
    /// The points at the rule's rate.
    pub points_value_fen: i64,
    /// cash + points value = platform + merchant.
    pub gross_fen: i64,
    pub platform_fen: i64,
    pub merchant_fen: i64,
    /// Coupon discounts the merchant bears (its own coupons redeemed in the period).
    pub coupon_cost_fen: i64,
    pub rule: RevenueSplitRule,
}

impl MerchantLineView {
    pub fn build(line: MerchantLine) -> ApiResult<Self> {
        Ok(Self {
            statement_id: line.statement_id,
            store_id: line.store_id,
            format_id: line.format_id,
            redemptions: line.redemptions,
            points: line.points,
            cash_fen: line.cash_fen,
            points_value_fen: line.points_value_fen,
            gross_fen: line.gross_fen,
            platform_fen: line.platform_fen,
            merchant_fen: line.merchant_fen,
            coupon_cost_fen: line.coupon_cost_fen,
            rule: serde_json::from_value(line.rule).map_err(ApiError::internal)?,
        })
    }
}

/// A statement as the caller may see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatementView {
    #[serde(flatten)]
    pub summary: StatementSummary,
    #[serde(flatten)]
    pub figures: Figures,
    pub merchants: Vec<MerchantLineView>,
}

/// Whether a statement is the caller's to see at all: the tenant scope, or a scope that reaches
/// at least one format line or merchant line. Others get the same 404 as for no statement.
pub async fn build(
    session: &mut Session,
    caller: &Principal,
    stored: StoredStatement,
) -> ApiResult<StatementView> {
    let own = caller.predicate(Access::Write, RecordClass::Org);
    let mut figures: Figures =
        serde_json::from_value(stored.figures).map_err(ApiError::internal)?;
    if own != ScopePredicate::Any {
        figures = narrowed(figures, &own);
    }
    let merchants = statements::merchant_lines(
        session,
        caller.tenant_id,
        stored.header.id,
        &own,
        MAX_MERCHANT_LINES,
    )
    .await?
    .into_iter()
    .map(MerchantLineView::build)
    .collect::<ApiResult<Vec<_>>>()?;
    Ok(StatementView {
        summary: stored.header.into(),
        figures,
        merchants,
    })
}

fn format_visible(own: &ScopePredicate, format: Option<Uuid>) -> bool {
    format.is_some_and(|f| own.matches(&Placement::format(FormatId(f))))
}

/// Only the lines that touch the caller's own formats (or, for coupons, its own stores).
fn narrowed(figures: Figures, own: &ScopePredicate) -> Figures {
    let visible = |format: Option<Uuid>| format_visible(own, format);
    Figures {
        points_value: figures.points_value,
        settlement_rate: figures.settlement_rate,
        formats: figures
            .formats
            .into_iter()
            .filter(|line| visible(line.format_id))
            .collect(),
        matrix: figures
            .matrix
            .into_iter()
            .filter(|cell| visible(cell.issuing_format_id) || visible(cell.spending_format_id))
            .collect(),
        coupon_costs: figures
            .coupon_costs
            .into_iter()
            .filter(|line| {
                let bearer = Placement {
                    format_id: line.bearer_format_id.map(FormatId),
                    store_id: line.bearer_store_id.map(StoreId),
                    guide_id: None,
                };
                (line.bearer != "hq" && own.matches(&bearer)) || visible(line.redeeming_format_id)
            })
            .collect(),
        cross_format_coupons: figures
            .cross_format_coupons
            .into_iter()
            .filter(|c| visible(Some(c.issuing_format_id)) || visible(Some(c.redeeming_format_id)))
            .collect(),
        totals: None,
    }
}
