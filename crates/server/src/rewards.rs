//! Event rewards: points for what members do besides buying — registering, signing in daily (with
//! streak and monthly ladders), checking in at a store, sharing, reviewing, completing their
//! profile, custom events a tenant names, their birthday, and bringing in a friend who then pays
//! for a first order.
//!
//! Each reward is decided twice over by the database, never by a read-then-write here:
//! - an event claims its slot in `member_events` (unique per member, kind, subject, local day and
//!   slot number), so a sign-in counts once per local day, a check-in once per store and day, and
//!   a capped event takes one of its day's numbered slots;
//! - every points posting carries a natural key (`sign_in:<member>:<day>`, `registration:<member>`,
//!   `birthday:<member>:<year>`, `referral:<referee>` …), unique in the ledger, so a retry or a
//!   concurrent twin never grants twice.
//!
//! Days are calendar days in the tenant's time zone. Every grant is a `reward` entry from the
//! `reward:<type>` account (a check-in's from its store's format issuance account), explained in
//! the entry's reason and audited as `event.rewarded`.
//!
//! Defaults until a tenant saves its own configuration: a daily sign-in earns 5 points, 10 from
//! the third day of a streak and 50 on the seventh, in a 7-day cycle; the 10th and 30th sign-in of
//! a month earn 20 and 100 more. Every other reward is off (0 points) until configured.

use crate::error::{ApiError, ApiResult};
use crate::identity::sealed::open_profile;
use crate::ledger::{self, Posting, issuance_account, tenant_zone};
use crate::mutation::Mutation;
use crate::state::AppState;
use crate::vault::Vault;
use huiyuan_domain::auth::Actor;
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::{StoreId, TenantId};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::events::{self, MemberEvent, StoredConfig};
use huiyuan_store::members::StoredMember;
use huiyuan_store::{Session, members, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Mutex;
use time::{Date, Duration, Month, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

/// The ledger entry kind of every event reward.
pub const REWARD_KIND: &str = "reward";

/// Most points one reward may grant.
const MAX_POINTS: i64 = 1_000_000;
/// Most slots a capped event may have per day.
const MAX_DAILY_CAP: i64 = 100;
/// Most custom events a tenant may define.
const MAX_CUSTOM_EVENTS: usize = 50;
/// Most rungs on a ladder.
const MAX_RUNGS: usize = 31;
/// Members rewarded per tenant per birthday round.
const BIRTHDAY_BATCH: i64 = 500;
/// How often a node looks for birthdays (the settlement loop ticks every minute).
const BIRTHDAY_INTERVAL: Duration = Duration::hours(1);

// ---- configuration ----

/// One rung of the streak ladder: from `day` of a streak on, a sign-in earns `points`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreakRung {
    pub day: i64,
    pub points: i64,
}

/// One rung of the monthly ladder: the `count`-th sign-in of a calendar month earns `points` more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonthlyRung {
    pub count: i64,
    pub points: i64,
}

/// Daily sign-in (签到). A `sign_in` object given replaces the default one whole: a field it leaves out is empty
/// (`enabled` true), not the default ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Ascending by `day`, the first on day 1: a sign-in on streak day `d` earns the points of the
    /// highest rung with `day <= d`.
    #[serde(default)]
    pub streak: Vec<StreakRung>,
    /// When set, the ladder restarts after this many days (a weekly cycle: day 8 counts as day 1).
    #[serde(default)]
    pub cycle_days: Option<i64>,
    /// Bonuses for the n-th sign-in of a calendar month, ascending by `count`.
    #[serde(default)]
    pub monthly: Vec<MonthlyRung>,
}

fn yes() -> bool {
    true
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            streak: vec![
                StreakRung { day: 1, points: 5 },
                StreakRung { day: 3, points: 10 },
                StreakRung { day: 7, points: 50 },
            ],
            cycle_days: Some(7),
            monthly: vec![
                MonthlyRung {
                    count: 10,
                    points: 20,
                },
                MonthlyRung {
                    count: 30,
                    points: 100,
                },
            ],
        }
    }
}

/// A reward with a daily cap per member (share, review).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CappedReward {
    /// 0 turns the reward off.
    pub points: i64,
    /// Rewarded events per member per local day; more answer 0 points.
    pub daily_cap: i64,
}

impl Default for CappedReward {
    fn default() -> Self {
        Self {
            points: 0,
            daily_cap: 3,
        }
    }
}

