//! Posting a grant once (natural keys), storing the answer on the event row, and auditing.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::REWARD_KIND;
use crate::app::event_rewards::outcome::{EventOutcome, Grant};
use crate::app::ledger::{self, Posting};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::LedgerAccount;
use huiyuan_store::event_rewards::{self, MemberEvent};
use serde_json::json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// What one grant posts.
pub(super) struct Award {
    pub(super) points: i64,
    pub(super) counter: LedgerAccount,
    pub(super) format_id: Option<Uuid>,
    pub(super) natural_key: String,
    pub(super) reference: Option<String>,
    pub(super) reason: String,
}

impl Award {
    pub(super) fn new(kind: &str, points: i64, natural_key: String, reason: String) -> Self {
        Self {
            points,
            counter: LedgerAccount::EventReward(kind.to_owned()),
            format_id: None,
            natural_key,
            reference: None,
            reason,
        }
    }
}

/// Posts the award unless it is worth nothing or its natural key was already posted.
pub(super) async fn grant(
    m: &mut Mutation,
    member: MemberId,
    award: Award,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Option<Grant>> {
    if award.points <= 0 {
        return Ok(None);
    }
    if huiyuan_store::ledger::entry_by_natural_key(&mut m.session, m.tenant, &award.natural_key)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let posting = Posting {
        format_id: award.format_id,
        reference: award.reference,
        reason: award.reason.clone(),
        natural_key: Some(award.natural_key),
    };
    let entry = ledger::earn(
        m,
        member,
        award.points,
        0,
        REWARD_KIND,
        award.counter,
        &posting,
        tz,
    )
    .await?;
    Ok(Some(Grant {
        entry_id: entry.id,
        points: entry.amount,
        reason: award.reason,
    }))
}

/// Stores the answer on the event row and audits the grants.
pub(super) async fn finish(m: &mut Mutation, mut outcome: EventOutcome) -> ApiResult<EventOutcome> {
    outcome.points = outcome.grants.iter().map(|g| g.points).sum();
    if let Some(event_id) = outcome.event_id {
        let stored = serde_json::to_value(&outcome).map_err(ApiError::internal)?;
        event_rewards::set_outcome(
            &mut m.session,
            m.tenant,
            outcome.member_id,
            event_id,
            outcome.points,
            &stored,
        )
        .await?;
    }
    if outcome.points > 0 {
        let entries: Vec<Uuid> = outcome.grants.iter().map(|g| g.entry_id).collect();
        let summary = json!({
            "type": outcome.kind, "points": outcome.points, "local_day": outcome.local_day,
            "event_id": outcome.event_id, "entry_ids": entries,
        });
        m.audit("event.rewarded", "member", outcome.member_id, summary)
            .await?;
    }
    Ok(outcome)
}

pub(super) fn new_event(
    m: &Mutation,
    member: MemberId,
    kind: &str,
    subject: String,
    day: Date,
    seq: i64,
    occurred_at: OffsetDateTime,
) -> MemberEvent {
    MemberEvent {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        subject,
        local_day: day,
        seq,
        occurred_at,
        streak: 0,
        points: 0,
        outcome: serde_json::Value::Null,
        created_at: m.now,
    }
}

/// The answer first given for the event in a taken slot, marked as a duplicate.
pub(super) async fn first_answer(
    m: &mut Mutation,
    taken: &MemberEvent,
    reason: &str,
) -> ApiResult<EventOutcome> {
    let first = event_rewards::get_slot(
        &mut m.session,
        m.tenant,
        taken.member_id,
        &taken.kind,
        &taken.subject,
        taken.local_day,
        taken.seq,
    )
    .await?
    .ok_or_else(|| ApiError::internal("a taken event slot without its event"))?;
    let mut outcome: EventOutcome =
        serde_json::from_value(first.outcome).map_err(ApiError::internal)?;
    outcome.duplicate = true;
    outcome.reason = Some(reason.to_owned());
    Ok(outcome)
}
