//! Legacy member import: rows of a CSV export from an old system become members exactly as API
//! registration makes them — the same normalisation (`huiyuan_domain::identity`), sealing and
//! blind indexes ([`crate::identity::sealed`]), identity policy, member numbers with check digit
//! and referral codes — thousands of rows per transaction.
//!
//! Each batch of rows goes through five steps:
//! 1. **Clean.** Columns map to fields (default headers in English and Chinese, or an explicit
//!    mapping); values are trimmed, empty and `NULL` read as absent, phones normalised to E.164,
//!    emails lower-cased, dates in the common legacy spellings, gender words. A row that does not
//!    parse is rejected with its line number and the reason.
//! 2. **Look up.** Every matchable identifier of the batch by blind index, one query per kind,
//!    then the members found and their identifiers in one query each — no round trip per row.
//! 3. **Decide, in file order**, against an identity map of the batch: no identifier known → a new
//!    member; identifiers of one member → merge into it (fill missing profile fields, bind new
//!    identifiers within the policy's limits); identifiers of two members → reject the row.
//! 4. **Write.** A block of member sequence numbers, multi-row inserts of members, identifiers and
//!    search tokens, one update per changed existing member, and one audit entry per batch that
//!    names every member created or merged (`member.imported`, target `member_import/<run id>`).
//! 5. **Review.** New members sharing name and birthday, or a similar name and the same address,
//!    with another member (or an earlier row) are reported as probable duplicates — never merged.
//!
//! Re-running a file changes nothing: every row then finds its member and brings nothing new.
//! Unlike single registration, a row whose only identifiers are shared or blocked ones is
//! rejected: nothing could find its member again, so a re-run would create it twice.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::identity::policy::IdentityPolicy;
use crate::identity::sealed::{fold, seal_profile};
use crate::mutation::Mutation;
use crate::vault::Vault;
use huiyuan_domain::auth::{Access, Actor, DataScope, Placement, Principal, RecordClass};
use huiyuan_domain::identity::{
    Gender, Identifier, IdentifierInput, IdentifierKind, MemberNo, MemberStatus, Profile,
    ProfileInput,
};
use huiyuan_domain::ids::{ChannelId, FormatId, StaffId, StoreId, TenantId};
use huiyuan_domain::org::Code;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::members::{self, IndexColumn, StoredIdentifier, StoredMember};
use huiyuan_store::{Store, org, utc_now};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::Arc;
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

/// Rows per transaction when importing a file: large enough that per-statement costs vanish, small
/// enough that a server sharing the database waits at most a fraction of a second for the lock.
pub const DEFAULT_BATCH_ROWS: usize = 5_000;
/// Largest batch accepted.
pub const MAX_BATCH_ROWS: usize = 20_000;
/// Candidates reported per new member; a common name and birthday must not flood the report.
const MAX_CANDIDATES_PER_MEMBER: usize = 5;
/// How often a file batch is retried when a concurrent writer took one of its identifiers.
const MAX_BATCH_ATTEMPTS: u32 = 3;
/// Most columns a file may have.
const MAX_COLUMNS: usize = 200;

// ---- columns ----

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
    fn aliases(self) -> &'static [&'static str] {
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
    fn identifier_kind(self) -> Option<IdentifierKind> {
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
    headers: Vec<String>,
    fields: Vec<Option<Field>>,
    position: BTreeMap<Field, usize>,
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

    fn header_of(&self, field: Field) -> &str {
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

// ---- reading ----

/// One data row as read: its line in the file (the header is line 1) and its values.
#[derive(Clone, Debug)]
pub struct SourceRow {
    pub line: u64,
    pub values: Vec<String>,
    /// Why the row could not be read as it stands (not UTF-8, more fields than headers).
    pub malformed: Option<String>,
}

/// Turns `\r\n` and a lone `\r` into `\n` on the way to the CSV reader, so that every line
/// break counts once and row line numbers come out right whatever wrote the file.
struct LineEndings<R> {
    inner: R,
    after_cr: bool,
    /// The last byte passed on: at the end, whether the file ended with a line break.
    last: Option<u8>,
}

impl<R: io::Read> io::Read for LineEndings<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let read = self.inner.read(buf)?;
            if read == 0 {
                return Ok(0);
            }
            // Rewritten in place: the output is never longer than the input.
            let mut written = 0;
            for index in 0..read {
                let byte = buf[index];
                let skip = byte == b'\n' && self.after_cr;
                self.after_cr = byte == b'\r';
                if !skip {
                    buf[written] = if byte == b'\r' { b'\n' } else { byte };
                    written += 1;
                }
            }
            if written > 0 {
                self.last = Some(buf[written - 1]);
                return Ok(written);
            }
        }
    }
}

/// A CSV source read in batches.
pub struct CsvRows<R> {
    reader: csv::Reader<LineEndings<R>>,
    columns: Columns,
    /// The record after the last one handed out, with the reader's line after it.
    next: Option<(csv::ByteRecord, u64)>,
}

