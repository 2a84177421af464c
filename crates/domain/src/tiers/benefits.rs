//! What a tier is worth (等级权益): group-wide benefits every format honours, plus per-format
//! benefits (业态权益) that override them where a format needs its own — a mall's parking hours, a
//! hotel's late checkout, a supermarket's own discount.

use crate::org::Code;
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Earning multipliers, in permille: 1000 is ×1, 10000 (the most) is ×10.
pub const MULTIPLIER_PERMILLE: std::ops::RangeInclusive<u32> = 1..=10_000;
/// Discounts, in permille of the price paid: 1000 is no discount, 950 is 95折.
pub const DISCOUNT_PERMILLE: std::ops::RangeInclusive<u32> = 1..=1000;
/// Most free parking hours a format may grant per visit (a month).
pub const MAX_PARKING_HOURS: u32 = 720;
/// Most formats with their own benefits per level.
pub const MAX_FORMATS: usize = 100;
/// Most extra benefits per level or format.
pub const MAX_EXTRAS: usize = 32;
/// Longest extra benefit value or birthday gift, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The benefits of one tier level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Benefits {
    /// Multiplier on earned points, in permille (1000 = ×1, 1500 = ×1.5).
    pub earning_multiplier_permille: u32,
    /// Price paid, in permille (1000 = full price, 950 = 95折).
    pub discount_permille: u32,
    /// The birthday gift (生日礼), e.g. a coupon template code or a description.
    #[serde(default)]
    pub birthday_gift: Option<String>,
    /// Further named benefits, e.g. `vip_lane` → `yes`; values are shown to members as given.
    #[serde(default)]
    pub extras: BTreeMap<String, String>,
    /// Overrides for single formats, keyed by format code.
    #[serde(default)]
    pub per_format: BTreeMap<String, FormatBenefits>,
}

/// One format's overrides of the group-wide benefits; an absent value falls back to the group's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormatBenefits {
    #[serde(default)]
    pub earning_multiplier_permille: Option<u32>,
    #[serde(default)]
    pub discount_permille: Option<u32>,
    /// Free parking hours per visit (停车权益); parking exists per format only.
    #[serde(default)]
    pub parking_hours: u32,
    /// Added to the group's extras; a key given here replaces the group's value.
    #[serde(default)]
    pub extras: BTreeMap<String, String>,
}

/// The benefits a member of a level gets in one format (or group-wide), after overrides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EffectiveBenefits {
    pub earning_multiplier_permille: u32,
    pub discount_permille: u32,
    pub birthday_gift: Option<String>,
    pub parking_hours: u32,
    pub extras: BTreeMap<String, String>,
}

impl Default for Benefits {
    /// No benefits: ×1 points, full price.
    fn default() -> Self {
        Self {
            earning_multiplier_permille: 1000,
            discount_permille: 1000,
            birthday_gift: None,
            extras: BTreeMap::new(),
            per_format: BTreeMap::new(),
        }
    }
}

impl Benefits {
    /// The benefits in the format with code `format_code`, or group-wide for `None` (and for a
    /// format without overrides). Format values override group values field by field.
    pub fn for_format(&self, format_code: Option<&str>) -> EffectiveBenefits {
        let mut effective = EffectiveBenefits {
            earning_multiplier_permille: self.earning_multiplier_permille,
            discount_permille: self.discount_permille,
            birthday_gift: self.birthday_gift.clone(),
            parking_hours: 0,
            extras: self.extras.clone(),
        };
        if let Some(format) = format_code.and_then(|code| self.per_format.get(code)) {
            if let Some(multiplier) = format.earning_multiplier_permille {
                effective.earning_multiplier_permille = multiplier;
            }
            if let Some(discount) = format.discount_permille {
                effective.discount_permille = discount;
            }
            effective.parking_hours = format.parking_hours;
            effective.extras.extend(format.extras.clone());
        }
        effective
    }

    /// Records every problem under `path` (e.g. `levels[2].benefits`).
    pub(crate) fn validate(&self, path: &str, errors: &mut FieldErrors) {
        check_multiplier(
            &format!("{path}.earning_multiplier_permille"),
            self.earning_multiplier_permille,
            errors,
        );
        check_discount(
            &format!("{path}.discount_permille"),
            self.discount_permille,
            errors,
        );
        if let Some(gift) = &self.birthday_gift {
            errors.take(check_text(&format!("{path}.birthday_gift"), gift));
        }
        check_extras(&format!("{path}.extras"), &self.extras, errors);
        if self.per_format.len() > MAX_FORMATS {
            errors.push(FieldError::new(
                format!("{path}.per_format"),
                "too_many",
                format!("at most {MAX_FORMATS} formats"),
            ));
        }
        for (code, format) in &self.per_format {
            let at = format!("{path}.per_format.{code}");
            errors.take(check_key(&at, code));
            if let Some(multiplier) = format.earning_multiplier_permille {
                check_multiplier(
                    &format!("{at}.earning_multiplier_permille"),
                    multiplier,
                    errors,
                );
            }
            if let Some(discount) = format.discount_permille {
                check_discount(&format!("{at}.discount_permille"), discount, errors);
            }
            if format.parking_hours > MAX_PARKING_HOURS {
                errors.push(FieldError::new(
                    format!("{at}.parking_hours"),
                    "out_of_range",
                    format!("must be at most {MAX_PARKING_HOURS}"),
                ));
            }
            check_extras(&format!("{at}.extras"), &format.extras, errors);
        }
    }
}

