//! Evaluating an order through the earning engine and accruing what it earned.

use crate::error::{ApiError, ApiResult};
use crate::ledger::{Posting, earn, issuance_account, tenant_zone};
use crate::mutation::Mutation;
use huiyuan_domain::earning::{
    Accrual, EarnedSoFar, EarningContext, EarningRule, Evaluation, LineFacts, MemberFacts,
    OrderFacts, day_window, evaluate,
};
use huiyuan_domain::ids::{ChannelId, FormatId, StoreId, TenantId};
use huiyuan_store::Session;
use huiyuan_store::earning_rules;
use huiyuan_store::orders::{self, RuleAccrual, StoredLine, StoredOrder};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) fn line_facts(lines: &[StoredLine]) -> Vec<LineFacts> {
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

pub(super) fn order_facts(order: &StoredOrder, lines: &[StoredLine]) -> OrderFacts {
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
pub(super) async fn context(
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
pub(super) async fn evaluate_order(
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
pub(super) async fn accrue_order(
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

pub(super) fn earn_key(order: Uuid) -> String {
    format!("order:{order}:earn")
}
