//! Bulk import: members, identifiers and name-search tokens many per statement, look-ups of many
//! identifiers at once, probable-duplicate candidates, and the connection tuning an import runs
//! under.
//!
//! Set-at-a-time forms of the member functions (`super`), for imports that write thousands of members per
//! transaction: look-ups take lists of keys and answer with one query per chunk of keys, inserts
//! write many rows per statement. Chunks keep every statement under SQLite's 32,766 and
//! PostgreSQL's 65,535 bind parameters.

use super::{IndexColumn, StoredIdentifier, StoredMember, select_members};
use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{MemberId, TenantId};
use sqlx::QueryBuilder;
use time::Date;
use uuid::Uuid;

/// Most keys one `IN (…)` list carries.
const IN_LIST_CHUNK: usize = 5_000;
/// Rows per multi-row INSERT of members (27 parameters each).
const MEMBER_INSERT_CHUNK: usize = 500;
/// Rows per multi-row INSERT of identifiers (8 parameters) or search tokens (3).
const ROW_INSERT_CHUNK: usize = 2_000;

/// Reserves `count` consecutive member sequence numbers in this transaction and answers the first;
/// the numbers continue the ones [`next_member_seq`] hands out. Zero reserves nothing and answers
/// the next free number.
pub async fn reserve_member_seqs(
    s: &mut Session,
    tenant: TenantId,
    count: i64,
) -> StoreResult<i64> {
    let count = count.max(0);
    let next: i64 = on_backend!(s, c => sqlx::query_scalar(
        "INSERT INTO member_counters (tenant_id, next_seq) VALUES ($1, 1 + $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET next_seq = member_counters.next_seq + $2 RETURNING next_seq")
        .bind(tenant.0).bind(count).fetch_one(&mut *c).await)?;
    Ok(next - count)
}

