//! The organisation: a tenant (集团) owns business formats (业态), which own stores and mall
//! merchants (商户); channels are the doors members and orders come through.

use crate::ids::{ChannelId, FormatId, StoreId, TenantId};
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Longest display name accepted, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest code accepted, in bytes (codes are ASCII).
pub const CODE_MAX_LEN: usize = 64;

/// A display name: trimmed, non-empty, at most [`NAME_MAX_CHARS`] characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("must be at most {NAME_MAX_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from storage, which were valid when written.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// A short business key chosen by the tenant (e.g. a store number from the ERP): ASCII letters,
/// digits, `-`, `_` and `.`, starting with a letter or digit. Codes are case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim();
        if code.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        if code.len() > CODE_MAX_LEN {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("must be at most {CODE_MAX_LEN} characters"),
            ));
        }
        let mut chars = code.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !(first_ok && rest_ok) {
            return Err(FieldError::new(
                field,
                "invalid_format",
                "must be ASCII letters, digits, '-', '_' or '.', starting with a letter or digit",
            ));
        }
        Ok(Self(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// An IANA time zone name that this build knows, e.g. `Asia/Shanghai`. Business dates (sign-in
/// days, year-end clearing) are computed in the tenant's zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub const DEFAULT: &'static str = "Asia/Shanghai";

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        match jiff::tz::TimeZone::get(name) {
            Ok(_) if !name.is_empty() => Ok(Self(name.to_owned())),
            _ => Err(FieldError::new(
                field,
                "unknown_time_zone",
                format!("'{name}' is not a known IANA time zone"),
            )),
        }
    }

    pub fn default_zone() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// Declares a closed set of wire strings as an enum with `as_str`/`parse`, so the database and
/// the API use the same spelling.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(field: &str, raw: &str) -> Result<Self, $crate::validation::FieldError> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::validation::FieldError::new(
                        field,
                        "unknown_value",
                        format!("must be one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Where members and orders come from.
    ChannelKind {
        Pos => "pos",
        MiniProgram => "mini_program",
        App => "app",
        Ecommerce => "ecommerce",
        Wecom => "wecom",
        OfficialAccount => "official_account",
        Other => "other",
    }
);

wire_enum!(
    /// A store run by the tenant itself, or a merchant renting space in a mall (商户), whose
    /// staff see only their own numbers and who takes part in revenue split.
    StoreKind {
        Store => "store",
        Merchant => "merchant",
    }
);

/// A tenant (集团): one customer of a shared deployment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Code,
    pub name: Name,
    pub time_zone: TimeZoneName,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A business format (业态).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Format {
    pub id: FormatId,
    pub code: Code,
    pub name: Name,
    /// Archived formats keep their history but take no new stores.
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A store or mall merchant; always belongs to exactly one format.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Store {
    pub id: StoreId,
    pub format_id: FormatId,
    pub code: Code,
    pub name: Name,
    pub kind: StoreKind,
    /// Free-form postal address; empty when unknown.
    pub address: String,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A channel. A channel may be tied to one format (a format's own mini-program) or serve the
/// whole group.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub code: Code,
    pub name: Name,
    pub kind: ChannelKind,
    pub format_id: Option<FormatId>,
    /// WeChat app id for mini-program and official-account channels (openids are per app id).
    pub app_id: Option<String>,
    pub archived: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Longest free-form address accepted, in characters.
pub const ADDRESS_MAX_CHARS: usize = 500;

pub fn parse_address(field: &str, raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > ADDRESS_MAX_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {ADDRESS_MAX_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// WeChat app ids are `wx` followed by 16 hex digits; other platforms' ids are accepted when they
/// are plain ASCII codes.
pub fn parse_app_id(field: &str, raw: &str) -> Result<String, FieldError> {
    Code::parse(field, raw).map(|code| code.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("name", "  银泰百货 ").unwrap().as_str(),
            "银泰百货"
        );
        assert_eq!(Name::parse("name", "   ").unwrap_err().code, "required");
        assert_eq!(
            Name::parse("name", &"字".repeat(101)).unwrap_err().code,
            "too_long"
        );
        assert!(Name::parse("name", &"字".repeat(100)).is_ok());
        assert_eq!(
            Name::parse("name", "a\u{0}b").unwrap_err().code,
            "invalid_characters"
        );
    }

    #[test]
    fn codes_are_ascii_keys() {
        assert!(Code::parse("code", "SH-001.a_b").is_ok());
        assert_eq!(
            Code::parse("code", "-x").unwrap_err().code,
            "invalid_format"
        );
        assert_eq!(
            Code::parse("code", "门店1").unwrap_err().code,
            "invalid_format"
        );
        assert_eq!(
            Code::parse("code", "a b").unwrap_err().code,
            "invalid_format"
        );
        assert_eq!(
            Code::parse("code", &"a".repeat(65)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn time_zones_must_exist() {
        assert!(TimeZoneName::parse("tz", "Asia/Shanghai").is_ok());
        assert!(TimeZoneName::parse("tz", "Europe/Berlin").is_ok());
        assert_eq!(
            TimeZoneName::parse("tz", "Mars/Olympus").unwrap_err().code,
            "unknown_time_zone"
        );
        assert_eq!(
            TimeZoneName::parse("tz", "").unwrap_err().code,
            "unknown_time_zone"
        );
    }

    #[test]
    fn channel_kinds_round_trip() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse("kind", kind.as_str()).unwrap(), *kind);
        }
        assert_eq!(
            serde_json::to_string(&ChannelKind::MiniProgram).unwrap(),
            "\"mini_program\""
        );
        let error = ChannelKind::parse("kind", "fax").unwrap_err();
        assert_eq!(error.code, "unknown_value");
        assert!(error.message.contains("mini_program"));
    }
}
