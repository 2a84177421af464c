//! Does a rule apply to an order, and to which lines? Every failed condition is collected, so a
//! dry run can tell an operator all the reasons at once.

use super::allocate::allocate_largest_remainder;
use super::explain::Unmet;
use super::facts::{LocalMoment, MemberFacts, OrderFacts};
use super::rule::EarningRule;
use jiff::tz::TimeZone;

/// The order with its payments by points and coupons shared out over the lines.
pub(crate) struct Prepared<'a> {
    pub order: &'a OrderFacts,
    pub member: &'a MemberFacts,
    pub local: Option<LocalMoment>,
    /// What each line earns on: its amount less its share of points and coupons; zero for
    /// excluded lines and non-positive amounts.
    pub net_fen: Vec<i64>,
    /// The sum of `net_fen`: the amount minimum-order conditions compare against.
    pub order_net_fen: i64,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(order: &'a OrderFacts, member: &'a MemberFacts, tz: &TimeZone) -> Self {
        let gross: Vec<i64> = order
            .lines
            .iter()
            .map(|line| {
                if line.excluded {
                    0
                } else {
                    line.amount_fen.max(0)
                }
            })
            .collect();
        let gross_total = gross.iter().fold(0i64, |sum, &fen| sum.saturating_add(fen));
        // Points and coupons cannot pay for more than the eligible lines cost; the rest of such a
        // payment went to excluded lines and changes nothing here.
        let paid = order
            .paid_by_points_fen
            .max(0)
            .saturating_add(order.paid_by_coupons_fen.max(0))
            .min(gross_total);
        let shares = allocate_largest_remainder(paid, &gross);
        let net_fen: Vec<i64> = gross
            .iter()
            .zip(&shares)
            .map(|(fen, share)| fen - share)
            .collect();
        let order_net_fen = net_fen
            .iter()
            .fold(0i64, |sum, &fen| sum.saturating_add(fen));
        Self {
            order,
            member,
            local: LocalMoment::of(order.occurred_at, tz),
            net_fen,
            order_net_fen,
        }
    }
}

/// The indices of the lines `rule` applies to (never empty), or every condition that failed.
pub(crate) fn match_rule(
    rule: &EarningRule,
    prepared: &Prepared<'_>,
) -> Result<Vec<usize>, Vec<Unmet>> {
    let (order, member) = (prepared.order, prepared.member);
    let conditions = &rule.conditions;
    let mut unmet = Vec::new();

    if !rule.enabled {
        unmet.push(Unmet::Disabled);
    }
    if let Some(active_from) = rule.active_from
        && order.occurred_at < active_from
    {
        unmet.push(Unmet::NotYetActive { active_from });
    }
    if let Some(active_until) = rule.active_until
        && order.occurred_at >= active_until
    {
        unmet.push(Unmet::NoLongerActive { active_until });
    }
    if let Some(formats) = &conditions.format_ids
        && !formats.contains(&order.format_id)
    {
        unmet.push(Unmet::Format {
            format_id: order.format_id,
        });
    }
    if let Some(channels) = &conditions.channel_ids
        && !order.channel_id.is_some_and(|id| channels.contains(&id))
    {
        unmet.push(Unmet::Channel {
            channel_id: order.channel_id,
        });
    }
    if let Some(stores) = &conditions.store_ids
        && !order.store_id.is_some_and(|id| stores.contains(&id))
    {
        unmet.push(Unmet::Store {
            store_id: order.store_id,
        });
    }
    if let Some(tiers) = &conditions.tiers
        && !member
            .tier_code
            .as_ref()
            .is_some_and(|tier| tiers.contains(tier))
    {
        unmet.push(Unmet::Tier {
            tier_code: member.tier_code.clone(),
        });
    }
    if let Some(tags) = &conditions.member_tags
        && tags.is_disjoint(&member.tags)
    {
        unmet.push(Unmet::MemberTags);
    }
    let local_conditions = conditions.dates.is_some()
        || conditions.weekdays.is_some()
        || conditions.time_of_day.is_some();
    match prepared.local {
        None if local_conditions => unmet.push(Unmet::LocalTimeUnknown),
        None => {}
        Some(local) => {
            if let Some(dates) = &conditions.dates
                && !dates.contains(local.date)
            {
                unmet.push(Unmet::Dates {
                    local_date: local.date,
                });
            }
            if let Some(weekdays) = &conditions.weekdays
                && !weekdays.contains(&local.weekday)
            {
                unmet.push(Unmet::Weekday {
                    local_weekday: local.weekday,
                });
            }
            if let Some(range) = &conditions.time_of_day
                && !range.contains(local.time)
            {
                unmet.push(Unmet::TimeOfDay {
                    local_time: local.time,
                });
            }
        }
    }
    if let Some(min_fen) = conditions.min_order_amount_fen
        && prepared.order_net_fen < min_fen
    {
        unmet.push(Unmet::MinOrderAmount {
            min_fen,
            order_net_fen: prepared.order_net_fen,
        });
    }

    let lines = match_lines(rule, prepared);
    match lines {
        Ok(lines) if unmet.is_empty() => Ok(lines),
        Ok(_) => Err(unmet),
        Err(reason) => {
            unmet.push(reason);
            Err(unmet)
        }
    }
}

/// The eligible lines that pass the rule's category and SKU conditions and have something to
/// earn on.
fn match_lines(rule: &EarningRule, prepared: &Prepared<'_>) -> Result<Vec<usize>, Unmet> {
    let conditions = &rule.conditions;
    let lines = &prepared.order.lines;
    let eligible: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].excluded).collect();
    if eligible.is_empty() {
        return Err(Unmet::NoEligibleLines);
    }
    let in_categories: Vec<usize> = match &conditions.categories {
        None => eligible,
        Some(categories) => eligible
            .into_iter()
            .filter(|&i| {
                categories
                    .iter()
                    .any(|prefix| lines[i].category_path.starts_with(prefix))
            })
            .collect(),
    };
    if in_categories.is_empty() {
        return Err(Unmet::Categories);
    }
    let with_skus: Vec<usize> = match &conditions.skus {
        None => in_categories,
        Some(skus) => in_categories
            .into_iter()
            .filter(|&i| skus.contains(&lines[i].sku))
            .collect(),
    };
    if with_skus.is_empty() {
        return Err(Unmet::Skus);
    }
    let earning: Vec<usize> = with_skus
        .into_iter()
        .filter(|&i| prepared.net_fen[i] > 0)
        .collect();
    if earning.is_empty() {
        return Err(Unmet::NothingToEarnOn);
    }
    Ok(earning)
}
