//! The evaluation: match every rule, resolve base rates, multipliers and bonuses per the stacking
//! policy, apply caps, and attribute every point to a rule and a line. See the
//! [module documentation](super) for the semantics.

use super::accrual::{Accrual, Fired, LinePoints};
use super::allocate::allocate_largest_remainder;
use super::explain::{Evaluation, Outcome, RuleReport, Unmet};
use super::facts::{EarningContext, MemberFacts, OrderFacts};
use super::matching::{Prepared, match_rule};
use super::rule::{EarningRule, Effect, Stacking};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What became of one rule while evaluating; indices are into the order's lines.
enum State {
    NotMatched(Vec<Unmet>),
    /// Matched these lines; not yet resolved against other rules.
    Matched(Vec<usize>),
    Outranked(Uuid),
    Beaten(String, Uuid),
    /// Applied, giving these points per line; `capped` once a cap cut them.
    Applied {
        lines: Vec<(usize, i64)>,
        capped: bool,
    },
}

/// Evaluates `rules` against an order placed by a member: the accrual and a report on every
/// rule. Pure and deterministic: the order of `rules` does not matter, only their priorities and
/// ids. Arithmetic is integer and saturates rather than overflows, far beyond real amounts.
pub fn evaluate(
    rules: &[EarningRule],
    order: &OrderFacts,
    member: &MemberFacts,
    context: &EarningContext,
) -> Evaluation {
    let mut sorted: Vec<&EarningRule> = rules.iter().collect();
    sorted.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    let prepared = Prepared::new(order, member, &context.time_zone);
    let mut states: Vec<State> = sorted
        .iter()
        .map(|rule| match match_rule(rule, &prepared) {
            Ok(lines) => State::Matched(lines),
            Err(unmet) => State::NotMatched(unmet),
        })
        .collect();

    let base_points = resolve_base_rates(&sorted, &mut states, &prepared.net_fen);
    resolve_multipliers(&sorted, &mut states, &base_points);
    resolve_bonuses(&sorted, &mut states, &prepared.net_fen);
    for (rule, state) in sorted.iter().zip(states.iter_mut()) {
        if let State::Applied { lines, capped } = state
            && let Some(limit) = rule_limit(rule, context)
            && shrink(lines, limit)
        {
            *capped = true;
        }
    }
    let order_capped = apply_order_cap(&mut states, context.order_cap_points);
    build(&sorted, states, order, order_capped)
}

/// The accrual alone, for posting an order.
pub fn accrue(
    rules: &[EarningRule],
    order: &OrderFacts,
    member: &MemberFacts,
    context: &EarningContext,
) -> Accrual {
    evaluate(rules, order, member, context).accrual
}

/// Gives each line to the first matching base rate in priority order; returns each line's base
/// points (zero where no base rate applies).
fn resolve_base_rates(sorted: &[&EarningRule], states: &mut [State], net_fen: &[i64]) -> Vec<i64> {
    let mut owner: Vec<Option<usize>> = vec![None; net_fen.len()];
    let mut base_points = vec![0i64; net_fen.len()];
    for (k, rule) in sorted.iter().enumerate() {
        if let (Effect::PointsPerYuan { points, per_fen }, State::Matched(lines)) =
            (rule.effect, &states[k])
        {
            for &i in lines {
                if owner[i].is_none() {
                    owner[i] = Some(k);
                    base_points[i] = rate(net_fen[i], points, per_fen);
                }
            }
        }
    }
    for (k, rule) in sorted.iter().enumerate() {
        let State::Matched(lines) = &states[k] else {
            continue;
        };
        if !matches!(rule.effect, Effect::PointsPerYuan { .. }) {
            continue;
        }
        let owned: Vec<(usize, i64)> = lines
            .iter()
            .filter(|&&i| owner[i] == Some(k))
            .map(|&i| (i, base_points[i]))
            .collect();
        states[k] = if owned.is_empty() {
            // Matched lines are never empty, and each has an owner earlier in the order.
            let by = lines
                .first()
                .and_then(|&i| owner[i])
                .map_or(rule.id, |winner| sorted[winner].id);
            State::Outranked(by)
        } else {
            State::Applied {
                lines: owned,
                capped: false,
            }
        };
    }
    base_points
}

