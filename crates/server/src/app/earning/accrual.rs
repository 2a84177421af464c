//! Evaluating an order through the earning engine and accruing what it earned.

use crate::app::config_cache::TenantConfig;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{Posting, earn_new, issuance_account};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::earning::{
    Accrual, EarnedSoFar, EarningContext, EarningRule, Evaluation, LineFacts, MemberFacts,
    OrderFacts, day_window, evaluate,
};
use huiyuan_domain::ids::{ChannelId, FormatId, MemberId, OrderId, StoreId, TenantId};
use huiyuan_store::members::StoredMember;
use huiyuan_store::order_intake::RuleWindow;
use huiyuan_store::orders::{self, RuleAccrual, StoredLine, StoredOrder};
use huiyuan_store::{Session, utc_now};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub fn line_facts(lines: &[StoredLine]) -> Vec<LineFacts> {
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

pub fn order_facts(order: &StoredOrder, lines: &[StoredLine]) -> OrderFacts {
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

/// A rule counter an order's evaluation reads: what `rule` already gave the member in `window`
/// (or ever), for its day cap or its period cap.
pub struct CounterRead {
    rule: Uuid,
    day: bool,
    window: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl CounterRead {
    /// The store's form, for reading counters with the order's intake.
    pub fn rule_window(&self) -> RuleWindow {
        RuleWindow {
            rule: self.rule,
            window: self.window,
        }
    }
}

/// The counters that `rules` with day or period caps read for an order placed at `occurred_at`
/// (the rules in [`rules_for`]' order, without cloning them).
pub fn counter_reads<'r>(
    rules: impl IntoIterator<Item = &'r EarningRule>,
    occurred_at: OffsetDateTime,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Vec<CounterRead>> {
    let mut reads = Vec::new();
    for rule in rules {
        if rule.caps.per_member_day_points.is_some() {
            let window = day_window(occurred_at, tz)
                .ok_or_else(|| ApiError::internal("order time outside the calendar"))?;
            reads.push(CounterRead {
                rule: rule.id,
                day: true,
                window: Some((window.start, window.end)),
            });
        }
        if let Some(period) = rule.caps.per_member_period {
            let window = period
                .period
                .window(occurred_at, tz)
                .map(|w| (w.start, w.end));
            reads.push(CounterRead {
                rule: rule.id,
                day: false,
                window,
            });
        }
    }
    Ok(reads)
}

/// The engine's context for a member's order: the tenant's zone and, for rules with day or
/// period caps, what each already gave the member around the order's time — `counted` when the
/// order's intake read them already (in [`counter_reads`]' order), else read in `session`.
pub async fn context(
    session: &mut Session,
    tenant: TenantId,
    member: Option<MemberId>,
    rules: &[EarningRule],
    occurred_at: OffsetDateTime,
    tz: &jiff::tz::TimeZone,
    counted: Option<Vec<i64>>,
) -> ApiResult<EarningContext> {
    let mut context = EarningContext::new(tz.clone());
    let Some(member) = member else {
        return Ok(context);
    };
    let reads = counter_reads(rules, occurred_at, tz)?;
    let values = match counted {
        Some(values) if values.len() == reads.len() => values,
        _ => {
            let mut values = Vec::with_capacity(reads.len());
            for read in &reads {
                values.push(
                    orders::rule_earned(session, tenant, member, read.rule, read.window).await?,
                );
            }
            values
        }
    };
    // Every rule with a day or period cap has at least one read.
    let mut counters: BTreeMap<Uuid, EarnedSoFar> = BTreeMap::new();
    for (read, value) in reads.iter().zip(values) {
        let earned = counters.entry(read.rule).or_default();
        if read.day {
            earned.already_earned_today = value;
        } else {
            earned.already_earned_in_period = value;
        }
    }
    context.earned_so_far = counters;
    Ok(context)
}

/// A member's tier as earning reads it: the level code (for rules with a tier condition) and the
/// level's earning multiplier in the order's format as a rule.
pub type TierEarning = (Option<String>, Option<EarningRule>);

/// The code of the order's format, when the tenant has a ladder (tier benefits are per format).
/// Read before any session is opened: the cache may need a read connection of its own.
pub async fn format_code(
    app: &AppState,
    config: &TenantConfig,
    tenant: TenantId,
    format: FormatId,
) -> ApiResult<Option<String>> {
    if config.ladder.is_none() {
        return Ok(None);
    }
    Ok(app
        .config
        .format(&app.store, tenant, format)
        .await?
        .map(|f| f.code.as_str().to_owned()))
}

/// The member's tier for earning, from the cached ladder and the member's tier state; none for
/// an anonymous order.
pub async fn member_tier(
    session: &mut Session,
    tenant: TenantId,
    config: &TenantConfig,
    member: Option<MemberId>,
    format_code: Option<&str>,
) -> ApiResult<TierEarning> {
    let (Some(ladder), Some(member)) = (&config.ladder, member) else {
        return Ok((None, None));
    };
    let Some(state) = crate::app::tiers::current_state(session, tenant, ladder, member).await?
    else {
        return Ok((None, None));
    };
    Ok(crate::app::tiers::tier_earning(
        ladder,
        &state,
        format_code,
        utc_now(),
    ))
}

/// The rules an order is evaluated against: the tenant's, plus the member's tier benefit.
fn rules_for(config: &TenantConfig, tier: Option<&TierEarning>) -> Vec<EarningRule> {
    let mut rules = config.rules.clone();
    if let Some((_, benefit)) = tier {
        rules.extend(benefit.iter().cloned());
    }
    rules
}

/// Evaluates an order (stored or about to be) for a member, or anonymously, against
/// [`rules_for`], with the rule counters `counted` already or read in `session`.
pub async fn evaluate_order(
    session: &mut Session,
    tenant: TenantId,
    config: &TenantConfig,
    member: Option<(MemberId, &TierEarning)>,
    facts: &OrderFacts,
    counted: Option<Vec<i64>>,
) -> ApiResult<Evaluation> {
    let rules = rules_for(config, member.map(|(_, tier)| tier));
    let mut member_facts = MemberFacts::default();
    if let Some((_, (level, _))) = member {
        member_facts.tier_code.clone_from(level);
    }
    let context = context(
        session,
        tenant,
        member.map(|(id, _)| id),
        &rules,
        facts.occurred_at,
        &config.zone,
        counted,
    )
    .await?;
    Ok(evaluate(&rules, facts, &member_facts, &context))
}

/// Who earns an order and what accruing needs to know besides the order.
pub struct Earner<'a> {
    pub config: &'a TenantConfig,
    pub member: &'a StoredMember,
    pub tier: &'a TierEarning,
    /// The member's available balance, read under the balance row's lock
    /// ([`huiyuan_store::ledger::lock_active_balance`]) earlier in this transaction.
    pub available: i64,
    /// The rule counters of [`counter_reads`], when read with the lock; else read when needed.
    pub counted: Option<Vec<i64>>,
}

/// Accrues a member's order: evaluates it as of its own time, posts the points from the issuing
/// format's liability account, records the rule counters, rewards a referrer and upgrades the
/// tier. The caller has locked the member's balance row first (PostgreSQL: concurrent orders of
/// one member then accrue one after the other, each reading the rule counters the other left, so
/// day and period caps hold under concurrency), and records the returned accrual on the order
/// and its lines.
pub async fn accrue_order(
    m: &mut Mutation,
    order: &StoredOrder,
    lines: &[StoredLine],
    earner: Earner<'_>,
) -> ApiResult<Accrual> {
    let member = earner.member.id;
    let config = earner.config;
    let facts = order_facts(order, lines);
    let accrual = evaluate_order(
        &mut m.session,
        m.tenant,
        config,
        Some((member, earner.tier)),
        &facts,
        earner.counted,
    )
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
        // The order was inserted (or claimed, a guarded once-only update) in this transaction,
        // so its earn key is new; a twin would still fail the entry's unique key.
        earn_new(
            m,
            member,
            total,
            total,
            "earn",
            issuance_account(Some(order.format_id)),
            &posting,
            &config.zone,
            &config.policy,
            earner.available,
        )
        .await?;
    }
    let counters: Vec<RuleAccrual> = accrual
        .fired
        .iter()
        .filter(|f| f.points != 0)
        .map(|fired| RuleAccrual {
            id: Uuid::now_v7(),
            member_id: member,
            rule_id: fired.rule_id,
            order_id: order.id,
            points: fired.points,
            occurred_at: order.occurred_at,
        })
        .collect();
    orders::defer_rule_accruals(&mut m.session, m.tenant, &counters);
    // The referrer is rewarded once, on the referee's first paid order (idempotent per referee).
    crate::app::event_rewards::on_first_paid_order_of(m, earner.member, config.referral_points)
        .await?;
    // Tier points count at once: an order that qualifies upgrades now.
    crate::app::tiers::on_qualifying_activity_with(m, member, config.ladder.as_ref(), &config.zone)
        .await?;
    Ok(accrual)
}

/// Takes the member's balance row for this transaction while the member is still active: the
/// member was resolved before the transaction, so a merge or deactivation that committed since
/// is caught here (the client retries and gets the answer for the member's new state).
pub async fn lock_member(m: &mut Mutation, member: MemberId) -> ApiResult<i64> {
    huiyuan_store::ledger::lock_active_balance(&mut m.session, m.tenant, member, m.now)
        .await?
        .ok_or_else(member_changed)
}

/// The member was merged or deactivated after the order resolved it.
pub fn member_changed() -> ApiError {
    ApiError::with_detail(
        ErrorCode::Conflict,
        "the member changed while the order was posted; retry",
    )
}

pub fn earn_key(order: OrderId) -> String {
    format!("order:{order}:earn")
}
