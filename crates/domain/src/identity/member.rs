//! A member's own data: the human member number, the profile, consents, and how each is shown to
//! callers who may not read personal information.

use crate::org::wire_enum;
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

/// The member number printed on cards and receipts: a dense sequence number and a Luhn check
/// digit, so a mistyped digit is caught at the till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct MemberNo(String);

impl MemberNo {
    /// The number for the `seq`-th member of a tenant: at least eight digits, then the check digit.
    pub fn from_seq(seq: u64) -> Self {
        let body = format!("{seq:08}");
        let check = luhn_check_digit(&body);
        Self(format!("{body}{check}"))
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let digits = raw.trim();
        let valid = digits.len() >= 9
            && digits.bytes().all(|b| b.is_ascii_digit())
            && luhn_check_digit(&digits[..digits.len() - 1])
                == digits.as_bytes()[digits.len() - 1] - b'0';
        if valid {
            Ok(Self(digits.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_member_no",
                "is not a member number (check digit mismatch)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

fn luhn_check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(index, b)| {
            let digit = u32::from(b - b'0');
            if index % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

wire_enum!(
    Gender {
        Male => "male",
        Female => "female",
        Unknown => "unknown",
    }
);

wire_enum!(
    /// Where outreach may go; each needs its own consent (PIPL).
    ConsentChannel {
        Sms => "sms",
        Wecom => "wecom",
        Email => "email",
        AppPush => "app_push",
    }
);

wire_enum!(
    MemberStatus {
        Active => "active",
        /// Merged into another member; look-ups resolve to the survivor.
        Merged => "merged",
        /// Anonymised on request (PIPL); the ledger keeps its totals.
        Erased => "erased",
    }
);

/// Profile fields as they arrive; every field optional.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub name: Option<String>,
    pub gender: Option<Gender>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    /// Mainland resident ID number (18 characters, checked).
    pub id_card_no: Option<String>,
}

/// A validated profile. Personal fields (name, address, ID number) are encrypted at rest by the
/// server; the rest are plain so segments can filter on them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<Date>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub id_card_no: Option<String>,
}

/// Longest name accepted, in characters.
pub const MEMBER_NAME_MAX_CHARS: usize = 50;
const REGION_MAX_CHARS: usize = 50;
const ADDRESS_MAX_CHARS: usize = 200;

impl Profile {
    /// Parses every field, reporting all problems at once under `prefix` (e.g. `profile`).
    pub fn parse(prefix: &str, input: &ProfileInput, today: Date) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let text = |errors: &mut FieldErrors,
                    name: &str,
                    raw: &Option<String>,
                    max: usize|
         -> Option<String> {
            let value = raw.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            if value.chars().count() > max || value.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    field(name),
                    "invalid_format",
                    format!("must be at most {max} printable characters"),
                ));
                return None;
            }
            Some(value.to_owned())
        };
        let profile = Profile {
            name: text(&mut errors, "name", &input.name, MEMBER_NAME_MAX_CHARS),
            gender: input.gender,
            birthday: input
                .birthday
                .as_deref()
                .and_then(|raw| errors.take(parse_birthday(&field("birthday"), raw, today))),
            province: text(&mut errors, "province", &input.province, REGION_MAX_CHARS),
            city: text(&mut errors, "city", &input.city, REGION_MAX_CHARS),
            district: text(&mut errors, "district", &input.district, REGION_MAX_CHARS),
            address: text(&mut errors, "address", &input.address, ADDRESS_MAX_CHARS),
            id_card_no: input
                .id_card_no
                .as_deref()
                .and_then(|raw| errors.take(parse_id_card(&field("id_card_no"), raw))),
        };
        errors.finish()?;
        Ok(profile)
    }

    /// Fields set in `other` replace ours.
    pub fn overlay(&mut self, other: Profile) {
        macro_rules! take {
            ($($f:ident),+) => { $( if other.$f.is_some() { self.$f = other.$f; } )+ };
        }
        take!(
            name, gender, birthday, province, city, district, address, id_card_no
        );
    }

    /// Whether every field a "profile completed" reward asks for is present.
    pub fn is_complete(&self) -> bool {
        self.name.is_some()
            && self.gender.is_some()
            && self.birthday.is_some()
            && self.city.is_some()
    }
}