/// An event the tenant names (`{"type": "custom", "name": …}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomEvent {
    /// 1–40 characters of `a-z`, `0-9`, `_`, `-`.
    pub name: String,
    pub points: i64,
    /// Rewarded events per member per local day.
    #[serde(default = "one")]
    pub daily_cap: i64,
    /// Rewarded events per member ever; `null` for no limit.
    #[serde(default)]
    pub total_cap: Option<i64>,
}

fn one() -> i64 {
    1
}

/// A tenant's event rewards (`GET|PUT /api/v1/event-rewards`). Points are whole points; 0 is off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RewardConfig {
    /// Granted once per member when registered, whatever the channel.
    pub registration_points: i64,
    pub sign_in: SignInConfig,
    /// Once per member per store per local day; owed from the store's format.
    pub check_in_points: i64,
    pub share: CappedReward,
    pub review: CappedReward,
    /// Once per member ever, when name, gender, birthday and city are all filled in.
    pub profile_completed_points: i64,
    /// Once a year, on the member's birthday (29 February birthdays on 28 February in other years).
    pub birthday_points: i64,
    /// To the referrer when the member they referred pays for a first order.
    pub referral_points: i64,
    pub custom: Vec<CustomEvent>,
}

fn check_points(errors: &mut FieldErrors, field: &str, points: i64) {
    if !(0..=MAX_POINTS).contains(&points) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be 0 to {MAX_POINTS}"),
        ));
    }
}

fn check_cap(errors: &mut FieldErrors, field: &str, cap: i64) {
    if !(1..=MAX_DAILY_CAP).contains(&cap) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be 1 to {MAX_DAILY_CAP}"),
        ));
    }
}

fn valid_custom_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl RewardConfig {
    /// Every problem, each named by its field path.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        check_points(&mut errors, "registration_points", self.registration_points);
        check_points(&mut errors, "check_in_points", self.check_in_points);
        check_points(
            &mut errors,
            "profile_completed_points",
            self.profile_completed_points,
        );
        check_points(&mut errors, "birthday_points", self.birthday_points);
        check_points(&mut errors, "referral_points", self.referral_points);
        for (name, capped) in [("share", &self.share), ("review", &self.review)] {
            check_points(&mut errors, &format!("{name}.points"), capped.points);
            check_cap(&mut errors, &format!("{name}.daily_cap"), capped.daily_cap);
        }
        let sign_in = &self.sign_in;
        if sign_in.streak.len() > MAX_RUNGS {
            errors.push(FieldError::new(
                "sign_in.streak",
                "too_many",
                format!("at most {MAX_RUNGS} rungs"),
            ));
        }
        if sign_in.enabled && sign_in.streak.first().is_none_or(|rung| rung.day != 1) {
            errors.push(FieldError::new(
                "sign_in.streak",
                "invalid",
                "an enabled sign-in needs a ladder starting on day 1",
            ));
        }
        for (index, rung) in sign_in.streak.iter().enumerate() {
            let field = format!("sign_in.streak[{index}]");
            check_points(&mut errors, &format!("{field}.points"), rung.points);
            let previous = index
                .checked_sub(1)
                .and_then(|i| sign_in.streak.get(i))
                .map_or(0, |r| r.day);
            if !(1..=366).contains(&rung.day) || rung.day <= previous {
                errors.push(FieldError::new(
                    format!("{field}.day"),
                    "out_of_order",
                    "days run from 1 to 366, strictly ascending",
                ));
            }
        }
        if let Some(cycle) = sign_in.cycle_days {
            let last = sign_in.streak.last().map_or(1, |r| r.day);
            if !(last..=366).contains(&cycle) {
                errors.push(FieldError::new(
                    "sign_in.cycle_days",
                    "out_of_range",
                    format!("must be {last} (the last rung's day) to 366"),
                ));
            }
        }
        if sign_in.monthly.len() > MAX_RUNGS {
            errors.push(FieldError::new(
                "sign_in.monthly",
                "too_many",
                format!("at most {MAX_RUNGS} rungs"),
            ));
        }
        for (index, rung) in sign_in.monthly.iter().enumerate() {
            let field = format!("sign_in.monthly[{index}]");
            check_points(&mut errors, &format!("{field}.points"), rung.points);
            let previous = index
                .checked_sub(1)
                .and_then(|i| sign_in.monthly.get(i))
                .map_or(0, |r| r.count);
            if !(1..=31).contains(&rung.count) || rung.count <= previous {
                errors.push(FieldError::new(
                    format!("{field}.count"),
                    "out_of_order",
                    "counts run from 1 to 31, strictly ascending",
                ));
            }
        }
        if self.custom.len() > MAX_CUSTOM_EVENTS {
            errors.push(FieldError::new(
                "custom",
                "too_many",
                format!("at most {MAX_CUSTOM_EVENTS} custom events"),
            ));
        }
        let mut names = BTreeSet::new();
        for (index, event) in self.custom.iter().enumerate() {
            let field = format!("custom[{index}]");
            if !valid_custom_name(&event.name) {
                errors.push(FieldError::new(
                    format!("{field}.name"),
                    "invalid",
                    "1 to 40 characters of a-z, 0-9, _ and -",
                ));
            } else if !names.insert(event.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{field}.name"),
                    "duplicate",
                    "names are unique",
                ));
            }
            check_points(&mut errors, &format!("{field}.points"), event.points);
            check_cap(&mut errors, &format!("{field}.daily_cap"), event.daily_cap);
            if event
                .total_cap
                .is_some_and(|cap| !(1..=100_000).contains(&cap))
            {
                errors.push(FieldError::new(
                    format!("{field}.total_cap"),
                    "out_of_range",
                    "must be 1 to 100000, or null",
                ));
            }
        }
        errors.finish()
    }
}

