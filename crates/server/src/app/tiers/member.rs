//! A member's tier as staff see it — current and computed level, benefits in a format, progress,
//! the latest changes and the history — and manual overrides (人工调级) set and ended by hand,
//! each within the caller's data scope.

use crate::app::access::visible_member;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::tenancy::zone::tenant_zone;
use crate::app::tiers::ladder::required;
use crate::app::tiers::{
    ChangeView, ProgressView, clear_override, current_state, progress, set_override,
};
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::tiers::{EffectiveBenefits, Override, TierLadder};
use huiyuan_store::tiers::{self as store, StoredChange};
use huiyuan_store::{Session, utc_now};
use time::OffsetDateTime;

/// History entries shown with a member's tier.
const RECENT_CHANGES: i64 = 5;

/// A level by code and name; a level no longer on the ladder shows as the lowest one.
pub struct LevelName {
    pub code: String,
    pub name: String,
}

/// A member's tier now.
pub struct MemberTier {
    pub member_id: MemberId,
    /// The level in force now: an active override's, else the computed one.
    pub level: LevelName,
    /// The level the rules give, whatever an override says.
    pub computed_level: LevelName,
    /// When the computed level last changed.
    pub since: OffsetDateTime,
    /// When the computed level is next evaluated for retention (保级); `None` on the lowest level.
    pub next_evaluation_at: Option<OffsetDateTime>,
    /// The active manual override, if any.
    pub r#override: Option<Override>,
    /// The benefits in force, in `format` (group-wide when `None`).
    pub benefits: EffectiveBenefits,
    /// The format code the benefits are for.
    pub format: Option<String>,
    pub progress: Option<ProgressView>,
    /// The latest history entries, newest first.
    pub recent_changes: Vec<ChangeView>,
}

/// Builds the tier inside `session` (a read session, or a write transaction after a change).
async fn member_tier(
    session: &mut Session,
    tenant: TenantId,
    ladder: &TierLadder,
    member: MemberId,
    format: Option<String>,
    now: OffsetDateTime,
) -> ApiResult<MemberTier> {
    let state = current_state(session, tenant, ladder, member)
        .await?
        .ok_or_else(|| ApiError::internal("a ladder without levels"))?;
    let tz = tenant_zone(session, tenant).await?;
    let level_name = |code: &str| {
        let level = ladder.level(code).or_else(|| ladder.lowest());
        LevelName {
            code: level.map_or_else(|| code.to_owned(), |l| l.code.clone()),
            name: level.map_or_else(String::new, |l| l.name.clone()),
        }
    };
    let progress = progress(session, tenant, ladder, &tz, member, &state, now).await?;
    let recent = store::recent_changes(session, tenant, member, RECENT_CHANGES)
        .await?
        .into_iter()
        .map(ChangeView::from)
        .collect();
    let benefits = ladder
        .effective_benefits(&state, now, format.as_deref())
        .ok_or_else(|| ApiError::internal("a ladder without levels"))?;
    Ok(MemberTier {
        member_id: member,
        level: level_name(state.effective_level_code(now)),
        computed_level: level_name(&state.level_code),
        since: state.since,
        next_evaluation_at: state.next_evaluation_at,
        r#override: state.active_override(now).cloned(),
        benefits,
        format,
        progress,
        recent_changes: recent,
    })
}

/// The tier of the member `id` within `caller`'s scope, with the benefits of the format coded
/// `format` (group-wide when `None`); a 404 without a ladder.
pub async fn read(
    session: &mut Session,
    caller: &Principal,
    id: MemberId,
    format: Option<String>,
) -> ApiResult<MemberTier> {
    let (member, _) = visible_member(session, caller, id, Access::Read).await?;
    let ladder = required(session, caller.tenant_id).await?;
    member_tier(
        session,
        caller.tenant_id,
        &ladder,
        member.id,
        format,
        utc_now(),
    )
    .await
}

/// The tier history of the member `id` within `caller`'s scope, oldest first.
pub async fn history(
    session: &mut Session,
    caller: &Principal,
    id: MemberId,
    page: PageRequest,
) -> ApiResult<Page<StoredChange>> {
    let (member, _) = visible_member(session, caller, id, Access::Read).await?;
    Ok(store::list_changes(session, caller.tenant_id, member.id, page).await?)
}

/// Sets a manual override on the member `id` within `caller`'s scope, replacing one already set;
/// the computed level keeps moving underneath. Answers the member's tier with it.
pub async fn override_by_hand(
    m: &mut Mutation,
    caller: &Principal,
    id: MemberId,
    manual: Override,
) -> ApiResult<MemberTier> {
    let (member, _) = visible_member(&mut m.session, caller, id, Access::Write).await?;
    let ladder = required(&mut m.session, m.tenant).await?;
    set_override(m, &ladder, member.id, manual).await?;
    member_tier(&mut m.session, m.tenant, &ladder, member.id, None, m.now).await
}

/// Ends the active override of the member `id` within `caller`'s scope (404 when there is none);
/// the computed level applies again. Answers the member's tier without it.
pub async fn end_override_by_hand(
    m: &mut Mutation,
    caller: &Principal,
    id: MemberId,
) -> ApiResult<MemberTier> {
    let (member, _) = visible_member(&mut m.session, caller, id, Access::Write).await?;
    let ladder = required(&mut m.session, m.tenant).await?;
    if clear_override(m, &ladder, member.id).await?.is_none() {
        return Err(ApiError::with_detail(
            ErrorCode::NotFound,
            "the member has no active override",
        ));
    }
    member_tier(&mut m.session, m.tenant, &ladder, member.id, None, m.now).await
}
