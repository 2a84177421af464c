//! Computing a statement: the period's sums (aggregate range queries in the store) turned into
//! per-format lines, the inter-format matrix with net transfers, coupon costs by bearer and the
//! merchants' revenue split (arithmetic in `huiyuan_domain::settlement`), stored as a draft in
//! the caller's transaction.

use crate::app::error::ApiResult;
use crate::app::mutation::Mutation;
use huiyuan_domain::ledger::LedgerAccount;
use huiyuan_domain::settlement::transfers::points_charge;
use huiyuan_domain::settlement::{
    Charge, Party, Rate, RevenueSplitRule, SettlementMode, net_transfers, split,
};
use huiyuan_store::coupons::redemptions::settlement_totals;
use huiyuan_store::settlement::figures::{self, CouponCost};
use huiyuan_store::settlement::{
    MerchantLine, StatementHeader, StoredStatement, policy, statements,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Merchant lines a statement holds at most (a mall's merchants, with room to spare).
pub const MAX_MERCHANT_LINES: i64 = 20_000;

/// A statement's figures as stored; `format_id` `None` is the group (HQ).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// What members' points are worth (the liability rate) when the statement was computed.
    pub points_value: Option<Rate>,
    /// What a point is worth between formats.
    pub settlement_rate: Option<Rate>,
    pub formats: Vec<FormatLine>,
    /// Points issued by one party and redeemed in another (or the same), net of reversals.
    pub matrix: Vec<MatrixCell>,
    /// Coupon discounts given, by who bears them and where they were given.
    pub coupon_costs: Vec<CouponCostLine>,
    /// Coupons issued by one format and redeemed in another (the coupons module's settlement
    /// records), net of reversals.
    pub cross_format_coupons: Vec<CrossFormatCoupon>,
    /// Present for callers who see the whole tenant.
    pub totals: Option<Totals>,
}

/// One format's (or the group's) points and money for the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FormatLine {
    pub format_id: Option<Uuid>,
    /// Points moved from the format's issuance account to members.
    pub points_issued: i64,
    /// Points taken back into it (refunds).
    pub points_clawed_back: i64,
    /// (issued − clawed back) at the points value.
    pub liability_fen: i64,
    /// Points claimed by the format's redemption and donation accounts, net of reversals.
    pub points_redeemed: i64,
    /// The redeemed points at the settlement rate.
    pub claims_fen: i64,
    /// Points the format issued that expired.
    pub points_expired: i64,
    /// Coupon discounts the format bears (HQ's for the group line).
    pub coupon_cost_fen: i64,
    /// In HQ-funded mode, what headquarters pays the format for its claims; zero otherwise.
    pub funded_by_hq_fen: i64,
    /// Independent mode: what the format receives (positive) or pays (negative) on balance;
    /// zero in HQ-funded mode. The nets of all lines sum to zero.
    pub net_transfer_fen: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatrixCell {
    pub issuing_format_id: Option<Uuid>,
    pub spending_format_id: Option<Uuid>,
    pub points: i64,
    /// The points at the settlement rate.
    pub amount_fen: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouponCostLine {
    /// `hq`, `format` or `merchant`.
    pub bearer: String,
    /// The bearing format, or the format of the bearing merchant.
    pub bearer_format_id: Option<Uuid>,
    pub bearer_store_id: Option<Uuid>,
    pub redeeming_format_id: Option<Uuid>,
    pub redemptions: i64,
    pub discount_fen: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CrossFormatCoupon {
    pub issuing_format_id: Uuid,
    pub redeeming_format_id: Uuid,
    pub bearer: String,
    pub bearer_id: Option<Uuid>,
    pub redemptions: i64,
    pub face_fen: i64,
    pub discount_fen: i64,
}

/// Sums over every line, for reconciliation with the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub points_issued: i64,
    pub points_clawed_back: i64,
    pub liability_fen: i64,
    pub points_redeemed: i64,
    pub claims_fen: i64,
    pub points_expired: i64,
    /// Manual adjustments: points granted from and taken into the `adjustment` account.
    pub points_adjusted_in: i64,
    pub points_adjusted_out: i64,
    pub coupon_discount_fen: i64,
    /// Always zero: what one party receives another pays.
    pub net_transfer_fen: i64,
    pub merchant_gross_fen: i64,
    pub merchant_platform_fen: i64,
    pub merchant_share_fen: i64,
}

/// The party whose issuance account this is: `issuance:<format>` → the format,
/// `issuance:group` → `None` (the group); not an issuance account → no party.
fn issuing_party(account: &str) -> Option<Party> {
    match account.parse() {
        Ok(LedgerAccount::Issuance(format)) => Some(format.map(|f| f.0)),
        _ => None,
    }
}

/// The party that claims points credited to this account: a redemption or donation account's
/// format, or the group.
fn is_claim_account(account: &str) -> Option<Party> {
    match account.parse() {
        Ok(LedgerAccount::Redemption(format) | LedgerAccount::Donation(format)) => {
            Some(format.map(|f| f.0))
        }
        _ => None,
    }
}

fn bearer_of(cost: &CouponCost) -> (&'static str, Party) {
    match (cost.bearer_store_id, cost.bearer_format_id) {
        (Some(_), _) => ("merchant", cost.bearer_format_id),
        (None, Some(format)) => ("format", Some(format)),
        (None, None) => ("hq", None),
    }
}

/// Computes the statement for `[start, end)` and stores it as a draft with its merchant lines.
pub async fn compute_draft(
    m: &mut Mutation,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> ApiResult<(StoredStatement, Vec<MerchantLine>)> {
    let tenant = m.tenant;
    let settlement = super::policy_of(&mut m.session, tenant).await?;
    let points_value = super::points_value(&mut m.session, tenant, m.now).await?;
    let s = &mut m.session;
    let flows = figures::account_flows(s, tenant, start, end).await?;
    let expired = figures::expired_by_format(s, tenant, start, end).await?;
    let claims = figures::claims_by_issuer(s, tenant, start, end).await?;
    let coupon_costs = figures::coupon_costs(s, tenant, start, end).await?;
    let cross = settlement_totals(s, tenant, start, end).await?;
    let supply = figures::mall_supply(s, tenant, start, end).await?;

    let mut lines: BTreeMap<Party, FormatLine> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut redeemed_by_account: BTreeMap<String, (Party, i64)> = BTreeMap::new();
    for flow in &flows {
        if let Some(party) = issuing_party(&flow.account) {
            let entry = format_line(&mut lines, party);
            entry.points_issued += flow.debited;
            entry.points_clawed_back += flow.credited;
        } else if let Some(party) = is_claim_account(&flow.account) {
            format_line(&mut lines, party).points_redeemed += flow.credited - flow.debited;
            redeemed_by_account.insert(flow.account.clone(), (party, flow.credited - flow.debited));
        } else if matches!(flow.account.parse(), Ok(LedgerAccount::Adjustment)) {
            totals.points_adjusted_in += flow.debited;
            totals.points_adjusted_out += flow.credited;
        }
    }
    for (format, points) in &expired {
        format_line(&mut lines, *format).points_expired += points;
    }

    // The matrix: claimed points by issuing party; what a claim's draws do not explain (an entry
    // without draws) is attributed to the group, so the matrix always sums to the claims.
    let mut cells: BTreeMap<(Party, Party), i64> = BTreeMap::new();
    let mut explained: BTreeMap<String, i64> = BTreeMap::new();
    for claim in &claims {
        let Some(spender) = is_claim_account(&claim.account) else {
            continue;
        };
        *cells.entry((claim.issuing_format_id, spender)).or_default() += claim.points;
        *explained.entry(claim.account.clone()).or_default() += claim.points;
    }
    for (account, (spender, redeemed)) in &redeemed_by_account {
        let rest = redeemed - explained.get(account).copied().unwrap_or(0);
        if rest != 0 {
            *cells.entry((None, *spender)).or_default() += rest;
        }
    }
    let rate = settlement.settlement_rate;
    let mut charges: Vec<Charge> = Vec::new();
    let mut matrix = Vec::new();
    for ((issuer, spender), points) in &cells {
        if *points == 0 {
            continue;
        }
        let charge = points_charge(*issuer, *spender, *points, rate);
        charges.push(charge);
        matrix.push(MatrixCell {
            issuing_format_id: *issuer,
            spending_format_id: *spender,
            points: *points,
            amount_fen: charge.fen,
        });
    }

    // Coupon costs: the bearer pays the format that gave the discount (merchants settle in
    // their own lines, not between formats).
    let mut coupon_lines = Vec::new();
    let mut merchant_coupon_cost: BTreeMap<Uuid, (Option<Uuid>, i64)> = BTreeMap::new();
    for cost in &coupon_costs {
        let (bearer, party) = bearer_of(cost);
        totals.coupon_discount_fen += cost.discount_fen;
        if let Some(store) = cost.bearer_store_id {
            let entry = merchant_coupon_cost
                .entry(store)
                .or_insert((cost.bearer_format_id, 0));
            entry.1 += cost.discount_fen;
        } else {
            format_line(&mut lines, party).coupon_cost_fen += cost.discount_fen;
            charges.push(Charge {
                payer: party,
                payee: cost.redeeming_format_id,
                fen: cost.discount_fen,
            });
        }
        coupon_lines.push(CouponCostLine {
            bearer: bearer.to_owned(),
            bearer_format_id: cost.bearer_format_id,
            bearer_store_id: cost.bearer_store_id,
            redeeming_format_id: cost.redeeming_format_id,
            redemptions: cost.redemptions,
            discount_fen: cost.discount_fen,
        });
    }

    let nets = net_transfers(settlement.mode, &charges);
    for (party, net) in &nets.nets {
        format_line(&mut lines, *party).net_transfer_fen = *net;
    }
    for line in lines.values_mut() {
        line.liability_fen = points_value.value_fen(line.points_issued - line.points_clawed_back);
        line.claims_fen = rate.value_fen(line.points_redeemed);
        if settlement.mode == SettlementMode::HqFunded {
            line.funded_by_hq_fen = line.claims_fen;
        }
        totals.points_issued += line.points_issued;
        totals.points_clawed_back += line.points_clawed_back;
        totals.liability_fen += line.liability_fen;
        totals.points_redeemed += line.points_redeemed;
        totals.claims_fen += line.claims_fen;
        totals.points_expired += line.points_expired;
        totals.net_transfer_fen += line.net_transfer_fen;
    }

    let id = Uuid::now_v7();
    let merchants = merchant_lines(m, id, points_value, &supply, &merchant_coupon_cost).await?;
    for merchant in &merchants {
        totals.merchant_gross_fen += merchant.gross_fen;
        totals.merchant_platform_fen += merchant.platform_fen;
        totals.merchant_share_fen += merchant.merchant_fen;
    }
    let figures = Figures {
        points_value: Some(points_value),
        settlement_rate: Some(rate),
        formats: lines.into_values().collect(),
        matrix,
        coupon_costs: coupon_lines,
        cross_format_coupons: cross
            .into_iter()
            .map(|total| CrossFormatCoupon {
                issuing_format_id: total.issuing_format_id,
                redeeming_format_id: total.redeeming_format_id,
                bearer: total.bearer_kind,
                bearer_id: total.bearer_id,
                redemptions: total.redemptions,
                face_fen: total.face_fen,
                discount_fen: total.discount_fen,
            })
            .collect(),
        totals: Some(totals),
    };
    let statement = StoredStatement {
        header: StatementHeader {
            id,
            period_start: start,
            period_end: end,
            status: "draft".to_owned(),
            mode: settlement.mode.as_str().to_owned(),
            created_at: m.now,
            closed_at: None,
        },
        figures: serde_json::to_value(&figures).map_err(crate::app::error::ApiError::internal)?,
    };
    statements::insert_statement(&mut m.session, tenant, &statement).await?;
    for merchant in &merchants {
        statements::insert_merchant_line(&mut m.session, tenant, merchant).await?;
    }
    Ok((statement, merchants))
}

fn format_line(lines: &mut BTreeMap<Party, FormatLine>, party: Party) -> &mut FormatLine {
    lines.entry(party).or_insert_with(|| FormatLine {
        format_id: party,
        ..FormatLine::default()
    })
}

/// One line per store that supplied mall rewards or bore coupons in the period, split by its
/// rule (or the default: no commission, points at the points value).
async fn merchant_lines(
    m: &mut Mutation,
    statement: Uuid,
    points_value: Rate,
    supply: &[figures::MallSupply],
    coupon_cost: &BTreeMap<Uuid, (Option<Uuid>, i64)>,
) -> ApiResult<Vec<MerchantLine>> {
    let stores: BTreeSet<Uuid> = supply
        .iter()
        .map(|s| s.store_id)
        .chain(coupon_cost.keys().copied())
        .collect();
    let stores: Vec<Uuid> = stores
        .into_iter()
        .take(MAX_MERCHANT_LINES as usize)
        .collect();
    let rules: BTreeMap<Uuid, RevenueSplitRule> =
        policy::splits_of(&mut m.session, m.tenant, &stores)
            .await?
            .iter()
            .map(|stored| (stored.store_id, super::rule_of(stored)))
            .collect();
    let mut lines = Vec::with_capacity(stores.len());
    for store in stores {
        let supplied = supply.iter().find(|s| s.store_id == store);
        let (cost_format, coupon_cost_fen) = coupon_cost.get(&store).copied().unwrap_or((None, 0));
        let rule = rules
            .get(&store)
            .copied()
            .unwrap_or_else(|| RevenueSplitRule::default_for(points_value));
        let (redemptions, points, cash_fen) =
            supplied.map_or((0, 0, 0), |s| (s.redemptions, s.points, s.cash_fen));
        let shares = split(points, cash_fen, &rule);
        lines.push(MerchantLine {
            statement_id: statement,
            store_id: store,
            format_id: supplied.and_then(|s| s.format_id).or(cost_format),
            redemptions,
            points,
            cash_fen,
            points_value_fen: shares.points_value_fen,
            gross_fen: shares.gross_fen,
            platform_fen: shares.platform_fen,
            merchant_fen: shares.merchant_fen,
            coupon_cost_fen,
            rule: serde_json::to_value(rule).map_err(crate::app::error::ApiError::internal)?,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::{CouponCost, Uuid, bearer_of, is_claim_account, issuing_party};

    #[test]
    fn accounts_name_their_party() {
        let format = Uuid::now_v7();
        assert_eq!(
            issuing_party(&format!("issuance:{format}")),
            Some(Some(format))
        );
        assert_eq!(issuing_party("issuance:group"), Some(None));
        assert_eq!(issuing_party("member.available"), None);
        assert_eq!(
            is_claim_account(&format!("donation:{format}")),
            Some(Some(format))
        );
        assert_eq!(is_claim_account("redemption:group"), Some(None));
        assert_eq!(is_claim_account("checkout_hold"), None);
        assert_eq!(is_claim_account("expiry"), None);
    }

    #[test]
    fn coupon_bearers_come_from_the_template_placement() {
        let (format, store) = (Uuid::now_v7(), Uuid::now_v7());
        let cost = |bearer_format_id, bearer_store_id| CouponCost {
            bearer_format_id,
            bearer_store_id,
            redeeming_format_id: None,
            redemptions: 1,
            discount_fen: 100,
        };
        assert_eq!(
            bearer_of(&cost(Some(format), Some(store))),
            ("merchant", Some(format))
        );
        assert_eq!(
            bearer_of(&cost(Some(format), None)),
            ("format", Some(format))
        );
        assert_eq!(bearer_of(&cost(None, None)), ("hq", None));
    }
}
