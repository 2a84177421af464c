//! Cleaning and sealing rows ahead of the database work: values trimmed and normalised,
//! identifiers with their blind indexes, the profile in its stored form.

use crate::app::identity::import::{Columns, Field, SourceRow, normalise_header};
use crate::app::identity::policy::IdentityPolicy;
use crate::app::identity::sealed::seal_profile;
use crate::app::vault::Vault;
use huiyuan_domain::identity::{
    Gender, Identifier, IdentifierInput, MemberStatus, Profile, ProfileInput,
};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::org::Code;
use huiyuan_store::members::StoredMember;
use std::sync::Arc;
use time::Date;
use uuid::Uuid;

/// Trims (also full-width spaces) and reads empty strings and the usual null spellings as absent.
pub(super) fn clean_text(raw: &str) -> Option<&str> {
    let value = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match value {
        "" | "NULL" | "null" | "Null" | "\\N" => None,
        _ => Some(value),
    }
}

/// Gender words of legacy exports: 男/女, M/F, male/female, 先生/女士, and the GB/T 2261.1 codes
/// 1 (male), 2 (female), 0 and 9 (unknown).
pub fn parse_gender(raw: &str) -> Option<Gender> {
    match raw.trim().to_lowercase().as_str() {
        "男" | "男性" | "先生" | "m" | "male" | "man" | "1" => Some(Gender::Male),
        "女" | "女性" | "女士" | "f" | "female" | "woman" | "2" => Some(Gender::Female),
        "未知" | "保密" | "u" | "unknown" | "0" | "9" => Some(Gender::Unknown),
        _ => None,
    }
}

/// Brings the date spellings of legacy exports to `YYYY-MM-DD`: `1990-05-01`, `1990/5/1`,
/// `1990.5.1`, `1990年5月1日`, `19900501`, also followed by a time (`1990/5/1 0:00:00`, as
/// spreadsheets write). `None` when it is none of these; the zero date `0000-00-00` of some
/// databases reads as absent (`Some("")`).
pub fn normalise_date(raw: &str) -> Option<String> {
    let date = raw.trim().split([' ', 'T']).next().unwrap_or_default();
    let parts: Vec<&str> = date
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .collect();
    let normalised = match parts.as_slice() {
        [compact] if compact.len() == 8 => {
            format!("{}-{}-{}", &compact[..4], &compact[4..6], &compact[6..])
        }
        [year, month, day]
            if year.len() == 4
                && (1..=2).contains(&month.len())
                && (1..=2).contains(&day.len()) =>
        {
            format!("{year}-{month:0>2}-{day:0>2}")
        }
        _ => return None,
    };
    if normalised == "0000-00-00" {
        return Some(String::new());
    }
    Some(normalised)
}

/// An identifier of a row with its blind index and its sealed value.
#[derive(Clone, Debug)]
pub(super) struct Keyed {
    pub(super) identifier: Identifier,
    pub(super) index: String,
    pub(super) sealed: String,
    pub(super) matchable: bool,
}

/// A row that parsed, with everything sealed that a new member would store: all the crypto
/// happens here, ahead of (and, for files, beside) the database work.
#[derive(Clone, Debug)]
pub(super) struct Clean {
    pub(super) identifiers: Vec<Keyed>,
    pub(super) profile: Profile,
    /// The profile's stored form ([`seal_profile`]) on an otherwise blank member row.
    pub(super) sealed: StoredMember,
    /// Name search tokens.
    pub(super) tokens: Vec<String>,
    pub(super) store_code: Option<String>,
}

/// Why a row was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: &'static str,
    pub(super) reason: String,
}

