//! Validation and redemption (核销) of one coupon against a cart, the redemption journal with
//! reversals, and giving coupons back when the order they paid for is refunded in full.
//!
//! Redeeming is a compare-and-set on the coupon's state (`available` → `used`, see
//! `huiyuan_store::coupons::mark_used`): of any number of concurrent redemptions of one code,
//! exactly one succeeds and the others answer 409 `coupon_already_used`; a coupon a checkout holds
//! (`reserved`) answers 409 `coupon_reserved`. Checkout confirmation records its redemptions through
//! [`record_redemption`], the same journal and settlement path. A repeated redemption
//! with the same order reference answers the redemption already made, so a till that lost the
//! answer can simply ask again. A coupon issued by one format and redeemed in another writes a
//! cross-format settlement record in the same transaction.

use crate::app::coupons::views::{CouponView, RedemptionView};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Actor, DataScope, Denied, Placement, Principal, RecordClass};
use huiyuan_domain::coupons::template::MAX_FEN;
use huiyuan_domain::coupons::{
    Applied, Cart, CartContext, CartLine, CouponCode, CouponOffer, CouponState, Reason,
    compute_discounts,
};
use huiyuan_domain::ids::{ChannelId, FormatId, MemberId, OrderId, StoreId, TenantId};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::coupons::redemptions::{self as journal, SettlementRecord, StoredRedemption};
use huiyuan_store::coupons::{self as store, StoredCoupon, StoredTemplate};
use huiyuan_store::orders::StoredOrder;
use huiyuan_store::{Session, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most lines in a cart.
const MAX_LINES: usize = 500;
/// Longest order reference.
const MAX_ORDER_REF: usize = 64;

/// The cart a coupon is validated or redeemed against, and where.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartInput {
    /// The goods; may be empty for vouchers (parking, services) redeemed without a purchase.
    #[serde(default)]
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub shipping_fen: i64,
    /// The store or merchant redeeming (a store-bound key's store by default).
    pub store_id: Option<StoreId>,
    /// Staff only; an API key redeems on its own channel.
    pub channel_id: Option<ChannelId>,
    /// Needed only without a store, on a group-wide channel.
    pub format_id: Option<FormatId>,
    /// The member at the till, when identified: someone else's coupon does not apply.
    pub member_id: Option<MemberId>,
    /// Redemption only: the till's or channel's order number. Redeeming again with the same
    /// reference answers the same redemption; a full refund of that order reverses it.
    pub order_ref: Option<String>,
    /// Redemption only: the order in Huiyuan, when already posted.
    pub order_id: Option<OrderId>,
}

/// Where a redemption happens.
#[derive(Clone, Copy, Debug, Default)]
pub struct Till {
    pub format_id: Option<FormatId>,
    pub store_id: Option<StoreId>,
    pub channel_id: Option<ChannelId>,
}

pub fn check_input(input: &CartInput) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    if input.lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            "too_many",
            format!("at most {MAX_LINES} lines"),
        ));
    }
    for (index, line) in input.lines.iter().enumerate() {
        let at = |field: &str| format!("lines[{index}].{field}");
        if line.sku.trim().is_empty() || line.sku.chars().count() > 64 {
            errors.push(FieldError::new(
                at("sku"),
                "invalid_length",
                "1 to 64 characters",
            ));
        }
        if !(0..=MAX_FEN).contains(&line.amount_fen) {
            errors.push(FieldError::new(
                at("amount_fen"),
                "out_of_range",
                format!("0 to {MAX_FEN} fen"),
            ));
        }
        if line.quantity == 0 || line.quantity > 1_000_000 {
            errors.push(FieldError::new(
                at("quantity"),
                "out_of_range",
                "1 to 1000000",
            ));
        }
        if line.category_path.len() > 8 || line.category_path.iter().any(|c| c.chars().count() > 64)
        {
            errors.push(FieldError::new(
                at("category_path"),
                "too_long",
                "at most 8 categories of 64 characters",
            ));
        }
    }
    if !(0..=MAX_FEN).contains(&input.shipping_fen) {
        errors.push(FieldError::new(
            "shipping_fen",
            "out_of_range",
            format!("0 to {MAX_FEN} fen"),
        ));
    }
    if let Some(order_ref) = &input.order_ref
        && (order_ref.trim().is_empty()
            || order_ref.chars().count() > MAX_ORDER_REF
            || order_ref.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "order_ref",
            "invalid_format",
            format!("1 to {MAX_ORDER_REF} printable characters"),
        ));
    }
    errors.finish()
}