/// Additive multipliers all apply; of the `best_of` multipliers of a group, the largest applies
/// on each line (the earlier rule on a tie).
fn resolve_multipliers(sorted: &[&EarningRule], states: &mut [State], base_points: &[i64]) {
    let mut best: BTreeMap<(&str, usize), (usize, u32)> = BTreeMap::new();
    for (k, rule) in sorted.iter().enumerate() {
        if let (
            Effect::Multiplier { permille },
            Stacking::BestOf { group },
            State::Matched(lines),
        ) = (rule.effect, &rule.stacking, &states[k])
        {
            for &i in lines {
                let entry = best.entry((group.as_str(), i)).or_insert((k, permille));
                if permille > entry.1 {
                    *entry = (k, permille);
                }
            }
        }
    }
    for (k, rule) in sorted.iter().enumerate() {
        let (Effect::Multiplier { permille }, State::Matched(lines)) = (rule.effect, &states[k])
        else {
            continue;
        };
        let won: Vec<usize> = match &rule.stacking {
            Stacking::Additive => lines.clone(),
            Stacking::BestOf { group } => {
                let won: Vec<usize> = lines
                    .iter()
                    .copied()
                    .filter(|&i| {
                        best.get(&(group.as_str(), i))
                            .is_some_and(|&(winner, _)| winner == k)
                    })
                    .collect();
                if won.is_empty() {
                    let by = lines
                        .first()
                        .and_then(|&i| best.get(&(group.as_str(), i)))
                        .map_or(rule.id, |&(winner, _)| sorted[winner].id);
                    states[k] = State::Beaten(group.clone(), by);
                    continue;
                }
                won
            }
        };
        states[k] = State::Applied {
            lines: won
                .into_iter()
                .map(|i| (i, extra(base_points[i], permille)))
                .collect(),
            capped: false,
        };
    }
}

/// Bonuses all apply, except that of the `best_of` bonuses of a group only the largest does (the
/// earlier rule on a tie). A bonus is spread over its lines pro rata by net amount.
fn resolve_bonuses(sorted: &[&EarningRule], states: &mut [State], net_fen: &[i64]) {
    let mut best: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
    for (k, rule) in sorted.iter().enumerate() {
        if let (Effect::FixedBonus { points }, Stacking::BestOf { group }, State::Matched(_)) =
            (rule.effect, &rule.stacking, &states[k])
        {
            let entry = best.entry(group.as_str()).or_insert((k, points));
            if points > entry.1 {
                *entry = (k, points);
            }
        }
    }
    for (k, rule) in sorted.iter().enumerate() {
        let (Effect::FixedBonus { points }, State::Matched(lines)) = (rule.effect, &states[k])
        else {
            continue;
        };
        if let Stacking::BestOf { group } = &rule.stacking
            && let Some(&(winner, _)) = best.get(group.as_str())
            && winner != k
        {
            states[k] = State::Beaten(group.clone(), sorted[winner].id);
            continue;
        }
        let weights: Vec<i64> = lines.iter().map(|&i| net_fen[i]).collect();
        let shares = allocate_largest_remainder(i64::from(points), &weights);
        states[k] = State::Applied {
            lines: lines.iter().copied().zip(shares).collect(),
            capped: false,
        };
    }
}

/// `floor(net × points / per_fen)`; nothing for a zero `per_fen`, which validation rejects.
fn rate(net_fen: i64, points: u32, per_fen: u32) -> i64 {
    if per_fen == 0 {
        return 0;
    }
    let earned = i128::from(net_fen.max(0)) * i128::from(points) / i128::from(per_fen);
    i64::try_from(earned).unwrap_or(i64::MAX)
}

/// The extra a multiplier adds on top of `base`, rounded down; multipliers below ×1 (rejected by
/// validation) add nothing.
fn extra(base: i64, permille: u32) -> i64 {
    let extra_permille = permille.saturating_sub(1_000);
    let added = i128::from(base.max(0)) * i128::from(extra_permille) / 1_000;
    i64::try_from(added).unwrap_or(i64::MAX)
}

