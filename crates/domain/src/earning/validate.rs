//! Checks a rule before it is saved, reporting every bad field at once (422 with field errors),
//! and the limits it checks against.

use super::rule::{Caps, Conditions, EarningRule, Effect, Stacking};
use crate::org::Name;
use crate::validation::{FieldError, FieldErrors};
use std::collections::BTreeSet;

/// Most points a base rate may give per `per_fen`.
pub const MAX_RATE_POINTS: u32 = 10_000;
/// Largest `per_fen` of a base rate: one point per ¥10 000.
pub const MAX_PER_FEN: u32 = 1_000_000;
/// Multipliers run from ×1 to ×100.
pub const MIN_PERMILLE: u32 = 1_000;
pub const MAX_PERMILLE: u32 = 100_000;
/// Largest fixed bonus.
pub const MAX_BONUS_POINTS: u32 = 1_000_000;
/// Largest cap and minimum order amount accepted.
pub const MAX_CAP_POINTS: i64 = 1_000_000_000;
pub const MAX_MIN_ORDER_FEN: i64 = 1_000_000_000_000;
/// Longest list in a condition (ids, tiers, tags, categories); SKU lists may be longer.
pub const MAX_LIST_LEN: usize = 1_000;
pub const MAX_SKUS: usize = 10_000;
/// Longest tier code, tag, SKU, category segment or stacking group, in characters.
pub const MAX_TEXT_CHARS: usize = 64;
/// Deepest category path.
pub const MAX_CATEGORY_DEPTH: usize = 8;

impl EarningRule {
    /// Every problem with the rule, each under its JSON path (`conditions.weekdays[0]`, …).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if let Err(error) = Name::parse("name", &self.name) {
            errors.push(error);
        }
        validate_conditions(&self.conditions, &mut errors);
        validate_effect(&self.effect, &mut errors);
        validate_caps(&self.caps, &mut errors);
        validate_stacking(&self.stacking, &self.effect, &mut errors);
        if let (Some(from), Some(until)) = (self.active_from, self.active_until)
            && from >= until
        {
            errors.push(FieldError::new(
                "active_until",
                "inverted_range",
                "must be later than active_from",
            ));
        }
        errors.finish()
    }
}

fn validate_conditions(conditions: &Conditions, errors: &mut FieldErrors) {
    let field = |name: &str| format!("conditions.{name}");
    check_len(
        &field("format_ids"),
        conditions.format_ids.as_ref().map(BTreeSet::len),
        MAX_LIST_LEN,
        errors,
    );
    check_len(
        &field("channel_ids"),
        conditions.channel_ids.as_ref().map(BTreeSet::len),
        MAX_LIST_LEN,
        errors,
    );
    check_len(
        &field("store_ids"),
        conditions.store_ids.as_ref().map(BTreeSet::len),
        MAX_LIST_LEN,
        errors,
    );
    check_texts(&field("skus"), conditions.skus.as_ref(), MAX_SKUS, errors);
    check_texts(
        &field("tiers"),
        conditions.tiers.as_ref(),
        MAX_LIST_LEN,
        errors,
    );
    check_texts(
        &field("member_tags"),
        conditions.member_tags.as_ref(),
        MAX_LIST_LEN,
        errors,
    );
    if let Some(categories) = &conditions.categories {
        let name = field("categories");
        check_len(&name, Some(categories.len()), MAX_LIST_LEN, errors);
        for (index, path) in categories.iter().enumerate() {
            let path_field = format!("{name}[{index}]");
            if path.is_empty() || path.len() > MAX_CATEGORY_DEPTH {
                errors.push(FieldError::new(
                    path_field.clone(),
                    "out_of_range",
                    format!("a category path has 1 to {MAX_CATEGORY_DEPTH} segments"),
                ));
            }
            for (depth, segment) in path.iter().enumerate() {
                check_text(&format!("{path_field}[{depth}]"), segment, errors);
            }
        }
    }
    if let Some(dates) = &conditions.dates
        && dates.from > dates.until
    {
        errors.push(FieldError::new(
            field("dates.until"),
            "inverted_range",
            "must not be earlier than dates.from",
        ));
    }
    if let Some(weekdays) = &conditions.weekdays {
        let name = field("weekdays");
        check_len(&name, Some(weekdays.len()), 7, errors);
        for (index, day) in weekdays.iter().enumerate() {
            if !(1..=7).contains(day) {
                errors.push(FieldError::new(
                    format!("{name}[{index}]"),
                    "unknown_value",
                    format!("{day} is not an ISO weekday (1 = Monday … 7 = Sunday)"),
                ));
            }
        }
    }
    if let Some(range) = &conditions.time_of_day
        && range.from == range.until
    {
        errors.push(FieldError::new(
            field("time_of_day.until"),
            "empty_range",
            "must differ from time_of_day.from",
        ));
    }
    if let Some(min) = conditions.min_order_amount_fen
        && !(1..=MAX_MIN_ORDER_FEN).contains(&min)
    {
        errors.push(FieldError::new(
            field("min_order_amount_fen"),
            "out_of_range",
            format!("must be 1 to {MAX_MIN_ORDER_FEN} fen, or omitted"),
        ));
    }
}