/// The tenant's configuration (the defaults until it saves one).
pub async fn config(session: &mut Session, tenant: TenantId) -> ApiResult<RewardConfig> {
    match events::config(session, tenant).await? {
        Some(stored) => serde_json::from_value(stored.config).map_err(ApiError::internal),
        None => Ok(RewardConfig::default()),
    }
}

/// Saves a validated configuration; returns the one it replaced.
pub async fn put_config(m: &mut Mutation, config: &RewardConfig) -> ApiResult<RewardConfig> {
    let before = self::config(&mut m.session, m.tenant).await?;
    let stored = StoredConfig {
        config: serde_json::to_value(config).map_err(ApiError::internal)?,
        updated_at: m.now,
    };
    m.config_changed();
    events::put_config(&mut m.session, m.tenant, &stored).await?;
    Ok(before)
}

// ---- days ----

/// The calendar day of `at` in `tz`.
pub fn local_day(at: OffsetDateTime, tz: &jiff::tz::TimeZone) -> ApiResult<Date> {
    let instant = jiff::Timestamp::from_second(at.unix_timestamp()).map_err(ApiError::internal)?;
    let day = instant.to_zoned(tz.clone()).date();
    let month = u8::try_from(day.month())
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| ApiError::internal("month out of range"))?;
    let day_of_month =
        u8::try_from(day.day()).map_err(|_| ApiError::internal("day out of range"))?;
    Date::from_calendar_date(i32::from(day.year()), month, day_of_month).map_err(ApiError::internal)
}

/// First and last day of `day`'s month.
fn month_bounds(day: Date) -> ApiResult<(Date, Date)> {
    let first = day.replace_day(1).map_err(ApiError::internal)?;
    let (year, month) = match day.month() {
        Month::December => (day.year() + 1, Month::January),
        month => (day.year(), month.next()),
    };
    let next = Date::from_calendar_date(year, month, 1).map_err(ApiError::internal)?;
    let last = next
        .previous_day()
        .ok_or_else(|| ApiError::internal("no previous day"))?;
    Ok((first, last))
}

// ---- outcomes ----

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
    pub member_id: Uuid,
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
    fn new(kind: &str, member: Uuid, day: Date, occurred_at: OffsetDateTime) -> Self {
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

    fn refused(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }
}

// ---- posting ----

/// What one grant posts.
struct Award {
    points: i64,
    counter: String,
    format_id: Option<Uuid>,
    natural_key: String,
    reference: Option<String>,
    reason: String,
}

impl Award {
    fn new(kind: &str, points: i64, natural_key: String, reason: String) -> Self {
        Self {
            points,
            counter: format!("reward:{kind}"),
            format_id: None,
            natural_key,
            reference: None,
            reason,
        }
    }
}

