//! Redeeming a reward (兑换): one transaction checks eligibility, takes the member's limit
//! counters, spends the points through the ledger, takes stock and writes the redemption. Each taking
//! is a guarded update that the database refuses when it would oversell, exceed a limit or
//! overdraw; a refusal rolls the whole transaction back, so nothing is ever half taken.

use super::views::IssuedCouponView;
use super::views::RedemptionView;
use super::{coupon_key, reward_placement, spend_key};
use crate::app::access::visible;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{self, Posting, donation_account, redemption_account};
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Actor, Principal, RecordClass};
use huiyuan_domain::coupons::IssueSource;
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::{MemberId, RewardId};
use huiyuan_domain::mall::{
    Delivery, Eligibility, MemberFacts, RedemptionState, RewardKind, RewardSpec, initial_state,
    limit_counters,
};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::ledger::Entry;
use huiyuan_store::mall::{StoredRedemption, StoredReward, limits, redemptions, rewards};
use huiyuan_store::members::StoredMember;
use huiyuan_store::{Session, org};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest cash payment reference accepted.
const MAX_REFERENCE_LEN: usize = 128;

/// A member redeeming a reward.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    pub member_id: MemberId,
    /// Units, 1 to the reward's `max_quantity` (default 1).
    #[serde(default = "one")]
    pub quantity: i64,
    /// How to deliver: `{"method":"collect","store_id":…}`, `{"method":"ship","address":{…}}`,
    /// or `{"method":"none"}` (donations, coupons, services any store may serve; the default).
    #[serde(default = "no_delivery")]
    pub delivery: Delivery,
    /// The payment of the cash part (积分+现金), e.g. a WeChat Pay transaction id; required when
    /// the reward costs cash.
    #[serde(default)]
    pub cash_payment_reference: Option<String>,
}

fn one() -> i64 {
    1
}

fn no_delivery() -> Delivery {
    Delivery::None
}

fn not_eligible(field: &str, code: &'static str, message: String) -> ApiError {
    ApiError {
        errors: vec![FieldError::new(field, code, message.clone())],
        ..ApiError::with_detail(ErrorCode::NotEligible, message)
    }
}

/// The member's tier facts for a tier-only reward.
pub async fn member_facts(
    session: &mut Session,
    m_tenant: huiyuan_domain::ids::TenantId,
    spec: &RewardSpec,
    member: MemberId,
    now: time::OffsetDateTime,
) -> ApiResult<MemberFacts> {
    let Some(code) = &spec.min_tier_code else {
        return Ok(MemberFacts::default());
    };
    let Some(ladder) = crate::app::tiers::ladder::load(session, m_tenant).await? else {
        return Ok(MemberFacts::default());
    };
    let state = crate::app::tiers::current_state(session, m_tenant, &ladder, member).await?;
    Ok(MemberFacts {
        tier_rank: state.and_then(|state| ladder.rank(state.effective_level_code(now))),
        required_rank: ladder.rank(code),
    })
}

/// The collection store: it exists, is open, and suits the reward's supplier or format.
async fn check_collect_store(
    session: &mut Session,
    tenant: huiyuan_domain::ids::TenantId,
    spec: &RewardSpec,
    delivery: &Delivery,
) -> ApiResult<Option<huiyuan_domain::org::Store>> {
    let Delivery::Collect { store_id } = delivery else {
        return Ok(None);
    };
    let field = "delivery.store_id";
    let store = match org::get_store(session, tenant, *store_id).await? {
        Some(store) if !store.archived => store,
        _ => return Err(FieldError::new(field, "not_found", "no such open store").into()),
    };
    let suits = match (spec.supplier_store_id, spec.format_id) {
        (Some(supplier), _) => supplier == store.id,
        (None, Some(format)) => format == store.format_id,
        (None, None) => true,
    };
    if !suits {
        return Err(FieldError::new(
            field,
            "invalid_for_reward",
            "this reward is collected at its supplier's store or a store of its format",
        )
        .into());
    }
    Ok(Some(store))
}

