//! Members and what identifies them. This layer stores what it is given: personal fields arrive
//! already sealed (`*_enc`) and with their keyed blind indexes (`*_index`); it never sees a key.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::ids::NullableId;
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Members are placed by the format and store they joined through and the guide they belong to.
pub const MEMBER_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("source_format_id"),
    store: Some("source_store_id"),
    guide: Some("guide_id"),
};

/// A member row as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct StoredMember {
    #[sqlx(try_from = "Uuid")]
    pub id: MemberId,
    pub seq: i64,
    pub member_no: String,
    pub status: String,
    #[sqlx(try_from = "NullableId")]
    pub merged_into: Option<MemberId>,
    pub name_enc: Option<String>,
    pub name_index: Option<String>,
    pub gender: Option<String>,
    pub birthday: Option<Date>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address_enc: Option<String>,
    pub address_index: Option<String>,
    pub id_card_enc: Option<String>,
    pub id_card_index: Option<String>,
    pub preferred_store_id: Option<Uuid>,
    pub source_channel_id: Option<Uuid>,
    pub source_format_id: Option<Uuid>,
    pub source_store_id: Option<Uuid>,
    pub guide_id: Option<Uuid>,
    pub referral_code: String,
    #[sqlx(try_from = "NullableId")]
    pub referred_by: Option<MemberId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub erased_at: Option<OffsetDateTime>,
}

const MEMBER_FIELDS: &str = "id, seq, member_no, status, merged_into, name_enc, name_index, gender, birthday, province, \
    city, district, address_enc, address_index, id_card_enc, id_card_index, preferred_store_id, source_channel_id, \
    source_format_id, source_store_id, guide_id, referral_code, referred_by, created_at, updated_at, erased_at";

fn select_members() -> String {
    format!("SELECT {MEMBER_FIELDS} FROM members WHERE tenant_id = ")
}

/// Allocates the tenant's next member sequence number (1, 2, 3 …) in this transaction.
pub async fn next_member_seq(s: &mut Session, tenant: TenantId) -> StoreResult<i64> {
    let next: i64 = on_backend!(s, c => sqlx::query_scalar(
        "INSERT INTO member_counters (tenant_id, next_seq) VALUES ($1, 2) \
         ON CONFLICT (tenant_id) DO UPDATE SET next_seq = member_counters.next_seq + 1 RETURNING next_seq")
        .bind(tenant.0).fetch_one(&mut *c).await)?;
    Ok(next - 1)
}