/// The till: the key's channel (or the staff's choice), the store (the request's, or a
/// store-bound caller's own) and its format. The caller must be allowed to act where it is.
pub async fn till(session: &mut Session, caller: &Principal, input: &CartInput) -> ApiResult<Till> {
    let channel_id = match caller.actor {
        Actor::ApiKey { channel_id, .. } => {
            if input.channel_id.is_some_and(|asked| asked != channel_id) {
                return Err(FieldError::new(
                    "channel_id",
                    "mismatch",
                    "an API key redeems on its own channel",
                )
                .into());
            }
            Some(channel_id)
        }
        _ => input.channel_id,
    };
    let own_store = match &caller.scope {
        DataScope::Stores { store_ids } if store_ids.len() == 1 => store_ids.first().copied(),
        _ => None,
    };
    let store_id = input.store_id.or(own_store);
    let mut format_id = input.format_id;
    if let Some(store_id) = store_id {
        let store = org::get_store(session, caller.tenant_id, store_id)
            .await?
            .filter(|store| !store.archived)
            .ok_or_else(|| FieldError::new("store_id", "not_found", "no such active store"))?;
        format_id = Some(store.format_id);
    }
    if let Some(channel_id) = channel_id {
        let channel = org::get_channel(session, caller.tenant_id, channel_id)
            .await?
            .ok_or_else(|| FieldError::new("channel_id", "not_found", "no such channel"))?;
        format_id = format_id.or(channel.format_id);
    }
    let placement = Placement {
        format_id,
        store_id,
        guide_id: None,
    };
    if !caller.permits(Access::Write, RecordClass::Org, &placement) {
        return Err(Denied::OutOfScope.into());
    }
    Ok(Till {
        format_id,
        store_id,
        channel_id,
    })
}

/// The canonical code of a typed code or a signed QR payload; anything else names no coupon.
pub fn parse_code(vault: &Vault, tenant: TenantId, raw: &str) -> ApiResult<CouponCode> {
    let typed = if raw.trim().starts_with("C1.") {
        vault
            .verify_coupon_qr(tenant, raw)
            .map_err(|_| ApiError::not_found("coupon"))?
    } else {
        raw.to_owned()
    };
    CouponCode::parse("code", &typed).map_err(|_| ApiError::not_found("coupon"))
}

/// The coupon with this code and its template; 404 when there is none.
pub async fn load(
    session: &mut Session,
    vault: &Vault,
    tenant: TenantId,
    raw: &str,
) -> ApiResult<(StoredCoupon, StoredTemplate)> {
    let code = parse_code(vault, tenant, raw)?;
    let coupon = store::coupon_by_code(session, tenant, code.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("coupon"))?;
    let template = store::get_template(session, tenant, coupon.template_id)
        .await?
        .ok_or_else(|| ApiError::internal("a coupon without its template"))?;
    Ok((coupon, template))
}

/// Prices the coupon against the cart at `now`.
async fn price(
    session: &mut Session,
    caller: &Principal,
    coupon: &StoredCoupon,
    template: &StoredTemplate,
    input: &CartInput,
    now: OffsetDateTime,
) -> ApiResult<(Till, Result<Applied, Reason>)> {
    check_input(input)?;
    let till = till(session, caller, input).await?;
    let tenant = caller.tenant_id;
    let tier_code = if template.template.spec.applicability.tier_codes.is_empty() {
        None
    } else {
        crate::app::tiers::effective_level_code(session, tenant, coupon.member_id).await?
    };
    let member_id = match input.member_id {
        Some(id) => Some(
            crate::app::identity::view::resolve(session, tenant, id)
                .await?
                .map_or(id, |(row, _)| row.id),
        ),
        None => None,
    };
    let tz = crate::app::tenancy::zone::tenant_zone(session, tenant).await?;
    let cart = Cart {
        lines: input.lines.clone(),
        shipping_fen: input.shipping_fen,
        context: CartContext {
            format_id: till.format_id,
            store_id: till.store_id,
            channel_id: till.channel_id,
            tier_code,
            member_id,
            at: now,
        },
    };
    let offer = CouponOffer {
        coupon_id: coupon.id,
        member_id: coupon.member_id,
        state: coupon.state()?,
        starts_at: coupon.starts_at,
        expires_at: coupon.expires_at,
        template: &template.template,
    };
    let outcome = compute_discounts(&[offer], &cart, &tz)
        .pop()
        .ok_or_else(|| ApiError::internal("no outcome for the coupon"))?;
    Ok((till, outcome.result))
}