/// The holders of these matchable identifiers of one kind, as `(value_index, member_id)`; indexes
/// nobody holds are absent from the answer.
pub async fn find_members_by_identifiers(
    s: &mut Session,
    tenant: TenantId,
    kind: &str,
    indexes: &[String],
) -> StoreResult<Vec<(String, MemberId)>> {
    let mut found = Vec::new();
    for chunk in indexes.chunks(IN_LIST_CHUNK) {
        let rows: Vec<(String, Uuid)> = on_backend!(s, c => {
            let mut query = QueryBuilder::new("SELECT value_index, member_id FROM member_identifiers WHERE tenant_id = ");
            query.push_bind(tenant.0).push(" AND kind = ").push_bind(kind.to_owned())
                .push(" AND matchable = TRUE AND value_index IN (");
            let mut list = query.separated(", ");
            for index in chunk {
                list.push_bind(index.clone());
            }
            query.push(")");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(
            rows.into_iter()
                .map(|(index, member)| (index, MemberId(member))),
        );
    }
    Ok(found)
}

/// The members with these ids (any status); unknown ids are absent from the answer.
pub async fn get_members(
    s: &mut Session,
    tenant: TenantId,
    ids: &[MemberId],
) -> StoreResult<Vec<StoredMember>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let rows: Vec<StoredMember> = on_backend!(s, c => {
            let mut query = QueryBuilder::new(select_members());
            query.push_bind(tenant.0).push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.0);
            }
            query.push(")");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// The identifiers these members hold, as `(member_id, kind, value_index)`: what deciding
/// whether an identifier is new to a member, or over its kind's limit, needs.
pub async fn identifier_keys_of_members(
    s: &mut Session,
    tenant: TenantId,
    members: &[MemberId],
) -> StoreResult<Vec<(MemberId, String, String)>> {
    let mut found = Vec::new();
    for chunk in members.chunks(IN_LIST_CHUNK) {
        let rows: Vec<(Uuid, String, String)> = on_backend!(s, c => {
            let mut query = QueryBuilder::new(
                "SELECT member_id, kind, value_index FROM member_identifiers WHERE tenant_id = ");
            query.push_bind(tenant.0).push(" AND member_id IN (");
            let mut list = query.separated(", ");
            for member in chunk {
                list.push_bind(member.0);
            }
            query.push(")");
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(
            rows.into_iter()
                .map(|(member, kind, index)| (MemberId(member), kind, index)),
        );
    }
    Ok(found)
}

/// Inserts many members, several hundred per statement.
pub async fn insert_members(
    s: &mut Session,
    tenant: TenantId,
    rows: &[StoredMember],
) -> StoreResult<()> {
    for chunk in rows.chunks(MEMBER_INSERT_CHUNK) {
        on_backend!(s, c => {
            let mut query = QueryBuilder::new(
                "INSERT INTO members (tenant_id, id, seq, member_no, status, merged_into, name_enc, name_index, gender, \
                 birthday, province, city, district, address_enc, address_index, id_card_enc, id_card_index, \
                 preferred_store_id, source_channel_id, source_format_id, source_store_id, guide_id, referral_code, \
                 referred_by, created_at, updated_at, erased_at) ");
            query.push_values(chunk, |mut row, m| {
                row.push_bind(tenant.0).push_bind(m.id.0).push_bind(m.seq).push_bind(m.member_no.clone())
                    .push_bind(m.status.clone()).push_bind(m.merged_into.map(Uuid::from)).push_bind(m.name_enc.clone())
                    .push_bind(m.name_index.clone()).push_bind(m.gender.clone()).push_bind(m.birthday)
                    .push_bind(m.province.clone()).push_bind(m.city.clone()).push_bind(m.district.clone())
                    .push_bind(m.address_enc.clone()).push_bind(m.address_index.clone())
                    .push_bind(m.id_card_enc.clone()).push_bind(m.id_card_index.clone())
                    .push_bind(m.preferred_store_id).push_bind(m.source_channel_id).push_bind(m.source_format_id)
                    .push_bind(m.source_store_id).push_bind(m.guide_id).push_bind(m.referral_code.clone())
                    .push_bind(m.referred_by.map(Uuid::from)).push_bind(Ts(m.created_at)).push_bind(Ts(m.updated_at))
                    .push_bind(m.erased_at.map(Ts));
            });
            query.build().execute(&mut *c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Inserts many identifiers. Unlike [`try_insert_identifier`] a matchable identifier someone
/// already holds fails the statement (a [`StoreError::Conflict`]): the caller looked them up in
/// this transaction, so a conflict means a concurrent writer, and the batch should be retried.
pub async fn insert_identifiers(
    s: &mut Session,
    tenant: TenantId,
    identifiers: &[StoredIdentifier],
) -> StoreResult<()> {
    for chunk in identifiers.chunks(ROW_INSERT_CHUNK) {
        on_backend!(s, c => {
            let mut query = QueryBuilder::new(
                "INSERT INTO member_identifiers (tenant_id, member_id, id, kind, value_index, value_enc, matchable, \
                 created_at) ");
            query.push_values(chunk, |mut row, identifier| {
                row.push_bind(tenant.0).push_bind(identifier.member_id.0).push_bind(identifier.id)
                    .push_bind(identifier.kind.clone()).push_bind(identifier.value_index.clone())
                    .push_bind(identifier.value_enc.clone()).push_bind(identifier.matchable)
                    .push_bind(Ts(identifier.created_at));
            });
            query.build().execute(&mut *c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Adds name search tokens, as `(member_id, token)`, to members that may already have some.
pub async fn insert_search_tokens(
    s: &mut Session,
    tenant: TenantId,
    tokens: &[(MemberId, String)],
) -> StoreResult<()> {
    for chunk in tokens.chunks(ROW_INSERT_CHUNK) {
        on_backend!(s, c => {
            let mut query = QueryBuilder::new("INSERT INTO member_search_tokens (tenant_id, token, member_id) ");
            query.push_values(chunk, |mut row, (member, token)| {
                row.push_bind(tenant.0).push_bind(token.clone()).push_bind(member.0);
            });
            query.push(" ON CONFLICT DO NOTHING");
            query.build().execute(&mut *c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Which of these referral codes members already carry.
pub async fn existing_referral_codes(
    s: &mut Session,
    tenant: TenantId,
    codes: &[String],
) -> StoreResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in codes.chunks(IN_LIST_CHUNK) {
        let rows: Vec<String> = on_backend!(s, c => {
            let mut query = QueryBuilder::new("SELECT referral_code FROM members WHERE tenant_id = ");
            query.push_bind(tenant.0).push(" AND referral_code IN (");
            let mut list = query.separated(", ");
            for code in chunk {
                list.push_bind(code.clone());
            }
            query.push(")");
            query.build_query_scalar().fetch_all(&mut *c).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// What the probable-duplicate review needs of a member: its number, its sealed name and the
/// blind indexes it is compared on.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DuplicateCandidate {
    #[sqlx(try_from = "Uuid")]
    pub id: MemberId,
    pub member_no: String,
    pub name_enc: Option<String>,
    pub name_index: Option<String>,
    pub birthday: Option<Date>,
    pub address_index: Option<String>,
}

const CANDIDATE_SELECT: &str = "SELECT id, member_no, name_enc, name_index, birthday, address_index FROM members WHERE tenant_id = ";

/// Active members whose blind index in `column` is any of `indexes` (the set form of
/// [`members_with_index`]), by id; at most `limit` of them.
pub async fn duplicate_candidates_by_index(
    s: &mut Session,
    tenant: TenantId,
    column: IndexColumn,
    indexes: &[String],
    limit: i64,
) -> StoreResult<Vec<DuplicateCandidate>> {
    let mut found: Vec<DuplicateCandidate> = Vec::new();
    for chunk in indexes.chunks(IN_LIST_CHUNK) {
        let room = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
        if room <= 0 {
            break;
        }
        let rows: Vec<DuplicateCandidate> = on_backend!(s, c => {
            let mut query = QueryBuilder::new(CANDIDATE_SELECT);
            query.push_bind(tenant.0).push(" AND status = 'active' AND ").push(column.as_str()).push(" IN (");
            let mut list = query.separated(", ");
            for index in chunk {
                list.push_bind(index.clone());
            }
            // No ORDER BY: with one, SQLite walks the whole tenant in id order instead of using
            // the index on the column.
            query.push(") LIMIT ").push_bind(room);
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(rows);
    }
    found.sort_by_key(|row| row.id);
    Ok(found)
}

/// Active members having one of these `(name_index, birthday)` pairs, by id; at most `limit`.
pub async fn duplicate_candidates_by_name_and_birthday(
    s: &mut Session,
    tenant: TenantId,
    pairs: &[(String, Date)],
    limit: i64,
) -> StoreResult<Vec<DuplicateCandidate>> {
    let mut found: Vec<DuplicateCandidate> = Vec::new();
    // Each pair costs two parameters.
    for chunk in pairs.chunks(IN_LIST_CHUNK / 2) {
        let room = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
        if room <= 0 {
            break;
        }
        // One probe of the (tenant, name, birthday) index per pair, and a member row is read
        // only when both match. Common names (王伟) are shared by many members: looking them up
        // by name alone and comparing the birthday on the row read them all, and separate name
        // and birthday lists make SQLite probe every name with every birthday. Written as a row
        // value IN a VALUES list, not a join with one: SQLite would scan the tenant's members
        // and look each up in the list.
        let rows: Vec<DuplicateCandidate> = on_backend!(s, c => {
            let mut query = QueryBuilder::new(CANDIDATE_SELECT);
            query.push_bind(tenant.0).push(" AND status = 'active' AND (name_index, birthday) IN (");
            query.push_values(chunk, |mut row, (name, birthday)| {
                row.push_bind(name.clone()).push_bind(*birthday);
            });
            query.push(") LIMIT ").push_bind(room);
            query.build_query_as().fetch_all(&mut *c).await
        })?;
        found.extend(rows);
    }
    found.sort_by_key(|row| row.id);
    Ok(found)
}

/// A connection's page cache and checkpoint settings, as [`enter_bulk_mode`] found them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTuning {
    cache_size: i64,
    wal_autocheckpoint: i64,
}

/// Prepares a connection for a large import and answers its settings before, for
/// [`leave_bulk_mode`]. On SQLite the page cache grows to 128 MiB, so the random-keyed blind
/// indexes stay in memory instead of spilling mid-transaction, and the WAL is checkpointed every
/// 100,000 pages (400 MiB) instead of every 1,000: the index pages each batch rewrites are then
/// copied into the database once per several batches, not once per batch. Durability is
/// unchanged; the WAL file may grow to that size until the next checkpoint. PostgreSQL needs
/// nothing.
pub async fn enter_bulk_mode(s: &mut Session) -> StoreResult<Option<ConnectionTuning>> {
    let crate::backend::Backend::Sqlite(c) = s.backend().await? else {
        return Ok(None);
    };
    let before = ConnectionTuning {
        cache_size: sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *c)
            .await?,
        wal_autocheckpoint: sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *c)
            .await?,
    };
    let bulk = ConnectionTuning {
        cache_size: -131_072,
        wal_autocheckpoint: 100_000,
    };
    apply_tuning(c, bulk).await?;
    Ok(Some(before))
}

/// Restores what [`enter_bulk_mode`] changed; the commit that follows checkpoints the WAL.
pub async fn leave_bulk_mode(s: &mut Session, before: Option<ConnectionTuning>) -> StoreResult<()> {
    let Some(before) = before else {
        return Ok(());
    };
    if let crate::backend::Backend::Sqlite(c) = s.backend().await? {
        apply_tuning(c, before).await?;
    }
    Ok(())
}

/// Brings PostgreSQL's statistics of the member tables up to date. A large import into a new
/// database grows them faster than autovacuum analyses them, and plans made for a nearly empty
/// table (sequential scans) then make every batch slower than the last. SQLite needs nothing.
pub async fn refresh_statistics(s: &mut Session) -> StoreResult<()> {
    if let crate::backend::Backend::Postgres(c) = s.backend().await? {
        sqlx::query("ANALYZE members, member_identifiers, member_search_tokens")
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

async fn apply_tuning(c: &mut sqlx::SqliteConnection, tuning: ConnectionTuning) -> StoreResult<()> {
    // PRAGMA takes no bind parameters; both values are integers.
    let statements = [
        format!("PRAGMA cache_size = {}", tuning.cache_size),
        format!("PRAGMA wal_autocheckpoint = {}", tuning.wal_autocheckpoint),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}
