use super::*;
use time::macros::datetime;

#[test]
fn calendar_year_boundary_follows_shanghai_not_utc() {
    let year = Window::CalendarYear;
    let late_2025 = datetime!(2025-12-31 23:30 +8); // 15:30 UTC
    let early_2026 = datetime!(2026-01-01 00:30 +8); // 16:30 UTC, still 31 Dec in UTC
    assert_eq!(
        year.start(late_2025, &shanghai()),
        Ok(datetime!(2025-01-01 00:00 +8))
    );
    assert_eq!(
        year.start(early_2026, &shanghai()),
        Ok(datetime!(2025-12-31 16:00 UTC))
    );
    // An evaluation at local midnight of 1 January judges the whole previous local year.
    assert_eq!(
        year.period_start(datetime!(2026-01-01 00:00 +8), &shanghai()),
        Ok(datetime!(2025-01-01 00:00 +8))
    );
    // The next year-end evaluation is local midnight of the following 1 January.
    let next = |at| Evaluation::WindowEnd.next_after(year, at, &shanghai());
    assert_eq!(next(late_2025), Ok(datetime!(2026-01-01 00:00 +8)));
    assert_eq!(next(early_2026), Ok(datetime!(2027-01-01 00:00 +8)));
}

#[test]
fn calendar_year_orders_count_in_their_local_year() {
    let spend = [
        (datetime!(2025-11-11 20:00 +8), 80_000),
        (datetime!(2025-12-31 23:30 +8), 30_000),
        (datetime!(2026-01-01 00:30 +8), 40_000),
    ];
    let ladder = TierLadder {
        levels: vec![
            level("normal", "普通", 0, 0, Benefits::default()),
            level("silver", "银卡", 100_000, 60_000, Benefits::default()),
        ],
        ..calendar_ladder()
    };
    let normal = ladder
        .initial_state(datetime!(2025-01-01 09:00 +8))
        .unwrap();
    // At 23:30 on 31 December the 2025 window holds both 2025 orders: ¥1100 reaches silver.
    let at = datetime!(2025-12-31 23:30 +8);
    let in_2025 = total(&spend, ladder.window_start(at, &shanghai()).unwrap(), at);
    assert_eq!(in_2025, 110_000);
    let (silver, change) = applied(
        &normal,
        ladder.on_activity(&normal, in_2025, at, &shanghai()),
    );
    assert_eq!(change.to, "silver");
    // Evaluated half an hour later on the 2025 total, which met the threshold: kept for 2026.
    assert_eq!(
        silver.next_evaluation_at,
        Some(datetime!(2026-01-01 00:00 +8))
    );
    let due = silver
        .evaluation_due(datetime!(2026-01-01 02:00 +8))
        .unwrap();
    let period = ladder.evaluation_period_start(due, &shanghai()).unwrap();
    let judged = total(&spend, period, due - time::Duration::NANOSECOND);
    let (kept, retained) = applied(
        &silver,
        ladder.on_evaluation(&silver, judged, due, &shanghai()),
    );
    assert_eq!((retained.reason, judged), (ChangeReason::Retained, 110_000));
    assert_eq!(
        kept.next_evaluation_at,
        Some(datetime!(2027-01-01 00:00 +8))
    );

    // Had the second order come at 00:30 on 1 January, it would start the 2026 window instead.
    let at = datetime!(2026-01-01 00:30 +8);
    let in_2026 = total(&spend, ladder.window_start(at, &shanghai()).unwrap(), at);
    assert_eq!(in_2026, 40_000);
    assert_eq!(ladder.on_activity(&normal, in_2026, at, &shanghai()), None);
}

#[test]
fn rolling_windows_cover_whole_local_days() {
    let days_30 = Window::RollingDays { days: 30 };
    // 01:00 on 1 March in Shanghai is 17:00 UTC on 28 February; the window is local days.
    let at = datetime!(2026-03-01 01:00 +8);
    assert_eq!(
        days_30.start(at, &shanghai()),
        Ok(datetime!(2026-01-31 00:00 +8))
    );
    let one_day = Window::RollingDays { days: 1 };
    assert_eq!(
        one_day.start(at, &shanghai()),
        Ok(datetime!(2026-03-01 00:00 +8))
    );
    // An evaluation at local midnight judges the `days` full days before it.
    assert_eq!(
        days_30.period_start(datetime!(2026-03-01 00:00 +8), &shanghai()),
        Ok(datetime!(2026-01-30 00:00 +8))
    );
    let next = Evaluation::WindowEnd.next_after(days_30, at, &shanghai());
    assert_eq!(next, Ok(datetime!(2026-03-31 00:00 +8)));
    let year_end = Evaluation::YearEnd.next_after(days_30, at, &shanghai());
    assert_eq!(year_end, Ok(datetime!(2027-01-01 00:00 +8)));
}

#[test]
fn a_365_day_evaluation_lands_on_the_anniversary() {
    let days_365 = Window::RollingDays { days: 365 };
    let upgraded = datetime!(2025-03-15 12:00 +8);
    let due = Evaluation::WindowEnd
        .next_after(days_365, upgraded, &shanghai())
        .unwrap();
    assert_eq!(due, datetime!(2026-03-15 00:00 +8));
    // The period judged then starts on the day of the upgrade.
    assert_eq!(
        days_365.period_start(due, &shanghai()),
        Ok(datetime!(2025-03-15 00:00 +8))
    );
}

#[test]
fn local_days_survive_daylight_saving_changes() {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let week = Window::RollingDays { days: 7 };
    // Summer time starts on 29 March 2026; a week later the offset is +2 instead of +1.
    let at = datetime!(2026-04-02 12:00 +2);
    assert_eq!(week.start(at, &berlin), Ok(datetime!(2026-03-27 00:00 +1)));
    assert_eq!(
        Evaluation::WindowEnd.next_after(week, datetime!(2026-03-25 12:00 +1), &berlin),
        Ok(datetime!(2026-04-01 00:00 +2))
    );
    // Havana skips midnight when summer time starts (8 March 2026): the day starts at 01:00.
    let havana = TimeZone::get("America/Havana").unwrap();
    assert_eq!(
        Window::RollingDays { days: 1 }.start(datetime!(2026-03-08 12:00 -4), &havana),
        Ok(datetime!(2026-03-08 01:00 -4))
    );
}

#[test]
fn instants_beyond_the_calendar_are_reported() {
    let last = datetime!(9999-12-31 12:00 UTC);
    assert_eq!(
        Evaluation::YearEnd.next_after(Window::CalendarYear, last, &TimeZone::UTC),
        Err(OutOfRange)
    );
    // The ladder then schedules no evaluation rather than failing the decision.
    let state = ladder().initial_state(last).unwrap();
    let change = ladder()
        .on_activity(&state, 1000, last, &TimeZone::UTC)
        .unwrap();
    assert_eq!(change.next_evaluation_at, None);
}