/// Whether and how much the coupon takes off the cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationView {
    pub coupon: CouponView,
    pub applies: bool,
    /// Why not, as a stable code (`expired`, `below_threshold`, `store_not_applicable` …).
    pub reason: Option<Reason>,
    pub message: Option<String>,
    pub discount: Option<Applied>,
}

/// Validates without changing anything.
pub async fn validate(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    raw_code: &str,
    input: &CartInput,
    now: OffsetDateTime,
) -> ApiResult<ValidationView> {
    let (coupon, template) = load(session, vault, caller.tenant_id, raw_code).await?;
    let (_, result) = price(session, caller, &coupon, &template, input, now).await?;
    let view = CouponView::new(vault, caller.tenant_id, &coupon, &template.template, now);
    Ok(match result {
        Ok(applied) => ValidationView {
            coupon: view,
            applies: true,
            reason: None,
            message: None,
            discount: Some(applied),
        },
        Err(reason) => ValidationView {
            coupon: view,
            applies: false,
            reason: Some(reason),
            message: Some(reason.message().to_owned()),
            discount: None,
        },
    })
}

/// A redemption and the coupon after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemView {
    pub redemption: RedemptionView,
    pub coupon: CouponView,
}

pub fn not_applicable(reason: Reason) -> ApiError {
    ApiError {
        errors: vec![FieldError::new("code", reason.as_str(), reason.message())],
        ..ApiError::with_detail(ErrorCode::CouponNotApplicable, reason.message())
    }
}

pub fn already_used() -> ApiError {
    ApiError::with_detail(
        ErrorCode::CouponAlreadyUsed,
        "the coupon has already been redeemed",
    )
}

/// A coupon a checkout holds: neither a till nor another checkout may take it meanwhile.
pub fn reserved() -> ApiError {
    ApiError {
        errors: vec![FieldError::new(
            "code",
            Reason::Reserved.as_str(),
            Reason::Reserved.message(),
        )],
        ..ApiError::with_detail(ErrorCode::CouponReserved, Reason::Reserved.message())
    }
}

/// The redemption now using the coupon, when it was made for the same order on the same channel.
async fn same_order_redemption(
    m: &mut Mutation,
    coupon: &StoredCoupon,
    caller: &Principal,
    input: &CartInput,
) -> ApiResult<Option<StoredRedemption>> {
    let (Some(order_ref), Some(redemption_id)) = (&input.order_ref, coupon.redemption_id) else {
        return Ok(None);
    };
    let Some(current) = journal::get_redemption(&mut m.session, m.tenant, redemption_id).await?
    else {
        return Ok(None);
    };
    let channel = match caller.actor {
        Actor::ApiKey { channel_id, .. } => Some(channel_id),
        _ => input.channel_id,
    };
    let same = current.order_ref.as_deref() == Some(order_ref.trim())
        && current.channel_id == channel.map(|id| id.0);
    Ok(same.then_some(current))
}

