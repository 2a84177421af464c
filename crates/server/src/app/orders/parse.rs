//! Checks of an order's own fields, before anything is looked up.

use super::input::{OrderInput, PaymentMethod};
use super::{
    FUTURE_SKEW_MINUTES, MAX_FEN, MAX_LINES, MAX_ORDER_AGE_DAYS, MAX_PAYMENTS, MAX_QUANTITY,
};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

/// An order that passed every check of its own fields (not yet its references).
#[derive(Clone, Debug)]
pub struct ParsedOrder {
    pub input: OrderInput,
    pub external_id: String,
    pub paid_by_points_fen: i64,
    pub paid_by_coupons_fen: i64,
}

pub(super) fn check_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) {
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
