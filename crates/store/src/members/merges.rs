//! The merge log and moving member-owned rows between members.
//!
//! Every table whose rows belong to one member registers in [`MEMBER_OWNED`]; a merge moves the
//! source member's rows of each to the survivor and records the moved ids in the merge log, so
//! undoing it moves exactly those rows back. A module that adds a member-owned table (orders, the
//! points ledger, coupons, tags …) adds one entry here and, in its migrations, the
//! `<table>_follow_merge` trigger of `0003_merge.sql` (the conformance suite checks both).

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::members::StoredMember;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{MemberId, TenantId};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// A table of member-owned rows, keyed by `(tenant_id, member_id, id)`.
#[derive(Clone, Copy, Debug)]
pub struct MemberOwnedTable {
    pub table: &'static str,
    /// Columns whose values a member holds at most once (a tag, a kind and value). A source row
    /// repeating one the survivor already holds is not moved: it stays with the source and comes
    /// back with it when the merge is undone.
    pub unique_per_member: &'static [&'static str],
}

/// Every member-owned table, in the order a merge moves them.
pub const MEMBER_OWNED: &[MemberOwnedTable] = &[
    MemberOwnedTable {
        table: "member_identifiers",
        // Matchable identifiers are unique anyway; this keeps a shared (unmatchable) value the
        // two members both hold from appearing twice on the survivor.
        unique_per_member: &["kind", "value_index"],
    },
    MemberOwnedTable {
        table: "member_consents",
        unique_per_member: &[],
    },
    MemberOwnedTable {
        table: "orders",
        unique_per_member: &[],
    },
    // The cap counters follow the orders they count.
    MemberOwnedTable {
        table: "rule_accruals",
        unique_per_member: &[],
    },
    // Coupons follow their holder; the redemption journal belongs to the coupon, not the member.
    MemberOwnedTable {
        table: "coupons",
        unique_per_member: &[],
    },
    MemberOwnedTable {
        table: "reward_redemptions",
        unique_per_member: &[],
    },
    // A counter both members hold for the same reward and period stays with the source: the
    // survivor keeps its own count (and limit) for that period.
    MemberOwnedTable {
        table: "reward_limit_counters",
        unique_per_member: &["reward_id", "period_key"],
    },
    // A checkout follows its member; the coupons and points it holds follow by their own rules.
    MemberOwnedTable {
        table: "checkouts",
        unique_per_member: &[],
    },
    // The points ledger is not a plain row move: its balances are transferred by entries (see
    // the server's `ledger_merge`), so the journal only grows.
];

/// The registry entry of `table`.
pub fn member_owned(table: &str) -> Option<&'static MemberOwnedTable> {
    MEMBER_OWNED.iter().find(|entry| entry.table == table)
}

/// Moved row ids per table name.
pub type MovedRows = BTreeMap<String, Vec<Uuid>>;

/// Most ids bound in one statement; both databases allow far more, but statements stay small.
const IDS_PER_STATEMENT: usize = 500;

/// One merge: what was moved and the survivor as it was before, for undoing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMerge {
    pub id: Uuid,
    pub survivor_id: MemberId,
    pub source_id: MemberId,
    pub moved: MovedRows,
    pub survivor_before: StoredMember,
    pub created_at: OffsetDateTime,
    pub undone_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct MergeRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    survivor_id: MemberId,
    #[sqlx(try_from = "Uuid")]
    source_id: MemberId,
    moved: Json<MovedRows>,
    survivor_before: Json<StoredMember>,
    created_at: OffsetDateTime,
    undone_at: Option<OffsetDateTime>,
}

impl From<MergeRow> for StoredMerge {
    fn from(row: MergeRow) -> Self {
        Self {
            id: row.id,
            survivor_id: row.survivor_id,
            source_id: row.source_id,
            moved: row.moved.0,
            survivor_before: row.survivor_before.0,
            created_at: row.created_at,
            undone_at: row.undone_at,
        }
    }
}

const MERGE_SELECT: &str = "SELECT id, survivor_id, source_id, moved, survivor_before, created_at, undone_at \
    FROM member_merges WHERE tenant_id = $1 AND survivor_id = $2";

/// Locks the members' rows until the transaction ends, in id order so two transactions locking
/// the same pair cannot deadlock. PostgreSQL only: SQLite's single writer already excludes every
/// other write.
pub async fn lock_members(s: &mut Session, tenant: TenantId, ids: &[MemberId]) -> StoreResult<()> {
    if !s.is_postgres() || ids.is_empty() {
        return Ok(());
    }
    on_backend!(s, c => {
        let mut query = QueryBuilder::new("SELECT id FROM members WHERE tenant_id = ");
        query.push_bind(tenant.0).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.0);
        }
        query.push(") ORDER BY id FOR UPDATE");
        query.build().fetch_all(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}

/// Moves `from`'s rows of `table` to `to`, except those `to` already holds by the table's
/// `unique_per_member` columns; answers the moved ids in order.
pub async fn move_rows(
    s: &mut Session,
    tenant: TenantId,
    table: &MemberOwnedTable,
    from: MemberId,
    to: MemberId,
) -> StoreResult<Vec<Uuid>> {
    let name = table.table;
    let mut sql =
        format!("UPDATE {name} SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2");
    if !table.unique_per_member.is_empty() {
        let same: Vec<String> = table
            .unique_per_member
            .iter()
            .map(|column| format!("held.{column} = {name}.{column}"))
            .collect();
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {name} AS held WHERE held.tenant_id = $1 AND held.member_id = $3 AND {})",
            same.join(" AND ")
        ));
    }
    sql.push_str(" RETURNING id");
    let mut ids: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(from.0).bind(to.0).fetch_all(&mut *c).await)?;
    ids.sort();
    Ok(ids)
}