/// Posts the award unless it is worth nothing or its natural key was already posted.
async fn grant(
    m: &mut Mutation,
    member: Uuid,
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
async fn finish(m: &mut Mutation, mut outcome: EventOutcome) -> ApiResult<EventOutcome> {
    outcome.points = outcome.grants.iter().map(|g| g.points).sum();
    if let Some(event_id) = outcome.event_id {
        let stored = serde_json::to_value(&outcome).map_err(ApiError::internal)?;
        events::set_outcome(
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

fn new_event(
    m: &Mutation,
    member: Uuid,
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
async fn first_answer(
    m: &mut Mutation,
    taken: &MemberEvent,
    reason: &str,
) -> ApiResult<EventOutcome> {
    let first = events::get_slot(
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

// ---- the events ----

/// A validated `POST /api/v1/events`.
#[derive(Clone, Debug)]
pub enum Event {
    SignIn,
    CheckIn { store_id: StoreId },
    Share,
    Review,
    ProfileCompleted,
    Custom { name: String },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SignIn => "sign_in",
            Event::CheckIn { .. } => "check_in",
            Event::Share => "share",
            Event::Review => "review",
            Event::ProfileCompleted => "profile_completed",
            Event::Custom { .. } => "custom",
        }
    }
}

/// Rewards one event of an active member, in the open mutation.
pub async fn record(
    m: &mut Mutation,
    vault: &Vault,
    member: &StoredMember,
    event: Event,
    occurred_at: OffsetDateTime,
) -> ApiResult<EventOutcome> {
    let config = config(&mut m.session, m.tenant).await?;
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    let day = local_day(occurred_at, &tz)?;
    let outcome = EventOutcome::new(event.kind(), member.id, day, occurred_at);
    match event {
        Event::SignIn => sign_in(m, &config.sign_in, outcome, day, &tz).await,
        Event::CheckIn { store_id } => {
            check_in(m, config.check_in_points, outcome, store_id, day, &tz).await
        }
        Event::Share => {
            let cap = Cap {
                points: config.share.points,
                daily: config.share.daily_cap,
                total: None,
            };
            capped(m, cap, String::new(), outcome, day, &tz).await
        }
        Event::Review => {
            let cap = Cap {
                points: config.review.points,
                daily: config.review.daily_cap,
                total: None,
            };
            capped(m, cap, String::new(), outcome, day, &tz).await
        }
        Event::Custom { name } => {
            let defined = config
                .custom
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    FieldError::new("name", "not_found", "no custom event of this name")
                })?;
            let cap = Cap {
                points: defined.points,
                daily: defined.daily_cap,
                total: defined.total_cap,
            };
            let outcome = EventOutcome {
                name: Some(name.clone()),
                ..outcome
            };
            capped(m, cap, name, outcome, day, &tz).await
        }
        Event::ProfileCompleted => {
            profile_completed(
                m,
                vault,
                member,
                config.profile_completed_points,
                outcome,
                day,
                &tz,
            )
            .await
        }
    }
}

/// Points of a sign-in on `streak` day, and the next rung above the base ahead of it.
fn streak_points(config: &SignInConfig, streak: i64) -> (i64, Option<Milestone>) {
    let cycle_day = match config.cycle_days {
        Some(cycle) if cycle > 0 => (streak - 1) % cycle + 1,
        _ => streak,
    };
    let points = config
        .streak
        .iter()
        .rev()
        .find(|rung| rung.day <= cycle_day)
        .map_or(0, |rung| rung.points);
    let ahead = config.streak.iter().skip(1).find(|r| r.day > cycle_day);
    let next = match (ahead, config.cycle_days) {
        (Some(rung), _) => Some((rung, rung.day - cycle_day)),
        (None, Some(cycle)) => config
            .streak
            .get(1)
            .map(|rung| (rung, cycle - cycle_day + rung.day)),
        (None, None) => None,
    };
    let milestone = next.map(|(rung, needed)| Milestone {
        kind: "streak".to_owned(),
        at: streak + needed,
        points: rung.points,
        sign_ins_needed: needed,
    });
    (points, milestone)
}

async fn sign_in(
    m: &mut Mutation,
    config: &SignInConfig,
    mut outcome: EventOutcome,
    day: Date,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<EventOutcome> {
    if !config.enabled {
        return Ok(outcome.refused("disabled"));
    }
    let member = outcome.member_id;
    let yesterday = day
        .previous_day()
        .ok_or_else(|| ApiError::internal("no previous day"))?;
    let previous = events::get_slot(
        &mut m.session,
        m.tenant,
        member,
        "sign_in",
        "",
        yesterday,
        1,
    )
    .await?;
    let streak = previous.map_or(1, |p| p.streak + 1);
    let (first, last) = month_bounds(day)?;
    let month_count =
        events::count_between(&mut m.session, m.tenant, member, "sign_in", "", first, last).await?
            + 1;
    let mut event = new_event(
        m,
        member,
        "sign_in",
        String::new(),
        day,
        1,
        outcome.occurred_at,
    );
    event.streak = streak;
    if !events::claim(&mut m.session, m.tenant, &event).await? {
        return first_answer(m, &event, "already_signed_in").await;
    }
    outcome.event_id = Some(event.id);
    outcome.streak_days = Some(streak);
    outcome.month_sign_ins = Some(month_count);
    let (points, streak_milestone) = streak_points(config, streak);
    let award = Award::new(
        "sign_in",
        points,
        format!("sign_in:{member}:{day}"),
        format!("daily sign-in on {day}, day {streak} of a streak"),
    );
    let award = Award {
        reference: Some(format!("event:{}", event.id)),
        ..award
    };
    outcome.grants.extend(grant(m, member, award, tz).await?);
    let month = format!("{:04}-{:02}", day.year(), u8::from(day.month()));
    if let Some(rung) = config.monthly.iter().find(|r| r.count == month_count) {
        let award = Award::new(
            "sign_in",
            rung.points,
            format!("sign_in:{member}:{month}:{month_count}"),
            format!("sign-in number {month_count} in {month}"),
        );
        let award = Award {
            reference: Some(format!("event:{}", event.id)),
            ..award
        };
        outcome.grants.extend(grant(m, member, award, tz).await?);
    }
    let days_left = i64::from(last.to_julian_day() - day.to_julian_day());
    let monthly_milestone = config
        .monthly
        .iter()
        .find(|r| r.count > month_count && r.count - month_count <= days_left)
        .map(|rung| Milestone {
            kind: "monthly".to_owned(),
            at: rung.count,
            points: rung.points,
            sign_ins_needed: rung.count - month_count,
        });
    outcome.next_milestone = match (streak_milestone, monthly_milestone) {
        (Some(s), Some(mo)) if mo.sign_ins_needed < s.sign_ins_needed => Some(mo),
        (Some(s), _) => Some(s),
        (None, mo) => mo,
    };
    finish(m, outcome).await
}

async fn check_in(
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
    if !events::claim(&mut m.session, m.tenant, &event).await? {
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
struct Cap {
    points: i64,
    daily: i64,
    total: Option<i64>,
}

async fn capped(
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
        && events::count_all(&mut m.session, m.tenant, member, &kind, &subject).await? >= total
    {
        return Ok(outcome.refused("total_cap_reached"));
    }
    // Take the day's next free slot; a concurrent event taking it first moves us to the next.
    let mut claimed = None;
    for _ in 0..=cap.daily {
        let used =
            events::count_between(&mut m.session, m.tenant, member, &kind, &subject, day, day)
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
        if events::claim(&mut m.session, m.tenant, &event).await? {
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
                events::count_all(&mut m.session, m.tenant, member, &kind, &subject).await?;
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

async fn profile_completed(
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
    if !events::claim(&mut m.session, m.tenant, &event).await? {
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
async fn once(
    m: &mut Mutation,
    member: Uuid,
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
    if !events::claim(&mut m.session, m.tenant, &event).await? {
        return Ok(None);
    }
    let mut outcome = EventOutcome::new(kind, member, day, m.now);
    outcome.event_id = Some(event.id);
    outcome.grants.extend(grant(m, member, award, &tz).await?);
    finish(m, outcome).await.map(Some)
}

/// The registration reward, the same from every channel; called once a member is created.
pub async fn on_registered(m: &mut Mutation, member: Uuid) -> ApiResult<()> {
    let points = config(&mut m.session, m.tenant).await?.registration_points;
    let award = Award::new(
        "registration",
        points,
        format!("registration:{member}"),
        "registration reward".to_owned(),
    );
    once(m, member, "registration", String::new(), award).await?;
    Ok(())
}

/// The referral reward to whoever referred `referee_member_id`, when the referee's first order is
/// paid. Nothing when the member was not referred, the referrer is no longer active, the reward
/// is off or was already granted.
pub async fn on_first_paid_order(m: &mut Mutation, referee_member_id: Uuid) -> ApiResult<()> {
    let points = config(&mut m.session, m.tenant).await?.referral_points;
    if points <= 0 {
        return Ok(());
    }
    let Some(referee) = members::get_member(&mut m.session, m.tenant, referee_member_id).await?
    else {
        return Ok(());
    };
    on_first_paid_order_of(m, &referee, points).await
}

/// [`on_first_paid_order`] with the referee's row and the configured `points` at hand. Who
/// referred a member never changes after registration, so a row read before the transaction
/// names the right referrer; the referrer's status is read here, and the reward is granted at
/// most once per referee (its natural key).
pub async fn on_first_paid_order_of(
    m: &mut Mutation,
    referee: &StoredMember,
    points: i64,
) -> ApiResult<()> {
    if points <= 0 {
        return Ok(());
    }
    let referee_member_id = referee.id;
    let Some(mut referrer) = referee.referred_by else {
        return Ok(());
    };
    // A referrer merged into another member is rewarded as the surviving member.
    for _ in 0..4 {
        match members::get_member(&mut m.session, m.tenant, referrer).await? {
            Some(row) if row.status == MemberStatus::Active.as_str() => {
                let award = Award {
                    reference: Some(format!("member:{referee_member_id}")),
                    ..Award::new(
                        "referral",
                        points,
                        format!("referral:{referee_member_id}"),
                        format!("referral: member {} paid a first order", referee.member_no),
                    )
                };
                once(m, row.id, "referral", referee_member_id.to_string(), award).await?;
                return Ok(());
            }
            Some(StoredMember {
                merged_into: Some(survivor),
                ..
            }) => referrer = survivor,
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Every `MM-DD` that counts as a birthday on `today`: 29 February birthdays are kept on 28
/// February in years without one.
fn birthday_keys(today: Date) -> Vec<String> {
    let mut keys = vec![format!("{:02}-{:02}", u8::from(today.month()), today.day())];
    if today.month() == Month::February
        && today.day() == 28
        && !time::util::is_leap_year(today.year())
    {
        keys.push("02-29".to_owned());
    }
    keys
}

/// Grants the birthday reward to every active member whose birthday is today in their tenant's
/// time zone (once a year each); returns how many were rewarded. Safe on several nodes at once:
/// a member's birthday event and ledger key are unique, so a twin run only finds them taken.
pub async fn grant_birthday_rewards(app: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let mut session = app.store.read().await?;
    let tenants = huiyuan_store::tenants::list(&mut session, 10_000).await?;
    let mut work = Vec::new();
    for tenant in tenants {
        let points = config(&mut session, tenant.id).await?.birthday_points;
        if points <= 0 {
            continue;
        }
        let tz = tenant_zone(&mut session, tenant.id).await?;
        let today = local_day(now, &tz)?;
        let year_start = today.replace_ordinal(1).map_err(ApiError::internal)?;
        let due = events::members_due_birthday(
            &mut session,
            tenant.id,
            &birthday_keys(today),
            year_start,
            None,
            BIRTHDAY_BATCH,
        )
        .await?;
        work.extend(due.into_iter().map(|member| (tenant.id, member, today)));
    }
    drop(session);
    let mut rewarded = 0;
    for (tenant, member, today) in work {
        // One member's failure (a twin run on another node) does not hold up the others.
        match birthday_reward(app, tenant, member, today, now).await {
            Ok(true) => rewarded += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(?error, %member, "birthday reward failed"),
        }
    }
    Ok(rewarded)
}

/// One member's birthday reward of the year, in its own transaction; `false` when already given.
async fn birthday_reward(
    app: &AppState,
    tenant: TenantId,
    member: Uuid,
    today: Date,
    now: OffsetDateTime,
) -> ApiResult<bool> {
    let mut m = Mutation::begin(&app.store, tenant, Actor::System, None).await?;
    m.now = now;
    let points = config(&mut m.session, tenant).await?.birthday_points;
    let year = today.year();
    let award = Award::new(
        "birthday",
        points,
        format!("birthday:{member}:{year}"),
        format!("birthday reward {year}"),
    );
    let granted = once(&mut m, member, "birthday", String::new(), award)
        .await?
        .is_some();
    m.commit().await?;
    Ok(granted)
}

/// The settlement loop's hook: looks for birthdays at most once an hour per node, and logs
/// instead of failing the loop.
pub async fn birthday_tick(app: &AppState, now: OffsetDateTime) {
    static LAST_RUN: Mutex<Option<OffsetDateTime>> = Mutex::new(None);
    {
        let Ok(mut last) = LAST_RUN.lock() else {
            return;
        };
        if last.is_some_and(|at| now - at < BIRTHDAY_INTERVAL) {
            return;
        }
        *last = Some(now);
    }
    match grant_birthday_rewards(app, now).await {
        Ok(0) => {}
        Ok(rewarded) => tracing::info!(rewarded, "birthday rewards granted"),
        Err(error) => tracing::warn!(?error, "birthday rewards failed"),
    }
}
