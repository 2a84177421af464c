//! Ending a reservation. Confirmation, cancellation and expiry each start with one
//! compare-and-set on the checkout's state (`reserved → …`), so whatever runs in parallel only
//! one of them applies, once; a repeated confirmation or cancellation answers the checkout as it
//! is. Confirming redeems the held coupons through the coupon journal (with cross-format
//! settlement records) and moves the held points to the spending format's `redemption:`
//! account; cancelling or expiring gives the coupons back and returns the points into the lots
//! they came from.

use super::reserve::hold_key;
use super::{CheckoutView, till_of, visible};
use crate::app::coupons::redeem::{RedeemedFor, record_redemption};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{self, Posting, redemption_account};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::auth::{Access, Actor, Principal};
use huiyuan_domain::ids::OrderId;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::checkout::{self as store, Closing, StoredCheckout};
use huiyuan_store::coupons as coupon_store;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest order reference or cancellation reason.
const MAX_TEXT_CHARS: usize = 200;
/// Reservations released per tenant per transaction by the expiry job.
const EXPIRY_BATCH: i64 = 100;

/// The order a checkout paid for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The order in Huiyuan (it must belong to the checkout's member).
    pub order_id: Option<OrderId>,
    /// The till's or channel's order number.
    pub order_ref: Option<String>,
}

/// Why a checkout is cancelled.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

fn text(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(v) = &value
        && (v.chars().count() > MAX_TEXT_CHARS || v.chars().any(char::is_control))
    {
        return Err(FieldError::new(
            field,
            "invalid_format",
            format!("at most {MAX_TEXT_CHARS} printable characters"),
        )
        .into());
    }
    Ok(value)
}

fn closed(c: &StoredCheckout) -> ApiError {
    ApiError::with_detail(
        ErrorCode::CheckoutClosed,
        format!("the checkout is {}", c.state),
    )
}

fn expired() -> ApiError {
    ApiError::with_detail(
        ErrorCode::CheckoutExpired,
        "the reservation has expired; its coupons and points are released",
    )
}

async fn reread(m: &mut Mutation, id: Uuid) -> ApiResult<StoredCheckout> {
    store::get(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("checkout"))
}

/// Confirms checkout `id` for the order paid.
pub async fn confirm(
    m: &mut Mutation,
    caller: &Principal,
    id: Uuid,
    request: ConfirmRequest,
) -> ApiResult<CheckoutView> {
    let before = visible(&mut m.session, caller, id, Access::Write).await?;
    let order_ref = text("order_ref", request.order_ref)?;
    let settled = |c: StoredCheckout, now: OffsetDateTime| match c.state.as_str() {
        "confirmed" => Ok(CheckoutView::new(c, now)),
        // Past its hold, whether or not the expiry job has released it yet.
        "reserved" | "expired" => Err(expired()),
        _ => Err(closed(&c)),
    };
    if before.state != "reserved" || before.expires_at <= m.now {
        return settled(before, m.now);
    }
    if let Some(order_id) = request.order_id {
        let order = huiyuan_store::orders::get_order(&mut m.session, m.tenant, order_id).await?;
        if order.is_none_or(|o| o.member_id != Some(before.member_id)) {
            return Err(FieldError::new(
                "order_id",
                "not_found",
                "no such order of the checkout's member",
            )
            .into());
        }
    }
    let closing = Closing::Confirmed {
        order_id: request.order_id,
        order_ref: order_ref.clone(),
    };
    if !store::close(&mut m.session, m.tenant, id, &closing, m.now).await? {
        return settled(reread(m, id).await?, m.now);
    }
    for held in &before.coupons {
        let coupon = coupon_store::coupon_by_id(&mut m.session, m.tenant, held.coupon_id)
            .await?
            .ok_or_else(|| ApiError::internal("a held coupon is gone"))?;
        let template = coupon_store::get_template(&mut m.session, m.tenant, coupon.template_id)
            .await?
            .ok_or_else(|| ApiError::internal("a coupon without its template"))?;
        let redemption_id = Uuid::now_v7();
        if !store::use_reserved_coupon(&mut m.session, m.tenant, coupon.id, redemption_id, m.now)
            .await?
        {
            return Err(ApiError::internal("a held coupon left its hold"));
        }
        let order = RedeemedFor {
            order_ref: order_ref.clone(),
            order_id: request.order_id,
            discount_fen: held.discount_fen,
        };
        record_redemption(
            m,
            caller,
            &coupon,
            &template,
            redemption_id,
            till_of(&before),
            order,
        )
        .await?;
    }
    if before.hold_entry_id.is_some() {
        let held = hold_entry(m, id).await?;
        let posting = Posting {
            format_id: before.format_id,
            reference: Some(format!("checkout:{id}")),
            reason: "checkout confirmed".to_owned(),
            natural_key: Some(format!("checkout:{id}:redeem")),
        };
        let account = redemption_account(before.format_id);
        ledger::move_held(m, before.member_id, &held, "redeem", account, &posting).await?;
    }
    m.audit(
        "checkout.confirmed",
        "checkout",
        id,
        json!({ "order_id": request.order_id, "order_ref": order_ref,
                "points": before.points, "coupons": before.coupons.len() }),
    )
    .await?;
    settled(reread(m, id).await?, m.now)
}

