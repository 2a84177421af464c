//! Orders as a service: ingestion from any channel (idempotent on the channel and its own order
//! id, late offline batches evaluated at the order's own time), the accrual through the earning
//! engine, anonymous orders and their later claim (补积分), refunds that take back exactly what
//! the refunded lines earned, and the dry run that explains an order without writing.
//!
//! Every write runs inside the caller's open [`Mutation`]: the order, its accrual, the ledger
//! entries, the rule counters and the audit record commit together or not at all.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::view::resolve;
use crate::ledger::{Posting, clawback, earn, issuance_account, tenant_zone};
use crate::mutation::Mutation;
use crate::vault::Vault;
use huiyuan_domain::auth::{Access, Actor, Placement, Principal, RecordClass};
use huiyuan_domain::earning::{
    Accrual, EarnedSoFar, EarningContext, EarningRule, Evaluation, Fired, LineFacts, MemberFacts,
    OrderFacts, day_window, evaluate,
};
use huiyuan_domain::identity::{Identifier, IdentifierInput, IdentifierKind, MemberNo};
use huiyuan_domain::ids::{ChannelId, FormatId, StaffId, StoreId, TenantId};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::earning_rules;
use huiyuan_store::orders::{
    self, RefundedLine, RuleAccrual, StoredLine, StoredOrder, StoredPayment, StoredRefund,
};
use huiyuan_store::{Session, auth, members, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

/// How long after an anonymous order a member may still claim it (补积分).
pub const CLAIM_WINDOW_DAYS: i64 = 30;
/// How late an offline batch may deliver an order.
pub const MAX_ORDER_AGE_DAYS: i64 = 366;
/// Clock skew tolerated on an order's time.
const FUTURE_SKEW_MINUTES: i64 = 5;
/// Most lines and payments in one order.
pub const MAX_LINES: usize = 500;
const MAX_PAYMENTS: usize = 20;
/// Largest amount accepted anywhere in an order: ¥100 million.
const MAX_FEN: i64 = 10_000_000_000;
const MAX_QUANTITY: u32 = 1_000_000;

/// `status` of an order.
pub const COMPLETED: &str = "completed";
pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
pub const REFUNDED: &str = "refunded";

/// How the customer paid part of the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    WechatPay,
    Alipay,
    /// Points as cash (积分抵现): earns nothing.
    Points,
    /// Order-level coupons: earn nothing.
    Coupon,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::WechatPay => "wechat_pay",
            PaymentMethod::Alipay => "alipay",
            PaymentMethod::Points => "points",
            PaymentMethod::Coupon => "coupon",
        }
    }
}

/// One line of a posted order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// Unique within the order; refunds name lines by it.
    pub line_no: u32,
    pub sku: String,
    #[serde(default)]
    pub name: String,
    /// From the broadest category down, e.g. `["beauty", "skincare"]`.
    #[serde(default)]
    pub category_path: Vec<String>,
    pub quantity: u32,
    pub unit_price_fen: i64,
    /// What the line costs after line discounts.
    pub amount_fen: i64,
    /// Lines that never earn (tobacco, gift cards, deposits).
    #[serde(default)]
    pub excluded: bool,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    pub amount_fen: i64,
}

/// The body of `POST /orders` and `POST /orders/preview`. The member is named by at most one of
/// `member_id`, `phone`, `member_no`, `member_code`; none makes an anonymous order.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The channel's own order id; the same (channel, external_id) is one order.
    pub external_id: String,
    /// Staff only; an API key posts for its own channel.
    pub channel_id: Option<ChannelId>,
    pub member_id: Option<Uuid>,
    pub phone: Option<String>,
    pub member_no: Option<String>,
    /// A dynamic member code (一客一码) scanned at the till.
    pub member_code: Option<String>,
    pub store_id: Option<StoreId>,
    /// Needed only without a store and on a group-wide channel.
    pub format_id: Option<FormatId>,
    pub guide_id: Option<StaffId>,
    /// When the purchase happened; earning rules read it in the tenant's time zone.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub total_fen: i64,
    pub lines: Vec<LineInput>,
    /// Absent means all paid in cash-like methods; when present the parts sum to `total_fen`.
    #[serde(default)]
    pub payments: Vec<PaymentInput>,
}

/// The body of `POST /orders/{id}/claim`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimInput {
    pub member_id: Uuid,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineInput {
    pub line_no: u32,
    pub quantity: u32,
}