/// Moves the rows with these ids of `table` from `from` back to `to`; rows no longer with `from`
/// (deleted since) are skipped. Answers how many moved.
pub async fn move_rows_back(
    s: &mut Session,
    tenant: TenantId,
    table: &MemberOwnedTable,
    ids: &[Uuid],
    from: MemberId,
    to: MemberId,
) -> StoreResult<u64> {
    let mut moved = 0;
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        moved += on_backend!(s, c => {
            let mut query = QueryBuilder::new("UPDATE ");
            query.push(table.table).push(" SET member_id = ").push_bind(to.0)
                .push(" WHERE tenant_id = ").push_bind(tenant.0)
                .push(" AND member_id = ").push_bind(from.0).push(" AND id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            query.push(")");
            query.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(moved)
}

/// How many rows of `table` the member holds.
pub async fn count_rows(
    s: &mut Session,
    tenant: TenantId,
    table: &MemberOwnedTable,
    member: MemberId,
) -> StoreResult<i64> {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM {} WHERE tenant_id = $1 AND member_id = $2",
        table.table
    );
    let count: i64 = on_backend!(s, c => sqlx::query_scalar(AssertSqlSafe(sql.clone()))
        .bind(tenant.0).bind(member.0).fetch_one(&mut *c).await)?;
    Ok(count)
}

/// Moves the rows of every registered table from `from` to `to`; answers the moved ids per
/// table (every table named, moved or not).
pub async fn move_member_owned(
    s: &mut Session,
    tenant: TenantId,
    from: MemberId,
    to: MemberId,
) -> StoreResult<MovedRows> {
    let mut moved = MovedRows::new();
    for table in MEMBER_OWNED {
        let ids = move_rows(s, tenant, table, from, to).await?;
        moved.insert(table.table.to_owned(), ids);
    }
    Ok(moved)
}

/// Moves the rows a merge moved (`moved`, from its log) from `from` back to `to`; answers how
/// many moved back per table. A table the registry no longer knows means a corrupt log.
pub async fn move_member_owned_back(
    s: &mut Session,
    tenant: TenantId,
    moved: &MovedRows,
    from: MemberId,
    to: MemberId,
) -> StoreResult<BTreeMap<String, u64>> {
    let mut back = BTreeMap::new();
    for (name, ids) in moved {
        let table = member_owned(name).ok_or(StoreError::Corrupt("member_merges.moved"))?;
        let count = move_rows_back(s, tenant, table, ids, from, to).await?;
        back.insert(name.clone(), count);
    }
    Ok(back)
}

pub async fn insert_merge(
    s: &mut Session,
    tenant: TenantId,
    merge: &StoredMerge,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO member_merges (tenant_id, survivor_id, id, source_id, moved, survivor_before, created_at, undone_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(tenant.0).bind(merge.survivor_id.0).bind(merge.id).bind(merge.source_id.0).bind(Json(&merge.moved))
        .bind(Json(&merge.survivor_before)).bind(Ts(merge.created_at)).bind(merge.undone_at.map(Ts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One merge into `survivor`.
pub async fn get_merge(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
    id: Uuid,
) -> StoreResult<Option<StoredMerge>> {
    let row: Option<MergeRow> = on_backend!(s, c => sqlx::query_as(AssertSqlSafe(format!("{MERGE_SELECT} AND id = $3")))
        .bind(tenant.0).bind(survivor.0).bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(StoredMerge::from))
}

/// The most recent merge into `survivor` that has not been undone. Merge ids are time-ordered
/// and taken while both members are locked, so id order is the order the merges took effect.
pub async fn latest_open_merge(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
) -> StoreResult<Option<StoredMerge>> {
    let row: Option<MergeRow> = on_backend!(s, c => sqlx::query_as(AssertSqlSafe(format!(
        "{MERGE_SELECT} AND undone_at IS NULL ORDER BY id DESC LIMIT 1")))
        .bind(tenant.0).bind(survivor.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(StoredMerge::from))
}

/// Marks a merge undone; `false` when it already was (or does not exist).
pub async fn mark_undone(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
    id: Uuid,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE member_merges SET undone_at = $4 WHERE tenant_id = $1 AND survivor_id = $2 AND id = $3 AND undone_at IS NULL")
        .bind(tenant.0).bind(survivor.0).bind(id).bind(Ts(at)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// A merge into a member, as its profile summarises it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MergeHeader {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub source_id: MemberId,
    pub created_at: OffsetDateTime,
}

/// The merges into `survivor` in effect (not undone): how many, and the latest `limit`, newest
/// first.
pub async fn merges_in_effect(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
    limit: i64,
) -> StoreResult<(i64, Vec<MergeHeader>)> {
    let count: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM member_merges WHERE tenant_id = $1 AND survivor_id = $2 AND undone_at IS NULL")
        .bind(tenant.0).bind(survivor.0).fetch_one(&mut *c).await)?;
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    let latest: Vec<MergeHeader> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, source_id, created_at FROM member_merges WHERE tenant_id = $1 AND survivor_id = $2 \
         AND undone_at IS NULL ORDER BY id DESC LIMIT $3")
        .bind(tenant.0).bind(survivor.0).bind(limit).fetch_all(&mut *c).await)?;
    Ok((count, latest))
}
