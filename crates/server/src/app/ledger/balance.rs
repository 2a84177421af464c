//! A member's points as the member and staff see them: balances, what expires in the next 30
//! days, and what the available points are worth at the tenant's points value.

use crate::app::access::visible_member;
use crate::app::error::ApiResult;
use crate::app::ledger::policy;
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::points_value_fen;
use huiyuan_store::ledger::{self, Balance};
use huiyuan_store::{Session, utc_now};
use time::{Duration, OffsetDateTime};

/// How far ahead "expiring" looks.
pub const EXPIRING_WITHIN: Duration = Duration::days(30);

/// A member's points now.
pub struct MemberPoints {
    /// The member the id resolved to (past a merge).
    pub member_id: MemberId,
    pub balance: Balance,
    /// What the available points are worth, in fen, rounded down.
    pub value_fen: i64,
    /// Points expiring within [`EXPIRING_WITHIN`], by expiry instant, soonest first.
    pub expiring: Vec<(OffsetDateTime, i64)>,
}

/// The points of the member `id`, within the caller's scope.
pub async fn member_points(
    session: &mut Session,
    caller: &Principal,
    id: MemberId,
) -> ApiResult<MemberPoints> {
    let (member, _) = visible_member(session, caller, id, Access::Read).await?;
    let now = utc_now();
    let balance = ledger::balance(session, caller.tenant_id, member.id).await?;
    let expiring = ledger::expiring(
        session,
        caller.tenant_id,
        member.id,
        now,
        now + EXPIRING_WITHIN,
    )
    .await?;
    let policy = policy::load(session, caller.tenant_id, now).await?;
    Ok(MemberPoints {
        member_id: member.id,
        value_fen: points_value_fen(balance.available, policy.fen_per_100_points),
        balance,
        expiring,
    })
}
