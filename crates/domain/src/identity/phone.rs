//! Phone numbers, normalised to E.164. Chinese mobiles are what members overwhelmingly have, so
//! they are validated precisely (`+86` then `1[3-9]` and nine digits); other countries are accepted
//! in international form with a plausible length. "+86 138-0013-8000", "008613800138000" and
//! "13800138000" are one phone: `+8613800138000`.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalised phone number in E.164 form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = |message: &str| FieldError::new(field, "invalid_phone", message);
        let trimmed = raw.trim();
        let mut digits = String::with_capacity(trimmed.len());
        let mut international = false;
        for (index, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if index == 0 => international = true,
                ' ' | '-' | '(' | ')' | '.' | '\u{3000}' => {}
                _ => {
                    return Err(invalid(
                        "may contain only digits, spaces, '-', '(', ')' and a leading '+'",
                    ));
                }
            }
        }
        if !international && let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_owned();
            international = true;
        }
        let e164 = if international {
            digits
        } else if digits.len() == 11 && digits.starts_with('1') {
            format!("86{digits}")
        } else if digits.len() == 13 && digits.starts_with("861") {
            digits
        } else {
            return Err(invalid(
                "a Chinese mobile has 11 digits starting with 1; other numbers need a leading + and country code",
            ));
        };
        if let Some(national) = e164.strip_prefix("86") {
            if !is_chinese_mobile(national) {
                return Err(invalid(
                    "not a valid Chinese mobile number (11 digits, 13x–19x)",
                ));
            }
        } else if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err(invalid(
                "an international number has 8 to 15 digits after the +",
            ));
        }
        Ok(Self(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// `+86 138****8000` style: country code, first three and last four digits.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_chinese_mobile(national: &str) -> bool {
    national.len() == 11
        && national.bytes().all(|b| b.is_ascii_digit())
        && national.as_bytes()[0] == b'1'
        && (b'3'..=b'9').contains(&national.as_bytes()[1])
}

/// Masks the middle of a phone: `+8613800138000` → `138****8000`.
pub fn mask_phone(e164: &str) -> String {
    let national = e164.strip_prefix("+86").unwrap_or(e164);
    let chars: Vec<char> = national.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_same_chinese_mobile_in_every_spelling() {
        for raw in [
            "+86 138-0013-8000",
            "008613800138000",
            "13800138000",
            "8613800138000",
            " (138) 0013 8000 ",
            "+8613800138000",
        ] {
            assert_eq!(
                Phone::parse("phone", raw).unwrap().as_str(),
                "+8613800138000",
                "{raw}"
            );
        }
    }

    #[test]
    fn invalid_chinese_numbers_are_refused() {
        for raw in [
            "12800138000",
            "1380013800",
            "+86 10 1234 5678",
            "138001380001",
            "abc",
            "",
            "+",
        ] {
            assert_eq!(
                Phone::parse("phone", raw).unwrap_err().code,
                "invalid_phone",
                "{raw}"
            );
        }
    }

    #[test]
    fn other_countries_in_international_form() {
        assert_eq!(
            Phone::parse("phone", "+1 (415) 555-0100").unwrap().as_str(),
            "+14155550100"
        );
        assert_eq!(
            Phone::parse("phone", "0085291234567").unwrap().as_str(),
            "+85291234567"
        );
        assert!(Phone::parse("phone", "+1234").is_err());
        assert!(Phone::parse("phone", "+1234567890123456").is_err());
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(
            Phone::parse("p", "13800138000").unwrap().masked(),
            "138****8000"
        );
        assert_eq!(mask_phone("+14155550100"), "+14*****0100");
    }

    proptest! {
        /// Normalising is idempotent and never panics on any input.
        #[test]
        fn normalising_twice_changes_nothing(raw in "\\PC{0,24}") {
            if let Ok(phone) = Phone::parse("phone", &raw) {
                prop_assert_eq!(Phone::parse("phone", phone.as_str()).unwrap(), phone);
            }
        }

        #[test]
        fn every_valid_chinese_mobile_round_trips(second in 3u8..=9, rest in 0u64..1_000_000_000) {
            let national = format!("1{second}{rest:09}");
            let phone = Phone::parse("phone", &national).unwrap();
            prop_assert_eq!(phone.as_str(), format!("+86{national}"));
        }
    }
}
