//! A statement as CSV for finance: one row per figure, the same columns throughout, so the file
//! opens in a spreadsheet and sums by column. It shows exactly what the caller's JSON view shows.

use super::view::StatementView;
use uuid::Uuid;

pub const HEADER: &str = "section,metric,party_id,counterparty_id,points,amount_fen";

fn party(id: Option<Uuid>) -> String {
    id.map_or_else(|| "group".to_owned(), |id| id.to_string())
}

fn row(
    out: &mut String,
    section: &str,
    metric: &str,
    a: &str,
    b: &str,
    points: Option<i64>,
    fen: Option<i64>,
) {
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "{section},{metric},{a},{b},{},{}\n",
        number(points),
        number(fen)
    ));
}

/// The CSV text of a statement view.
pub fn render(view: &StatementView) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let s = &view.summary;
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let period = format!("{}/{}", rfc3339(s.period_start), rfc3339(s.period_end));
    row(
        &mut out,
        "statement",
        &s.status,
        &s.id.to_string(),
        &period,
        None,
        None,
    );
    for line in &view.figures.formats {
        let p = party(line.format_id);
        row(
            &mut out,
            "format",
            "issued",
            &p,
            "",
            Some(line.points_issued),
            Some(line.liability_fen),
        );
        row(
            &mut out,
            "format",
            "clawed_back",
            &p,
            "",
            Some(line.points_clawed_back),
            None,
        );
        row(
            &mut out,
            "format",
            "redeemed",
            &p,
            "",
            Some(line.points_redeemed),
            Some(line.claims_fen),
        );
        row(
            &mut out,
            "format",
            "expired",
            &p,
            "",
            Some(line.points_expired),
            None,
        );
        row(
            &mut out,
            "format",
            "coupon_cost",
            &p,
            "",
            None,
            Some(line.coupon_cost_fen),
        );
        row(
            &mut out,
            "format",
            "funded_by_hq",
            &p,
            "",
            None,
            Some(line.funded_by_hq_fen),
        );
        row(
            &mut out,
            "format",
            "net_transfer",
            &p,
            "",
            None,
            Some(line.net_transfer_fen),
        );
    }
    for cell in &view.figures.matrix {
        row(
            &mut out,
            "matrix",
            "points_spent",
            &party(cell.issuing_format_id),
            &party(cell.spending_format_id),
            Some(cell.points),
            Some(cell.amount_fen),
        );
    }
    for cost in &view.figures.coupon_costs {
        let bearer = cost
            .bearer_store_id
            .or(cost.bearer_format_id)
            .map_or_else(|| "group".to_owned(), |id| id.to_string());
        row(
            &mut out,
            "coupon_cost",
            &cost.bearer,
            &bearer,
            &party(cost.redeeming_format_id),
            Some(cost.redemptions),
            Some(cost.discount_fen),
        );
    }
    for coupon in &view.figures.cross_format_coupons {
        row(
            &mut out,
            "cross_format_coupon",
            &coupon.bearer,
            &coupon.issuing_format_id.to_string(),
            &coupon.redeeming_format_id.to_string(),
            Some(coupon.redemptions),
            Some(coupon.discount_fen),
        );
    }
    for m in &view.merchants {
        let (store, format) = (m.store_id.to_string(), party(m.format_id));
        row(
            &mut out,
            "merchant",
            "mall_supplied",
            &store,
            &format,
            Some(m.points),
            Some(m.cash_fen),
        );
        row(
            &mut out,
            "merchant",
            "gross",
            &store,
            &format,
            None,
            Some(m.gross_fen),
        );
        row(
            &mut out,
            "merchant",
            "platform_share",
            &store,
            &format,
            None,
            Some(m.platform_fen),
        );
        row(
            &mut out,
            "merchant",
            "merchant_share",
            &store,
            &format,
            None,
            Some(m.merchant_fen),
        );
        row(
            &mut out,
            "merchant",
            "coupon_cost",
            &store,
            &format,
            None,
            Some(m.coupon_cost_fen),
        );
    }
    if let Some(t) = &view.figures.totals {
        row(
            &mut out,
            "total",
            "issued",
            "",
            "",
            Some(t.points_issued),
            Some(t.liability_fen),
        );
        row(
            &mut out,
            "total",
            "redeemed",
            "",
            "",
            Some(t.points_redeemed),
            Some(t.claims_fen),
        );
        row(
            &mut out,
            "total",
            "expired",
            "",
            "",
            Some(t.points_expired),
            None,
        );
        row(
            &mut out,
            "total",
            "coupon_discount",
            "",
            "",
            None,
            Some(t.coupon_discount_fen),
        );
        row(
            &mut out,
            "total",
            "net_transfer",
            "",
            "",
            None,
            Some(t.net_transfer_fen),
        );
    }
    out
}