/// Redeems the coupon exactly once. Answers `(true, …)` for a new redemption and `(false, …)`
/// for the one already made for the same order reference.
pub async fn redeem(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    raw_code: &str,
    input: CartInput,
) -> ApiResult<(bool, RedeemView)> {
    let (coupon, template) = load(&mut m.session, vault, m.tenant, raw_code).await?;
    if coupon.state == CouponState::Reserved.as_str() {
        return Err(reserved());
    }
    if coupon.state == "used" {
        return match same_order_redemption(m, &coupon, caller, &input).await? {
            Some(existing) => Ok((false, answer(vault, m, existing, &coupon, &template))),
            None => Err(already_used()),
        };
    }
    if let Some(order_id) = input.order_id
        && huiyuan_store::orders::get_order(&mut m.session, m.tenant, order_id)
            .await?
            .is_none()
    {
        return Err(FieldError::new("order_id", "not_found", "no such order").into());
    }
    let (till, result) = price(&mut m.session, caller, &coupon, &template, &input, m.now).await?;
    let applied = result.map_err(not_applicable)?;
    let redemption_id = Uuid::now_v7();
    if !store::mark_used(&mut m.session, m.tenant, coupon.id, redemption_id, m.now).await? {
        // Another redemption won; it may be this till's own retry.
        let now_stored = store::coupon_by_id(&mut m.session, m.tenant, coupon.id)
            .await?
            .ok_or_else(|| ApiError::not_found("coupon"))?;
        if now_stored.state == CouponState::Reserved.as_str() {
            return Err(reserved());
        }
        return match same_order_redemption(m, &now_stored, caller, &input).await? {
            Some(existing) => Ok((false, answer(vault, m, existing, &now_stored, &template))),
            None => Err(already_used()),
        };
    }
    let order = RedeemedFor {
        order_ref: input.order_ref.as_deref().map(|r| r.trim().to_owned()),
        order_id: input.order_id,
        discount_fen: applied.discount_fen,
    };
    let redemption =
        record_redemption(m, caller, &coupon, &template, redemption_id, till, order).await?;
    let used = StoredCoupon {
        state: "used".to_owned(),
        redemption_id: Some(redemption.id),
        used_at: Some(m.now),
        updated_at: m.now,
        ..coupon
    };
    Ok((true, answer(vault, m, redemption, &used, &template)))
}

/// What a coupon was redeemed for.
#[derive(Clone, Debug, Default)]
pub struct RedeemedFor {
    pub order_ref: Option<String>,
    pub order_id: Option<OrderId>,
    pub discount_fen: i64,
}

/// Writes the journal entry of a redemption whose coupon was just marked used (at a till or by
/// a confirmed checkout), its cross-format settlement record, and the audit entry.
pub async fn record_redemption(
    m: &mut Mutation,
    caller: &Principal,
    coupon: &StoredCoupon,
    template: &StoredTemplate,
    redemption_id: Uuid,
    till: Till,
    order: RedeemedFor,
) -> ApiResult<StoredRedemption> {
    let redemption = StoredRedemption {
        id: redemption_id,
        coupon_id: coupon.id,
        template_id: coupon.template_id,
        code: coupon.code.clone(),
        format_id: till.format_id.map(|id| id.0),
        store_id: till.store_id.map(|id| id.0),
        channel_id: till.channel_id.map(|id| id.0),
        staff_id: caller.staff_id().map(|id| id.0),
        api_key_id: match caller.actor {
            Actor::ApiKey { key_id, .. } => Some(key_id.0),
            _ => None,
        },
        order_ref: order.order_ref,
        order_id: order.order_id,
        face_fen: template.template.spec.benefit.face_value_fen(),
        discount_fen: order.discount_fen,
        created_at: m.now,
        reversed_at: None,
        reversal_reason: None,
    };
    journal::insert_redemption(&mut m.session, m.tenant, &redemption).await?;
    settle(m, &redemption, coupon, template, "redemption", 1).await?;
    m.audit(
        "coupon.redeemed",
        "coupon",
        coupon.id,
        json!({ "redemption_id": redemption.id, "discount_fen": redemption.discount_fen,
                "store_id": redemption.store_id, "format_id": redemption.format_id,
                "channel_id": redemption.channel_id, "order_ref": redemption.order_ref }),
    )
    .await?;
    Ok(redemption)
}

fn answer(
    vault: &Vault,
    m: &Mutation,
    redemption: StoredRedemption,
    coupon: &StoredCoupon,
    template: &StoredTemplate,
) -> RedeemView {
    RedeemView {
        redemption: redemption.into(),
        coupon: CouponView::new(vault, m.tenant, coupon, &template.template, m.now),
    }
}

/// Writes the cross-format settlement record of a redemption (`sign` 1) or its reversal (`-1`)
/// when the coupon was issued by one format and redeemed in another.
async fn settle(
    m: &mut Mutation,
    redemption: &StoredRedemption,
    coupon: &StoredCoupon,
    template: &StoredTemplate,
    kind: &str,
    sign: i64,
) -> ApiResult<()> {
    let (Some(issuing), Some(redeeming)) = (coupon.issuing_format_id, redemption.format_id) else {
        return Ok(());
    };
    if issuing == redeeming {
        return Ok(());
    }
    let bearer = template.template.spec.cost_bearer;
    let bearer_id = match bearer {
        huiyuan_domain::coupons::CostBearer::Hq => None,
        huiyuan_domain::coupons::CostBearer::Format { format_id } => Some(format_id.0),
        huiyuan_domain::coupons::CostBearer::Merchant { store_id } => Some(store_id.0),
    };
    let record = SettlementRecord {
        id: Uuid::now_v7(),
        redemption_id: redemption.id,
        kind: kind.to_owned(),
        coupon_id: coupon.id,
        template_id: coupon.template_id,
        issuing_format_id: issuing,
        redeeming_format_id: redeeming,
        bearer_kind: bearer.kind().to_owned(),
        bearer_id,
        face_fen: sign * redemption.face_fen,
        discount_fen: sign * redemption.discount_fen,
        occurred_at: m.now,
    };
    journal::insert_settlement_record(&mut m.session, m.tenant, &record).await?;
    Ok(())
}