async fn hold_entry(m: &mut Mutation, id: Uuid) -> ApiResult<huiyuan_store::ledger::Entry> {
    huiyuan_store::ledger::entry_by_natural_key(&mut m.session, m.tenant, &hold_key(id))
        .await?
        .ok_or_else(|| ApiError::internal("a checkout without its hold entry"))
}

/// Cancels checkout `id`: a cancelled or expired one answers as it is; a confirmed one 409.
pub async fn cancel(
    m: &mut Mutation,
    caller: &Principal,
    id: Uuid,
    request: CancelRequest,
) -> ApiResult<CheckoutView> {
    let before = visible(&mut m.session, caller, id, Access::Write).await?;
    let reason = text("reason", request.reason)?;
    let settled = |c: StoredCheckout, now: OffsetDateTime| match c.state.as_str() {
        "confirmed" => Err(closed(&c)),
        _ => Ok(CheckoutView::new(c, now)),
    };
    if before.state != "reserved" {
        return settled(before, m.now);
    }
    let closing = Closing::Cancelled {
        reason: reason.clone(),
    };
    if !store::close(&mut m.session, m.tenant, id, &closing, m.now).await? {
        return settled(reread(m, id).await?, m.now);
    }
    release(m, &before, "cancelled").await?;
    settled(reread(m, id).await?, m.now)
}

/// Gives back what a checkout just closed as cancelled or expired held: its coupons become
/// available, its points return into the lots they came from (keeping their expiry).
async fn release(m: &mut Mutation, c: &StoredCheckout, how: &str) -> ApiResult<()> {
    for held in &c.coupons {
        if !store::release_coupon(&mut m.session, m.tenant, held.coupon_id, m.now).await? {
            return Err(ApiError::internal("a held coupon left its hold"));
        }
    }
    if c.hold_entry_id.is_some() {
        let held = hold_entry(m, c.id).await?;
        let tz = crate::app::tenancy::zone::tenant_zone(&mut m.session, m.tenant).await?;
        let posting = Posting {
            format_id: held.format_id,
            reference: Some(format!("checkout:{}", c.id)),
            reason: format!("checkout {how}: points returned"),
            natural_key: Some(format!("checkout:{}:release", c.id)),
        };
        // The checkout's member may differ from the hold's after a merge: the points go to
        // whoever holds the checkout now.
        ledger::reverse_spend(m, c.member_id, &held, &posting, &tz).await?;
    }
    m.audit(
        &format!("checkout.{how}"),
        "checkout",
        c.id,
        json!({ "points_returned": c.points, "coupons_released": c.coupons.len() }),
    )
    .await?;
    Ok(())
}

/// Releases every reservation due by `now`, in batches, on any number of nodes at once: on
/// PostgreSQL a batch is claimed with `FOR UPDATE SKIP LOCKED`, and each release is a
/// compare-and-set on the checkout's state, so none is released twice. Answers how many.
pub async fn release_expired(app: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let tenants = {
        let mut session = app.store.read().await?;
        huiyuan_store::tenants::list(&mut session, 10_000).await?
    };
    let mut released = 0;
    for tenant in tenants {
        loop {
            let (due, done) = app
                .write_as(tenant.id, Actor::System, None, move |m| {
                    Box::pin(async move {
                        m.now = now;
                        let due = store::claim_expired(&mut m.session, m.tenant, now, EXPIRY_BATCH)
                            .await?;
                        let mut done = 0;
                        for id in &due {
                            let Some(c) = store::get(&mut m.session, m.tenant, *id).await? else {
                                continue;
                            };
                            if store::close(&mut m.session, m.tenant, c.id, &Closing::Expired, now)
                                .await?
                            {
                                release(m, &c, "expired").await?;
                                done += 1;
                            }
                        }
                        Ok((due.len(), done))
                    })
                })
                .await?;
            released += done;
            if (due as i64) < EXPIRY_BATCH {
                break;
            }
        }
    }
    Ok(released)
}
