//! Re-sealing personal data after a key rotation. A walk visits every row holding sealed values,
//! across all tenants, in primary-key order and in batches (keyset pagination, so a batch costs
//! the same at the end of a large table as at its start). A value is replaced only while it is
//! still what the walk read, so a change a running server made meanwhile is never overwritten.
//!
//! Sealed values live in `members` (name, address, ID number), `member_identifiers` (the value)
//! and `member_merges` (the survivor's profile as it was before a merge, kept for undoing it).
//! Like the rest of this crate, nothing here sees a key: the caller opens and seals.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::members::StoredMember;
use crate::on_backend;
use huiyuan_domain::ids::{MemberId, TenantId};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use uuid::Uuid;

/// Largest batch a walk may ask for.
pub const MAX_BATCH: i64 = 10_000;

/// Where a walk stands: the primary key of the last row it saw. For members `member_id` is the
/// member's own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowKey {
    pub tenant_id: Uuid,
    pub member_id: MemberId,
    pub id: Uuid,
}

/// A member's sealed fields.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedMember {
    pub tenant_id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub id: MemberId,
    pub name_enc: Option<String>,
    pub address_enc: Option<String>,
    pub id_card_enc: Option<String>,
}

impl SealedMember {
    pub fn key(&self) -> RowKey {
        RowKey {
            tenant_id: self.tenant_id,
            member_id: self.id,
            id: self.id.0,
        }
    }

    /// The sealed values present, with the column each lives in.
    pub fn values(&self) -> impl Iterator<Item = (MemberSealedColumn, &str)> {
        [
            (MemberSealedColumn::Name, &self.name_enc),
            (MemberSealedColumn::Address, &self.address_enc),
            (MemberSealedColumn::IdCard, &self.id_card_enc),
        ]
        .into_iter()
        .filter_map(|(column, value)| value.as_deref().map(|value| (column, value)))
    }
}

/// An identifier's sealed value.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedIdentifier {
    pub tenant_id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub member_id: MemberId,
    pub id: Uuid,
    pub value_enc: String,
}

impl SealedIdentifier {
    pub fn key(&self) -> RowKey {
        RowKey {
            tenant_id: self.tenant_id,
            member_id: self.member_id,
            id: self.id,
        }
    }
}

/// The sealed columns of `members`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberSealedColumn {
    Name,
    Address,
    IdCard,
}

impl MemberSealedColumn {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberSealedColumn::Name => "name_enc",
            MemberSealedColumn::Address => "address_enc",
            MemberSealedColumn::IdCard => "id_card_enc",
        }
    }
}

fn batch_limit(limit: i64) -> i64 {
    limit.clamp(1, MAX_BATCH)
}

/// The next members after `after` (all tenants, key order) that hold any sealed value; at most
/// `limit` (1 to [`MAX_BATCH`]). An empty answer ends the walk.
pub async fn sealed_members(
    s: &mut Session,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<SealedMember>> {
    let rows: Vec<SealedMember> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, id, name_enc, address_enc, id_card_enc FROM members \
             WHERE (name_enc IS NOT NULL OR address_enc IS NOT NULL OR id_card_enc IS NOT NULL)");
        if let Some(after) = after {
            query.push(" AND (tenant_id, id) > (").push_bind(after.tenant_id).push(", ")
                .push_bind(after.id).push(")");
        }
        query.push(" ORDER BY tenant_id, id LIMIT ").push_bind(batch_limit(limit));
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// The next identifiers after `after` (all tenants, key order); at most `limit` (1 to
/// [`MAX_BATCH`]). An empty answer ends the walk.
pub async fn sealed_identifiers(
    s: &mut Session,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<SealedIdentifier>> {
    let rows: Vec<SealedIdentifier> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, member_id, id, value_enc FROM member_identifiers");
        if let Some(after) = after {
            query.push(" WHERE (tenant_id, member_id, id) > (").push_bind(after.tenant_id).push(", ")
                .push_bind(after.member_id.0).push(", ").push_bind(after.id).push(")");
        }
        query.push(" ORDER BY tenant_id, member_id, id LIMIT ").push_bind(batch_limit(limit));
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

/// Replaces one sealed member field with `new` if it still holds `old`; `false` when it changed
/// meanwhile (or the member is gone), and then nothing is written.
pub async fn reseal_member_value(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    column: MemberSealedColumn,
    old: &str,
    new: &str,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => {
        let mut query = QueryBuilder::new("UPDATE members SET ");
        query.push(column.as_str()).push(" = ").push_bind(new.to_owned())
            .push(" WHERE tenant_id = ").push_bind(tenant.0)
            .push(" AND id = ").push_bind(member.0)
            .push(" AND ").push(column.as_str()).push(" = ").push_bind(old.to_owned());
        query.build().execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Replaces an identifier's sealed value with `new` if it still holds `old`; `false` when it
/// changed meanwhile (or the identifier is gone).
pub async fn reseal_identifier_value(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
    old: &str,
    new: &str,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE member_identifiers SET value_enc = $5 \
         WHERE tenant_id = $1 AND member_id = $2 AND id = $3 AND value_enc = $4")
        .bind(tenant.0).bind(member.0).bind(id).bind(old).bind(new)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// A merge's snapshot of the survivor before the merge (whose sealed fields rotate too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSnapshot {
    pub tenant_id: Uuid,
    pub survivor_id: MemberId,
    pub id: Uuid,
    pub survivor_before: StoredMember,
}

impl MergeSnapshot {
    pub fn key(&self) -> RowKey {
        RowKey {
            tenant_id: self.tenant_id,
            member_id: self.survivor_id,
            id: self.id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    tenant_id: Uuid,
    #[sqlx(try_from = "Uuid")]
    survivor_id: MemberId,
    id: Uuid,
    survivor_before: Json<StoredMember>,
}

/// The next merge snapshots after `after` (all tenants, key order); at most `limit` (1 to
/// [`MAX_BATCH`]). An empty answer ends the walk.
pub async fn merge_snapshots(
    s: &mut Session,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MergeSnapshot>> {
    let rows: Vec<SnapshotRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, survivor_id, id, survivor_before FROM member_merges");
        if let Some(after) = after {
            query.push(" WHERE (tenant_id, survivor_id, id) > (").push_bind(after.tenant_id).push(", ")
                .push_bind(after.member_id.0).push(", ").push_bind(after.id).push(")");
        }
        query.push(" ORDER BY tenant_id, survivor_id, id LIMIT ").push_bind(batch_limit(limit));
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|row| MergeSnapshot {
            tenant_id: row.tenant_id,
            survivor_id: row.survivor_id,
            id: row.id,
            survivor_before: row.survivor_before.0,
        })
        .collect())
}

/// Replaces a merge's snapshot; `false` when the merge is gone (erased meanwhile). Unguarded,
/// unlike the other replacements: a snapshot is written once, when its merge is, and never
/// changed, so there is no newer value to lose.
pub async fn replace_merge_snapshot(
    s: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
    id: Uuid,
    survivor_before: &StoredMember,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE member_merges SET survivor_before = $4 WHERE tenant_id = $1 AND survivor_id = $2 AND id = $3")
        .bind(tenant.0).bind(survivor.0).bind(id).bind(Json(survivor_before))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}
