//! What a caller may read and change: records and members filtered by the caller's data scope.
//! A record outside the scope answers the same 404 as one that does not exist, so scopes do not
//! leak what lies outside them; a change outside it is a 403.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::identity::view::{placement, resolve};
use huiyuan_domain::auth::{Access, Denied, Placement, Principal, RecordClass};
use huiyuan_domain::ids::MemberId;
use huiyuan_store::Session;
use huiyuan_store::members::{self, merges};

/// How often a change re-reads a member that a concurrent merge moved before giving up.
const MERGE_RETRIES: usize = 4;

/// The record when the caller may read it; otherwise the same 404 as for a record that does not
/// exist.
pub fn visible<T>(
    caller: &Principal,
    record: Option<T>,
    class: RecordClass,
    placement: impl Fn(&T) -> Placement,
    what: &str,
) -> ApiResult<T> {
    record
        .filter(|record| caller.permits(Access::Read, class, &placement(record)))
        .ok_or_else(|| ApiError::not_found(what))
}

/// A 403 unless the caller may change records at this placement.
pub fn writable(caller: &Principal, class: RecordClass, placement: &Placement) -> ApiResult<()> {
    if caller.permits(Access::Write, class, placement) {
        Ok(())
    } else {
        Err(Denied::OutOfScope.into())
    }
}

/// A member the caller may see (or change), past any merge alias; otherwise 404. Answers the
/// member and, when `id` named a merged member, that id.
pub async fn visible_member(
    session: &mut Session,
    caller: &Principal,
    id: MemberId,
    access: Access,
) -> ApiResult<(members::StoredMember, Option<MemberId>)> {
    let found = resolve(session, caller.tenant_id, id).await?;
    let (row, resolved_from) = visible(
        caller,
        found,
        RecordClass::MemberData,
        |(row, _)| placement(row),
        "member",
    )?;
    if access != Access::Write {
        return Ok((row, resolved_from));
    }
    writable(caller, RecordClass::MemberData, &placement(&row))?;
    Ok((row, resolved_from))
}

/// As [`visible_member`] for a change that rewrites the member's row: holds the row
/// (PostgreSQL) and reads it again under the lock, so a concurrent merge or change is never
/// overwritten with what was read before it committed. A member merged meanwhile is followed to
/// the survivor. Changes that take several members' locks (merge) use `merges::lock_members`
/// instead, in id order.
pub async fn locked_member(
    session: &mut Session,
    caller: &Principal,
    id: MemberId,
) -> ApiResult<(members::StoredMember, Option<MemberId>)> {
    let (mut row, _) = visible_member(session, caller, id, Access::Write).await?;
    for _ in 0..MERGE_RETRIES {
        merges::lock_members(session, caller.tenant_id, &[row.id]).await?;
        let (fresh, resolved_from) = visible_member(session, caller, id, Access::Write).await?;
        if fresh.id == row.id {
            return Ok((fresh, resolved_from));
        }
        row = fresh;
    }
    Err(ApiError::with_detail(
        ErrorCode::Conflict,
        "the member is being merged; try again",
    ))
}