/// The body of `POST /orders/{id}/refunds`; without `lines`, everything not yet refunded.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    pub external_refund_id: String,
    pub lines: Option<Vec<RefundLineInput>>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineView {
    pub line_no: u32,
    pub sku: String,
    pub name: String,
    pub category_path: Vec<String>,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
    pub excluded: bool,
    pub refunded_quantity: i64,
    pub refunded_fen: i64,
    /// What the line earned at accrual.
    pub points_earned: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub method: String,
    pub amount_fen: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundedLineView {
    pub line_no: u32,
    pub quantity: i64,
    pub amount_fen: i64,
    pub points: i64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub external_refund_id: String,
    pub lines: Vec<RefundedLineView>,
    pub amount_fen: i64,
    /// Points taken back from the member.
    pub points_reversed: i64,
    /// Points the refunded lines earned that could not be taken back.
    pub unrecovered: i64,
    /// How the points were taken back (own lot, other lots, overdraft, unrecovered).
    pub explanation: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<StoredRefund> for RefundView {
    fn from(refund: StoredRefund) -> Self {
        Self {
            id: refund.id,
            order_id: refund.order_id,
            external_refund_id: refund.external_refund_id,
            lines: refund
                .lines
                .into_iter()
                .map(|line| RefundedLineView {
                    line_no: line.line_no,
                    quantity: line.quantity,
                    amount_fen: line.amount_fen,
                    points: line.points,
                })
                .collect(),
            amount_fen: refund.amount_fen,
            points_reversed: refund.points_reversed,
            unrecovered: refund.unrecovered,
            explanation: refund.explanation,
            created_at: refund.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    pub external_id: String,
    pub channel_id: Uuid,
    /// Absent for an anonymous order.
    pub member_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    /// The issuing business format: its liability account carries the points.
    pub format_id: Uuid,
    pub guide_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub total_fen: i64,
    pub refunded_fen: i64,
    /// `completed`, `partially_refunded` or `refunded`.
    pub status: String,
    pub points_earned: i64,
    pub points_reversed: i64,
    /// The earning rules that fired, with their points per line.
    pub fired_rules: Vec<Fired>,
    pub lines: Vec<LineView>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub claimed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Where an order sits for data-scope decisions.
pub fn order_placement(order: &StoredOrder) -> Placement {
    Placement {
        format_id: Some(FormatId(order.format_id)),
        store_id: order.store_id.map(StoreId),
        guide_id: None,
    }
}

/// The order with its lines, payments and refunds.
pub async fn order_view(
    session: &mut Session,
    tenant: TenantId,
    order: StoredOrder,
) -> ApiResult<OrderView> {
    let lines = orders::order_lines(session, tenant, order.id).await?;
    let payments = orders::order_payments(session, tenant, order.id).await?;
    let refunds = orders::order_refunds(session, tenant, order.id).await?;
    Ok(OrderView {
        id: order.id,
        external_id: order.external_id,
        channel_id: order.channel_id,
        member_id: order.member_id,
        store_id: order.store_id,
        format_id: order.format_id,
        guide_id: order.guide_id,
        occurred_at: order.occurred_at,
        total_fen: order.total_fen,
        refunded_fen: order.refunded_fen,
        status: order.status,
        points_earned: order.points_earned,
        points_reversed: order.points_reversed,
        fired_rules: order
            .accrual
            .map(|accrual| accrual.fired)
            .unwrap_or_default(),
        lines: lines
            .into_iter()
            .map(|line| LineView {
                line_no: u32::try_from(line.line_no).unwrap_or(u32::MAX),
                sku: line.sku,
                name: line.name,
                category_path: line.category_path,
                quantity: line.quantity,
                unit_price_fen: line.unit_price_fen,
                amount_fen: line.amount_fen,
                excluded: line.excluded,
                refunded_quantity: line.refunded_quantity,
                refunded_fen: line.refunded_fen,
                points_earned: line.points_earned,
            })
            .collect(),
        payments: payments
            .into_iter()
            .map(|p| PaymentView {
                method: p.method,
                amount_fen: p.amount_fen,
            })
            .collect(),
        refunds: refunds.into_iter().map(RefundView::from).collect(),
        claimed_at: order.claimed_at,
        created_at: order.created_at,
    })
}

/// An order the caller may see, otherwise 404.
pub async fn visible_order(
    session: &mut Session,
    caller: &Principal,
    id: Uuid,
    access: Access,
) -> ApiResult<StoredOrder> {
    let order = orders::get_order(session, caller.tenant_id, id)
        .await?
        .filter(|order| caller.permits(Access::Read, RecordClass::Org, &order_placement(order)))
        .ok_or_else(|| ApiError::not_found("order"))?;
    if access == Access::Write {
        crate::routes::common::writable(caller, RecordClass::Org, &order_placement(&order))?;
    }
    Ok(order)
}

// ---- parsing ----

/// An order that passed every check of its own fields (not yet its references).
#[derive(Clone, Debug)]
pub struct ParsedOrder {
    pub input: OrderInput,
    pub external_id: String,
    pub paid_by_points_fen: i64,
    pub paid_by_coupons_fen: i64,
}

fn check_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize, required: bool) {
    let count = value.chars().count();
    if (required && value.trim().is_empty()) || count > max {
        errors.push(FieldError::new(
            field,
            "invalid_length",
            format!("must be {} to {max} characters", u8::from(required)),
        ));
    }
}

impl ParsedOrder {
    /// Checks every field; reports all problems at once.
    pub fn parse(input: OrderInput, now: OffsetDateTime) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let external_id = input.external_id.trim().to_owned();
        check_text(&mut errors, "external_id", &external_id, 64, true);
        let named = [
            input.member_id.is_some(),
            input.phone.is_some(),
            input.member_no.is_some(),
            input.member_code.is_some(),
        ];
        if named.iter().filter(|given| **given).count() > 1 {
            errors.push(FieldError::new(
                "member_id",
                "ambiguous",
                "name the member by at most one of member_id, phone, member_no, member_code",
            ));
        }
        if input.occurred_at > now + Duration::minutes(FUTURE_SKEW_MINUTES) {
            errors.push(FieldError::new(
                "occurred_at",
                "in_future",
                "must not lie in the future",
            ));
        }
        if input.occurred_at < now - Duration::days(MAX_ORDER_AGE_DAYS) {
            errors.push(FieldError::new(
                "occurred_at",
                "too_old",
                format!("must be within the last {MAX_ORDER_AGE_DAYS} days"),
            ));
        }
        if !(0..=MAX_FEN).contains(&input.total_fen) {
            errors.push(FieldError::new(
                "total_fen",
                "out_of_range",
                format!("must be 0 to {MAX_FEN}"),
            ));
        }
        if input.lines.is_empty() || input.lines.len() > MAX_LINES {
            errors.push(FieldError::new(
                "lines",
                "out_of_range",
                format!("an order has 1 to {MAX_LINES} lines"),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut lines_fen: i64 = 0;
        for (i, line) in input.lines.iter().enumerate() {
            let at = |field: &str| format!("lines[{i}].{field}");
            if !seen.insert(line.line_no) {
                errors.push(FieldError::new(
                    at("line_no"),
                    "duplicate",
                    "line numbers are unique within an order",
                ));
            }
            check_text(&mut errors, &at("sku"), &line.sku, 64, true);
            check_text(&mut errors, &at("name"), &line.name, 200, false);
            if line.category_path.len() > 8
                || line
                    .category_path
                    .iter()
                    .any(|c| c.trim().is_empty() || c.chars().count() > 64)
            {
                errors.push(FieldError::new(
                    at("category_path"),
                    "invalid",
                    "up to 8 non-empty categories of at most 64 characters",
                ));
            }
            if line.quantity == 0 || line.quantity > MAX_QUANTITY {
                errors.push(FieldError::new(
                    at("quantity"),
                    "out_of_range",
                    format!("must be 1 to {MAX_QUANTITY}"),
                ));
            }
            if !(0..=MAX_FEN).contains(&line.unit_price_fen) {
                errors.push(FieldError::new(
                    at("unit_price_fen"),
                    "out_of_range",
                    format!("must be 0 to {MAX_FEN}"),
                ));
            }
            if !(0..=MAX_FEN).contains(&line.amount_fen) {
                errors.push(FieldError::new(
                    at("amount_fen"),
                    "out_of_range",
                    format!("must be 0 to {MAX_FEN}"),
                ));
            }
            lines_fen = lines_fen.saturating_add(line.amount_fen.max(0));
        }
        if lines_fen > input.total_fen {
            errors.push(FieldError::new(
                "total_fen",
                "less_than_lines",
                format!("the lines sum to {lines_fen}, more than the total"),
            ));
        }
        if input.payments.len() > MAX_PAYMENTS {
            errors.push(FieldError::new(
                "payments",
                "out_of_range",
                format!("at most {MAX_PAYMENTS} payments"),
            ));
        }
        let (mut paid, mut by_points, mut by_coupons) = (0i64, 0i64, 0i64);
        for (i, payment) in input.payments.iter().enumerate() {
            if !(0..=MAX_FEN).contains(&payment.amount_fen) {
                errors.push(FieldError::new(
                    format!("payments[{i}].amount_fen"),
                    "out_of_range",
                    format!("must be 0 to {MAX_FEN}"),
                ));
            }
            let amount = payment.amount_fen.clamp(0, MAX_FEN);
            paid = paid.saturating_add(amount);
            match payment.method {
                PaymentMethod::Points => by_points += amount,
                PaymentMethod::Coupon => by_coupons += amount,
                _ => {}
            }
        }
        if !input.payments.is_empty() && paid != input.total_fen {
            errors.push(FieldError::new(
                "payments",
                "sum_mismatch",
                format!(
                    "the payments sum to {paid}, not the total {}",
                    input.total_fen
                ),
            ));
        }
        errors.finish()?;
        Ok(Self {
            input,
            external_id,
            paid_by_points_fen: by_points,
            paid_by_coupons_fen: by_coupons,
        })
    }
}

/// The order's channel, store and format, checked against the organisation and the caller.
struct Origin {
    channel_id: ChannelId,
    store_id: Option<StoreId>,
    format_id: FormatId,
}

async fn origin(
    session: &mut Session,
    caller: &Principal,
    input: &OrderInput,
) -> ApiResult<Origin> {
    let tenant = caller.tenant_id;
    let channel_id = match (&caller.actor, input.channel_id) {
        (Actor::ApiKey { channel_id, .. }, given) => {
            if given.is_some_and(|given| given != *channel_id) {
                return Err(FieldError::new(
                    "channel_id",
                    "mismatch",
                    "an API key posts orders for its own channel only",
                )
                .into());
            }
            *channel_id
        }
        (_, Some(given)) => given,
        (_, None) => {
            return Err(FieldError::new(
                "channel_id",
                "required",
                "staff name the channel the order came through",
            )
            .into());
        }
    };
    let channel = org::get_channel(session, tenant, channel_id)
        .await?
        .ok_or_else(|| {
            ApiError::from(FieldError::new(
                "channel_id",
                "not_found",
                "no such channel",
            ))
        })?;
    let store = match input.store_id {
        Some(id) => Some(org::get_store(session, tenant, id).await?.ok_or_else(|| {
            ApiError::from(FieldError::new("store_id", "not_found", "no such store"))
        })?),
        None => None,
    };
    let format_id = match (&store, input.format_id, channel.format_id) {
        (Some(store), Some(given), _) if given != store.format_id => {
            return Err(FieldError::new(
                "format_id",
                "mismatch",
                "the store belongs to another format",
            )
            .into());
        }
        (Some(store), _, _) => store.format_id,
        (None, Some(given), _) => given,
        (None, None, Some(of_channel)) => of_channel,
        (None, None, None) => {
            return Err(FieldError::new(
                "format_id",
                "required",
                "name the store or the format the order was placed in",
            )
            .into());
        }
    };
    if store.is_none() && org::get_format(session, tenant, format_id).await?.is_none() {
        return Err(FieldError::new("format_id", "not_found", "no such format").into());
    }
    if let Some(guide) = input.guide_id
        && auth::get_staff(session, tenant, guide).await?.is_none()
    {
        return Err(FieldError::new("guide_id", "not_found", "no such staff account").into());
    }
    let placement = Placement {
        format_id: Some(format_id),
        store_id: store.as_ref().map(|s| s.id),
        guide_id: None,
    };
    crate::routes::common::writable(caller, RecordClass::Org, &placement)?;
    Ok(Origin {
        channel_id,
        store_id: store.map(|s| s.id),
        format_id,
    })
}

/// The member the order names, past merges; `None` for an anonymous order. A member named but
/// not found (or not active) is a 422 on the field that named it.
pub async fn order_member(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    input: &OrderInput,
    now: OffsetDateTime,
) -> ApiResult<Option<members::StoredMember>> {
    let tenant = caller.tenant_id;
    let (field, found) = if let Some(id) = input.member_id {
        ("member_id", Some(id))
    } else if let Some(phone) = &input.phone {
        let identifier_input = IdentifierInput {
            kind: IdentifierKind::Phone,
            value: phone.clone(),
            app_id: None,
            namespace: None,
        };
        let identifier = Identifier::parse("phone", &identifier_input)?;
        let index = vault.blind_index(IdentifierKind::Phone.as_str(), &identifier.key);
        (
            "phone",
            members::find_member_by_identifier(
                session,
                tenant,
                IdentifierKind::Phone.as_str(),
                &index,
            )
            .await?,
        )
    } else if let Some(member_no) = &input.member_no {
        let member_no = MemberNo::parse("member_no", member_no)?;
        (
            "member_no",
            members::get_member_by_no(session, tenant, member_no.as_str())
                .await?
                .map(|row| row.id),
        )
    } else if let Some(code) = &input.member_code {
        match vault.verify_member_code(tenant, code, now.unix_timestamp()) {
            Ok(id) => ("member_code", Some(id)),
            Err(crate::vault::VaultError::Expired) => {
                return Err(FieldError::new(
                    "member_code",
                    "expired",
                    "the member code has expired; refresh it",
                )
                .into());
            }
            Err(_) => {
                return Err(
                    FieldError::new("member_code", "invalid", "not a valid member code").into(),
                );
            }
        }
    } else {
        return Ok(None);
    };
    let not_found = || ApiError::from(FieldError::new(field, "not_found", "no such member"));
    let id = found.ok_or_else(not_found)?;
    let (row, _) = resolve(session, tenant, id).await?.ok_or_else(not_found)?;
    if !caller.permits(
        Access::Read,
        RecordClass::MemberData,
        &crate::identity::view::placement(&row),
    ) {
        return Err(not_found());
    }
    if row.status != "active" {
        return Err(FieldError::new(field, "not_active", "only active members earn points").into());
    }
    Ok(Some(row))
}

// ---- evaluation ----

fn line_facts(lines: &[StoredLine]) -> Vec<LineFacts> {
    lines
        .iter()
        .map(|line| LineFacts {
            line_no: u32::try_from(line.line_no).unwrap_or(u32::MAX),
            sku: line.sku.clone(),
            category_path: line.category_path.clone(),
            quantity: u32::try_from(line.quantity).unwrap_or(u32::MAX),
            amount_fen: line.amount_fen,
            excluded: line.excluded,
        })
        .collect()
}

fn order_facts(order: &StoredOrder, lines: &[StoredLine]) -> OrderFacts {
    OrderFacts {
        format_id: FormatId(order.format_id),
        channel_id: Some(ChannelId(order.channel_id)),
        store_id: order.store_id.map(StoreId),
        occurred_at: order.occurred_at,
        lines: line_facts(lines),
        paid_by_points_fen: order.paid_by_points_fen,
        paid_by_coupons_fen: order.paid_by_coupons_fen,
    }
}

/// The engine's context for a member's order: the tenant's zone and, for rules with day or
/// period caps, what each already gave the member around the order's time.
async fn context(
    session: &mut Session,
    tenant: TenantId,
    member: Option<Uuid>,
    rules: &[EarningRule],
    occurred_at: OffsetDateTime,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<EarningContext> {
    let mut context = EarningContext::new(tz.clone());
    let Some(member) = member else {
        return Ok(context);
    };
    let mut counters = BTreeMap::new();
    for rule in rules.iter().filter(|rule| rule.caps.needs_counters()) {
        let mut earned = EarnedSoFar::default();
        if rule.caps.per_member_day_points.is_some() {
            let window = day_window(occurred_at, tz)
                .ok_or_else(|| ApiError::internal("order time outside the calendar"))?;
            earned.already_earned_today = orders::rule_earned(
                session,
                tenant,
                member,
                rule.id,
                Some((window.start, window.end)),
            )
            .await?;
        }
        if let Some(period) = rule.caps.per_member_period {
            let window = period
                .period
                .window(occurred_at, tz)
                .map(|w| (w.start, w.end));
            earned.already_earned_in_period =
                orders::rule_earned(session, tenant, member, rule.id, window).await?;
        }
        counters.insert(rule.id, earned);
    }
    context.earned_so_far = counters;
    Ok(context)
}

/// Evaluates an order (stored or about to be) for a member, or anonymously.
async fn evaluate_order(
    session: &mut Session,
    tenant: TenantId,
    member: Option<Uuid>,
    facts: &OrderFacts,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Evaluation> {
    let mut rules = earning_rules::enabled_rules(session, tenant).await?;
    let mut member_facts = MemberFacts::default();
    if let Some(member) = member {
        let (level, benefit) =
            crate::tiers::earning_tier(session, tenant, member, facts.format_id).await?;
        member_facts.tier_code = level;
        rules.extend(benefit);
    }
    let context = context(session, tenant, member, &rules, facts.occurred_at, tz).await?;
    Ok(evaluate(&rules, facts, &member_facts, &context))
}

/// Accrues a member's order: evaluates it as of its own time, posts the points from the issuing
/// format's liability account, records the fired rules, the per-line points and the rule counters.
async fn accrue_order(
    m: &mut Mutation,
    order: &StoredOrder,
    lines: &[StoredLine],
    member: Uuid,
) -> ApiResult<Accrual> {
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    // Lock the member's balance row first (PostgreSQL): concurrent orders of one member then
    // accrue one after the other, each reading the rule counters the other left, so day and
    // period caps hold under concurrency.
    huiyuan_store::ledger::credit(
        &mut m.session,
        m.tenant,
        member,
        huiyuan_store::ledger::BalanceChange::default(),
        m.now,
    )
    .await?;
    let facts = order_facts(order, lines);
    let accrual = evaluate_order(&mut m.session, m.tenant, Some(member), &facts, &tz)
        .await?
        .accrual;
    if accrual.total_points > 0 {
        let names: Vec<&str> = accrual
            .fired
            .iter()
            .filter(|f| f.points > 0)
            .map(|f| f.rule_name.as_str())
            .collect();
        let posting = Posting {
            format_id: Some(order.format_id),
            reference: Some(format!("order:{}", order.id)),
            reason: format!("order {}: {}", order.external_id, names.join(", ")),
            natural_key: Some(earn_key(order.id)),
        };
        let total = accrual.total_points;
        earn(
            m,
            member,
            total,
            total,
            "earn",
            issuance_account(Some(order.format_id)),
            &posting,
            &tz,
        )
        .await?;
    }
    orders::set_accrual(&mut m.session, m.tenant, order.id, &accrual, m.now).await?;
    for fired in accrual.fired.iter().filter(|f| f.points != 0) {
        let row = RuleAccrual {
            id: Uuid::now_v7(),
            member_id: member,
            rule_id: fired.rule_id,
            order_id: order.id,
            points: fired.points,
            occurred_at: order.occurred_at,
        };
        orders::insert_rule_accrual(&mut m.session, m.tenant, &row).await?;
    }
    // The referrer is rewarded once, on the referee's first paid order (idempotent per referee).
    crate::rewards::on_first_paid_order(m, member).await?;
    // Tier points count at once: an order that qualifies upgrades now.
    crate::tiers::on_qualifying_activity(m, member).await?;
    Ok(accrual)
}

fn earn_key(order: Uuid) -> String {
    format!("order:{order}:earn")
}

// ---- ingestion ----

/// Posts an order: a new one answers `(true, view)`, a retry of the same (channel, external id)
/// the stored order `(false, view)` without earning again.
pub async fn ingest(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    parsed: ParsedOrder,
) -> ApiResult<(bool, OrderView)> {
    let origin = origin(&mut m.session, caller, &parsed.input).await?;
    if let Some(existing) = orders::order_by_external_id(
        &mut m.session,
        m.tenant,
        origin.channel_id.0,
        &parsed.external_id,
    )
    .await?
    {
        return Ok((false, order_view(&mut m.session, m.tenant, existing).await?));
    }
    let member = order_member(&mut m.session, vault, caller, &parsed.input, m.now).await?;
    let input = &parsed.input;
    let order = StoredOrder {
        id: Uuid::now_v7(),
        member_id: member.as_ref().map(|row| row.id),
        channel_id: origin.channel_id.0,
        external_id: parsed.external_id.clone(),
        store_id: origin.store_id.map(|s| s.0),
        format_id: origin.format_id.0,
        guide_id: input.guide_id.map(|g| g.0),
        occurred_at: input.occurred_at,
        total_fen: input.total_fen,
        paid_by_points_fen: parsed.paid_by_points_fen,
        paid_by_coupons_fen: parsed.paid_by_coupons_fen,
        refunded_fen: 0,
        status: COMPLETED.to_owned(),
        points_earned: 0,
        points_reversed: 0,
        accrual: None,
        claimed_at: None,
        created_at: m.now,
        updated_at: m.now,
    };
    let lines: Vec<StoredLine> = input
        .lines
        .iter()
        .map(|line| StoredLine {
            line_no: i64::from(line.line_no),
            sku: line.sku.trim().to_owned(),
            name: line.name.trim().to_owned(),
            category_path: line
                .category_path
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            quantity: i64::from(line.quantity),
            unit_price_fen: line.unit_price_fen,
            amount_fen: line.amount_fen,
            excluded: line.excluded,
            refunded_quantity: 0,
            refunded_fen: 0,
            points_earned: 0,
        })
        .collect();
    let payments: Vec<StoredPayment> = input
        .payments
        .iter()
        .map(|p| StoredPayment {
            method: p.method.as_str().to_owned(),
            amount_fen: p.amount_fen,
        })
        .collect();
    if !orders::insert_order(&mut m.session, m.tenant, &order, &lines, &payments).await? {
        // A concurrent twin committed first (PostgreSQL waited for it): answer with it.
        let existing = orders::order_by_external_id(
            &mut m.session,
            m.tenant,
            order.channel_id,
            &order.external_id,
        )
        .await?
        .ok_or_else(|| {
            ApiError::with_detail(
                ErrorCode::Conflict,
                "the same order is being posted concurrently; retry",
            )
        })?;
        return Ok((false, order_view(&mut m.session, m.tenant, existing).await?));
    }
    let points = match order.member_id {
        Some(member) => accrue_order(m, &order, &lines, member).await?.total_points,
        None => 0,
    };
    let summary = json!({
        "external_id": order.external_id, "channel_id": order.channel_id, "member_id": order.member_id,
        "total_fen": order.total_fen, "points": points,
    });
    m.audit("order.created", "order", order.id, summary).await?;
    let stored = orders::get_order(&mut m.session, m.tenant, order.id)
        .await?
        .ok_or_else(|| ApiError::internal("order vanished"))?;
    Ok((true, order_view(&mut m.session, m.tenant, stored).await?))
}

/// The dry run: what the order would earn and why each rule fired or not. Writes nothing.
pub async fn preview(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    parsed: ParsedOrder,
    now: OffsetDateTime,
) -> ApiResult<Evaluation> {
    let origin = origin(session, caller, &parsed.input).await?;
    let member = order_member(session, vault, caller, &parsed.input, now).await?;
    let input = &parsed.input;
    let facts = OrderFacts {
        format_id: origin.format_id,
        channel_id: Some(origin.channel_id),
        store_id: origin.store_id,
        occurred_at: input.occurred_at,
        lines: input
            .lines
            .iter()
            .map(|line| LineFacts {
                line_no: line.line_no,
                sku: line.sku.trim().to_owned(),
                category_path: line
                    .category_path
                    .iter()
                    .map(|c| c.trim().to_owned())
                    .collect(),
                quantity: line.quantity,
                amount_fen: line.amount_fen,
                excluded: line.excluded,
            })
            .collect(),
        paid_by_points_fen: parsed.paid_by_points_fen,
        paid_by_coupons_fen: parsed.paid_by_coupons_fen,
    };
    let tz = tenant_zone(session, caller.tenant_id).await?;
    evaluate_order(
        session,
        caller.tenant_id,
        member.map(|row| row.id),
        &facts,
        &tz,
    )
    .await
}

// ---- claims ----

/// A member claims an anonymous order (补积分) within [`CLAIM_WINDOW_DAYS`] of its time; it earns
/// as of its own time. Claiming again for the same member answers the order unchanged.
pub async fn claim(
    m: &mut Mutation,
    caller: &Principal,
    order_id: Uuid,
    member_id: Uuid,
) -> ApiResult<OrderView> {
    let order = visible_order(&mut m.session, caller, order_id, Access::Write).await?;
    let not_found = || ApiError::from(FieldError::new("member_id", "not_found", "no such member"));
    let (member, _) = resolve(&mut m.session, m.tenant, member_id)
        .await?
        .ok_or_else(not_found)?;
    if !caller.permits(
        Access::Read,
        RecordClass::MemberData,
        &crate::identity::view::placement(&member),
    ) {
        return Err(not_found());
    }
    match order.member_id {
        Some(owner) if owner == member.id => {
            return order_view(&mut m.session, m.tenant, order).await;
        }
        Some(_) => {
            return Err(ApiError::conflict(
                "member_id",
                "the order already belongs to a member",
            ));
        }
        None => {}
    }
    if member.status != "active" {
        return Err(
            FieldError::new("member_id", "not_active", "only active members earn points").into(),
        );
    }
    if order.status != COMPLETED {
        return Err(FieldError::new("id", "refunded", "a refunded order cannot be claimed").into());
    }
    if order.occurred_at < m.now - Duration::days(CLAIM_WINDOW_DAYS) {
        return Err(FieldError::new(
            "id",
            "claim_window_passed",
            format!("orders can be claimed within {CLAIM_WINDOW_DAYS} days"),
        )
        .into());
    }
    if !orders::claim_order(&mut m.session, m.tenant, order.id, member.id, m.now).await? {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the order was claimed concurrently; retry",
        ));
    }
    let lines = orders::order_lines(&mut m.session, m.tenant, order.id).await?;
    let claimed = StoredOrder {
        member_id: Some(member.id),
        ..order
    };
    let accrual = accrue_order(m, &claimed, &lines, member.id).await?;
    m.audit(
        "order.claimed",
        "order",
        claimed.id,
        json!({ "member_id": member.id, "points": accrual.total_points }),
    )
    .await?;
    let stored = orders::get_order(&mut m.session, m.tenant, claimed.id)
        .await?
        .ok_or_else(|| ApiError::internal("order vanished"))?;
    order_view(&mut m.session, m.tenant, stored).await
}

// ---- refunds ----

/// `part` of `whole` for `done` of `of` units, rounded down: pro rata shares that add up to the
/// whole once every unit is counted.
fn pro_rata(whole: i64, done: i64, of: i64) -> i64 {
    if of <= 0 {
        return 0;
    }
    let share = i128::from(whole) * i128::from(done) / i128::from(of);
    i64::try_from(share).unwrap_or(i64::MAX)
}

/// Refunds lines of an order (all that remains when `lines` is absent): records the refund,
/// takes back exactly the points the refunded units earned (and their share of every rule's
/// counters). A retry with the same external refund id answers the stored refund `(false, …)`.
pub async fn refund(
    m: &mut Mutation,
    caller: &Principal,
    order_id: Uuid,
    input: RefundInput,
) -> ApiResult<(bool, RefundView)> {
    let external_refund_id = input.external_refund_id.trim().to_owned();
    let mut errors = FieldErrors::new();
    check_text(
        &mut errors,
        "external_refund_id",
        &external_refund_id,
        64,
        true,
    );
    errors.finish()?;
    let order = visible_order(&mut m.session, caller, order_id, Access::Write).await?;
    if let Some(done) =
        orders::refund_by_external_id(&mut m.session, m.tenant, order.id, &external_refund_id)
            .await?
    {
        return Ok((false, done.into()));
    }
    let lines = orders::order_lines(&mut m.session, m.tenant, order.id).await?;
    let by_no: BTreeMap<u32, &StoredLine> = lines
        .iter()
        .map(|line| (u32::try_from(line.line_no).unwrap_or(u32::MAX), line))
        .collect();
    // What to refund per line.
    let wanted: Vec<(u32, i64)> = match &input.lines {
        None => by_no
            .iter()
            .map(|(no, line)| (*no, line.quantity - line.refunded_quantity))
            .filter(|(_, quantity)| *quantity > 0)
            .collect(),
        Some(requested) => {
            let mut errors = FieldErrors::new();
            let mut seen = BTreeSet::new();
            for (i, line) in requested.iter().enumerate() {
                let field = format!("lines[{i}]");
                if !seen.insert(line.line_no) {
                    errors.push(FieldError::new(
                        format!("{field}.line_no"),
                        "duplicate",
                        "each line once per refund",
                    ));
                }
                match by_no.get(&line.line_no) {
                    None => errors.push(FieldError::new(
                        format!("{field}.line_no"),
                        "not_found",
                        "the order has no such line",
                    )),
                    Some(stored) => {
                        let left = stored.quantity - stored.refunded_quantity;
                        if line.quantity == 0 {
                            errors.push(FieldError::new(
                                format!("{field}.quantity"),
                                "out_of_range",
                                "must be at least 1",
                            ));
                        } else if i64::from(line.quantity) > left {
                            errors.push(FieldError::new(
                                format!("{field}.quantity"),
                                "over_refund",
                                format!("only {left} of {} left to refund", stored.quantity),
                            ));
                        }
                    }
                }
            }
            if requested.is_empty() {
                errors.push(FieldError::new(
                    "lines",
                    "required",
                    "name at least one line, or omit lines for a full refund",
                ));
            }
            errors.finish()?;
            requested
                .iter()
                .map(|line| (line.line_no, i64::from(line.quantity)))
                .collect()
        }
    };
    if wanted.is_empty() {
        return Err(FieldError::new(
            "lines",
            "nothing_to_refund",
            "the order is already fully refunded",
        )
        .into());
    }
    let accrual = order.accrual.clone().unwrap_or_default();
    let mut refunded = Vec::new();
    let mut rule_back: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (line_no, quantity) in &wanted {
        let Some(line) = by_no.get(line_no) else {
            continue;
        };
        let (before, after) = (line.refunded_quantity, line.refunded_quantity + quantity);
        let amount_fen = pro_rata(line.amount_fen, after, line.quantity)
            - pro_rata(line.amount_fen, before, line.quantity);
        let line_points = accrual.points_for_lines(&[*line_no]);
        let points = pro_rata(line_points, after, line.quantity)
            - pro_rata(line_points, before, line.quantity);
        for (rule, rule_points) in accrual.rule_points_for_lines(&[*line_no]) {
            let share = pro_rata(rule_points, after, line.quantity)
                - pro_rata(rule_points, before, line.quantity);
            *rule_back.entry(rule).or_default() += share;
        }
        if !orders::refund_line(
            &mut m.session,
            m.tenant,
            order.id,
            *line_no,
            before,
            *quantity,
            amount_fen,
        )
        .await?
        {
            return Err(ApiError::with_detail(
                ErrorCode::Conflict,
                "the order is being refunded concurrently; retry",
            ));
        }
        refunded.push(RefundedLine {
            line_no: *line_no,
            quantity: *quantity,
            amount_fen,
            points,
        });
    }
    let lines_fen: i64 = refunded.iter().map(|line| line.amount_fen).sum();
    let fully = lines.iter().all(|line| {
        let extra = wanted
            .iter()
            .find(|(no, _)| i64::from(*no) == line.line_no)
            .map_or(0, |(_, q)| *q);
        line.refunded_quantity + extra >= line.quantity
    });
    // A full refund also returns what no line carries (shipping, service fees).
    let amount_fen = if fully {
        order.total_fen - order.refunded_fen
    } else {
        lines_fen
    };
    let points: i64 = refunded.iter().map(|line| line.points).sum();
    let refund_id = Uuid::now_v7();
    let (reversed, unrecovered, explanation) = match order.member_id {
        Some(member) if points > 0 => {
            let own_lot = huiyuan_store::ledger::entry_by_natural_key(
                &mut m.session,
                m.tenant,
                &earn_key(order.id),
            )
            .await?
            .and_then(|entry| entry.draws.first().map(|draw| draw.lot_id));
            let posting = Posting {
                format_id: Some(order.format_id),
                reference: Some(format!("order:{}", order.id)),
                reason: format!("refund {external_refund_id} of order {}", order.external_id),
                natural_key: Some(format!("order:{}:refund:{refund_id}", order.id)),
            };
            let taken = clawback(m, member, points, own_lot, &posting).await?;
            for (rule, back) in &rule_back {
                if *back != 0 {
                    let row = RuleAccrual {
                        id: Uuid::now_v7(),
                        member_id: member,
                        rule_id: *rule,
                        order_id: order.id,
                        points: -back,
                        occurred_at: order.occurred_at,
                    };
                    orders::insert_rule_accrual(&mut m.session, m.tenant, &row).await?;
                }
            }
            (taken.reversed, taken.unrecovered, taken.explanation)
        }
        Some(_) => (0, 0, "the refunded lines earned no points".to_owned()),
        None => (0, 0, "anonymous order: no points to take back".to_owned()),
    };
    let status = if fully { REFUNDED } else { PARTIALLY_REFUNDED };
    if !orders::add_refund_totals(
        &mut m.session,
        m.tenant,
        order.id,
        amount_fen,
        reversed,
        status,
        m.now,
    )
    .await?
    {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the refund would pass the order total",
        ));
    }
    let stored = StoredRefund {
        id: refund_id,
        order_id: order.id,
        external_refund_id,
        lines: refunded,
        amount_fen,
        points_reversed: reversed,
        unrecovered,
        explanation,
        created_at: m.now,
    };
    if !orders::insert_refund(&mut m.session, m.tenant, &stored).await? {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the same refund is being posted concurrently; retry",
        ));
    }
    let summary = json!({
        "external_refund_id": stored.external_refund_id, "amount_fen": amount_fen, "points_owed": points,
        "points_reversed": reversed, "unrecovered": unrecovered,
    });
    m.audit("order.refunded", "order", order.id, summary)
        .await?;
    Ok((true, stored.into()))
}