/// A present list must name at least one entry and not too many.
fn check_len(field: &str, len: Option<usize>, max: usize, errors: &mut FieldErrors) {
    match len {
        Some(0) => errors.push(FieldError::new(
            field,
            "required",
            "must name at least one, or be omitted to match everything",
        )),
        Some(len) if len > max => errors.push(FieldError::new(
            field,
            "too_many",
            format!("must have at most {max} entries"),
        )),
        _ => {}
    }
}

fn check_texts(
    field: &str,
    texts: Option<&BTreeSet<String>>,
    max: usize,
    errors: &mut FieldErrors,
) {
    let Some(texts) = texts else { return };
    check_len(field, Some(texts.len()), max, errors);
    for (index, text) in texts.iter().enumerate() {
        check_text(&format!("{field}[{index}]"), text, errors);
    }
}

/// Codes compared verbatim with order and member data: no surrounding blanks, so `"金卡 "` cannot
/// silently fail to match `"金卡"`.
fn check_text(field: &str, text: &str, errors: &mut FieldErrors) {
    if text.trim().is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    } else if text.trim() != text || text.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "invalid_characters",
            "must not have surrounding blanks or control characters",
        ));
    }
}

fn validate_effect(effect: &Effect, errors: &mut FieldErrors) {
    match *effect {
        Effect::PointsPerYuan { points, per_fen } => {
            if !(1..=MAX_RATE_POINTS).contains(&points) {
                errors.push(FieldError::new(
                    "effect.points",
                    "out_of_range",
                    format!("must be 1 to {MAX_RATE_POINTS}; a rate that gives nothing is an empty effect"),
                ));
            }
            if !(1..=MAX_PER_FEN).contains(&per_fen) {
                errors.push(FieldError::new(
                    "effect.per_fen",
                    "out_of_range",
                    format!("must be 1 to {MAX_PER_FEN} fen"),
                ));
            }
        }
        Effect::Multiplier { permille } => {
            if !(MIN_PERMILLE..=MAX_PERMILLE).contains(&permille) {
                errors.push(FieldError::new(
                    "effect.permille",
                    "out_of_range",
                    format!(
                        "must be {MIN_PERMILLE} (×1) to {MAX_PERMILLE} (×100); for reduced \
                         earning use a higher-priority base rate with a lower rate"
                    ),
                ));
            }
        }
        Effect::FixedBonus { points } => {
            if !(1..=MAX_BONUS_POINTS).contains(&points) {
                errors.push(FieldError::new(
                    "effect.points",
                    "out_of_range",
                    format!(
                        "must be 1 to {MAX_BONUS_POINTS}; a bonus of nothing is an empty effect"
                    ),
                ));
            }
        }
    }
}

fn validate_caps(caps: &Caps, errors: &mut FieldErrors) {
    let mut check = |field: &str, value: Option<i64>| {
        if let Some(value) = value
            && !(1..=MAX_CAP_POINTS).contains(&value)
        {
            errors.push(FieldError::new(
                field,
                "out_of_range",
                format!("must be 1 to {MAX_CAP_POINTS} points, or omitted for no cap"),
            ));
        }
    };
    check("caps.per_order_points", caps.per_order_points);
    check("caps.per_member_day_points", caps.per_member_day_points);
    check(
        "caps.per_member_period.points",
        caps.per_member_period.map(|cap| cap.points),
    );
}

fn validate_stacking(stacking: &Stacking, effect: &Effect, errors: &mut FieldErrors) {
    let Stacking::BestOf { group } = stacking else {
        return;
    };
    if matches!(effect, Effect::PointsPerYuan { .. }) {
        errors.push(FieldError::new(
            "stacking",
            "not_applicable",
            "base rates never stack: the highest-priority matching rate applies to each line",
        ));
    }
    check_text("stacking.group", group, errors);
}
