//! Tier storage: each tenant's ladder, every member's [`TierState`] and the history of its
//! [`TierChange`]s, and the qualifying totals the tier decisions are made on.
//!
//! A member's state changes only through [`update_state`], guarded by the version the writer read:
//! when two writers (two nodes running the evaluation job, an order and an override) decide on
//! the same state, exactly one update happens and the other writer sees `false`, rolls back and
//! decides again on what is now stored. The history is append-only.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::push_page;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::tiers::{ChangeReason, Override, TierChange, TierLadder, TierState};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Ledger entry kinds whose points also count as tier points (成长值): earning on orders — the
/// same points `ledger::earn` adds to the balance's tier points. Event rewards, manual adjustments
/// (`adjust`), donations and releases do not qualify.
pub const QUALIFYING_KINDS: &[&str] = &["earn"];
/// The entry kind that takes qualifying points back (a refund's claw-back).
pub const CLAWBACK_KIND: &str = "clawback";

// ---- ladder ----

/// A tenant's ladder as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLadder {
    pub ladder: TierLadder,
    pub updated_at: OffsetDateTime,
}

pub async fn ladder(s: &mut Session, tenant: TenantId) -> StoreResult<Option<StoredLadder>> {
    let row: Option<(Json<TierLadder>, OffsetDateTime)> = on_backend!(s, c => sqlx::query_as(
        "SELECT ladder, updated_at FROM tier_ladders WHERE tenant_id = $1")
        .bind(tenant.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(ladder, updated_at)| StoredLadder {
        ladder: ladder.0,
        updated_at,
    }))
}

