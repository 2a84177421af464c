//! The points ledger's storage. Balances change only through the guarded updates here, in the
//! same transaction as the journal entry that explains them: a debit states the floor it may not
//! cross and simply does not happen when the balance is too low — there is no read-then-write.
//! On PostgreSQL the guarded row update also serialises concurrent spends of one member.

use crate::backend::Session;
use crate::deferred::{Change, Value, Write};
use crate::error::StoreResult;
use crate::on_backend;
use crate::scope_sql::push_page;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{LotId, MemberId, TenantId};
use huiyuan_domain::ledger::{Draw, Lot};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use std::sync::LazyLock;
use time::OffsetDateTime;
use uuid::Uuid;

/// The member's own accounts, as named in entries (the member is the entry's `member_id`): the
/// names `huiyuan_domain::ledger::LedgerAccount` writes, kept here as text for the SQL that
/// sums them (a test below holds the two together).
pub const MEMBER_AVAILABLE: &str = "member.available";
pub const MEMBER_PENDING: &str = "member.pending";

/// A journal entry: `amount` moves from `debit_account` to `credit_account`. Every entry balances
/// by construction, so the books over all accounts always sum to zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: Uuid,
    pub member_id: MemberId,
    /// `earn`, `spend`, `expire`, `clawback`, `adjust`, `release`, `donate` …
    pub kind: String,
    pub amount: i64,
    pub debit_account: String,
    pub credit_account: String,
    pub format_id: Option<Uuid>,
    /// What caused it: an order id, a reward redemption, an event.
    pub reference: Option<String>,
    pub reason: String,
    /// Lots drawn from (spend, expiry, claw-back) or created (earn).
    pub draws: Vec<Draw>,
    /// Unique per tenant when set: the same business event never posts twice.
    pub natural_key: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    kind: String,
    amount: i64,
    debit_account: String,
    credit_account: String,
    format_id: Option<Uuid>,
    reference: Option<String>,
    reason: String,
    draws: Json<Vec<Draw>>,
    natural_key: Option<String>,
    created_at: OffsetDateTime,
}

impl From<EntryRow> for Entry {
    fn from(row: EntryRow) -> Self {
        Entry {
            id: row.id,
            member_id: row.member_id,
            kind: row.kind,
            amount: row.amount,
            debit_account: row.debit_account,
            credit_account: row.credit_account,
            format_id: row.format_id,
            reference: row.reference,
            reason: row.reason,
            draws: row.draws.0,
            natural_key: row.natural_key,
            created_at: row.created_at,
        }
    }
}

