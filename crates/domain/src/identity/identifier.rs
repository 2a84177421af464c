//! Member identifiers: every key a channel may know a member by. Values are normalised at the edge
//! (phones to E.164, emails lower-cased, codes trimmed) so that one person's identifier matches
//! itself whichever channel sends it.

use crate::identity::phone::{Phone, mask_phone};
use crate::org::wire_enum;
use crate::validation::FieldError;
use serde::Deserialize;
use utoipa::ToSchema;

wire_enum!(
    /// The kinds of identifier a member can carry.
    IdentifierKind {
        Phone => "phone",
        Email => "email",
        WechatUnionid => "wechat_unionid",
        WechatOpenid => "wechat_openid",
        DeviceId => "device_id",
        CardNo => "card_no",
        LegacyId => "legacy_id",
        External => "external",
    }
);

impl IdentifierKind {
    /// Whether equal values mean the same person. A device may be shared by a family or a store
    /// counter, so it is never grounds for a match.
    pub fn matches_people(self) -> bool {
        !matches!(self, IdentifierKind::DeviceId)
    }

    /// Default ceiling on how many identifiers of this kind one member may carry.
    pub fn default_limit(self) -> usize {
        match self {
            IdentifierKind::Phone | IdentifierKind::Email => 3,
            IdentifierKind::WechatUnionid => 1,
            IdentifierKind::WechatOpenid | IdentifierKind::DeviceId | IdentifierKind::External => {
                10
            }
            IdentifierKind::CardNo | IdentifierKind::LegacyId => 5,
        }
    }
}

/// Longest identifier value accepted, in bytes.
pub const IDENTIFIER_MAX_LEN: usize = 128;

/// An identifier as it arrives on the wire.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierInput {
    pub kind: IdentifierKind,
    pub value: String,
    /// The WeChat app id an openid belongs to (openids are per app).
    pub app_id: Option<String>,
    /// The issuing system of an `external` id, e.g. `tmall`.
    pub namespace: Option<String>,
}

/// A normalised identifier. `key` is what equality and look-ups use: the value, qualified by its
/// app id or namespace where the value alone is not unique.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub key: String,
}

impl Identifier {
    pub fn parse(field: &str, input: &IdentifierInput) -> Result<Self, FieldError> {
        let value = input.value.trim();
        let value_field = format!("{field}.value");
        if value.is_empty() {
            return Err(FieldError::new(
                value_field,
                "required",
                "must not be empty",
            ));
        }
        if value.len() > IDENTIFIER_MAX_LEN || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                value_field,
                "invalid_format",
                format!("must be at most {IDENTIFIER_MAX_LEN} printable characters"),
            ));
        }
        let qualifier = |name: &str, raw: &Option<String>| -> Result<String, FieldError> {
            let qualifier_field = format!("{field}.{name}");
            let raw = raw.as_deref().map(str::trim).filter(|v| !v.is_empty());
            let raw = raw.ok_or_else(|| {
                FieldError::new(
                    qualifier_field.clone(),
                    "required",
                    format!("a {} needs its {name}", input.kind.as_str()),
                )
            })?;
            crate::org::Code::parse(&qualifier_field, raw).map(|code| code.as_str().to_owned())
        };
        let key = match input.kind {
            IdentifierKind::Phone => Phone::parse(&value_field, value)?.as_str().to_owned(),
            IdentifierKind::Email => parse_email(&value_field, value)?,
            IdentifierKind::WechatOpenid => {
                format!("{}:{value}", qualifier("app_id", &input.app_id)?)
            }
            IdentifierKind::External => {
                format!("{}:{value}", qualifier("namespace", &input.namespace)?)
            }
            IdentifierKind::WechatUnionid
            | IdentifierKind::DeviceId
            | IdentifierKind::CardNo
            | IdentifierKind::LegacyId => value.to_owned(),
        };
        Ok(Self {
            kind: input.kind,
            key,
        })
    }

    /// What a caller without `pii:read` sees.
    pub fn masked(&self) -> String {
        match self.kind {
            IdentifierKind::Phone => mask_phone(&self.key),
            IdentifierKind::Email => mask_email(&self.key),
            _ => mask_middle(&self.key),
        }
    }
}

/// Lower-cased and checked for one `@` with a dotted domain.
pub fn parse_email(field: &str, raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let invalid = || FieldError::new(field, "invalid_email", "is not an email address");
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let valid = !local.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err(invalid()) }
}

/// `zhang.san@example.com` → `z*******@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!(
                "{first}{}@{domain}",
                "*".repeat(local.chars().count().saturating_sub(1).max(1))
            )
        }
        None => mask_middle(email),
    }
}

/// Keeps the first and last quarter, stars the rest: `oAbCdEfGh123` → `oAb******123`.
pub fn mask_middle(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = chars.len() / 4;
    if keep == 0 {
        return "*".repeat(chars.len().max(1));
    }
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 2 * keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: IdentifierKind, value: &str) -> IdentifierInput {
        IdentifierInput {
            kind,
            value: value.into(),
            app_id: None,
            namespace: None,
        }
    }

    #[test]
    fn identifiers_normalise() {
        let phone = Identifier::parse(
            "identifiers[0]",
            &input(IdentifierKind::Phone, "138 0013 8000"),
        )
        .unwrap();
        assert_eq!(phone.key, "+8613800138000");
        let email = Identifier::parse(
            "e",
            &input(IdentifierKind::Email, " Zhang.San@Example.COM "),
        )
        .unwrap();
        assert_eq!(email.key, "zhang.san@example.com");
        let openid = IdentifierInput {
            app_id: Some("wx1234567890abcdef".into()),
            ..input(IdentifierKind::WechatOpenid, "oAbC")
        };
        assert_eq!(
            Identifier::parse("o", &openid).unwrap().key,
            "wx1234567890abcdef:oAbC"
        );
    }

    #[test]
    fn bad_identifiers_name_their_field() {
        let error = Identifier::parse(
            "identifiers[1]",
            &input(IdentifierKind::WechatOpenid, "oAbC"),
        )
        .unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.code),
            ("identifiers[1].app_id", "required")
        );
        let error = Identifier::parse(
            "identifiers[0]",
            &input(IdentifierKind::Email, "not-an-email"),
        )
        .unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.code),
            ("identifiers[0].value", "invalid_email")
        );
        assert_eq!(
            Identifier::parse("i", &input(IdentifierKind::CardNo, "  "))
                .unwrap_err()
                .code,
            "required"
        );
    }

    #[test]
    fn masks_hide_most_of_the_value() {
        assert_eq!(mask_email("zhang.san@example.com"), "z********@example.com");
        assert_eq!(mask_middle("oAbCdEfGh123"), "oAb******123");
        assert_eq!(mask_middle("ab"), "**");
        assert!(!IdentifierKind::DeviceId.matches_people());
    }
}
