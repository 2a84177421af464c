//! Coupon codes: 80 random bits written as 16 Crockford base32 characters in four groups
//! (`7KQ2-M9XD-4TNB-E1WZ`), so a cashier can type one: no I, L, O or U, case does not matter,
//! and the look-alikes `O`/`I`/`L` are read as `0`/`1`/`1`. Guessing one of even a billion issued
//! codes takes about 2⁵⁰ tries.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random bytes in a code.
pub const RANDOM_BYTES: usize = 10;
/// Characters in a code, without separators.
pub const CODE_CHARS: usize = 16;

/// A coupon code in canonical form: 16 upper-case Crockford base32 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct CouponCode(String);

impl CouponCode {
    /// The code of 80 random bits.
    pub fn from_random(bytes: [u8; RANDOM_BYTES]) -> Self {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(byte);
        }
        let code = (0..CODE_CHARS)
            .rev()
            .map(|index| ALPHABET[((bits >> (index * 5)) & 31) as usize] as char)
            .collect();
        Self(code)
    }

    /// Reads a code as typed: separators (`-`, spaces) dropped, case folded, look-alikes mapped.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                field,
                "invalid_format",
                "a coupon code is 16 letters and digits, e.g. 7KQ2-M9XD-4TNB-E1WZ",
            )
        };
        if raw.len() > 64 {
            return Err(invalid());
        }
        let mut code = String::with_capacity(CODE_CHARS);
        for c in raw.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return Err(invalid()),
            };
            code.push(c);
        }
        if code.len() == CODE_CHARS {
            Ok(Self(code))
        } else {
            Err(invalid())
        }
    }

    /// The canonical form, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from storage.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    /// Four groups of four, as printed on a coupon.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.grouped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_all_80_bits_and_read_back_as_typed() {
        let zero = CouponCode::from_random([0; RANDOM_BYTES]);
        assert_eq!(zero.as_str(), "0000000000000000");
        let ones = CouponCode::from_random([0xFF; RANDOM_BYTES]);
        assert_eq!(ones.as_str(), "ZZZZZZZZZZZZZZZZ");
        let code = CouponCode::from_random([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.as_str().len(), CODE_CHARS);
        let typed = code.grouped().to_lowercase();
        assert_eq!(CouponCode::parse("code", &typed).unwrap(), code);
        assert_eq!(
            CouponCode::parse("code", "oiL0 0000-0000 0000")
                .unwrap()
                .as_str(),
            "0110000000000000"
        );
        for bad in [
            "",
            "ABC",
            "0000-0000-0000-000U",
            "0000000000000000X",
            "零零",
        ] {
            assert_eq!(
                CouponCode::parse("code", bad).unwrap_err().code,
                "invalid_format",
                "{bad}"
            );
        }
    }
}