/// Creates or replaces the tenant's ladder.
pub async fn put_ladder(
    s: &mut Session,
    tenant: TenantId,
    ladder: &TierLadder,
    now: OffsetDateTime,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO tier_ladders (tenant_id, ladder, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET ladder = $2, updated_at = $3")
        .bind(tenant.0).bind(Json(ladder)).bind(Ts(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

// ---- member states ----

/// A member's stored tier state and the version guarding its next update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTier {
    pub member_id: MemberId,
    pub state: TierState,
    pub version: i64,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct TierRow {
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    level_code: String,
    since: OffsetDateTime,
    next_evaluation_at: Option<OffsetDateTime>,
    override_level_code: Option<String>,
    override_expires_at: Option<OffsetDateTime>,
    override_reason: Option<String>,
    version: i64,
    updated_at: OffsetDateTime,
}

fn override_of(
    level_code: Option<String>,
    expires_at: Option<OffsetDateTime>,
    reason: Option<String>,
) -> Option<Override> {
    match (level_code, expires_at) {
        (Some(level_code), Some(expires_at)) => Some(Override {
            level_code,
            expires_at,
            reason: reason.unwrap_or_default(),
        }),
        _ => None,
    }
}

impl From<TierRow> for StoredTier {
    fn from(row: TierRow) -> Self {
        StoredTier {
            member_id: row.member_id,
            state: TierState {
                level_code: row.level_code,
                since: row.since,
                next_evaluation_at: row.next_evaluation_at,
                r#override: override_of(
                    row.override_level_code,
                    row.override_expires_at,
                    row.override_reason,
                ),
            },
            version: row.version,
            updated_at: row.updated_at,
        }
    }
}

const TIER_COLUMNS: &str = "member_id, level_code, since, next_evaluation_at, override_level_code, \
     override_expires_at, override_reason, version, updated_at";

/// The member's stored state; `None` for a member never placed (on the lowest level).
pub async fn state(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Option<StoredTier>> {
    let sql =
        format!("SELECT {TIER_COLUMNS} FROM member_tiers WHERE tenant_id = $1 AND member_id = $2");
    let row: Option<TierRow> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(member.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(StoredTier::from))
}

/// Places a member with `state` at version 1 unless a state is already stored; `true` when this
/// call created it.
pub async fn insert_state(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    state: &TierState,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let manual = state.r#override.as_ref();
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO member_tiers (tenant_id, member_id, level_code, since, next_evaluation_at, override_level_code, \
         override_expires_at, override_reason, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) \
         ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(member.0).bind(&state.level_code).bind(Ts(state.since))
        .bind(state.next_evaluation_at.map(Ts)).bind(manual.map(|o| o.level_code.as_str()))
        .bind(manual.map(|o| Ts(o.expires_at))).bind(manual.map(|o| o.reason.as_str())).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Replaces the member's state if it is still at `expected_version`, and moves the version on;
/// `false` when another writer changed it first (nothing is written then).
pub async fn update_state(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    expected_version: i64,
    state: &TierState,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let manual = state.r#override.as_ref();
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE member_tiers SET level_code = $4, since = $5, next_evaluation_at = $6, override_level_code = $7, \
         override_expires_at = $8, override_reason = $9, version = version + 1, updated_at = $10 \
         WHERE tenant_id = $1 AND member_id = $2 AND version = $3")
        .bind(tenant.0).bind(member.0).bind(expected_version).bind(&state.level_code).bind(Ts(state.since))
        .bind(state.next_evaluation_at.map(Ts)).bind(manual.map(|o| o.level_code.as_str()))
        .bind(manual.map(|o| Ts(o.expires_at))).bind(manual.map(|o| o.reason.as_str())).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Members whose evaluation is due by `now` or whose override has expired by `now`, at most
/// `limit`, earliest first (both indexed range scans).
pub async fn due_members(
    s: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let mut due: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT member_id FROM member_tiers WHERE tenant_id = $1 AND next_evaluation_at <= $2 \
         ORDER BY next_evaluation_at, member_id LIMIT $3")
        .bind(tenant.0).bind(Ts(now)).bind(limit).fetch_all(&mut *c).await)?;
    let expired: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT member_id FROM member_tiers WHERE tenant_id = $1 AND override_expires_at <= $2 \
         ORDER BY override_expires_at, member_id LIMIT $3")
        .bind(tenant.0).bind(Ts(now)).bind(limit).fetch_all(&mut *c).await)?;
    for member in expired {
        if !due.contains(&member) {
            due.push(member);
        }
    }
    due.truncate(usize::try_from(limit.max(0)).unwrap_or(0));
    Ok(due.into_iter().map(MemberId).collect())
}

// ---- history ----

/// One entry of a member's tier history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChange {
    pub id: Uuid,
    pub member_id: MemberId,
    pub change: TierChange,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    from_level: String,
    to_level: String,
    reason: String,
    qualifying_total: Option<i64>,
    next_evaluation_at: Option<OffsetDateTime>,
    override_level_code: Option<String>,
    override_expires_at: Option<OffsetDateTime>,
    override_reason: Option<String>,
    at: OffsetDateTime,
    created_at: OffsetDateTime,
}

impl TryFrom<ChangeRow> for StoredChange {
    type Error = crate::error::StoreError;

    fn try_from(row: ChangeRow) -> Result<Self, Self::Error> {
        let reason = ChangeReason::parse("reason", &row.reason)
            .map_err(|_| crate::error::StoreError::Corrupt("tier_changes.reason"))?;
        Ok(StoredChange {
            id: row.id,
            member_id: row.member_id,
            change: TierChange {
                from: row.from_level,
                to: row.to_level,
                reason,
                at: row.at,
                qualifying_total: row.qualifying_total,
                next_evaluation_at: row.next_evaluation_at,
                r#override: override_of(
                    row.override_level_code,
                    row.override_expires_at,
                    row.override_reason,
                ),
            },
            created_at: row.created_at,
        })
    }
}

const CHANGE_COLUMNS: &str = "id, member_id, from_level, to_level, reason, qualifying_total, \
     next_evaluation_at, override_level_code, override_expires_at, override_reason, at, created_at";

/// Appends a history entry.
pub async fn insert_change(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
    change: &TierChange,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let manual = change.r#override.as_ref();
    on_backend!(s, c => sqlx::query(
        "INSERT INTO tier_changes (tenant_id, member_id, id, from_level, to_level, reason, qualifying_total, \
         next_evaluation_at, override_level_code, override_expires_at, override_reason, at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(tenant.0).bind(member.0).bind(id).bind(&change.from).bind(&change.to).bind(change.reason.as_str())
        .bind(change.qualifying_total).bind(change.next_evaluation_at.map(Ts))
        .bind(manual.map(|o| o.level_code.as_str())).bind(manual.map(|o| Ts(o.expires_at)))
        .bind(manual.map(|o| o.reason.as_str())).bind(Ts(change.at)).bind(Ts(now))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A member's history, oldest first, a page at a time.
pub async fn list_changes(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    page: PageRequest,
) -> StoreResult<Page<StoredChange>> {
    let rows: Vec<ChangeRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(format!("SELECT {CHANGE_COLUMNS} FROM tier_changes WHERE tenant_id = "));
        query.push_bind(tenant.0).push(" AND member_id = ").push_bind(member.0);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    let rows = rows
        .into_iter()
        .map(StoredChange::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

/// A member's latest `limit` history entries, newest first.
pub async fn recent_changes(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    limit: i64,
) -> StoreResult<Vec<StoredChange>> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM tier_changes WHERE tenant_id = $1 AND member_id = $2 ORDER BY id DESC LIMIT $3"
    );
    let rows: Vec<ChangeRow> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(tenant.0).bind(member.0).bind(limit).fetch_all(&mut *c).await)?;
    rows.into_iter().map(StoredChange::try_from).collect()
}

// ---- qualifying totals ----

/// `member` and every member merged into it, directly or through a chain of merges: points
/// entries stay with the member that earned them (the journal only grows), so tier totals sum
/// over the whole family; undoing a merge takes the alias, and its tier points, out again.
pub async fn alias_family(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Vec<MemberId>> {
    let mut family = vec![member];
    let mut generation = vec![member];
    // Bounded: each round follows one link of a chain, and chains are short.
    for _ in 0..MAX_ALIAS_DEPTH {
        let next: Vec<Uuid> = on_backend!(s, c => {
            let mut query = QueryBuilder::new("SELECT id FROM members WHERE tenant_id = ");
            query.push_bind(tenant.0).push(" AND merged_into IN (");
            let mut ids = query.separated(", ");
            for id in &generation {
                ids.push_bind(id.0);
            }
            query.push(") AND status = 'merged'");
            query.build_query_scalar().fetch_all(&mut *c).await
        })?;
        if next.is_empty() {
            break;
        }
        let next: Vec<MemberId> = next.into_iter().map(MemberId).collect();
        family.extend(&next);
        generation = next;
    }
    Ok(family)
}

/// Most links of a merge chain followed when summing a family's tier points.
const MAX_ALIAS_DEPTH: usize = 16;

/// Tier points the member earned in `[from, until)`: qualifying credits to the member's accounts
/// ([`QUALIFYING_KINDS`]) less claw-backs. Spending, expiring or adjusting redeemable points
/// does not enter the sum, so they never cost a tier.
pub async fn tier_points_between(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<i64> {
    let family = alias_family(s, tenant, member).await?;
    let total: i64 = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account LIKE 'member.%' AND kind IN (");
        let mut kinds = query.separated(", ");
        for kind in QUALIFYING_KINDS {
            kinds.push_bind(*kind);
        }
        query.push(") THEN amount WHEN debit_account LIKE 'member.%' AND kind = ").push_bind(CLAWBACK_KIND);
        query.push(" THEN -amount ELSE 0 END), 0) AS BIGINT) FROM points_entries WHERE tenant_id = ").push_bind(tenant.0);
        query.push(" AND member_id IN (");
        let mut ids = query.separated(", ");
        for id in &family {
            ids.push_bind(id.0);
        }
        query.push(") AND created_at >= ").push_bind(Ts(from)).push(" AND created_at < ").push_bind(Ts(until));
        query.build_query_scalar().fetch_one(&mut *c).await
    })?;
    Ok(total)
}

/// Net spend in fen of the member's orders that occurred in `[from, until)`: what was paid in
/// money (the order total less the parts paid by points and coupons) less refunds, never below
/// zero per order. Orders count by when they occurred, so a late offline batch lands in its period.
pub async fn spend_fen_between(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<i64> {
    let total: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(CASE WHEN total_fen - paid_by_points_fen - paid_by_coupons_fen - refunded_fen > 0 \
         THEN total_fen - paid_by_points_fen - paid_by_coupons_fen - refunded_fen ELSE 0 END), 0) AS BIGINT) \
         FROM orders WHERE tenant_id = $1 AND member_id = $2 AND occurred_at >= $3 AND occurred_at < $4")
        .bind(tenant.0).bind(member.0).bind(Ts(from)).bind(Ts(until)).fetch_one(&mut *c).await)?;
    Ok(total)
}
