//! Reserving a checkout: price it, then in the same transaction hold each coupon (`available →
//! reserved` by compare-and-set, so of concurrent checkouts wanting one coupon exactly one gets
//! it) and spend the points into the `checkout_hold` account with the ledger's guarded spend
//! (first to expire first; never overdrawn, whatever runs in parallel).

use super::{CheckoutRequest, CheckoutView, coupon_refused, price};
use crate::app::error::{ApiError, ApiResult};
use crate::app::ledger::{self, Posting};
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::coupons::{CouponState, Reason};
use huiyuan_domain::ledger::LedgerAccount;
use huiyuan_store::checkout::{self as store, HeldCoupon, StoredCheckout};
use huiyuan_store::coupons as coupon_store;
use serde_json::json;
use time::Duration;
use uuid::Uuid;

/// The natural key of the entry holding a checkout's points.
pub fn hold_key(checkout: Uuid) -> String {
    format!("checkout:{checkout}:hold")
}

/// Prices and reserves `request` inside `m`.
pub async fn reserve(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    request: CheckoutRequest,
) -> ApiResult<CheckoutView> {
    let (member, _) = crate::app::access::visible_member(
        &mut m.session,
        caller,
        request.member_id,
        Access::Write,
    )
    .await?;
    let priced = price(&mut m.session, vault, caller, member.id, &request, m.now).await?;
    let id = Uuid::now_v7();

    // Coupons in id order, so two checkouts holding the same pair never wait on each other in
    // a cycle (PostgreSQL row locks).
    let mut order: Vec<usize> = (0..priced.coupons.len()).collect();
    order.sort_by_key(|&index| priced.coupons[index].0.id);
    for index in order {
        let coupon = &priced.coupons[index].0;
        if !store::reserve_coupon(&mut m.session, m.tenant, coupon.id, m.now).await? {
            // Another checkout or a till got there first.
            let now_state = coupon_store::coupon_by_id(&mut m.session, m.tenant, coupon.id)
                .await?
                .map(|c| c.state);
            let reason = match now_state.as_deref() {
                Some(state) if state == CouponState::Reserved.as_str() => Reason::Reserved,
                Some(state) if state == CouponState::Used.as_str() => Reason::Used,
                Some(state) if state == CouponState::Voided.as_str() => Reason::Voided,
                _ => Reason::Expired,
            };
            return Err(coupon_refused(index, reason));
        }
    }

    let quote = &priced.quote;
    let hold_entry = if quote.points_used > 0 {
        let posting = Posting {
            format_id: priced.till.format_id.map(|f| f.0),
            reference: Some(format!("checkout:{id}")),
            reason: "checkout: points held until confirmed".to_owned(),
            natural_key: Some(hold_key(id)),
        };
        let entry = ledger::spend(
            m,
            member.id,
            quote.points_used,
            "checkout_hold",
            LedgerAccount::CheckoutHold,
            &posting,
        )
        .await
        .map_err(ledger::as_insufficient_points)?;
        Some(entry)
    } else {
        None
    };
    let points_sources = match &hold_entry {
        Some(entry) => ledger::issuing_formats(m, entry).await?,
        None => Vec::new(),
    };
    let checkout = StoredCheckout {
        id,
        member_id: member.id,
        state: "reserved".to_owned(),
        format_id: priced.till.format_id.map(|f| f.0),
        store_id: priced.till.store_id.map(|s| s.0),
        channel_id: priced.till.channel_id.map(|c| c.0),
        quote: serde_json::to_value(quote).map_err(ApiError::internal)?,
        coupons: quote
            .coupons
            .iter()
            .map(|line| HeldCoupon {
                coupon_id: line.coupon_id,
                discount_fen: line.discount.discount_fen,
            })
            .collect(),
        points: quote.points_used,
        points_value_fen: quote.points_value_fen,
        cash_due_fen: quote.cash_due_fen,
        hold_entry_id: hold_entry.as_ref().map(|e| e.id),
        points_sources,
        order_id: None,
        order_ref: None,
        cancel_reason: None,
        expires_at: m.now + Duration::minutes(priced.policy.hold_minutes),
        created_at: m.now,
        updated_at: m.now,
        confirmed_at: None,
        closed_at: None,
    };
    store::insert(&mut m.session, m.tenant, &checkout).await?;
    m.audit(
        "checkout.reserved",
        "checkout",
        id,
        json!({
            "member_id": member.id, "coupons": checkout.coupons.iter().map(|c| c.coupon_id).collect::<Vec<_>>(),
            "points": checkout.points, "points_value_fen": checkout.points_value_fen,
            "cash_due_fen": checkout.cash_due_fen, "expires_at": checkout.expires_at,
        }),
    )
    .await?;
    Ok(CheckoutView::new(checkout, m.now))
}
