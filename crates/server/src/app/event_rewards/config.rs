//! A tenant's event-reward configuration (`GET|PUT /api/v1/event-rewards`): sign-in ladders,
//! capped and custom events, the one-off rewards; validation and storage.

use crate::app::error::{ApiError, ApiResult};
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, event_rewards};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Most points one reward may grant.
pub(crate) const MAX_POINTS: i64 = 1_000_000;
/// Most slots a capped event may have per day.
pub(crate) const MAX_DAILY_CAP: i64 = 100;
/// Most custom events a tenant may define.
pub(crate) const MAX_CUSTOM_EVENTS: usize = 50;
/// Most rungs on a ladder.
pub(crate) const MAX_RUNGS: usize = 31;

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

pub(super) fn yes() -> bool {
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

pub(super) fn one() -> i64 {
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

pub(super) fn check_points(errors: &mut FieldErrors, field: &str, points: i64) {
    if !(0..=MAX_POINTS).contains(&points) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be 0 to {MAX_POINTS}"),
        ));
    }
}

pub(super) fn check_cap(errors: &mut FieldErrors, field: &str, cap: i64) {
    if !(1..=MAX_DAILY_CAP).contains(&cap) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be 1 to {MAX_DAILY_CAP}"),
        ));
    }
}

pub(super) fn valid_custom_name(name: &str) -> bool {
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
pub async fn load(session: &mut Session, tenant: TenantId) -> ApiResult<RewardConfig> {
    match event_rewards::config(session, tenant).await? {
        Some(stored) => serde_json::from_value(stored.config).map_err(ApiError::internal),
        None => Ok(RewardConfig::default()),
    }
}
