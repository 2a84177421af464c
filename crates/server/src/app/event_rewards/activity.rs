//! Store check-in, capped events (share, review, custom), profile completion, one-off rewards.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::days::local_day;
use crate::app::event_rewards::outcome::EventOutcome;
use crate::app::event_rewards::posting::{Award, finish, first_answer, grant, new_event};
use crate::app::identity::sealed::open_profile;
use crate::app::ledger::issuance_account;
use crate::app::mutation::Mutation;
use crate::app::tenancy::zone::tenant_zone;
use crate::app::vault::Vault;
use huiyuan_domain::ids::{MemberId, StoreId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::members::StoredMember;
use huiyuan_store::{event_rewards, org};
use time::Date;

pub(super) async fn check_in(
    m: &mut Mutation,
    points: i64,
    mut outcome: EventOutcome,
    store_id: StoreId,
    day: Date,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<EventOutcome> {
    let store = org::get_store(&mut m.session, m.tenant, store_id)
        .await?
        .filter(|s| !s.archived)
        .ok_or_else(|| FieldError::new("store_id", "not_found", "no such active store"))?;
    outcome.store_id = Some(store.id.0);
    if points <= 0 {
        return Ok(outcome.refused("disabled"));
    }
    let member = outcome.member_id;
    let event = new_event(
        m,
        member,
        "check_in",
        store.id.0.to_string(),
        day,
        1,
        outcome.occurred_at,
    );
    if !event_rewards::claim(&mut m.session, m.tenant, &event).await? {
        return first_answer(m, &event, "already_checked_in").await;
    }
    outcome.event_id = Some(event.id);
    let award = Award {
        counter: issuance_account(Some(store.format_id.0)),
        format_id: Some(store.format_id.0),
        reference: Some(format!("event:{}", event.id)),
        ..Award::new(
            "check_in",
            points,
            format!("check_in:{member}:{}:{day}", store.id.0),
            format!("check-in at store {} on {day}", store.code.as_str()),
        )
    };
    outcome.grants.extend(grant(m, member, award, tz).await?);
    finish(m, outcome).await
}

/// A capped reward's terms.
pub(super) struct Cap {
    pub(super) points: i64,
    pub(super) daily: i64,
    pub(super) total: Option<i64>,
}

pub(super) async fn capped(
    m: &mut Mutation,
    cap: Cap,
    subject: String,
    mut outcome: EventOutcome,
    day: Date,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<EventOutcome> {
    if cap.points <= 0 {
        return Ok(outcome.refused("disabled"));
    }
    let member = outcome.member_id;
    let kind = outcome.kind.clone();
    if let Some(total) = cap.total
        && event_rewards::count_all(&mut m.session, m.tenant, member, &kind, &subject).await?
            >= total
    {
        return Ok(outcome.refused("total_cap_reached"));
    }
    // Take the day's next free slot; a concurrent event taking it first moves us to the next.
    let mut claimed = None;
    for _ in 0..=cap.daily {
        let used = event_rewards::count_between(
            &mut m.session,
            m.tenant,
            member,
            &kind,
            &subject,
            day,
            day,
        )
        .await?;
        if used >= cap.daily {
            return Ok(outcome.refused("daily_cap_reached"));
        }
        let event = new_event(
            m,
            member,
            &kind,
            subject.clone(),
            day,
            used + 1,
            outcome.occurred_at,
        );
        if event_rewards::claim(&mut m.session, m.tenant, &event).await? {
            claimed = Some(event);
            break;
        }
    }
    let event = claimed.ok_or_else(|| ApiError::internal("no free event slot found"))?;
    outcome.event_id = Some(event.id);
    // With a lifetime cap, the n-th reward's key is unique, so two racing events cannot both
    // be the last one allowed.
    let natural_key = match cap.total {
        Some(_) => {
            let ordinal =
                event_rewards::count_all(&mut m.session, m.tenant, member, &kind, &subject).await?;
            format!("{kind}:{subject}:{member}:#{ordinal}")
        }
        None if subject.is_empty() => format!("{kind}:{member}:{day}:{}", event.seq),
        None => format!("{kind}:{subject}:{member}:{day}:{}", event.seq),
    };
    let what = if subject.is_empty() {
        kind.clone()
    } else {
        format!("{kind} event '{subject}'")
    };
    let award = Award {
        reference: Some(format!("event:{}", event.id)),
        ..Award::new(
            &kind,
            cap.points,
            natural_key,
            format!("{what} on {day} ({} of {} a day)", event.seq, cap.daily),
        )
    };
    outcome.grants.extend(grant(m, member, award, tz).await?);
    finish(m, outcome).await
}

pub(super) async fn profile_completed(
    m: &mut Mutation,
    vault: &Vault,
    member: &StoredMember,
    points: i64,
    mut outcome: EventOutcome,
    day: Date,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<EventOutcome> {
    if points <= 0 {
        return Ok(outcome.refused("disabled"));
    }
    let natural_key = format!("profile_completed:{}", member.id);
    if huiyuan_store::ledger::entry_by_natural_key(&mut m.session, m.tenant, &natural_key)
        .await?
        .is_some()
    {
        return Ok(outcome.refused("already_rewarded"));
    }
    let profile = open_profile(vault, member).map_err(ApiError::internal)?;
    if !profile.is_complete() {
        return Ok(outcome.refused("profile_incomplete"));
    }
    let event = new_event(
        m,
        member.id,
        "profile_completed",
        String::new(),
        day,
        1,
        outcome.occurred_at,
    );
    if !event_rewards::claim(&mut m.session, m.tenant, &event).await? {
        return Ok(outcome.refused("already_rewarded"));
    }
    outcome.event_id = Some(event.id);
    let award = Award::new(
        "profile_completed",
        points,
        natural_key,
        "profile completed".to_owned(),
    );
    outcome.grants.extend(grant(m, member.id, award, tz).await?);
    finish(m, outcome).await
}

/// A once-only reward of `kind` (registration, birthday, referral) to `member`, recorded as an
/// event of today; nothing when worth 0 or already granted.
pub(super) async fn once(
    m: &mut Mutation,
    member: MemberId,
    kind: &str,
    subject: String,
    award: Award,
) -> ApiResult<Option<EventOutcome>> {
    if award.points <= 0
        || huiyuan_store::ledger::entry_by_natural_key(&mut m.session, m.tenant, &award.natural_key)
            .await?
            .is_some()
    {
        return Ok(None);
    }
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    let day = local_day(m.now, &tz)?;
    let event = new_event(m, member, kind, subject, day, 1, m.now);
    if !event_rewards::claim(&mut m.session, m.tenant, &event).await? {
        return Ok(None);
    }
    let mut outcome = EventOutcome::new(kind, member, day, m.now);
    outcome.event_id = Some(event.id);
    outcome.grants.extend(grant(m, member, award, &tz).await?);
    finish(m, outcome).await.map(Some)
}
