//! Which column of a legacy export feeds which member field: default headers in English and
//! Chinese, or an explicit mapping.

use crate::app::identity::import::MAX_COLUMNS;
use huiyuan_domain::identity::IdentifierKind;
use huiyuan_domain::validation::FieldError;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// A member field a column can feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Phone,
    Email,
    Name,
    Gender,
    Birthday,
    Province,
    City,
    District,
    Address,
    CardNo,
    LegacyId,
    Unionid,
    IdCardNo,
    StoreCode,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Phone,
        Field::Email,
        Field::Name,
        Field::Gender,
        Field::Birthday,
        Field::Province,
        Field::City,
        Field::District,
        Field::Address,
        Field::CardNo,
        Field::LegacyId,
        Field::Unionid,
        Field::IdCardNo,
        Field::StoreCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Name => "name",
            Field::Gender => "gender",
            Field::Birthday => "birthday",
            Field::Province => "province",
            Field::City => "city",
            Field::District => "district",
            Field::Address => "address",
            Field::CardNo => "card_no",
            Field::LegacyId => "legacy_id",
            Field::Unionid => "unionid",
            Field::IdCardNo => "id_card_no",
            Field::StoreCode => "store_code",
        }
    }

    pub fn parse(raw: &str) -> Option<Field> {
        let name = normalise_header(raw);
        Field::ALL.into_iter().find(|field| field.as_str() == name)
    }

    /// Header spellings recognised without a mapping besides the field's own name, in the
    /// normalised form of [`normalise_header`].
    pub(super) fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Phone => &[
                "mobile",
                "mobile_phone",
                "cellphone",
                "phone_number",
                "tel",
                "手机",
                "手机号",
                "手机号码",
                "联系电话",
                "电话",
            ],
            Field::Email => &["e_mail", "mail", "邮箱", "电子邮箱", "电子邮件"],
            Field::Name => &[
                "full_name",
                "member_name",
                "姓名",
                "会员姓名",
                "名字",
                "客户姓名",
            ],
            Field::Gender => &["sex", "性别"],
            Field::Birthday => &[
                "birth_date",
                "birthdate",
                "date_of_birth",
                "dob",
                "生日",
                "出生日期",
            ],
            Field::Province => &["省", "省份"],
            Field::City => &["市", "城市"],
            Field::District => &["区", "区县", "区/县"],
            Field::Address => &["地址", "详细地址", "联系地址", "住址"],
            Field::CardNo => &["card", "card_number", "卡号", "会员卡号"],
            Field::LegacyId => &[
                "legacy",
                "old_id",
                "member_id",
                "会员编号",
                "会员id",
                "原会员id",
                "原会员编号",
            ],
            Field::Unionid => &["union_id", "wechat_unionid", "微信unionid"],
            Field::IdCardNo => &["id_card", "身份证", "身份证号", "身份证号码"],
            Field::StoreCode => &["store", "门店编码", "门店代码", "开卡门店"],
        }
    }

    /// The identifier kind this field carries, for identifier fields.
    pub(super) fn identifier_kind(self) -> Option<IdentifierKind> {
        match self {
            Field::Phone => Some(IdentifierKind::Phone),
            Field::Email => Some(IdentifierKind::Email),
            Field::CardNo => Some(IdentifierKind::CardNo),
            Field::LegacyId => Some(IdentifierKind::LegacyId),
            Field::Unionid => Some(IdentifierKind::WechatUnionid),
            _ => None,
        }
    }
}

/// Headers compare without case, surrounding space, a byte-order mark, or the difference between
/// spaces, hyphens and underscores: `Card No`, `card-no` and `CARD_NO` are one header.
pub fn normalise_header(raw: &str) -> String {
    raw.trim_start_matches('\u{feff}')
        .trim()
        .to_lowercase()
        .replace([' ', '-'], "_")
}

/// The mapping target that skips a column.
pub const IGNORE: &str = "ignore";

