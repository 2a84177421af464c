//! What an order earned: the total, the points of every line and of every fired rule, split by
//! line, so a refund of some lines can take back exactly what those lines earned.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;
use uuid::Uuid;

/// Points attributed to one order line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinePoints {
    pub line_no: u32,
    pub points: i64,
}

/// A rule that applied to the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Fired {
    pub rule_id: Uuid,
    pub rule_name: String,
    /// What the rule gave after its caps and the tenant's order cap; may be zero (a base rate on
    /// a line too small for one point, a day cap already used up).
    pub points: i64,
    /// The rule would have given more without a cap.
    pub capped: bool,
    /// The lines the rule applied to and what it gave on each; sums to `points`.
    pub lines: Vec<LinePoints>,
}

/// The points an order earns. `total_points` equals both the sum of `fired` and the sum of
/// `per_line`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accrual {
    pub total_points: i64,
    /// Every line of the order in order, zero for lines that earned nothing.
    pub per_line: Vec<LinePoints>,
    /// The rules that applied, highest priority first.
    pub fired: Vec<Fired>,
    /// The tenant's order cap cut the total.
    pub order_capped: bool,
}

impl Accrual {
    /// What the given lines earned, each line counted once: the points a full refund of those
    /// lines takes back.
    pub fn points_for_lines(&self, line_nos: &[u32]) -> i64 {
        let wanted: BTreeSet<u32> = line_nos.iter().copied().collect();
        sum_lines(&self.per_line, &wanted)
    }

    /// The same, split by fired rule (highest priority first, zeros left out): what a refund of
    /// those lines takes off each rule's day and period counters.
    pub fn rule_points_for_lines(&self, line_nos: &[u32]) -> Vec<(Uuid, i64)> {
        let wanted: BTreeSet<u32> = line_nos.iter().copied().collect();
        self.fired
            .iter()
            .map(|fired| (fired.rule_id, sum_lines(&fired.lines, &wanted)))
            .filter(|&(_, points)| points != 0)
            .collect()
    }
}

/// What the given lines of `accrual` earned; see [`Accrual::points_for_lines`].
pub fn points_for_lines(accrual: &Accrual, line_nos: &[u32]) -> i64 {
    accrual.points_for_lines(line_nos)
}

fn sum_lines(lines: &[LinePoints], wanted: &BTreeSet<u32>) -> i64 {
    lines
        .iter()
        .filter(|line| wanted.contains(&line.line_no))
        .fold(0i64, |sum, line| sum.saturating_add(line.points))
}