/// The most `rule` may still give on this order under its own caps, if it has any.
fn rule_limit(rule: &EarningRule, context: &EarningContext) -> Option<i64> {
    let caps = &rule.caps;
    let so_far = context.earned_so_far(rule.id);
    let left = |cap: i64, used: i64| cap.saturating_sub(used.max(0)).max(0);
    [
        caps.per_order_points.map(|cap| cap.max(0)),
        caps.per_member_day_points
            .map(|cap| left(cap, so_far.already_earned_today)),
        caps.per_member_period
            .map(|cap| left(cap.points, so_far.already_earned_in_period)),
    ]
    .into_iter()
    .flatten()
    .min()
}

fn total(lines: &[(usize, i64)]) -> i64 {
    lines
        .iter()
        .fold(0i64, |sum, &(_, points)| sum.saturating_add(points))
}

/// Cuts a rule's points down to `limit`, re-spread over its lines pro rata; true if it cut.
fn shrink(lines: &mut [(usize, i64)], limit: i64) -> bool {
    let limit = limit.max(0);
    if total(lines) <= limit {
        return false;
    }
    let weights: Vec<i64> = lines.iter().map(|&(_, points)| points).collect();
    for (line, part) in lines
        .iter_mut()
        .zip(allocate_largest_remainder(limit, &weights))
    {
        line.1 = part;
    }
    true
}

/// The tenant's cap on the whole order, shared over the applied rules pro rata by their points.
fn apply_order_cap(states: &mut [State], cap: Option<i64>) -> bool {
    let Some(cap) = cap else { return false };
    let totals: Vec<i64> = states
        .iter()
        .map(|state| match state {
            State::Applied { lines, .. } => total(lines),
            _ => 0,
        })
        .collect();
    if totals.iter().fold(0i64, |sum, &t| sum.saturating_add(t)) <= cap.max(0) {
        return false;
    }
    let shares = allocate_largest_remainder(cap.max(0), &totals);
    for (state, share) in states.iter_mut().zip(shares) {
        if let State::Applied { lines, capped } = state
            && shrink(lines, share)
        {
            *capped = true;
        }
    }
    true
}

fn build(
    sorted: &[&EarningRule],
    states: Vec<State>,
    order: &OrderFacts,
    order_capped: bool,
) -> Evaluation {
    let mut per_line: Vec<LinePoints> = order
        .lines
        .iter()
        .map(|line| LinePoints {
            line_no: line.line_no,
            points: 0,
        })
        .collect();
    let mut fired = Vec::new();
    let mut reports = Vec::with_capacity(sorted.len());
    for (rule, state) in sorted.iter().zip(states) {
        let outcome = match state {
            State::NotMatched(unmet) => Outcome::NotMatched { unmet },
            // Every matched rule was resolved above; an unresolved one gave nothing.
            State::Matched(_) => Outcome::Fired {
                points: 0,
                capped: false,
            },
            State::Outranked(by_rule_id) => Outcome::Outranked { by_rule_id },
            State::Beaten(group, by_rule_id) => Outcome::BeatenInGroup { group, by_rule_id },
            State::Applied { lines, capped } => {
                for &(i, points) in &lines {
                    per_line[i].points = per_line[i].points.saturating_add(points);
                }
                let points = total(&lines);
                fired.push(Fired {
                    rule_id: rule.id,
                    rule_name: rule.name.clone(),
                    points,
                    capped,
                    lines: lines
                        .iter()
                        .map(|&(i, points)| LinePoints {
                            line_no: order.lines[i].line_no,
                            points,
                        })
                        .collect(),
                });
                Outcome::Fired { points, capped }
            }
        };
        reports.push(RuleReport {
            rule_id: rule.id,
            rule_name: rule.name.clone(),
            priority: rule.priority,
            effect: rule.effect.kind().to_owned(),
            outcome,
        });
    }
    let total_points = fired
        .iter()
        .fold(0i64, |sum, f| sum.saturating_add(f.points));
    Evaluation {
        accrual: Accrual {
            total_points,
            per_line,
            fired,
            order_capped,
        },
        rules: reports,
    }
}