pub async fn insert_member(s: &mut Session, tenant: TenantId, m: &StoredMember) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO members (tenant_id, id, seq, member_no, status, merged_into, name_enc, name_index, gender, birthday, \
         province, city, district, address_enc, address_index, id_card_enc, id_card_index, preferred_store_id, \
         source_channel_id, source_format_id, source_store_id, guide_id, referral_code, referred_by, created_at, \
         updated_at, erased_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)")
        .bind(tenant.0).bind(m.id.0).bind(m.seq).bind(&m.member_no).bind(&m.status).bind(m.merged_into.map(Uuid::from))
        .bind(&m.name_enc).bind(&m.name_index).bind(&m.gender).bind(m.birthday).bind(&m.province).bind(&m.city)
        .bind(&m.district).bind(&m.address_enc).bind(&m.address_index).bind(&m.id_card_enc).bind(&m.id_card_index)
        .bind(m.preferred_store_id).bind(m.source_channel_id).bind(m.source_format_id).bind(m.source_store_id)
        .bind(m.guide_id).bind(&m.referral_code).bind(m.referred_by.map(Uuid::from)).bind(Ts(m.created_at)).bind(Ts(m.updated_at))
        .bind(m.erased_at.map(Ts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Writes every mutable column (everything but id, seq, member number, creation time).
pub async fn update_member(s: &mut Session, tenant: TenantId, m: &StoredMember) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE members SET status = $3, merged_into = $4, name_enc = $5, name_index = $6, gender = $7, birthday = $8, \
         province = $9, city = $10, district = $11, address_enc = $12, address_index = $13, id_card_enc = $14, \
         id_card_index = $15, preferred_store_id = $16, source_channel_id = $17, source_format_id = $18, \
         source_store_id = $19, guide_id = $20, referral_code = $21, referred_by = $22, updated_at = $23, erased_at = $24 \
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0).bind(m.id.0).bind(&m.status).bind(m.merged_into.map(Uuid::from)).bind(&m.name_enc).bind(&m.name_index)
        .bind(&m.gender).bind(m.birthday).bind(&m.province).bind(&m.city).bind(&m.district).bind(&m.address_enc)
        .bind(&m.address_index).bind(&m.id_card_enc).bind(&m.id_card_index).bind(m.preferred_store_id)
        .bind(m.source_channel_id).bind(m.source_format_id).bind(m.source_store_id).bind(m.guide_id)
        .bind(&m.referral_code).bind(m.referred_by.map(Uuid::from)).bind(Ts(m.updated_at)).bind(m.erased_at.map(Ts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

async fn member_where(
    s: &mut Session,
    tenant: TenantId,
    column: &'static str,
    value: MemberKey,
) -> StoreResult<Option<StoredMember>> {
    let row: Option<StoredMember> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select_members());
        query.push_bind(tenant.0).push(" AND ").push(column).push(" = ");
        match &value {
            MemberKey::Id(id) => query.push_bind(id.0),
            MemberKey::Text(text) => query.push_bind(text.clone()),
        };
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    Ok(row)
}

enum MemberKey {
    Id(MemberId),
    Text(String),
}

pub async fn get_member(
    s: &mut Session,
    tenant: TenantId,
    id: MemberId,
) -> StoreResult<Option<StoredMember>> {
    member_where(s, tenant, "id", MemberKey::Id(id)).await
}

pub async fn get_member_by_no(
    s: &mut Session,
    tenant: TenantId,
    member_no: &str,
) -> StoreResult<Option<StoredMember>> {
    member_where(
        s,
        tenant,
        "member_no",
        MemberKey::Text(member_no.to_owned()),
    )
    .await
}

pub async fn get_member_by_referral_code(
    s: &mut Session,
    tenant: TenantId,
    code: &str,
) -> StoreResult<Option<StoredMember>> {
    member_where(s, tenant, "referral_code", MemberKey::Text(code.to_owned())).await
}

/// Members visible to `scope`, optionally only those whose name starts with the prefix behind
/// `name_token` (see the vault's name tokens). Merged aliases are left out.
pub async fn list_members(
    s: &mut Session,
    tenant: TenantId,
    scope: &ScopePredicate,
    name_token: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<StoredMember>> {
    let rows: Vec<StoredMember> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select_members());
        query.push_bind(tenant.0).push(" AND status <> 'merged'");
        if let Some(token) = name_token {
            query.push(" AND id IN (SELECT member_id FROM member_search_tokens WHERE tenant_id = ")
                .push_bind(tenant.0).push(" AND token = ").push_bind(token.to_owned()).push(")");
        }
        push_scope(&mut query, scope, &MEMBER_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id.0))
}

/// Members sharing a blind index in `column` (`name_index`, `address_index`, `id_card_index`), for
/// duplicate review; at most `limit`.
pub async fn members_with_index(
    s: &mut Session,
    tenant: TenantId,
    column: IndexColumn,
    index: &str,
    limit: i64,
) -> StoreResult<Vec<StoredMember>> {
    let rows: Vec<StoredMember> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select_members());
        query.push_bind(tenant.0).push(" AND status = 'active' AND ").push(column.as_str()).push(" = ")
            .push_bind(index.to_owned()).push(" ORDER BY id LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// The indexed personal columns.
#[derive(Clone, Copy, Debug)]
pub enum IndexColumn {
    Name,
    Address,
    IdCard,
}

impl IndexColumn {
    fn as_str(self) -> &'static str {
        match self {
            IndexColumn::Name => "name_index",
            IndexColumn::Address => "address_index",
            IndexColumn::IdCard => "id_card_index",
        }
    }
}

// ---- identifiers ----

/// An identifier row: the value sealed, its blind index for look-ups.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredIdentifier {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub member_id: MemberId,
    pub kind: String,
    pub value_index: String,
    pub value_enc: String,
    pub matchable: bool,
    pub created_at: OffsetDateTime,
}