/// Appends an entry; `false` when its natural key was already posted (a retry).
pub async fn insert_entry(s: &mut Session, tenant: TenantId, entry: &Entry) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO points_entries (tenant_id, member_id, id, kind, amount, debit_account, credit_account, format_id, \
         reference, reason, draws, natural_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(entry.member_id.0).bind(entry.id).bind(&entry.kind).bind(entry.amount)
        .bind(&entry.debit_account).bind(&entry.credit_account).bind(entry.format_id).bind(&entry.reference)
        .bind(&entry.reason).bind(Json(&entry.draws)).bind(&entry.natural_key).bind(Ts(entry.created_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Queues an entry whose natural key (if any) is known to be new, with the session's deferred
/// writes (see [`crate::deferred`]): a twin still fails the transaction, at the flush, with a
/// unique-constraint conflict.
pub fn defer_entry(s: &mut Session, tenant: TenantId, entry: &Entry) -> StoreResult<()> {
    s.defer(Write::insert(
        "points_entries",
        &[
            "tenant_id",
            "member_id",
            "id",
            "kind",
            "amount",
            "debit_account",
            "credit_account",
            "format_id",
            "reference",
            "reason",
            "draws",
            "natural_key",
            "created_at",
        ],
        [[
            tenant.0.into(),
            entry.member_id.into(),
            entry.id.into(),
            entry.kind.as_str().into(),
            entry.amount.into(),
            entry.debit_account.as_str().into(),
            entry.credit_account.as_str().into(),
            entry.format_id.into(),
            entry.reference.as_deref().into(),
            entry.reason.as_str().into(),
            Value::json(&entry.draws)?,
            entry.natural_key.as_deref().into(),
            entry.created_at.into(),
        ]],
    ));
    Ok(())
}

/// The entry posted under a natural key, if any.
pub async fn entry_by_natural_key(
    s: &mut Session,
    tenant: TenantId,
    key: &str,
) -> StoreResult<Option<Entry>> {
    let row: Option<EntryRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, member_id, kind, amount, debit_account, credit_account, format_id, reference, reason, draws, \
         natural_key, created_at FROM points_entries WHERE tenant_id = $1 AND natural_key = $2")
        .bind(tenant.0).bind(key).fetch_optional(&mut *c).await)?;
    Ok(row.map(Entry::from))
}

/// A member's entries, oldest first.
pub async fn list_entries(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    page: PageRequest,
) -> StoreResult<Page<Entry>> {
    let rows: Vec<EntryRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT id, member_id, kind, amount, debit_account, credit_account, format_id, reference, reason, draws, \
             natural_key, created_at FROM points_entries WHERE tenant_id = ");
        query.push_bind(tenant.0).push(" AND member_id = ").push_bind(member.0);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(Page::from_rows(rows, page, |row| row.id).map(Entry::from))
}

/// A member's balances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Balance {
    pub available: i64,
    pub pending: i64,
    pub tier_points: i64,
    pub lifetime_earned: i64,
}

pub async fn balance(s: &mut Session, tenant: TenantId, member: MemberId) -> StoreResult<Balance> {
    let row: Option<Balance> = on_backend!(s, c => sqlx::query_as(
        "SELECT available, pending, tier_points, lifetime_earned FROM points_balances WHERE tenant_id = $1 AND member_id = $2")
        .bind(tenant.0).bind(member.0).fetch_optional(&mut *c).await)?;
    Ok(row.unwrap_or_default())
}

/// Creates the member's balance row at zero if missing.
pub async fn ensure_balance(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO points_balances (tenant_id, member_id, available, pending, tier_points, lifetime_earned, updated_at) \
         VALUES ($1, $2, 0, 0, 0, 0, $3) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(member.0).bind(Ts(now)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Adds to the balances (any field may be zero or negative for reversals of pending or tier
/// points); `earned` also counts toward lifetime earnings.
pub async fn credit(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    change: BalanceChange,
    now: OffsetDateTime,
) -> StoreResult<()> {
    ensure_balance(s, tenant, member, now).await?;
    add_to_balance(s, tenant, member, change, now).await
}

/// [`credit`] for a member whose balance row exists (locked by [`lock_active_balance`] earlier in
/// the same transaction).
pub async fn add_to_balance(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    change: BalanceChange,
    now: OffsetDateTime,
) -> StoreResult<()> {
    defer_add_to_balance(s, tenant, member, change, now);
    s.flush_deferred().await?;
    Ok(())
}

/// [`add_to_balance`] queued with the session's deferred writes (see [`crate::deferred`]): an
/// unguarded increment whose outcome nobody reads.
pub fn defer_add_to_balance(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    change: BalanceChange,
    now: OffsetDateTime,
) {
    s.defer(Write::update(
        "points_balances",
        [("tenant_id", tenant.0.into()), ("member_id", member.into())],
        [
            ("available", Change::Add(change.available)),
            ("pending", Change::Add(change.pending)),
            ("tier_points", Change::Add(change.tier_points)),
            ("lifetime_earned", Change::Add(change.earned)),
            ("updated_at", Change::Set(now.into())),
        ],
    ));
}

/// [`lock_active_balance`]'s statement without its `RETURNING`, its three placeholders (tenant,
/// member, now) numbered from `$first`: [`crate::order_intake`] sends it after the order's insert,
/// whose values come first.
pub(crate) fn lock_active_balance_sql(first: usize) -> String {
    let (tenant, member, now) = (first, first + 1, first + 2);
    format!(
        "INSERT INTO points_balances (tenant_id, member_id, available, pending, tier_points, lifetime_earned, \
         updated_at) SELECT ${tenant}, ${member}, 0, 0, 0, 0, ${now} WHERE EXISTS \
         (SELECT 1 FROM members WHERE tenant_id = ${tenant} AND id = ${member} AND status = 'active') \
         ON CONFLICT (tenant_id, member_id) DO UPDATE SET updated_at = excluded.updated_at"
    )
}

/// [`lock_active_balance`]'s statement, built once (the text is also sqlx's statement-cache key).
static LOCK_ACTIVE_BALANCE: LazyLock<String> =
    LazyLock::new(|| format!("{} RETURNING available", lock_active_balance_sql(1)));

/// Takes the member's balance row for this transaction (created at zero when missing; on
/// PostgreSQL the row stays locked until commit), but only while the member is active. Answers
/// the available balance, or `None` when the member is not (or no longer) active — one statement
/// that both serialises a member's postings and re-checks, inside the transaction, a status read
/// before it.
pub async fn lock_active_balance(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    now: OffsetDateTime,
) -> StoreResult<Option<i64>> {
    let available: Option<i64> = on_backend!(s, c => sqlx::query_scalar(
        LOCK_ACTIVE_BALANCE.as_str())
        .bind(tenant.0).bind(member.0).bind(Ts(now)).fetch_optional(&mut *c).await)?;
    Ok(available)
}

/// Deltas for [`credit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BalanceChange {
    pub available: i64,
    pub pending: i64,
    pub tier_points: i64,
    pub earned: i64,
}

/// Takes `amount` from the available balance unless that would leave it below `floor` (0 for
/// spends; minus the tenant's overdraft allowance for claw-backs). `false` when refused.
pub async fn debit_available(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    amount: i64,
    floor: i64,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_balances SET available = available - $3, updated_at = $5 \
         WHERE tenant_id = $1 AND member_id = $2 AND available - $3 >= $4")
        .bind(tenant.0).bind(member.0).bind(amount).bind(floor).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Moves due pending points to available for one member (guarded: never below zero).
pub async fn release_pending(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    amount: i64,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_balances SET pending = pending - $3, available = available + $3, updated_at = $4 \
         WHERE tenant_id = $1 AND member_id = $2 AND pending >= $3")
        .bind(tenant.0).bind(member.0).bind(amount).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

// ---- lots ----

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredLot {
    #[sqlx(try_from = "Uuid")]
    pub id: LotId,
    #[sqlx(try_from = "Uuid")]
    pub member_id: MemberId,
    pub entry_id: Uuid,
    pub format_id: Option<Uuid>,
    pub earned_at: OffsetDateTime,
    pub available_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    /// Counted in the pending balance until released.
    pub pending: bool,
    pub original: i64,
    pub remaining: i64,
}

impl StoredLot {
    /// The lot for spend planning; a pending lot is never usable, whatever its date says, until
    /// its release has moved its points to the available balance.
    pub fn as_lot(&self) -> Lot {
        let available_at = if self.pending {
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)
        } else {
            self.available_at
        };
        Lot {
            id: self.id,
            remaining: self.remaining,
            available_at,
            expires_at: self.expires_at,
        }
    }
}

pub async fn insert_lot(s: &mut Session, tenant: TenantId, lot: &StoredLot) -> StoreResult<()> {
    defer_lot(s, tenant, lot);
    s.flush_deferred().await?;
    Ok(())
}

/// [`insert_lot`] queued with the session's deferred writes (see [`crate::deferred`]).
pub fn defer_lot(s: &mut Session, tenant: TenantId, lot: &StoredLot) {
    s.defer(Write::insert(
        "points_lots",
        &[
            "tenant_id",
            "member_id",
            "id",
            "entry_id",
            "format_id",
            "earned_at",
            "available_at",
            "expires_at",
            "pending",
            "original",
            "remaining",
        ],
        [[
            tenant.0.into(),
            lot.member_id.into(),
            lot.id.into(),
            lot.entry_id.into(),
            lot.format_id.into(),
            lot.earned_at.into(),
            lot.available_at.into(),
            lot.expires_at.into(),
            lot.pending.into(),
            lot.original.into(),
            lot.remaining.into(),
        ]],
    ));
}

/// A member's lots that still hold points (a member has at most a few hundred).
pub async fn open_lots(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Vec<StoredLot>> {
    let rows: Vec<StoredLot> = on_backend!(s, c => sqlx::query_as(
        "SELECT id, member_id, entry_id, format_id, earned_at, available_at, expires_at, pending, original, remaining \
         FROM points_lots WHERE tenant_id = $1 AND member_id = $2 AND remaining > 0 ORDER BY id")
        .bind(tenant.0).bind(member.0).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Takes `points` from a lot unless it holds fewer; `false` when refused.
pub async fn draw_lot(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    lot: LotId,
    points: i64,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_lots SET remaining = remaining - $4 WHERE tenant_id = $1 AND member_id = $2 AND id = $3 AND remaining >= $4")
        .bind(tenant.0).bind(member.0).bind(lot.0).bind(points).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Puts points back into a lot (reversal of a spend), never above what it was created with.
pub async fn restore_lot(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    lot: LotId,
    points: i64,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_lots SET remaining = remaining + $4 WHERE tenant_id = $1 AND member_id = $2 AND id = $3 \
         AND remaining + $4 <= original")
        .bind(tenant.0).bind(member.0).bind(lot.0).bind(points).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Marks a pending lot released (its points now count as available); `false` if it was not pending.
pub async fn mark_released(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    lot: LotId,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_lots SET pending = FALSE WHERE tenant_id = $1 AND member_id = $2 AND id = $3 AND pending = TRUE")
        .bind(tenant.0).bind(member.0).bind(lot.0).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Takes points off the pending balance (a pending lot expiring or clawed back); guarded.
pub async fn debit_pending(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    amount: i64,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE points_balances SET pending = pending - $3, updated_at = $4 WHERE tenant_id = $1 AND member_id = $2 AND pending >= $3")
        .bind(tenant.0).bind(member.0).bind(amount).bind(Ts(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Members with pending lots due for release by `now`, at most `limit`.
pub async fn members_with_due_pending(
    s: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let rows: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT DISTINCT member_id FROM points_lots WHERE tenant_id = $1 AND pending = TRUE AND available_at <= $2 LIMIT $3")
        .bind(tenant.0).bind(Ts(now)).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(MemberId).collect())
}

/// Points in usable lots expiring in `[from, until)`, grouped by expiry instant.
pub async fn expiring(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<(OffsetDateTime, i64)>> {
    let rows: Vec<(OffsetDateTime, i64)> = on_backend!(s, c => sqlx::query_as(
        "SELECT expires_at, CAST(SUM(remaining) AS BIGINT) FROM points_lots WHERE tenant_id = $1 AND member_id = $2 \
         AND remaining > 0 AND pending = FALSE AND expires_at >= $3 AND expires_at < $4 GROUP BY expires_at ORDER BY expires_at")
        .bind(tenant.0).bind(member.0).bind(Ts(from)).bind(Ts(until)).fetch_all(&mut *c).await)?;
    Ok(rows)
}

/// Members with lots that expired by `now` and still hold points, at most `limit` (the expiry
/// job's work list; the index on `(tenant_id, expires_at)` keeps it a range scan).
pub async fn members_with_expired_lots(
    s: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let rows: Vec<Uuid> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT DISTINCT member_id FROM points_lots WHERE tenant_id = $1 AND expires_at <= $2 AND remaining > 0 LIMIT $3")
        .bind(tenant.0).bind(Ts(now)).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(MemberId).collect())
}

// ---- verification ----

/// A member whose stored balance differs from the sum of their entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    pub member_id: MemberId,
    pub account: &'static str,
    pub stored: i64,
    pub from_entries: i64,
}

/// Members of the tenant, after `after`, at most `limit`: the unit of a verification batch.
pub async fn balance_members(
    s: &mut Session,
    tenant: TenantId,
    after: Option<MemberId>,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let rows: Vec<Uuid> = on_backend!(s, c => {
        let mut query = QueryBuilder::new("SELECT member_id FROM points_balances WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if let Some(after) = after {
            query.push(" AND member_id > ").push_bind(after.0);
        }
        query.push(" ORDER BY member_id LIMIT ").push_bind(limit);
        query.build_query_scalar().fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().map(MemberId).collect())
}

/// Checks one member: stored available and pending equal the sums of their entries.
pub async fn verify_member(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
) -> StoreResult<Vec<Discrepancy>> {
    let stored = balance(s, tenant, member).await?;
    let mut found = Vec::new();
    for (account, stored_value) in [
        (MEMBER_AVAILABLE, stored.available),
        (MEMBER_PENDING, stored.pending),
    ] {
        let sum: i64 = on_backend!(s, c => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account = $3 THEN amount ELSE 0 END), 0) - \
             COALESCE(SUM(CASE WHEN debit_account = $3 THEN amount ELSE 0 END), 0) AS BIGINT) \
             FROM points_entries WHERE tenant_id = $1 AND member_id = $2")
            .bind(tenant.0).bind(member.0).bind(account).fetch_one(&mut *c).await)?;
        if sum != stored_value {
            found.push(Discrepancy {
                member_id: member,
                account,
                stored: stored_value,
                from_entries: sum,
            });
        }
    }
    // The lots hold what the balances say: released lots the available balance (unless it is
    // overdrawn), pending lots the pending balance.
    let (released, pending): (i64, i64) = on_backend!(s, c => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN pending = FALSE THEN remaining ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN pending = TRUE THEN remaining ELSE 0 END), 0) AS BIGINT) \
         FROM points_lots WHERE tenant_id = $1 AND member_id = $2")
        .bind(tenant.0).bind(member.0).fetch_one(&mut *c).await)?;
    if released != stored.available.max(0) {
        found.push(Discrepancy {
            member_id: member,
            account: "lots.available",
            stored: stored.available,
            from_entries: released,
        });
    }
    if pending != stored.pending {
        found.push(Discrepancy {
            member_id: member,
            account: "lots.pending",
            stored: stored.pending,
            from_entries: pending,
        });
    }
    Ok(found)
}

// ---- policy ----

/// A tenant's points policy as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPolicy {
    pub expiry: huiyuan_domain::ledger::ExpiryPolicy,
    pub pending_days: i64,
    pub fen_per_100_points: i64,
    pub overdraft_limit: i64,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    expiry: Json<huiyuan_domain::ledger::ExpiryPolicy>,
    pending_days: i64,
    fen_per_100_points: i64,
    overdraft_limit: i64,
    updated_at: OffsetDateTime,
}

pub async fn policy(s: &mut Session, tenant: TenantId) -> StoreResult<Option<StoredPolicy>> {
    let row: Option<PolicyRow> = on_backend!(s, c => sqlx::query_as(
        "SELECT expiry, pending_days, fen_per_100_points, overdraft_limit, updated_at FROM points_policies WHERE tenant_id = $1")
        .bind(tenant.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(|row| StoredPolicy {
        expiry: row.expiry.0,
        pending_days: row.pending_days,
        fen_per_100_points: row.fen_per_100_points,
        overdraft_limit: row.overdraft_limit,
        updated_at: row.updated_at,
    }))
}

pub async fn put_policy(
    s: &mut Session,
    tenant: TenantId,
    policy: &StoredPolicy,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO points_policies (tenant_id, expiry, pending_days, fen_per_100_points, overdraft_limit, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET expiry = $2, pending_days = $3, \
         fen_per_100_points = $4, overdraft_limit = $5, updated_at = $6")
        .bind(tenant.0).bind(Json(&policy.expiry)).bind(policy.pending_days).bind(policy.fen_per_100_points)
        .bind(policy.overdraft_limit).bind(Ts(policy.updated_at)).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Moves lots between members (a member merge and its undoing); answers how many moved.
pub async fn move_lots(
    s: &mut Session,
    tenant: TenantId,
    from: MemberId,
    to: MemberId,
    ids: &[LotId],
) -> StoreResult<u64> {
    let mut moved = 0;
    for id in ids {
        moved += on_backend!(s, c => sqlx::query(
            "UPDATE points_lots SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2 AND id = $4")
            .bind(tenant.0).bind(from.0).bind(to.0).bind(id.0).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(moved)
}

/// The tenant's lots with these ids, whichever member holds them now (a spend's draws name lots
/// that may since have moved with a merge): for attributing spent points to the formats that
/// issued them and for putting reversed points back with their expiry.
pub async fn lots_by_ids(
    s: &mut Session,
    tenant: TenantId,
    ids: &[LotId],
) -> StoreResult<Vec<StoredLot>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<StoredLot> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(
            "SELECT id, member_id, entry_id, format_id, earned_at, available_at, expires_at, pending, original, remaining \
             FROM points_lots WHERE tenant_id = ");
        query.push_bind(tenant.0).push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id.0);
        }
        query.push(") ORDER BY id");
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::{MEMBER_AVAILABLE, MEMBER_PENDING};
    use huiyuan_domain::ledger::LedgerAccount;

    #[test]
    fn the_member_account_names_are_the_ledger_accounts() {
        assert_eq!(MEMBER_AVAILABLE, LedgerAccount::MemberAvailable.to_string());
        assert_eq!(MEMBER_PENDING, LedgerAccount::MemberPending.to_string());
    }
}
