//! Daily sign-in (签到) with its streak and monthly ladders.

use crate::app::error::{ApiError, ApiResult};
use crate::app::event_rewards::config::SignInConfig;
use crate::app::event_rewards::days::month_bounds;
use crate::app::event_rewards::outcome::{EventOutcome, Milestone};
use crate::app::event_rewards::posting::{Award, finish, first_answer, grant, new_event};
use crate::app::mutation::Mutation;
use huiyuan_store::event_rewards;
use time::Date;

/// Points of a sign-in on `streak` day, and the next rung above the base ahead of it.
pub(super) fn streak_points(config: &SignInConfig, streak: i64) -> (i64, Option<Milestone>) {
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

pub(super) async fn sign_in(
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
    let previous = event_rewards::get_slot(
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
        event_rewards::count_between(&mut m.session, m.tenant, member, "sign_in", "", first, last)
            .await?
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
    if !event_rewards::claim(&mut m.session, m.tenant, &event).await? {
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