impl Refusal {
    pub(super) fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Parses one row into identifiers (with their blind indexes) and a profile, reporting every bad
/// value at once.
pub(super) fn clean_row(
    columns: &Columns,
    row: &SourceRow,
    vault: &Vault,
    policy: &IdentityPolicy,
    today: Date,
) -> Result<Clean, Refusal> {
    if let Some(problem) = &row.malformed {
        return Err(Refusal::new("malformed_row", problem.clone()));
    }
    let value = |field: Field| {
        columns
            .position
            .get(&field)
            .and_then(|index| row.values.get(*index))
            .and_then(|raw| clean_text(raw))
    };
    let mut problems: Vec<String> = Vec::new();
    let mut problem = |field: Field, message: &str| {
        let header = columns.header_of(field);
        if normalise_header(header) == field.as_str() {
            problems.push(format!("{}: {message}", field.as_str()));
        } else {
            problems.push(format!("{} ({header}): {message}", field.as_str()));
        }
    };

    let mut identifiers = Vec::new();
    for field in Field::ALL {
        let (Some(kind), Some(raw)) = (field.identifier_kind(), value(field)) else {
            continue;
        };
        let input = IdentifierInput {
            kind,
            value: raw.to_owned(),
            app_id: None,
            namespace: None,
        };
        match Identifier::parse(field.as_str(), &input) {
            Ok(identifier) => identifiers.push(Keyed {
                index: vault.blind_index(kind.as_str(), &identifier.key),
                sealed: vault.seal(&identifier.key),
                matchable: policy.matches_people(&identifier),
                identifier,
            }),
            Err(error) => problem(field, &error.message),
        }
    }

    let gender = match value(Field::Gender) {
        Some(raw) => match parse_gender(raw) {
            Some(gender) => Some(gender),
            None => {
                problem(Field::Gender, "must be 男/女, M/F, male/female or unknown");
                None
            }
        },
        None => None,
    };
    let birthday = value(Field::Birthday)
        .map(|raw| normalise_date(raw).unwrap_or_else(|| raw.to_owned()))
        .filter(|date| !date.is_empty());
    let input = ProfileInput {
        name: value(Field::Name).map(str::to_owned),
        gender,
        birthday,
        province: value(Field::Province).map(str::to_owned),
        city: value(Field::City).map(str::to_owned),
        district: value(Field::District).map(str::to_owned),
        address: value(Field::Address).map(str::to_owned),
        id_card_no: value(Field::IdCardNo).map(str::to_owned),
    };
    let profile = match Profile::parse("", &input, today) {
        Ok(profile) => profile,
        Err(errors) => {
            for error in errors.0 {
                let field = Field::parse(&error.field).unwrap_or(Field::Name);
                problem(field, &error.message);
            }
            Profile::default()
        }
    };
    let store_code = match value(Field::StoreCode) {
        Some(raw) => match Code::parse("store_code", raw) {
            Ok(code) => Some(code.as_str().to_owned()),
            Err(error) => {
                problem(Field::StoreCode, &error.message);
                None
            }
        },
        None => None,
    };
    if !problems.is_empty() {
        return Err(Refusal::new("invalid_value", problems.join("; ")));
    }
    if identifiers.is_empty() {
        return Err(Refusal::new(
            "no_identifier",
            "no phone, email, unionid, card_no or legacy_id",
        ));
    }
    if !identifiers.iter().any(|keyed| keyed.matchable) {
        return Err(Refusal::new(
            "no_matchable_identifier",
            "only shared or blocked identifiers, which never identify a member",
        ));
    }
    let mut sealed = blank_member();
    seal_profile(vault, &profile, &mut sealed);
    let tokens = profile
        .name
        .as_deref()
        .map(|name| vault.name_tokens(name))
        .unwrap_or_default();
    Ok(Clean {
        identifiers,
        profile,
        sealed,
        tokens,
        store_code,
    })
}

/// A member row with nothing set, to fill in.
pub(super) fn blank_member() -> StoredMember {
    StoredMember {
        id: MemberId(Uuid::nil()),
        seq: 0,
        member_no: String::new(),
        status: MemberStatus::Active.as_str().to_owned(),
        merged_into: None,
        name_enc: None,
        name_index: None,
        gender: None,
        birthday: None,
        province: None,
        city: None,
        district: None,
        address_enc: None,
        address_index: None,
        id_card_enc: None,
        id_card_index: None,
        preferred_store_id: None,
        source_channel_id: None,
        source_format_id: None,
        source_store_id: None,
        guide_id: None,
        referral_code: String::new(),
        referred_by: None,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
        erased_at: None,
    }
}

/// Cleans and seals rows ahead of the database work; cheap to clone onto a reading thread.
#[derive(Clone)]
pub struct Preparer {
    pub(super) columns: Arc<Columns>,
    pub(super) vault: Arc<Vault>,
    pub(super) policy: Arc<IdentityPolicy>,
    pub(super) today: Date,
}

impl Preparer {
    pub fn prepare(&self, rows: Vec<SourceRow>) -> PreparedBatch {
        let rows = rows
            .into_iter()
            .map(|source| PreparedRow {
                clean: clean_row(
                    &self.columns,
                    &source,
                    &self.vault,
                    &self.policy,
                    self.today,
                ),
                source,
            })
            .collect();
        PreparedBatch { rows }
    }
}

/// Rows cleaned and sealed, ready for [`Importer::import_batch`].
pub struct PreparedBatch {
    pub(super) rows: Vec<PreparedRow>,
}

impl PreparedBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

pub(super) struct PreparedRow {
    pub(super) source: SourceRow,
    pub(super) clean: Result<Clean, Refusal>,
}