/// Parses `header=field` entries (the CLI's `--map`); the field may be [`IGNORE`].
pub fn parse_mapping(entries: &[String]) -> Result<Vec<(String, String)>, FieldError> {
    entries
        .iter()
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            entry
                .rsplit_once('=')
                .map(|(header, field)| (header.trim().to_owned(), field.trim().to_owned()))
                .ok_or_else(|| {
                    FieldError::new(
                        "mapping",
                        "invalid_format",
                        format!("'{entry}' is not header=field"),
                    )
                })
        })
        .collect()
}

/// Which column feeds which field.
#[derive(Clone, Debug)]
pub struct Columns {
    pub(super) headers: Vec<String>,
    pub(super) fields: Vec<Option<Field>>,
    pub(super) position: BTreeMap<Field, usize>,
}

impl Columns {
    /// Matches headers to fields: explicit `mapping` first (`header → field` or
    /// `header → ignore`), then the default spellings. Two columns feeding one field, a mapping
    /// naming no header or no field, and a file without any identifier column are refused.
    pub fn resolve(headers: &[String], mapping: &[(String, String)]) -> Result<Self, FieldError> {
        let invalid = |code, message: String| FieldError::new("mapping", code, message);
        if headers.len() > MAX_COLUMNS {
            return Err(FieldError::new(
                "csv",
                "too_many_columns",
                format!("at most {MAX_COLUMNS} columns"),
            ));
        }
        let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let mut explicit: HashMap<String, Option<Field>> = HashMap::new();
        for (header, target) in mapping {
            let key = normalise_header(header);
            if !normalised.contains(&key) {
                return Err(invalid(
                    "unknown_header",
                    format!("the mapping names '{header}', which is not a column of the file"),
                ));
            }
            let field = if normalise_header(target) == IGNORE {
                None
            } else {
                Some(Field::parse(target).ok_or_else(|| {
                    invalid(
                        "unknown_field",
                        format!(
                            "'{target}' is not a member field; use one of {} or {IGNORE}",
                            Field::ALL.map(Field::as_str).join(", ")
                        ),
                    )
                })?)
            };
            explicit.insert(key, field);
        }
        let mut fields = Vec::with_capacity(headers.len());
        let mut position = BTreeMap::new();
        for (index, header) in normalised.iter().enumerate() {
            let field = match explicit.get(header) {
                Some(field) => *field,
                None => Field::ALL
                    .into_iter()
                    .find(|f| f.as_str() == header || f.aliases().contains(&header.as_str())),
            };
            if let Some(field) = field
                && let Some(earlier) = position.insert(field, index)
            {
                return Err(invalid(
                    "duplicate_field",
                    format!(
                        "columns '{}' and '{}' both map to {}; map one of them to {IGNORE}",
                        headers[earlier],
                        headers[index],
                        field.as_str()
                    ),
                ));
            }
            fields.push(field);
        }
        if !position.keys().any(|f| f.identifier_kind().is_some()) {
            return Err(FieldError::new(
                "csv",
                "no_identifier_column",
                format!(
                    "no identifier column (phone, email, unionid, card_no, legacy_id) among the headers: {}",
                    headers.join(", ")
                ),
            ));
        }
        Ok(Self {
            headers: headers.to_vec(),
            fields,
            position,
        })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Each header with the field it feeds (`None`: ignored).
    pub fn mapped(&self) -> Vec<ColumnView> {
        self.headers
            .iter()
            .zip(&self.fields)
            .map(|(header, field)| ColumnView {
                header: header.clone(),
                field: field.map(|f| f.as_str().to_owned()),
            })
            .collect()
    }

    pub(super) fn header_of(&self, field: Field) -> &str {
        self.position
            .get(&field)
            .and_then(|index| self.headers.get(*index))
            .map_or("", String::as_str)
    }
}

/// A header and the field it feeds.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ColumnView {
    pub header: String,
    /// `None` when the column is ignored.
    pub field: Option<String>,
}
