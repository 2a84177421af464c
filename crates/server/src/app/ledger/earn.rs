//! Earning: points credited as a new lot, pending for the policy's return window.

use super::{Posting, already_posted, entry};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::{LotId, MemberId};
use huiyuan_domain::ledger::{Draw, LedgerAccount};
use huiyuan_store::ledger::{self, BalanceChange, Entry, StoredLot, StoredPolicy};
use time::Duration;

/// Credits `points` to the member as a new lot, pending until the policy's return window ends;
/// `counter` is the account they come from (a format's issuance, `adjustment`, …).
#[allow(clippy::too_many_arguments)] // each is a distinct fact of the posting
pub async fn earn(
    m: &mut Mutation,
    member: MemberId,
    points: i64,
    tier_points: i64,
    kind: &str,
    counter: LedgerAccount,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    let policy = super::policy::load(&mut m.session, m.tenant, m.now).await?;
    ledger::ensure_balance(&mut m.session, m.tenant, member, m.now).await?;
    let available = if policy.pending_days > 0 {
        0
    } else {
        ledger::balance(&mut m.session, m.tenant, member)
            .await?
            .available
    };
    earn_new(
        m,
        member,
        points,
        tier_points,
        kind,
        counter,
        posting,
        tz,
        &policy,
        available,
    )
    .await
}

/// [`earn`] for a posting known to be new (its natural key belongs to a record created in this
/// transaction), with the tenant's `policy` and the member's `available` balance already at hand
/// (read under the balance row's lock, e.g. [`ledger::lock_active_balance`]). A twin posting under
/// the same natural key still fails the insert and rolls the change back.
#[allow(clippy::too_many_arguments)] // each is a distinct fact of the posting
pub async fn earn_new(
    m: &mut Mutation,
    member: MemberId,
    points: i64,
    tier_points: i64,
    kind: &str,
    counter: LedgerAccount,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
    policy: &StoredPolicy,
    available: i64,
) -> ApiResult<Entry> {
    if points <= 0 {
        return Err(ApiError::invalid_field(
            "points",
            "out_of_range",
            "must be positive",
        ));
    }
    let available_at = m.now + Duration::days(policy.pending_days);
    let pending = available_at > m.now;
    let lot_id = LotId::new();
    let credit = if pending {
        LedgerAccount::MemberPending
    } else {
        LedgerAccount::MemberAvailable
    };
    let posted = entry(
        member,
        kind,
        points,
        counter,
        credit,
        posting,
        vec![Draw { lot_id, points }],
        m.now,
    );
    // The natural key is new (see above): queued, a twin fails the commit instead.
    ledger::defer_entry(&mut m.session, m.tenant, &posted)?;
    // Points owed from an overdraft are repaid from the new lot first.
    let owed = if pending {
        0
    } else {
        (-available).max(0).min(points)
    };
    let lot = StoredLot {
        id: lot_id,
        member_id: member,
        entry_id: posted.id,
        format_id: posting.format_id,
        earned_at: m.now,
        available_at,
        expires_at: policy.expiry.expires_at(m.now, tz),
        pending,
        original: points,
        remaining: points - owed,
    };
    ledger::defer_lot(&mut m.session, m.tenant, &lot);
    let change = if pending {
        BalanceChange {
            pending: points,
            tier_points,
            earned: points,
            ..BalanceChange::default()
        }
    } else {
        BalanceChange {
            available: points,
            tier_points,
            earned: points,
            ..BalanceChange::default()
        }
    };
    // The row exists: created (and on PostgreSQL locked) before the balance was read.
    ledger::defer_add_to_balance(&mut m.session, m.tenant, member, change, m.now);
    Ok(posted)
}