fn check_multiplier(field: &str, value: u32, errors: &mut FieldErrors) {
    if !MULTIPLIER_PERMILLE.contains(&value) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            "must be between 1 and 10000 permille (×0.001 to ×10)",
        ));
    }
}

fn check_discount(field: &str, value: u32, errors: &mut FieldErrors) {
    if !DISCOUNT_PERMILLE.contains(&value) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            "must be between 1 and 1000 permille of the price",
        ));
    }
}

fn check_extras(field: &str, extras: &BTreeMap<String, String>, errors: &mut FieldErrors) {
    if extras.len() > MAX_EXTRAS {
        errors.push(FieldError::new(
            field,
            "too_many",
            format!("at most {MAX_EXTRAS} extras"),
        ));
    }
    for (key, value) in extras {
        let at = format!("{field}.{key}");
        errors.take(check_key(&at, key));
        errors.take(check_text(&at, value));
    }
}

/// Map keys must be codes exactly as written: trimming them silently would merge two keys.
fn check_key(field: &str, key: &str) -> Result<(), FieldError> {
    let code = Code::parse(field, key)?;
    if code.as_str() == key {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "invalid_format",
            "must not have surrounding spaces",
        ))
    }
}

fn check_text(field: &str, text: &str) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "required", "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold() -> Benefits {
        Benefits {
            earning_multiplier_permille: 1500,
            discount_permille: 950,
            birthday_gift: Some("生日蛋糕券".into()),
            extras: BTreeMap::from([("vip_lane".into(), "购物中心VIP通道".into())]),
            per_format: BTreeMap::from([
                (
                    "mall".into(),
                    FormatBenefits {
                        parking_hours: 3,
                        ..FormatBenefits::default()
                    },
                ),
                (
                    "hotel".into(),
                    FormatBenefits {
                        earning_multiplier_permille: Some(2000),
                        discount_permille: Some(880),
                        parking_hours: 0,
                        extras: BTreeMap::from([
                            ("late_checkout".into(), "14:00".into()),
                            ("vip_lane".into(), "快速入住".into()),
                        ]),
                    },
                ),
            ]),
        }
    }

    #[test]
    fn format_benefits_override_group_benefits_field_by_field() {
        let group = gold().for_format(None);
        assert_eq!(
            (group.earning_multiplier_permille, group.discount_permille),
            (1500, 950)
        );
        assert_eq!(group.parking_hours, 0);
        // The mall only adds parking; multiplier and discount stay the group's.
        let mall = gold().for_format(Some("mall"));
        assert_eq!(
            (
                mall.earning_multiplier_permille,
                mall.discount_permille,
                mall.parking_hours
            ),
            (1500, 950, 3)
        );
        assert_eq!(mall.birthday_gift.as_deref(), Some("生日蛋糕券"));
        let hotel = gold().for_format(Some("hotel"));
        assert_eq!(
            (hotel.earning_multiplier_permille, hotel.discount_permille),
            (2000, 880)
        );
        assert_eq!(hotel.extras["vip_lane"], "快速入住");
        assert_eq!(hotel.extras["late_checkout"], "14:00");
        // A format without overrides gets the group's benefits.
        assert_eq!(gold().for_format(Some("dining")), group);
    }

    #[test]
    fn benefits_are_bounded() {
        let mut benefits = gold();
        benefits.earning_multiplier_permille = 0;
        benefits.discount_permille = 1001;
        benefits.birthday_gift = Some("  ".into());
        benefits.extras.insert(" vip".into(), "x".into());
        let hotel = benefits.per_format.get_mut("hotel").unwrap();
        hotel.earning_multiplier_permille = Some(10_001);
        hotel.discount_permille = Some(0);
        hotel.parking_hours = 721;
        benefits
            .per_format
            .insert("商场".into(), FormatBenefits::default());
        let mut errors = FieldErrors::new();
        benefits.validate("levels[1].benefits", &mut errors);
        let fields: Vec<(&str, &str)> = errors
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "levels[1].benefits.earning_multiplier_permille",
                    "out_of_range"
                ),
                ("levels[1].benefits.discount_permille", "out_of_range"),
                ("levels[1].benefits.birthday_gift", "required"),
                ("levels[1].benefits.extras. vip", "invalid_format"),
                (
                    "levels[1].benefits.per_format.hotel.earning_multiplier_permille",
                    "out_of_range"
                ),
                (
                    "levels[1].benefits.per_format.hotel.discount_permille",
                    "out_of_range"
                ),
                (
                    "levels[1].benefits.per_format.hotel.parking_hours",
                    "out_of_range"
                ),
                ("levels[1].benefits.per_format.商场", "invalid_format"),
            ]
        );
        let mut errors = FieldErrors::new();
        gold().validate("benefits", &mut errors);
        assert_eq!(errors, FieldErrors::new());
    }

    #[test]
    fn wire_format_rejects_unknown_fields_and_defaults_the_optional_ones() {
        let minimal: Benefits = serde_json::from_str(
            r#"{"earning_multiplier_permille":1000,"discount_permille":1000}"#,
        )
        .unwrap();
        assert_eq!(minimal, Benefits::default());
        let unknown = serde_json::from_str::<Benefits>(
            r#"{"earning_multiplier_permille":1000,"discount_permille":1000,"cashback":5}"#,
        );
        assert!(unknown.is_err());
        let back: Benefits = serde_json::from_value(serde_json::to_value(gold()).unwrap()).unwrap();
        assert_eq!(back, gold());
    }
}
