//! A statement as CSV for finance: one row per figure, the same columns throughout, so the file
//! opens in a spreadsheet and sums by column. It shows exactly what the caller's JSON view shows.

use super::view::StatementView;
use uuid::Uuid;

pub const HEADER: &str = "section,metric,party_id,counterparty_id,points,amount_fen";

/// One row: section, metric, party, counterparty, points, fen (blank when not applicable).
type Row<'a> = (&'a str, &'a str, String, String, Option<i64>, Option<i64>);

fn party(id: Option<Uuid>) -> String {
    id.map_or_else(|| "group".to_owned(), |id| id.to_string())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The CSV text of a statement view.
pub fn render(view: &StatementView) -> String {
    let s = &view.summary;
    let f = &view.figures;
    let none = String::new;
    let mut rows: Vec<Row> = vec![(
        "statement",
        &s.status,
        s.id.to_string(),
        format!("{}/{}", rfc3339(s.period_start), rfc3339(s.period_end)),
        None,
        None,
    )];
    for l in &f.formats {
        let p = party(l.format_id);
        rows.extend([
            (
                "format",
                "issued",
                p.clone(),
                none(),
                Some(l.points_issued),
                Some(l.liability_fen),
            ),
            (
                "format",
                "clawed_back",
                p.clone(),
                none(),
                Some(l.points_clawed_back),
                None,
            ),
            (
                "format",
                "redeemed",
                p.clone(),
                none(),
                Some(l.points_redeemed),
                Some(l.claims_fen),
            ),
            (
                "format",
                "expired",
                p.clone(),
                none(),
                Some(l.points_expired),
                None,
            ),
            (
                "format",
                "coupon_cost",
                p.clone(),
                none(),
                None,
                Some(l.coupon_cost_fen),
            ),
            (
                "format",
                "funded_by_hq",
                p.clone(),
                none(),
                None,
                Some(l.funded_by_hq_fen),
            ),
            (
                "format",
                "net_transfer",
                p,
                none(),
                None,
                Some(l.net_transfer_fen),
            ),
        ]);
    }
    rows.extend(f.matrix.iter().map(|c| {
        let (issuer, spender) = (party(c.issuing_format_id), party(c.spending_format_id));
        (
            "matrix",
            "points_spent",
            issuer,
            spender,
            Some(c.points),
            Some(c.amount_fen),
        )
    }));
    rows.extend(f.coupon_costs.iter().map(|c| {
        let bearer = party(c.bearer_store_id.or(c.bearer_format_id));
        let (redeeming, n) = (party(c.redeeming_format_id), Some(c.redemptions));
        (
            "coupon_cost",
            c.bearer.as_str(),
            bearer,
            redeeming,
            n,
            Some(c.discount_fen),
        )
    }));
    rows.extend(f.cross_format_coupons.iter().map(|c| {
        let (issuer, redeemer) = (
            c.issuing_format_id.to_string(),
            c.redeeming_format_id.to_string(),
        );
        let n = Some(c.redemptions);
        (
            "cross_format_coupon",
            c.bearer.as_str(),
            issuer,
            redeemer,
            n,
            Some(c.discount_fen),
        )
    }));
    for m in &view.merchants {
        let (store, format) = (m.store_id.to_string(), party(m.format_id));
        rows.extend([
            (
                "merchant",
                "mall_supplied",
                store.clone(),
                format.clone(),
                Some(m.points),
                Some(m.cash_fen),
            ),
            (
                "merchant",
                "gross",
                store.clone(),
                format.clone(),
                None,
                Some(m.gross_fen),
            ),
            (
                "merchant",
                "platform_share",
                store.clone(),
                format.clone(),
                None,
                Some(m.platform_fen),
            ),
            (
                "merchant",
                "merchant_share",
                store.clone(),
                format.clone(),
                None,
                Some(m.merchant_fen),
            ),
            (
                "merchant",
                "coupon_cost",
                store,
                format,
                None,
                Some(m.coupon_cost_fen),
            ),
        ]);
    }
    if let Some(t) = &f.totals {
        rows.extend([
            (
                "total",
                "issued",
                none(),
                none(),
                Some(t.points_issued),
                Some(t.liability_fen),
            ),
            (
                "total",
                "redeemed",
                none(),
                none(),
                Some(t.points_redeemed),
                Some(t.claims_fen),
            ),
            (
                "total",
                "expired",
                none(),
                none(),
                Some(t.points_expired),
                None,
            ),
            (
                "total",
                "coupon_discount",
                none(),
                none(),
                None,
                Some(t.coupon_discount_fen),
            ),
            (
                "total",
                "net_transfer",
                none(),
                none(),
                None,
                Some(t.net_transfer_fen),
            ),
        ]);
    }
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut out = format!("{HEADER}\n");
    for (section, metric, a, b, points, fen) in rows {
        // Every field is an identifier, a fixed word or a number: nothing needs quoting.
        out.push_str(&format!(
            "{section},{metric},{a},{b},{},{}\n",
            number(points),
            number(fen)
        ));
    }
    out
}