/// Accepts `YYYY-MM-DD` (also `YYYY/MM/DD` and `YYYYMMDD`, common in legacy exports), between
/// 1900-01-01 and today.
pub fn parse_birthday(field: &str, raw: &str, today: Date) -> Result<Date, FieldError> {
    let cleaned: String = raw.trim().chars().filter(|c| c.is_ascii_digit()).collect();
    let invalid = || {
        FieldError::new(
            field,
            "invalid_date",
            "must be a date YYYY-MM-DD between 1900 and today",
        )
    };
    if cleaned.len() != 8 || raw.trim().len() > 10 {
        return Err(invalid());
    }
    let number =
        |range: std::ops::Range<usize>| cleaned[range].parse::<u32>().map_err(|_| invalid());
    let year = i32::try_from(number(0..4)?).map_err(|_| invalid())?;
    let month = time::Month::try_from(u8::try_from(number(4..6)?).map_err(|_| invalid())?)
        .map_err(|_| invalid())?;
    let day = u8::try_from(number(6..8)?).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
    if year < 1900 || date > today {
        return Err(invalid());
    }
    Ok(date)
}

/// Checks a mainland resident ID number's GB 11643 check character; upper-cases a final `x`.
pub fn parse_id_card(field: &str, raw: &str) -> Result<String, FieldError> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECKS: &[u8; 11] = b"10X98765432";
    let id = raw.trim().to_ascii_uppercase();
    let bytes = id.as_bytes();
    let invalid = || {
        FieldError::new(
            field,
            "invalid_id_card",
            "is not a valid 18-character resident ID number",
        )
    };
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if CHECKS[(sum % 11) as usize] != bytes[17] {
        return Err(invalid());
    }
    Ok(id)
}

/// `张三丰` → `张**`; `Li` → `L*`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// `310101199001011234` → `3101**********1234`.
pub fn mask_id_card(id: &str) -> String {
    crate::identity::identifier::mask_middle(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn member_numbers_carry_a_check_digit() {
        let no = MemberNo::from_seq(1);
        assert_eq!(no.as_str().len(), 9);
        assert!(MemberNo::parse("member_no", no.as_str()).is_ok());
        let mut typo = no.as_str().to_owned();
        typo.replace_range(3..4, "7");
        assert!(MemberNo::parse("member_no", &typo).is_err());
        assert!(MemberNo::parse("member_no", "abc").is_err());
    }

    proptest! {
        /// Every single-digit typo is caught.
        #[test]
        fn a_changed_digit_is_always_detected(seq in 1u64..10_000_000_000, position in 0usize..9, delta in 1u8..10) {
            let no = MemberNo::from_seq(seq);
            let mut bytes = no.as_str().as_bytes().to_vec();
            let index = position % bytes.len();
            bytes[index] = b'0' + (bytes[index] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(MemberNo::parse("member_no", &typo).is_err());
        }
    }

    #[test]
    fn birthdays_in_common_spellings() {
        let today = date!(2026 - 11 - 23);
        assert_eq!(
            parse_birthday("b", "1990-05-01", today).unwrap(),
            date!(1990 - 05 - 01)
        );
        assert_eq!(
            parse_birthday("b", "1990/05/01", today).unwrap(),
            date!(1990 - 05 - 01)
        );
        assert_eq!(
            parse_birthday("b", "19900501", today).unwrap(),
            date!(1990 - 05 - 01)
        );
        for bad in ["1990-02-30", "2027-01-01", "1850-01-01", "May 1", ""] {
            assert!(parse_birthday("b", bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn resident_ids_are_checked() {
        assert_eq!(
            parse_id_card("id", "11010519491231002x").unwrap(),
            "11010519491231002X"
        );
        assert!(parse_id_card("id", "110105194912310021").is_err());
        assert_eq!(mask_id_card("11010519491231002X"), "1101**********002X");
    }

    #[test]
    fn profiles_report_every_bad_field() {
        let input = ProfileInput {
            name: Some("x".repeat(51)),
            birthday: Some("1990-13-01".into()),
            ..ProfileInput::default()
        };
        let errors = Profile::parse("profile", &input, date!(2026 - 11 - 23)).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["profile.name", "profile.birthday"]);
        assert_eq!(mask_name("张三丰"), "张**");
    }
}