/// Takes the member's limit counters; answers the counter keys taken.
async fn take_limits(
    m: &mut Mutation,
    reward: &StoredReward,
    member: MemberId,
    quantity: i64,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Vec<String>> {
    let counters = limit_counters(&reward.spec, m.now, tz)
        .ok_or_else(|| ApiError::internal("the current instant is outside the calendar"))?;
    let mut keys = Vec::new();
    for (key, limit) in counters {
        if !limits::take(
            &mut m.session,
            m.tenant,
            member,
            reward.id,
            &key,
            quantity,
            limit,
        )
        .await?
        {
            let used = limits::used(&mut m.session, m.tenant, member, reward.id, &key).await?;
            let span = if key == huiyuan_domain::mall::TOTAL_KEY {
                "in all".to_owned()
            } else {
                format!("in period {key}")
            };
            return Err(ApiError {
                errors: vec![FieldError::new(
                    "quantity",
                    "limit_reached",
                    used.to_string(),
                )],
                ..ApiError::with_detail(
                    ErrorCode::LimitReached,
                    format!("at most {limit} per member {span}; {used} already redeemed"),
                )
            });
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Takes `quantity` units of a limited stock; answers whether the stock is limited. Taken last,
/// so the reward's row — every redeemer's one shared row — stays locked the shortest.
async fn take_stock(m: &mut Mutation, reward: &StoredReward, quantity: i64) -> ApiResult<bool> {
    let limited = reward.stock.is_some();
    if limited && !rewards::take_stock(&mut m.session, m.tenant, reward.id, quantity).await? {
        return Err(ApiError::with_detail(
            ErrorCode::OutOfStock,
            format!("fewer than {quantity} units are left"),
        ));
    }
    Ok(limited)
}

/// Spends the points into the spending format's redemption (or donation) account; a shortfall
/// is a 422 `insufficient_points`.
async fn spend_points(
    m: &mut Mutation,
    spec: &RewardSpec,
    member: MemberId,
    redemption: Uuid,
    points: i64,
) -> ApiResult<(Entry, String)> {
    let format = spec.spending_format().map(|f| f.0);
    let (kind, account) = match spec.kind {
        RewardKind::Donation => ("donate", donation_account(format)),
        _ => ("redeem", redemption_account(format)),
    };
    let posting = Posting {
        format_id: format,
        reference: Some(format!("reward_redemption:{redemption}")),
        reason: format!("points mall: {}", spec.name),
        natural_key: Some(spend_key(redemption)),
    };
    let entry = ledger::spend(m, member, points, kind, account.clone(), &posting)
        .await
        .map_err(ledger::as_insufficient_points)?;
    // The redemption stores the account's name, the same text the entry stores.
    Ok((entry, account.to_string()))
}

/// Redeems `reward_id` for `member` (found by the caller, in their scope, for writing) inside
/// `m`.
pub async fn redeem(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    reward_id: RewardId,
    member: StoredMember,
    request: RedeemRequest,
) -> ApiResult<RedemptionView> {
    let reward = visible(
        caller,
        rewards::get(&mut m.session, m.tenant, reward_id).await?,
        RecordClass::Org,
        |reward: &StoredReward| reward_placement(&reward.spec),
        "reward",
    )?;
    let spec = &reward.spec;
    let delivery = request.delivery.parse_for(spec.kind, spec.fulfilment)?;
    let cash_fen = spec.cash_fen * request.quantity.clamp(0, spec.max_quantity);
    let reference = request
        .cash_payment_reference
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reference
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REFERENCE_LEN)
    {
        return Err(FieldError::new(
            "cash_payment_reference",
            "too_long",
            format!("must be at most {MAX_REFERENCE_LEN} characters"),
        )
        .into());
    }
    if cash_fen > 0 && reference.is_none() {
        return Err(FieldError::new(
            "cash_payment_reference",
            "required",
            "this reward costs cash as well: name the payment",
        )
        .into());
    }

    match redemptions::hold_member(&mut m.session, m.tenant, member.id).await? {
        Some(status) if status == MemberStatus::Active.as_str() => {}
        Some(status) if status == MemberStatus::Merged.as_str() => {
            return Err(ApiError::with_detail(
                ErrorCode::Conflict,
                "the member was merged meanwhile; retry",
            ));
        }
        _ => {
            return Err(not_eligible(
                "member_id",
                "not_active",
                "only active members redeem".to_owned(),
            ));
        }
    }
    let facts = member_facts(&mut m.session, m.tenant, spec, member.id, m.now).await?;
    Eligibility {
        reward: spec,
        archived: reward.archived,
        member: facts,
    }
    .check(request.quantity, m.now)
    .map_err(|why| not_eligible(why.field(), why.code(), why.to_string()))?;
    let collect_store = check_collect_store(&mut m.session, m.tenant, spec, &delivery).await?;
    let tz = crate::app::tenancy::zone::tenant_zone(&mut m.session, m.tenant).await?;

    let id = Uuid::now_v7();
    let points = spec.points * request.quantity;
    // Lock order, the same in a cancellation: limit counters, the member's balance, the stock.
    let limit_keys = take_limits(m, &reward, member.id, request.quantity, &tz).await?;
    let (entry, points_account) = spend_points(m, spec, member.id, id, points).await?;
    let stock_taken = take_stock(m, &reward, request.quantity).await?;
    let points_sources = ledger::issuing_formats(m, &entry).await?;
    let shipping_enc = match &delivery {
        Delivery::Ship { address } => {
            Some(vault.seal(&serde_json::to_string(address).map_err(ApiError::internal)?))
        }
        _ => None,
    };
    let state = initial_state(spec.kind);
    let redemption = StoredRedemption {
        id,
        member_id: member.id,
        reward_id: reward.id,
        reward_kind: spec.kind.as_str().to_owned(),
        reward_name: spec.name.clone(),
        quantity: request.quantity,
        points,
        cash_fen,
        cash_payment_reference: reference,
        state: state.as_str().to_owned(),
        delivery_method: delivery.method().as_str().to_owned(),
        collect_store_id: collect_store.as_ref().map(|store| store.id.0),
        shipping_enc,
        shipment: None,
        format_id: spec
            .spending_format()
            .or(collect_store.as_ref().map(|store| store.format_id))
            .map(|f| f.0),
        store_id: spec
            .supplier_store_id
            .or(collect_store.as_ref().map(|store| store.id))
            .map(|s| s.0),
        supplier_store_id: spec.supplier_store_id.map(|s| s.0),
        supplier_format_id: spec.supplier_format_id.map(|f| f.0),
        spending_format_id: spec.spending_format().map(|f| f.0),
        points_account,
        points_sources,
        spend_entry_id: entry.id,
        limit_keys,
        stock_taken,
        channel_id: match m.actor {
            Actor::ApiKey { channel_id, .. } => Some(channel_id.0),
            _ => None,
        },
        collected_store_id: None,
        cancel_reason: None,
        created_at: m.now,
        updated_at: m.now,
        shipped_at: None,
        collected_at: None,
        completed_at: (state == RedemptionState::Completed).then_some(m.now),
        cancelled_at: None,
    };
    redemptions::insert(&mut m.session, m.tenant, &redemption).await?;
    let coupons = issue_coupons(m, spec, member.id, id, request.quantity).await?;
    m.audit(
        "reward.redeemed",
        "reward_redemption",
        id,
        json!({
            "reward_id": reward.id, "member_id": member.id, "quantity": request.quantity,
            "points": points, "cash_fen": cash_fen, "entry_id": entry.id,
        }),
    )
    .await?;
    let mut view = RedemptionView::build(vault, caller, redemption)?;
    view.coupons = coupons;
    Ok(view)
}

/// A coupon reward's coupons (兑换券), one per unit, issued in the redemption's transaction under
/// natural keys (`mall:<redemption>:<unit>`); a quota the template no longer has refuses the whole
/// redemption, so no points are taken for a coupon that was not issued.
async fn issue_coupons(
    m: &mut Mutation,
    spec: &RewardSpec,
    member: MemberId,
    redemption: Uuid,
    quantity: i64,
) -> ApiResult<Vec<IssuedCouponView>> {
    let (RewardKind::Coupon, Some(template)) = (spec.kind, spec.coupon_template_id) else {
        return Ok(Vec::new());
    };
    let mut issued = Vec::new();
    for unit in 0..quantity {
        let key = coupon_key(redemption, unit);
        let coupon =
            crate::app::coupons::issue_in_tx(m, template, member, IssueSource::Mall, Some(&key))
                .await?;
        issued.push(IssuedCouponView::from(coupon.coupon()));
    }
    Ok(issued)
}
