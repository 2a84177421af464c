//! What an event answers: the grants made, the streak, the next milestone.

use huiyuan_domain::ids::MemberId;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

/// One points posting made for an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub entry_id: Uuid,
    pub points: i64,
    /// As written in the ledger entry.
    pub reason: String,
}

/// The next reward a member can reach by signing in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Milestone {
    /// `streak` (a rung of the streak ladder) or `monthly` (the n-th sign-in of the month).
    pub kind: String,
    /// The streak day or the monthly count it is reached at.
    pub at: i64,
    pub points: i64,
    /// Sign-ins still needed, on consecutive days for a streak milestone.
    pub sign_ins_needed: i64,
}

/// The answer to `POST /api/v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventOutcome {
    /// The recorded event; `null` when nothing was recorded (over a cap, reward off).
    pub event_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: String,
    pub member_id: MemberId,
    /// The tenant-local calendar day the event counts on, `YYYY-MM-DD`.
    pub local_day: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Points granted in total.
    pub points: i64,
    pub grants: Vec<Grant>,
    /// Sign-in: consecutive local days signed in, this one included.
    pub streak_days: Option<i64>,
    /// Sign-in: sign-ins this calendar month, this one included.
    pub month_sign_ins: Option<i64>,
    /// Sign-in: the nearest reward ahead (a streak rung or a monthly bonus).
    pub next_milestone: Option<Milestone>,
    /// True when this repeats an event already recorded (a second sign-in the same day): the
    /// answer is the first one's and nothing more is granted.
    pub duplicate: bool,
    /// Why nothing (more) was granted: `daily_cap_reached`, `total_cap_reached`, `disabled`,
    /// `profile_incomplete`, `already_rewarded`, `already_signed_in`, `already_checked_in`.
    pub reason: Option<String>,
    pub store_id: Option<Uuid>,
    pub name: Option<String>,
}

impl EventOutcome {
    pub(super) fn new(
        kind: &str,
        member: MemberId,
        day: Date,
        occurred_at: OffsetDateTime,
    ) -> Self {
        Self {
            event_id: None,
            kind: kind.to_owned(),
            member_id: member,
            local_day: day.to_string(),
            occurred_at,
            points: 0,
            grants: Vec::new(),
            streak_days: None,
            month_sign_ins: None,
            next_milestone: None,
            duplicate: false,
            reason: None,
            store_id: None,
            name: None,
        }
    }

    pub(super) fn refused(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }
}