/// Reverses a redemption: stamps it reversed, makes the coupon available again (until its
/// original expiry), books the settlement reversal, audits. `false` when it already was reversed.
pub async fn reverse_redemption(
    m: &mut Mutation,
    redemption: &StoredRedemption,
    reason: &str,
) -> ApiResult<bool> {
    if !journal::mark_reversed(&mut m.session, m.tenant, redemption.id, m.now, reason).await? {
        return Ok(false);
    }
    let coupon = store::coupon_by_id(&mut m.session, m.tenant, redemption.coupon_id)
        .await?
        .ok_or_else(|| ApiError::internal("a redemption without its coupon"))?;
    let template = store::get_template(&mut m.session, m.tenant, coupon.template_id)
        .await?
        .ok_or_else(|| ApiError::internal("a coupon without its template"))?;
    store::mark_available(&mut m.session, m.tenant, coupon.id, redemption.id, m.now).await?;
    settle(m, redemption, &coupon, &template, "reversal", -1).await?;
    m.audit(
        "coupon.redemption_reversed",
        "coupon",
        coupon.id,
        json!({ "redemption_id": redemption.id, "reason": reason, "discount_fen": redemption.discount_fen }),
    )
    .await?;
    Ok(true)
}

/// `POST /coupons/{code}/redemptions/{id}/reverse`: the caller must be allowed to act where the
/// redemption happened. Reversing again answers the reversed redemption unchanged.
pub async fn reverse(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    raw_code: &str,
    redemption_id: Uuid,
    reason: &str,
) -> ApiResult<RedeemView> {
    let (coupon, template) = load(&mut m.session, vault, m.tenant, raw_code).await?;
    let redemption = journal::get_redemption(&mut m.session, m.tenant, redemption_id)
        .await?
        .filter(|r| r.coupon_id == coupon.id);
    let redemption = crate::app::access::visible(
        caller,
        redemption,
        RecordClass::Org,
        redemption_placement,
        "redemption",
    )?;
    crate::app::access::writable(caller, RecordClass::Org, &redemption_placement(&redemption))?;
    reverse_redemption(m, &redemption, reason).await?;
    let redemption = journal::get_redemption(&mut m.session, m.tenant, redemption_id)
        .await?
        .ok_or_else(|| ApiError::not_found("redemption"))?;
    let coupon = store::coupon_by_id(&mut m.session, m.tenant, coupon.id)
        .await?
        .ok_or_else(|| ApiError::not_found("coupon"))?;
    Ok(answer(vault, m, redemption, &coupon, &template))
}

/// Where a redemption happened, for data scopes.
pub fn redemption_placement(r: &StoredRedemption) -> Placement {
    Placement {
        format_id: r.format_id.map(Into::into),
        store_id: r.store_id.map(Into::into),
        guide_id: None,
    }
}

/// The refund hook: when `order` has been refunded in full, reverses the redemptions made against
/// it (by its id, or by its channel and external order number) whose templates allow it; answers
/// how many were reversed.
pub async fn on_order_refunded(m: &mut Mutation, order: &StoredOrder) -> ApiResult<u32> {
    let open = journal::open_redemptions_for_order(
        &mut m.session,
        m.tenant,
        order.id,
        order.channel_id,
        &order.external_id,
    )
    .await?;
    let mut reversed = 0;
    for redemption in open {
        let reverses = store::get_template(&mut m.session, m.tenant, redemption.template_id)
            .await?
            .is_some_and(|t| t.template.spec.refund_reverses);
        if reverses && reverse_redemption(m, &redemption, "order refunded in full").await? {
            reversed += 1;
        }
    }
    Ok(reversed)
}