/// Inserts unless a matchable identifier with the same kind and index exists; `false` then. On
/// PostgreSQL a concurrent insert of the same identifier makes this wait for that transaction,
/// so the answer is final either way.
pub async fn try_insert_identifier(
    s: &mut Session,
    tenant: TenantId,
    identifier: &StoredIdentifier,
) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO member_identifiers (tenant_id, member_id, id, kind, value_index, value_enc, matchable, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(identifier.member_id.0).bind(identifier.id).bind(&identifier.kind)
        .bind(&identifier.value_index).bind(&identifier.value_enc).bind(identifier.matchable).bind(Ts(identifier.created_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// The member holding this matchable identifier.
pub async fn find_member_by_identifier(
    s: &mut Session,
    tenant: TenantId,
    kind: &str,
    value_index: &str,
) -> StoreResult<Option<MemberId>> {
    let member: Option<Uuid> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT member_id FROM member_identifiers WHERE tenant_id = $1 AND kind = $2 AND value_index = $3 AND matchable = TRUE")
        .bind(tenant.0).bind(kind).bind(value_index).fetch_optional(&mut *c).await)?;
    Ok(member.map(MemberId))
}

const IDENTIFIER_SELECT: &str = "SELECT id, member_id, kind, value_index, value_enc, matchable, created_at FROM member_identifiers WHERE tenant_id = $1";

/// A member's identifiers, oldest first (a member has a handful).
pub async fn list_identifiers(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Vec<StoredIdentifier>> {
    let rows: Vec<StoredIdentifier> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{IDENTIFIER_SELECT} AND member_id = $2 ORDER BY id")))
        .bind(tenant.0).bind(member.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Removes one identifier of a member; `false` when it was not theirs.
pub async fn delete_identifier(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
) -> StoreResult<bool> {
    let deleted = on_backend!(s, c => sqlx::query(
        "DELETE FROM member_identifiers WHERE tenant_id = $1 AND member_id = $2 AND id = $3")
        .bind(tenant.0).bind(member.0).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(deleted == 1)
}

/// Re-seals one identifier value (key rotation, merge).
pub async fn update_identifier_value(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
    value_enc: &str,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE member_identifiers SET value_enc = $4 WHERE tenant_id = $1 AND member_id = $2 AND id = $3")
        .bind(tenant.0).bind(member.0).bind(id).bind(value_enc).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

// ---- name search tokens ----

/// Replaces a member's name search tokens.
pub async fn replace_search_tokens(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    tokens: &[String],
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query("DELETE FROM member_search_tokens WHERE tenant_id = $1 AND member_id = $2")
        .bind(tenant.0).bind(member.0).execute(&mut *c).await.map(|_| ()))?;
    if tokens.is_empty() {
        return Ok(());
    }
    on_backend!(s, c => {
        let mut query = QueryBuilder::new("INSERT INTO member_search_tokens (tenant_id, token, member_id) ");
        query.push_values(tokens, |mut row, token| {
            row.push_bind(tenant.0).push_bind(token.clone()).push_bind(member.0);
        });
        query.push(" ON CONFLICT DO NOTHING");
        query.build().execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}

// ---- consents ----

/// One consent decision; the history is append-only and the latest per channel holds.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredConsent {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub member_id: MemberId,
    pub channel: String,
    pub granted: bool,
    pub source_channel_id: Option<Uuid>,
    pub recorded_at: OffsetDateTime,
}

pub async fn insert_consent(
    s: &mut Session,
    tenant: TenantId,
    consent: &StoredConsent,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO member_consents (tenant_id, member_id, id, channel, granted, source_channel_id, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant.0).bind(consent.member_id.0).bind(consent.id).bind(&consent.channel).bind(consent.granted)
        .bind(consent.source_channel_id).bind(Ts(consent.recorded_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A member's consent history, oldest first.
pub async fn list_consents(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Vec<StoredConsent>> {
    let rows: Vec<StoredConsent> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, member_id, channel, granted, source_channel_id, recorded_at FROM member_consents \
         WHERE tenant_id = $1 AND member_id = $2 ORDER BY id")
        .bind(tenant.0).bind(member.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

pub fn is_referral_code_conflict(error: &StoreError) -> bool {
    error.is_conflict_on("members_referral_code_key", "members.referral_code")
}

// ---- erasure (PIPL) ----

/// Deletes every identifier a member holds; returns how many there were.
pub async fn delete_identifiers_of(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<u64> {
    let deleted = on_backend!(s, c => sqlx::query(
        "DELETE FROM member_identifiers WHERE tenant_id = $1 AND member_id = $2")
        .bind(tenant.0).bind(member.0).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(deleted)
}

/// Members merged straight into `survivor` (its aliases), oldest first; at most `limit`.
pub async fn list_merged_into(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
    limit: i64,
) -> StoreResult<Vec<StoredMember>> {
    let rows: Vec<StoredMember> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(select_members());
        query.push_bind(tenant.0).push(" AND status = 'merged' AND merged_into = ").push_bind(survivor.0)
            .push(" ORDER BY id LIMIT ").push_bind(limit);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// One entry of the merge log, without the snapshots kept for undoing it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredMergeEntry {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub survivor_id: MemberId,
    #[sqlx(try_from = "Uuid")]
    pub source_id: MemberId,
    pub created_at: OffsetDateTime,
    pub undone_at: Option<OffsetDateTime>,
}

/// Merges in which the member survived or was merged away, oldest first; at most `limit`.
pub async fn list_merges_involving(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    limit: i64,
) -> StoreResult<Vec<StoredMergeEntry>> {
    let rows: Vec<StoredMergeEntry> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, survivor_id, source_id, created_at, undone_at FROM member_merges \
         WHERE tenant_id = $1 AND (survivor_id = $2 OR source_id = $2) ORDER BY id LIMIT $3")
        .bind(tenant.0).bind(member.0).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Deletes the merge log entries involving the member: their undo snapshots hold the member's
/// sealed personal data, which erasure must not leave behind. Returns how many there were.
pub async fn delete_merges_involving(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<u64> {
    let deleted = on_backend!(s, c => sqlx::query(
        "DELETE FROM member_merges WHERE tenant_id = $1 AND (survivor_id = $2 OR source_id = $2)")
        .bind(tenant.0).bind(member.0).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(deleted)
}

mod bulk;
pub mod merges;
pub use bulk::{
    ConnectionTuning, DuplicateCandidate, duplicate_candidates_by_index,
    duplicate_candidates_by_name_and_birthday, enter_bulk_mode, existing_referral_codes,
    find_members_by_identifiers, get_members, identifier_keys_of_members, insert_identifiers,
    insert_members, insert_search_tokens, leave_bulk_mode, refresh_statistics, reserve_member_seqs,
};