impl<R: io::Read> CsvRows<R> {
    /// Reads the header row and resolves the columns.
    pub fn open(source: R, mapping: &[(String, String)]) -> Result<Self, FieldError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(LineEndings {
                inner: source,
                after_cr: false,
                last: None,
            });
        let headers = reader
            .byte_headers()
            .map_err(|error| FieldError::new("csv", "invalid_csv", error.to_string()))?;
        let headers: Vec<String> = headers
            .iter()
            .map(|header| {
                std::str::from_utf8(header).map(str::to_owned).map_err(|_| {
                    FieldError::new(
                        "csv",
                        "not_utf8",
                        "the file is not UTF-8 text; convert it first (e.g. iconv -f GB18030 -t UTF-8)",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(FieldError::new(
                "csv",
                "required",
                "the first row must name the columns",
            ));
        }
        let columns = Columns::resolve(&headers, mapping)?;
        Ok(Self {
            reader,
            columns,
            next: None,
        })
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Bytes consumed so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Up to `max` further rows; empty at the end. Rows whose every value is blank are skipped.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<SourceRow>, FieldError> {
        let width = self.columns.headers.len();
        let mut rows = Vec::with_capacity(max.min(MAX_BATCH_ROWS));
        while rows.len() < max {
            let Some((record, after_line)) = self
                .next
                .take()
                .map_or_else(|| self.read_record(), |r| Ok(Some(r)))?
            else {
                break;
            };
            // Reading one record ahead tells whether this one ends with a line break: it does
            // unless it is the last and the file ends without one.
            self.next = self.read_record()?;
            let ends_with_break = self.next.is_some() || self.reader.get_ref().last == Some(b'\n');
            // The reader's position after a record is right where the record's own position is
            // not (it counts from before any blank lines skipped); step back over the line break
            // and over the line breaks inside quoted values.
            let embedded: u64 = record
                .iter()
                .map(|value| value.iter().filter(|b| **b == b'\n').count() as u64)
                .sum();
            let line = after_line.saturating_sub(embedded + u64::from(ends_with_break));
            let mut malformed = None;
            let values: Vec<String> = record
                .iter()
                .map(|value| match std::str::from_utf8(value) {
                    Ok(text) => text.to_owned(),
                    Err(_) => {
                        malformed = Some("not UTF-8 text".to_owned());
                        String::from_utf8_lossy(value).into_owned()
                    }
                })
                .collect();
            if values.len() > width {
                malformed = Some(format!(
                    "has {} fields; the header has {width}",
                    values.len()
                ));
            }
            rows.push(SourceRow {
                line,
                values,
                malformed,
            });
        }
        Ok(rows)
    }

    /// The next record whose values are not all blank, with the reader's line after it.
    fn read_record(&mut self) -> Result<Option<(csv::ByteRecord, u64)>, FieldError> {
        let mut record = csv::ByteRecord::new();
        loop {
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|error| FieldError::new("csv", "invalid_csv", error.to_string()))?;
            if !more {
                return Ok(None);
            }
            let blank = record
                .iter()
                .all(|v| clean_text(&String::from_utf8_lossy(v)).is_none());
            if !blank {
                return Ok(Some((record, self.reader.position().line())));
            }
        }
    }
}

/// Reads a whole CSV text (the API's body) into rows; at most `max_rows`.
pub fn read_csv_text(
    text: &str,
    mapping: &[(String, String)],
    max_rows: usize,
) -> Result<(Columns, Vec<SourceRow>), FieldError> {
    let mut source = CsvRows::open(text.as_bytes(), mapping)?;
    let rows = source.next_batch(max_rows.saturating_add(1))?;
    if rows.len() > max_rows {
        return Err(FieldError::new(
            "csv",
            "too_many_rows",
            format!(
                "at most {max_rows} rows per request; import larger files with `huiyuan import members`"
            ),
        ));
    }
    Ok((source.columns, rows))
}

// ---- cleaning ----

/// Trims (also full-width spaces) and reads empty strings and the usual null spellings as absent.
fn clean_text(raw: &str) -> Option<&str> {
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
struct Keyed {
    identifier: Identifier,
    index: String,
    sealed: String,
    matchable: bool,
}

/// A row that parsed, with everything sealed that a new member would store: all the crypto
/// happens here, ahead of (and, for files, beside) the database work.
#[derive(Clone, Debug)]
struct Clean {
    identifiers: Vec<Keyed>,
    profile: Profile,
    /// The profile's stored form ([`seal_profile`]) on an otherwise blank member row.
    sealed: StoredMember,
    /// Name search tokens.
    tokens: Vec<String>,
    store_code: Option<String>,
}

/// Why a row was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Refusal {
    code: &'static str,
    reason: String,
}

impl Refusal {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Parses one row into identifiers (with their blind indexes) and a profile, reporting every bad
/// value at once.
fn clean_row(
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
fn blank_member() -> StoredMember {
    StoredMember {
        id: Uuid::nil(),
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
    columns: Arc<Columns>,
    vault: Arc<Vault>,
    policy: Arc<IdentityPolicy>,
    today: Date,
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
    rows: Vec<PreparedRow>,
}

impl PreparedBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

struct PreparedRow {
    source: SourceRow,
    clean: Result<Clean, Refusal>,
}

/// Whether two names probably name one person: equal once folded, one the other's beginning
/// (`张三` and `张三丰`), or — for names of three or more characters — one typo apart. Two-character
/// names must be equal: at one address, `张伟` and `张强` are more likely father and son.
pub fn similar_names(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (fold(a).chars().collect(), fold(b).chars().collect());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if short.len() >= 2 && long.starts_with(short) {
        return true;
    }
    short.len() >= 3 && long.len() - short.len() <= 1 && one_edit_apart(short, long)
}

/// Whether `long` (at most one longer) becomes `short` by one substitution or deletion.
fn one_edit_apart(short: &[char], long: &[char]) -> bool {
    let mut i = 0;
    while i < short.len() && short[i] == long[i] {
        i += 1;
    }
    if short.len() == long.len() {
        short[i + 1..] == long[i + 1..]
    } else {
        short[i..] == long[i + 1..]
    }
}

// ---- reports ----

/// How rows fared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportCounts {
    /// Data rows read (blank rows are skipped and not counted).
    pub rows: u64,
    /// New members.
    pub created: u64,
    /// Rows that matched a member and added to it (missing profile fields, new identifiers).
    pub merged: u64,
    /// Rows that matched a member and brought nothing new.
    pub unchanged: u64,
    pub rejected: u64,
    /// Rows naming a member an earlier row of the same file named (included in merged/unchanged).
    pub duplicates_in_file: u64,
    /// New members reported as probably the same person as another member.
    pub probable_duplicates: u64,
}

impl ImportCounts {
    fn add(&mut self, other: &ImportCounts) {
        self.rows += other.rows;
        self.created += other.created;
        self.merged += other.merged;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
        self.duplicates_in_file += other.duplicates_in_file;
        self.probable_duplicates += other.probable_duplicates;
    }
}

/// A row that was not imported.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    /// Line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// Stable reason code: `invalid_value`, `no_identifier`, `no_matchable_identifier`,
    /// `conflicting_members`, `inactive_member`, `unknown_store`, `out_of_scope`, `limit_exceeded`
    /// or `malformed_row`.
    pub code: String,
    pub reason: String,
    /// The row's values as read.
    pub values: Vec<String>,
}

/// A new member that is probably someone already known; for review, never merged.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProbableDuplicate {
    pub line: u64,
    pub member_id: Uuid,
    pub member_no: String,
    /// `same_name_and_birthday` or `similar_name_and_same_address`.
    pub reason: String,
    pub candidate_id: Uuid,
    pub candidate_member_no: String,
    /// The line that created the candidate, when an earlier row of this import did.
    pub candidate_line: Option<u64>,
}

/// What one batch did; [`Importer::absorb`] adds it to the run once its transaction committed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub counts: ImportCounts,
    pub rejects: Vec<RejectedRow>,
    pub probable_duplicates: Vec<ProbableDuplicate>,
    /// Members the rows named, with the first line naming each.
    named: Vec<(Uuid, u64)>,
    created: Vec<(Uuid, u64)>,
}

impl BatchOutcome {
    fn reject(&mut self, row: &SourceRow, refusal: Refusal) {
        self.counts.rejected += 1;
        self.rejects.push(RejectedRow {
            line: row.line,
            code: refusal.code.to_owned(),
            reason: refusal.reason,
            values: row.values.clone(),
        });
    }
}

// ---- the importer ----

/// A member as this batch sees it: stored or about to be.
struct Working {
    row: StoredMember,
    /// Identifiers held, as (kind, blind index), including those this batch binds.
    held: Vec<(String, String)>,
    /// Created by this batch (inserted at the end) rather than loaded.
    fresh: bool,
    /// An existing member this batch changed.
    changed: bool,
    /// Identifiers to insert, sealed.
    pending: Vec<StoredIdentifier>,
    /// Search tokens of a name this batch gave the member, to insert.
    tokens: Vec<String>,
    /// The line that created a fresh member, and its name in clear for the duplicate review.
    line: u64,
    name: Option<String>,
}

impl Working {
    fn holds(&self, kind: IdentifierKind, index: &str) -> bool {
        self.held
            .iter()
            .any(|(k, i)| k == kind.as_str() && i == index)
    }

    /// Binds an identifier unless the member holds it or the kind is at its limit; `true` when
    /// bound.
    fn bind(&mut self, policy: &IdentityPolicy, keyed: &Keyed, now: time::OffsetDateTime) -> bool {
        let kind = keyed.identifier.kind;
        let of_kind = self.held.iter().filter(|(k, _)| k == kind.as_str()).count();
        if self.holds(kind, &keyed.index) || of_kind >= policy.limit(kind) {
            return false;
        }
        self.held
            .push((kind.as_str().to_owned(), keyed.index.clone()));
        self.pending.push(StoredIdentifier {
            id: Uuid::now_v7(),
            member_id: self.row.id,
            kind: kind.as_str().to_owned(),
            value_index: keyed.index.clone(),
            value_enc: keyed.sealed.clone(),
            matchable: keyed.matchable,
            created_at: now,
        });
        true
    }
}

/// A member the review compares new members with.
struct Known {
    id: Uuid,
    member_no: String,
    /// The line that created it, when this run did.
    line: Option<u64>,
    /// Its line, when this batch creates it.
    batch_line: Option<u64>,
    name: Option<String>,
    name_index: Option<String>,
    birthday: Option<Date>,
    address_index: Option<String>,
}

/// Where new members are placed when a row does not say: a channel key's channel and store, a
/// shopping guide's own id — as registration does.
#[derive(Clone, Copy, Debug, Default)]
struct Defaults {
    channel: Option<(ChannelId, Option<FormatId>)>,
    store: Option<(StoreId, FormatId)>,
    guide: Option<StaffId>,
}

/// One import run: the caller, the keys, and what earlier batches did.
pub struct Importer {
    vault: Arc<Vault>,
    policy: Arc<IdentityPolicy>,
    caller: Principal,
    columns: Arc<Columns>,
    run_id: Uuid,
    /// What the audit entries name as the source: a file name, or `api`.
    source: String,
    today: Date,
    /// Store codes seen, resolved once: `None` for unknown or archived stores.
    stores: HashMap<String, Option<(StoreId, FormatId)>>,
    defaults: Option<Defaults>,
    counts: ImportCounts,
    /// Every member a row named, with the first line naming it (within-file duplicates).
    named: HashMap<Uuid, u64>,
    /// Members this run created, with their line (probable-duplicate candidates).
    created: HashMap<Uuid, u64>,
}

impl Importer {
    pub fn new(
        vault: Arc<Vault>,
        policy: Arc<IdentityPolicy>,
        caller: Principal,
        columns: Columns,
        source: &str,
    ) -> Self {
        Self {
            vault,
            policy,
            caller,
            columns: Arc::new(columns),
            run_id: Uuid::now_v7(),
            source: source.to_owned(),
            today: utc_now().date(),
            stores: HashMap::new(),
            defaults: None,
            counts: ImportCounts::default(),
            named: HashMap::new(),
            created: HashMap::new(),
        }
    }

    /// The caller of the CLI and other trusted tools: the system, with every permission, over
    /// the whole tenant.
    pub fn system_caller(tenant: TenantId) -> Principal {
        Principal {
            tenant_id: tenant,
            actor: Actor::System,
            permissions: huiyuan_domain::auth::PermissionSet::all(),
            scope: DataScope::Tenant,
            member_scope: DataScope::Tenant,
        }
    }

    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    pub fn counts(&self) -> ImportCounts {
        self.counts
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// What cleans rows for this run, to run beside the database work.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            columns: self.columns.clone(),
            vault: self.vault.clone(),
            policy: self.policy.clone(),
            today: self.today,
        }
    }

    /// Adds a committed batch to the run.
    pub fn absorb(&mut self, outcome: &BatchOutcome) {
        self.counts.add(&outcome.counts);
        for (member, line) in &outcome.named {
            self.named.entry(*member).or_insert(*line);
        }
        self.created.extend(outcome.created.iter().copied());
    }

    /// Imports a prepared batch in the open mutation. Nothing of the run's state changes until
    /// [`Importer::absorb`]: a batch whose transaction fails can run again.
    pub async fn import_batch(
        &mut self,
        m: &mut Mutation,
        batch: &PreparedBatch,
    ) -> ApiResult<BatchOutcome> {
        let mut outcome = BatchOutcome::default();
        outcome.counts.rows = batch.rows.len() as u64;

        // 1. Rows that did not clean are rejected.
        let mut cleaned: Vec<(&SourceRow, &Clean)> = Vec::with_capacity(batch.rows.len());
        for prepared in &batch.rows {
            match &prepared.clean {
                Ok(clean) => cleaned.push((&prepared.source, clean)),
                Err(refusal) => outcome.reject(&prepared.source, refusal.clone()),
            }
        }
        self.load_placements(m, &cleaned).await?;

        // 2. Look up the batch's identifiers, their holders and the holders' identifiers.
        let mut wanted: BTreeMap<IdentifierKind, BTreeSet<&str>> = BTreeMap::new();
        for (_, clean) in &cleaned {
            for keyed in clean.identifiers.iter().filter(|k| k.matchable) {
                wanted
                    .entry(keyed.identifier.kind)
                    .or_default()
                    .insert(&keyed.index);
            }
        }
        let mut holder: HashMap<(IdentifierKind, String), Uuid> = HashMap::new();
        for (kind, indexes) in wanted {
            let indexes: Vec<String> = indexes.into_iter().map(str::to_owned).collect();
            let found = members::find_members_by_identifiers(
                &mut m.session,
                m.tenant,
                kind.as_str(),
                &indexes,
            )
            .await?;
            for (index, member) in found {
                holder.insert((kind, index), member);
            }
        }
        let mut working = self.load_holders(m, &mut holder).await?;

        // 3. Decide, row by row in file order.
        let mut batch_named: HashSet<Uuid> = HashSet::new();
        let mut created_order: Vec<Uuid> = Vec::new();
        let mut conflicts: Vec<(usize, BTreeSet<Uuid>)> = Vec::new();
        for (row, clean) in cleaned {
            let owners: BTreeSet<Uuid> = clean
                .identifiers
                .iter()
                .filter(|k| k.matchable)
                .filter_map(|k| holder.get(&(k.identifier.kind, k.index.clone())).copied())
                .collect();
            let mut named = owners.iter().copied();
            let member = match (named.next(), named.next()) {
                (None, _) => match self.create(m, row, clean, &mut working) {
                    Ok(id) => {
                        created_order.push(id);
                        outcome.counts.created += 1;
                        id
                    }
                    Err(refusal) => {
                        outcome.reject(row, refusal);
                        continue;
                    }
                },
                (Some(id), None) => {
                    match self.merge(m, clean, &mut working, id) {
                        Ok(true) => outcome.counts.merged += 1,
                        Ok(false) => outcome.counts.unchanged += 1,
                        Err(refusal) => {
                            outcome.reject(row, refusal);
                            continue;
                        }
                    }
                    id
                }
                (Some(_), Some(_)) => {
                    // Named once the batch's new members have their numbers.
                    conflicts.push((outcome.rejects.len(), owners));
                    outcome.reject(row, Refusal::new("conflicting_members", String::new()));
                    continue;
                }
            };
            if self.named.contains_key(&member) || !batch_named.insert(member) {
                outcome.counts.duplicates_in_file += 1;
            } else {
                outcome.named.push((member, row.line));
            }
            // What the row bound now identifies its member for the rows after it.
            if let Some(w) = working.get(&member) {
                for keyed in clean.identifiers.iter().filter(|k| k.matchable) {
                    if w.holds(keyed.identifier.kind, &keyed.index) {
                        holder
                            .entry((keyed.identifier.kind, keyed.index.clone()))
                            .or_insert(member);
                    }
                }
            }
        }

        // 4. Number the new members, review them, write everything.
        let fresh_count = i64::try_from(created_order.len()).unwrap_or(i64::MAX);
        if fresh_count > 0 {
            let first = members::reserve_member_seqs(&mut m.session, m.tenant, fresh_count).await?;
            for (offset, id) in created_order.iter().enumerate() {
                if let Some(w) = working.get_mut(id) {
                    let seq = first + offset as i64;
                    w.row.seq = seq;
                    w.row.member_no = MemberNo::from_seq(u64::try_from(seq).unwrap_or_default())
                        .as_str()
                        .to_owned();
                }
            }
            self.assign_referral_codes(m, &created_order, &mut working)
                .await?;
        }
        for (index, owners) in conflicts {
            let numbers: Vec<&str> = owners
                .iter()
                .filter_map(|id| working.get(id).map(|w| w.row.member_no.as_str()))
                .collect();
            if let Some(reject) = outcome.rejects.get_mut(index) {
                reject.reason = format!(
                    "the identifiers belong to different members ({}); merge them first",
                    numbers.join(", ")
                );
            }
        }
        // Before the inserts, so the queries see only members that existed before this batch.
        outcome.probable_duplicates = self.review(m, &created_order, &working).await?;
        outcome.counts.probable_duplicates = outcome
            .probable_duplicates
            .iter()
            .map(|d| d.member_id)
            .collect::<HashSet<_>>()
            .len() as u64;
        let fresh: Vec<StoredMember> = created_order
            .iter()
            .filter_map(|id| working.get(id).map(|w| w.row.clone()))
            .collect();
        members::insert_members(&mut m.session, m.tenant, &fresh).await?;
        let merged_ids: BTreeSet<Uuid> = working
            .values()
            .filter(|w| w.changed)
            .map(|w| w.row.id)
            .collect();
        for id in &merged_ids {
            if let Some(w) = working.get(id) {
                members::update_member(&mut m.session, m.tenant, &w.row).await?;
            }
        }
        let mut new_identifiers: Vec<StoredIdentifier> = Vec::new();
        let mut new_tokens: Vec<(Uuid, String)> = Vec::new();
        for w in working.values_mut() {
            new_identifiers.append(&mut w.pending);
            let id = w.row.id;
            new_tokens.extend(w.tokens.drain(..).map(|token| (id, token)));
        }
        // In index order, so consecutive inserts land on neighbouring pages of the
        // random-keyed indexes.
        new_identifiers
            .sort_unstable_by(|a, b| (&a.kind, &a.value_index).cmp(&(&b.kind, &b.value_index)));
        new_tokens.sort_unstable_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        members::insert_identifiers(&mut m.session, m.tenant, &new_identifiers).await?;
        members::insert_search_tokens(&mut m.session, m.tenant, &new_tokens).await?;
        if !created_order.is_empty() || !merged_ids.is_empty() {
            let sources = &batch.rows;
            let lines = sources
                .first()
                .map(|r| r.source.line)
                .zip(sources.last().map(|r| r.source.line));
            let summary = json!({
                "run_id": self.run_id,
                "source": self.source,
                "lines": lines.map(|(first, last)| [first, last]),
                "created": created_order,
                "merged": merged_ids,
                "unchanged": outcome.counts.unchanged,
                "rejected": outcome.counts.rejected,
            });
            m.audit("member.imported", "member_import", self.run_id, summary)
                .await?;
        }
        outcome.created = created_order
            .iter()
            .filter_map(|id| working.get(id).map(|w| (*id, w.line)))
            .collect();
        Ok(outcome)
    }

    /// Resolves the batch's store codes (once per run) and the caller's defaults (once).
    async fn load_placements(
        &mut self,
        m: &mut Mutation,
        cleaned: &[(&SourceRow, &Clean)],
    ) -> ApiResult<()> {
        if self.defaults.is_none() {
            let mut defaults = Defaults::default();
            if let Actor::ApiKey { channel_id, .. } = self.caller.actor {
                let channel = org::get_channel(&mut m.session, m.tenant, channel_id).await?;
                defaults.channel = Some((channel_id, channel.and_then(|c| c.format_id)));
                if let DataScope::Stores { store_ids } = &self.caller.scope
                    && store_ids.len() == 1
                    && let Some(store_id) = store_ids.first()
                    && let Some(store) = org::get_store(&mut m.session, m.tenant, *store_id).await?
                {
                    defaults.store = Some((store.id, store.format_id));
                }
            }
            if let DataScope::OwnMembers { .. } = self.caller.member_scope {
                defaults.guide = self.caller.staff_id();
            }
            self.defaults = Some(defaults);
        }
        for (_, clean) in cleaned {
            if let Some(code) = &clean.store_code
                && !self.stores.contains_key(code)
            {
                let store = org::get_store_by_code(&mut m.session, m.tenant, code)
                    .await?
                    .filter(|store| !store.archived)
                    .map(|store| (store.id, store.format_id));
                self.stores.insert(code.clone(), store);
            }
        }
        Ok(())
    }

    /// Loads the members holding the batch's identifiers, past merge aliases (whose entries in
    /// `holder` then point at the survivor), with the identifiers they hold.
    async fn load_holders(
        &self,
        m: &mut Mutation,
        holder: &mut HashMap<(IdentifierKind, String), Uuid>,
    ) -> ApiResult<HashMap<Uuid, Working>> {
        let ids: Vec<Uuid> = holder
            .values()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut rows: HashMap<Uuid, StoredMember> =
            members::get_members(&mut m.session, m.tenant, &ids)
                .await?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
        // A merged member's identifiers normally move to the survivor; follow any that did not.
        let aliases: Vec<Uuid> = rows
            .values()
            .filter(|row| row.status == MemberStatus::Merged.as_str() && row.merged_into.is_some())
            .map(|row| row.id)
            .collect();
        for alias in aliases {
            if let Some((survivor, _)) =
                crate::identity::view::resolve(&mut m.session, m.tenant, alias).await?
            {
                for owner in holder.values_mut().filter(|owner| **owner == alias) {
                    *owner = survivor.id;
                }
                rows.remove(&alias);
                rows.insert(survivor.id, survivor);
            }
        }
        let ids: Vec<Uuid> = rows.keys().copied().collect();
        let mut held: HashMap<Uuid, Vec<(String, String)>> = HashMap::new();
        for (member, kind, index) in
            members::identifier_keys_of_members(&mut m.session, m.tenant, &ids).await?
        {
            held.entry(member).or_default().push((kind, index));
        }
        Ok(rows
            .into_iter()
            .map(|(id, row)| {
                let w = Working {
                    held: held.remove(&id).unwrap_or_default(),
                    row,
                    fresh: false,
                    changed: false,
                    pending: Vec::new(),
                    tokens: Vec::new(),
                    line: 0,
                    name: None,
                };
                (id, w)
            })
            .collect())
    }

    /// A new member for a row no member is known by; `None` sequence number and referral code
    /// until the batch's block is reserved.
    fn create(
        &self,
        m: &Mutation,
        row: &SourceRow,
        clean: &Clean,
        working: &mut HashMap<Uuid, Working>,
    ) -> Result<Uuid, Refusal> {
        for kind in clean
            .identifiers
            .iter()
            .map(|k| k.identifier.kind)
            .collect::<BTreeSet<_>>()
        {
            let count = clean
                .identifiers
                .iter()
                .filter(|k| k.identifier.kind == kind)
                .count();
            if count > self.policy.limit(kind) {
                return Err(Refusal::new(
                    "limit_exceeded",
                    format!(
                        "at most {} {} identifiers per member",
                        self.policy.limit(kind),
                        kind.as_str()
                    ),
                ));
            }
        }
        let defaults = self.defaults.unwrap_or_default();
        let store = match &clean.store_code {
            Some(code) => match self.stores.get(code).copied().flatten() {
                Some(store) => Some(store),
                None => {
                    return Err(Refusal::new(
                        "unknown_store",
                        format!("store_code: no active store with code '{code}'"),
                    ));
                }
            },
            None => defaults.store,
        };
        let channel_id = defaults.channel.map(|(id, _)| id);
        let format_id = store
            .map(|(_, format)| format)
            .or(defaults.channel.and_then(|(_, format)| format));
        let placement = Placement {
            format_id,
            store_id: store.map(|(id, _)| id),
            guide_id: defaults.guide,
        };
        if !self
            .caller
            .permits(Access::Write, RecordClass::MemberData, &placement)
        {
            return Err(Refusal::new(
                "out_of_scope",
                "a member placed here lies outside the caller's data scope",
            ));
        }
        let id = Uuid::now_v7();
        let mut member = clean.sealed.clone();
        member.id = id;
        member.source_channel_id = channel_id.map(|id| id.0);
        member.source_format_id = format_id.map(|id| id.0);
        member.source_store_id = placement.store_id.map(|id| id.0);
        member.guide_id = placement.guide_id.map(|id| id.0);
        member.created_at = m.now;
        member.updated_at = m.now;
        let mut w = Working {
            row: member,
            held: Vec::new(),
            fresh: true,
            changed: false,
            pending: Vec::new(),
            tokens: clean.tokens.clone(),
            line: row.line,
            name: clean.profile.name.clone(),
        };
        for keyed in &clean.identifiers {
            w.bind(&self.policy, keyed, m.now);
        }
        working.insert(id, w);
        Ok(id)
    }

    /// Adds what the row knows and the member lacks; `true` when anything was added.
    fn merge(
        &self,
        m: &Mutation,
        clean: &Clean,
        working: &mut HashMap<Uuid, Working>,
        id: Uuid,
    ) -> Result<bool, Refusal> {
        let w = working.get_mut(&id).ok_or_else(|| {
            Refusal::new("inactive_member", "the matching member no longer exists")
        })?;
        if w.row.status != MemberStatus::Active.as_str() {
            return Err(Refusal::new(
                "inactive_member",
                format!(
                    "the matching member {} is {}",
                    w.row.member_no, w.row.status
                ),
            ));
        }
        if !w.fresh
            && !self.caller.permits(
                Access::Write,
                RecordClass::MemberData,
                &crate::identity::view::placement(&w.row),
            )
        {
            return Err(Refusal::new(
                "out_of_scope",
                format!(
                    "the matching member {} lies outside the caller's data scope",
                    w.row.member_no
                ),
            ));
        }
        let filled = fill_missing(&mut w.row, &clean.profile, &clean.sealed);
        if filled.contains(&Field::Name) {
            w.name = clean.profile.name.clone();
            w.tokens = clean.tokens.clone();
        }
        let mut bound = false;
        for keyed in &clean.identifiers {
            bound |= w.bind(&self.policy, keyed, m.now);
        }
        if filled.is_empty() && !bound {
            return Ok(false);
        }
        if !w.fresh {
            w.row.updated_at = m.now;
            w.changed = true;
        }
        Ok(true)
    }

    /// Unique referral codes for the batch's new members, checked against the database in one
    /// query (collisions are rare: 32⁸ codes).
    async fn assign_referral_codes(
        &self,
        m: &mut Mutation,
        created: &[Uuid],
        working: &mut HashMap<Uuid, Working>,
    ) -> ApiResult<()> {
        let mut pending: Vec<Uuid> = created.to_vec();
        let mut used: HashSet<String> = HashSet::new();
        for _ in 0..8 {
            let mut proposed = Vec::with_capacity(pending.len());
            for id in &pending {
                let mut code = super::register::new_referral_code();
                while used.contains(&code) {
                    code = super::register::new_referral_code();
                }
                used.insert(code.clone());
                proposed.push((*id, code));
            }
            let codes: Vec<String> = proposed.iter().map(|(_, code)| code.clone()).collect();
            let taken: HashSet<String> =
                members::existing_referral_codes(&mut m.session, m.tenant, &codes)
                    .await?
                    .into_iter()
                    .collect();
            pending.clear();
            for (id, code) in proposed {
                if taken.contains(&code) {
                    pending.push(id);
                } else if let Some(w) = working.get_mut(&id) {
                    w.row.referral_code = code;
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(ApiError::internal("could not find free referral codes"))
    }

    /// Probable duplicates among the batch's new members: a member created before them (stored
    /// earlier, or from an earlier row of this batch) with the same name and birthday, or with a
    /// similar name at the same address. Runs before the batch is inserted, so the queries see
    /// only older members; the batch's own are compared in memory.
    async fn review(
        &self,
        m: &mut Mutation,
        created: &[Uuid],
        working: &HashMap<Uuid, Working>,
    ) -> ApiResult<Vec<ProbableDuplicate>> {
        let fresh: Vec<&Working> = created.iter().filter_map(|id| working.get(id)).collect();
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(fresh.len() * 20 + 1_000).unwrap_or(i64::MAX);
        let pairs: Vec<(String, Date)> = fresh
            .iter()
            .filter_map(|w| w.row.name_index.clone().zip(w.row.birthday))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let same_name_and_birthday = match pairs.is_empty() {
            true => Vec::new(),
            false => {
                members::duplicate_candidates_by_name_and_birthday(
                    &mut m.session,
                    m.tenant,
                    &pairs,
                    limit,
                )
                .await?
            }
        };
        let addresses: Vec<String> = fresh
            .iter()
            .filter(|w| w.name.is_some())
            .filter_map(|w| w.row.address_index.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let same_address = match addresses.is_empty() {
            true => Vec::new(),
            false => {
                members::duplicate_candidates_by_index(
                    &mut m.session,
                    m.tenant,
                    IndexColumn::Address,
                    &addresses,
                    limit,
                )
                .await?
            }
        };

        // Everyone a new member may be compared with, older first: stored members, then this
        // batch's in file order.
        let mut known: Vec<Known> = Vec::new();
        for candidate in same_name_and_birthday.into_iter().chain(same_address) {
            if known.iter().any(|k| k.id == candidate.id) {
                continue;
            }
            let name = candidate
                .name_enc
                .as_deref()
                .and_then(|sealed| self.vault.open(sealed).ok());
            known.push(Known {
                id: candidate.id,
                member_no: candidate.member_no,
                line: self.created.get(&candidate.id).copied(),
                batch_line: None,
                name,
                name_index: candidate.name_index,
                birthday: candidate.birthday,
                address_index: candidate.address_index,
            });
        }
        known.extend(fresh.iter().map(|w| Known {
            id: w.row.id,
            member_no: w.row.member_no.clone(),
            line: Some(w.line),
            batch_line: Some(w.line),
            name: w.name.clone(),
            name_index: w.row.name_index.clone(),
            birthday: w.row.birthday,
            address_index: w.row.address_index.clone(),
        }));
        let mut by_name_and_birthday: HashMap<(&str, Date), Vec<&Known>> = HashMap::new();
        let mut by_address: HashMap<&str, Vec<&Known>> = HashMap::new();
        for k in &known {
            if let (Some(name), Some(birthday)) = (&k.name_index, k.birthday) {
                by_name_and_birthday
                    .entry((name.as_str(), birthday))
                    .or_default()
                    .push(k);
            }
            if let Some(address) = &k.address_index {
                by_address.entry(address.as_str()).or_default().push(k);
            }
        }

        let mut found: Vec<ProbableDuplicate> = Vec::new();
        for member in &fresh {
            // Older than `member`: stored before the batch, or from an earlier row of it.
            let older = |k: &&&Known| k.batch_line.is_none_or(|line| line < member.line);
            let report = |k: &Known, reason: &str| ProbableDuplicate {
                line: member.line,
                member_id: member.row.id,
                member_no: member.row.member_no.clone(),
                reason: reason.to_owned(),
                candidate_id: k.id,
                candidate_member_no: k.member_no.clone(),
                candidate_line: k.line,
            };
            let mut reported: Vec<Uuid> = Vec::new();
            if let (Some(name), Some(birthday)) = (&member.row.name_index, member.row.birthday)
                && let Some(group) = by_name_and_birthday.get(&(name.as_str(), birthday))
            {
                for k in group.iter().filter(older).take(MAX_CANDIDATES_PER_MEMBER) {
                    reported.push(k.id);
                    found.push(report(k, "same_name_and_birthday"));
                }
            }
            if let (Some(address), Some(name)) = (&member.row.address_index, &member.name)
                && let Some(group) = by_address.get(address.as_str())
            {
                let similar = group
                    .iter()
                    .filter(older)
                    .filter(|k| !reported.contains(&k.id))
                    .filter(|k| {
                        k.name
                            .as_deref()
                            .is_some_and(|other| similar_names(name, other))
                    });
                for k in similar
                    .take(MAX_CANDIDATES_PER_MEMBER - reported.len().min(MAX_CANDIDATES_PER_MEMBER))
                {
                    found.push(report(k, "similar_name_and_same_address"));
                }
            }
        }
        Ok(found)
    }
}

/// How a file import runs.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Check and report without writing anything.
    pub dry_run: bool,
    /// Rows per transaction (1 to [`MAX_BATCH_ROWS`]).
    pub batch_rows: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// Imports every row of `source`: one transaction per batch, each retried when a concurrent
/// writer took one of its identifiers first. Reading, cleaning and sealing run on a blocking
/// thread one batch ahead of the database work. A dry run keeps one transaction open for the
/// whole file and rolls it back at the end, so each batch still sees what the earlier ones would
/// have written. After each batch `progress` gets the batch's outcome, the run's counts and the
/// bytes read so far.
pub async fn import_csv<R: io::Read + Send + 'static>(
    store: &Store,
    importer: &mut Importer,
    source: CsvRows<R>,
    options: RunOptions,
    progress: impl FnMut(&BatchOutcome, &ImportCounts, u64) -> io::Result<()>,
) -> anyhow::Result<ImportCounts> {
    let mut session = store.write().await?;
    let tuning = members::enter_bulk_mode(&mut session).await?;
    session.commit().await?;
    let imported = import_batches(store, importer, source, options, progress).await;
    let mut session = store.write().await?;
    members::leave_bulk_mode(&mut session, tuning).await?;
    session.commit().await?;
    imported
}

async fn import_batches<R: io::Read + Send + 'static>(
    store: &Store,
    importer: &mut Importer,
    mut source: CsvRows<R>,
    options: RunOptions,
    mut progress: impl FnMut(&BatchOutcome, &ImportCounts, u64) -> io::Result<()>,
) -> anyhow::Result<ImportCounts> {
    let batch_rows = options.batch_rows.clamp(1, MAX_BATCH_ROWS);
    let (tenant, actor) = (importer.caller.tenant_id, importer.caller.actor.clone());
    // One batch waits in the channel while the next is prepared: memory stays bounded.
    let (sender, mut prepared) =
        tokio::sync::mpsc::channel::<Result<(PreparedBatch, u64), String>>(1);
    let preparer = importer.preparer();
    let reader = tokio::task::spawn_blocking(move || {
        loop {
            let next = match source.next_batch(batch_rows) {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => Ok((preparer.prepare(rows), source.bytes_read())),
                Err(error) => Err(error.message),
            };
            let failed = next.is_err();
            // A closed channel means the import stopped; so does a read error, once sent.
            if sender.blocking_send(next).is_err() || failed {
                return;
            }
        }
    });
    let mut dry = match options.dry_run {
        true => Some(
            Mutation::begin(store, tenant, actor.clone(), None)
                .await
                .map_err(describe)?,
        ),
        false => None,
    };
    while let Some(next) = prepared.recv().await {
        let (batch, bytes_read) = next.map_err(anyhow::Error::msg)?;
        let outcome = match dry.as_mut() {
            Some(m) => importer.import_batch(m, &batch).await.map_err(describe)?,
            None => {
                let mut attempt = 1;
                loop {
                    let mut m = Mutation::begin(store, tenant, actor.clone(), None)
                        .await
                        .map_err(describe)?;
                    let done = match importer.import_batch(&mut m, &batch).await {
                        Ok(outcome) => m.commit().await.map(|()| outcome),
                        Err(error) => Err(error),
                    };
                    match done {
                        Ok(outcome) => break outcome,
                        Err(error)
                            if error.code == ErrorCode::Conflict
                                && attempt < MAX_BATCH_ATTEMPTS =>
                        {
                            tracing::info!(
                                attempt,
                                "an import batch met a concurrent write; retrying"
                            );
                            attempt += 1;
                        }
                        Err(error) => return Err(describe(error)),
                    }
                }
            }
        };
        importer.absorb(&outcome);
        progress(&outcome, &importer.counts, bytes_read)?;
    }
    // A dry run's transaction rolls back here.
    drop(dry);
    reader.await?;
    Ok(importer.counts)
}

/// An API error as a sentence for the shell, with its internal cause (the operator's own).
pub fn describe(error: ApiError) -> anyhow::Error {
    let mut text = error
        .detail
        .unwrap_or_else(|| error.code.title().to_owned());
    for field in &error.errors {
        text.push_str(&format!("; {}: {}", field.field, field.message));
    }
    if let Some(cause) = error.cause {
        text.push_str(&format!(" ({cause})"));
    }
    anyhow::anyhow!(text)
}

// ---- report files ----

/// The reject file: `line`, `code`, `reason`, then the file's own columns, one row per rejected row.
pub struct RejectFile<W: io::Write> {
    writer: csv::Writer<W>,
}

impl<W: io::Write> RejectFile<W> {
    pub fn new(out: W, headers: &[String]) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = vec!["line".to_owned(), "code".to_owned(), "reason".to_owned()];
        header.extend(headers.iter().cloned());
        writer.write_record(&header).map_err(io::Error::other)?;
        Ok(Self { writer })
    }

    pub fn write(&mut self, rejects: &[RejectedRow]) -> io::Result<()> {
        for reject in rejects {
            let mut record = vec![
                reject.line.to_string(),
                reject.code.clone(),
                reject.reason.clone(),
            ];
            record.extend(reject.values.iter().cloned());
            self.writer
                .write_record(&record)
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// The probable-duplicate report: one row per (new member, candidate) pair.
pub struct DuplicateFile<W: io::Write> {
    writer: csv::Writer<W>,
}

impl<W: io::Write> DuplicateFile<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        writer
            .write_record([
                "line",
                "member_no",
                "member_id",
                "reason",
                "candidate_member_no",
                "candidate_id",
                "candidate_line",
            ])
            .map_err(io::Error::other)?;
        Ok(Self { writer })
    }

    pub fn write(&mut self, duplicates: &[ProbableDuplicate]) -> io::Result<()> {
        for d in duplicates {
            self.writer
                .write_record([
                    d.line.to_string(),
                    d.member_no.clone(),
                    d.member_id.to_string(),
                    d.reason.clone(),
                    d.candidate_member_no.clone(),
                    d.candidate_id.to_string(),
                    d.candidate_line.map(|l| l.to_string()).unwrap_or_default(),
                ])
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Fills the member's absent profile fields from the row's `profile`, taking the stored form
/// from `sealed` (the row's profile as [`seal_profile`] stores it); answers the fields filled.
/// Present values are never overwritten: the legacy system's data is the older.
fn fill_missing(row: &mut StoredMember, profile: &Profile, sealed: &StoredMember) -> Vec<Field> {
    let mut filled = Vec::new();
    if profile.name.is_some() && row.name_enc.is_none() {
        row.name_enc = sealed.name_enc.clone();
        row.name_index = sealed.name_index.clone();
        filled.push(Field::Name);
    }
    if profile.gender.is_some() && row.gender.is_none() {
        row.gender = sealed.gender.clone();
        filled.push(Field::Gender);
    }
    if profile.birthday.is_some() && row.birthday.is_none() {
        row.birthday = sealed.birthday;
        filled.push(Field::Birthday);
    }
    if profile.province.is_some() && row.province.is_none() {
        row.province = sealed.province.clone();
        filled.push(Field::Province);
    }
    if profile.city.is_some() && row.city.is_none() {
        row.city = sealed.city.clone();
        filled.push(Field::City);
    }
    if profile.district.is_some() && row.district.is_none() {
        row.district = sealed.district.clone();
        filled.push(Field::District);
    }
    if profile.address.is_some() && row.address_enc.is_none() {
        row.address_enc = sealed.address_enc.clone();
        row.address_index = sealed.address_index.clone();
        filled.push(Field::Address);
    }
    if profile.id_card_no.is_some() && row.id_card_enc.is_none() {
        row.id_card_enc = sealed.id_card_enc.clone();
        row.id_card_index = sealed.id_card_index.clone();
        filled.push(Field::IdCardNo);
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn read(text: &str) -> Vec<SourceRow> {
        let mut source = CsvRows::open(text.as_bytes(), &[]).unwrap();
        source.next_batch(100).unwrap()
    }

    fn clean(text: &str) -> Vec<Result<Clean, Refusal>> {
        let mut source = CsvRows::open(text.as_bytes(), &[]).unwrap();
        let rows = source.next_batch(100).unwrap();
        let vault = Vault::ephemeral();
        let policy = IdentityPolicy::new(&["phone:13800000000".into()], &BTreeMap::new()).unwrap();
        rows.iter()
            .map(|row| {
                clean_row(
                    source.columns(),
                    row,
                    &vault,
                    &policy,
                    date!(2026 - 11 - 23),
                )
            })
            .collect()
    }

    #[test]
    fn headers_map_by_default_in_english_and_chinese() {
        let headers = strings(&[
            "\u{feff}手机号",
            "Card No",
            "姓名",
            "生日",
            "MOBILE_2",
            "备注",
        ]);
        let columns = Columns::resolve(&headers, &[]).unwrap();
        let fields: Vec<Option<String>> = columns.mapped().into_iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                Some("phone"),
                Some("card_no"),
                Some("name"),
                Some("birthday"),
                None,
                None
            ]
            .map(|f| f.map(str::to_owned))
        );
    }

    #[test]
    fn mappings_rename_ignore_and_are_checked() {
        let headers = strings(&["会员手机", "电话", "客户名称"]);
        let mapping = parse_mapping(&strings(&[
            "会员手机=phone",
            " 电话 = ignore",
            "客户名称=name",
        ]))
        .unwrap();
        let columns = Columns::resolve(&headers, &mapping).unwrap();
        assert_eq!(columns.position.get(&Field::Phone), Some(&0));
        assert_eq!(columns.position.get(&Field::Name), Some(&2));
        assert!(parse_mapping(&strings(&["phone"])).is_err());
        let code = |headers: &[&str], mapping: &[(&str, &str)]| {
            let mapping: Vec<(String, String)> = mapping
                .iter()
                .map(|(h, f)| ((*h).to_owned(), (*f).to_owned()))
                .collect();
            Columns::resolve(&strings(headers), &mapping)
                .unwrap_err()
                .code
        };
        assert_eq!(code(&["手机号", "电话"], &[]), "duplicate_field");
        assert_eq!(code(&["phone"], &[("mobile", "phone")]), "unknown_header");
        assert_eq!(code(&["phone"], &[("phone", "fax")]), "unknown_field");
        assert_eq!(code(&["name", "city"], &[]), "no_identifier_column");
        assert_eq!(
            code(&["phone"], &[("phone", "ignore")]),
            "no_identifier_column"
        );
    }

    #[test]
    fn dates_in_legacy_spellings() {
        for raw in [
            "1990-05-01",
            "1990/05/01",
            "19900501",
            "1990/5/1",
            "1990-5-1",
            "1990.5.1",
            "1990年5月1日",
            "1990/5/1 0:00:00",
            "1990-05-01T00:00:00",
        ] {
            assert_eq!(normalise_date(raw).as_deref(), Some("1990-05-01"), "{raw}");
        }
        assert_eq!(normalise_date("0000-00-00").as_deref(), Some(""));
        for raw in ["May 1 1990", "90/5/1", "1990/5", "199051"] {
            assert_eq!(normalise_date(raw), None, "{raw}");
        }
    }

    #[test]
    fn gender_words() {
        for raw in ["男", "M", "male", "Male", "先生", "1"] {
            assert_eq!(parse_gender(raw), Some(Gender::Male), "{raw}");
        }
        for raw in ["女", "f", "FEMALE", "女士", "2"] {
            assert_eq!(parse_gender(raw), Some(Gender::Female), "{raw}");
        }
        assert_eq!(parse_gender("未知"), Some(Gender::Unknown));
        assert_eq!(parse_gender("x"), None);
    }

    #[test]
    fn values_are_trimmed_and_empty_means_absent() {
        assert_eq!(clean_text("  张三\u{3000}"), Some("张三"));
        for raw in ["", "   ", "NULL", "null", "\\N"] {
            assert_eq!(clean_text(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn rows_clean_like_registrations() {
        let rows = clean(
            "手机号,邮箱,姓名,性别,生日,身份证号,门店编码\n\
             +86 138-0013-8000, Zhang.San@Example.COM , 张三 ,男,1990/5/1,11010519491231002x,SH-001\n\
             NULL,,李四,,,,\n\
             13800000000,,王五,,,,\n\
             12345,nope,,x,1990-13-01,110105194912310021,门店\n",
        );
        let first = rows[0].as_ref().unwrap();
        let keys: Vec<(&str, &str)> = first
            .identifiers
            .iter()
            .map(|k| (k.identifier.kind.as_str(), k.identifier.key.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("phone", "+8613800138000"),
                ("email", "zhang.san@example.com")
            ]
        );
        assert!(
            first
                .identifiers
                .iter()
                .all(|k| k.matchable && k.sealed.starts_with('k'))
        );
        assert_eq!(first.profile.name.as_deref(), Some("张三"));
        assert_eq!(first.profile.gender, Some(Gender::Male));
        assert_eq!(first.profile.birthday, Some(date!(1990 - 05 - 01)));
        assert_eq!(
            first.profile.id_card_no.as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(first.store_code.as_deref(), Some("SH-001"));
        assert!(first.sealed.name_enc.is_some() && first.sealed.name_index.is_some());
        assert_eq!(first.tokens.len(), 2, "one token per name prefix");

        assert_eq!(rows[1].as_ref().unwrap_err().code, "no_identifier");
        assert_eq!(
            rows[2].as_ref().unwrap_err().code,
            "no_matchable_identifier"
        );
        let refusal = rows[3].as_ref().unwrap_err();
        assert_eq!(refusal.code, "invalid_value");
        for field in [
            "phone (手机号)",
            "email (邮箱)",
            "gender (性别)",
            "birthday (生日)",
            "id_card_no (身份证号)",
            "store_code (门店编码)",
        ] {
            assert!(
                refusal.reason.contains(field),
                "{field} in {}",
                refusal.reason
            );
        }
    }

    #[test]
    fn rows_report_the_line_they_start_on() {
        let rows = read("phone,name\r\n1,a\r\n\r\n2,\"b\r\nc\"\r\n3,d\r\n\r\n\r\n4,e");
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 6, 9]);
        let rows = read("phone,name\n1,a\n,\n2,b\n");
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 4],
            "blank rows are skipped"
        );
        let rows = read("phone,name\n1,a,extra\n2\n");
        assert_eq!(
            rows[0].malformed.as_deref(),
            Some("has 3 fields; the header has 2")
        );
        assert_eq!(
            rows[1].malformed, None,
            "missing trailing fields read as empty"
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        let gbk_header = b"\xca\xd6\xbb\xfa\xba\xc5\n138\n";
        assert_eq!(
            CsvRows::open(&gbk_header[..], &[]).err().unwrap().code,
            "not_utf8"
        );
        let mut source = CsvRows::open(&b"phone,name\n13800138000,\xd5\xc5\n"[..], &[]).unwrap();
        let rows = source.next_batch(10).unwrap();
        assert_eq!(rows[0].malformed.as_deref(), Some("not UTF-8 text"));
    }

    #[test]
    fn the_api_row_limit_holds() {
        assert!(read_csv_text("phone\n1\n2\n", &[], 2).is_ok());
        assert_eq!(
            read_csv_text("phone\n1\n2\n3\n", &[], 2).unwrap_err().code,
            "too_many_rows"
        );
    }

    #[test]
    fn similar_names_allow_a_typo_but_not_a_sibling() {
        assert!(similar_names("张三", "张 三"));
        assert!(similar_names("张三", "张三丰"));
        assert!(similar_names("张三丰", "张三风"));
        assert!(similar_names("Li Lei", "lilei"));
        assert!(!similar_names("张伟", "张强"));
        assert!(!similar_names("张", "张三"));
        assert!(!similar_names("", "张三"));
        assert!(!similar_names("欧阳修文", "欧阳文修"));
    }
}
