//! Properties over arbitrary valid ladders, states, totals and instants.

use super::*;
use proptest::prelude::*;

/// Instants between 2000 and 2100.
fn arb_instant() -> impl Strategy<Value = OffsetDateTime> {
    (946_684_800i64..4_102_444_800).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap())
}

fn arb_window() -> impl Strategy<Value = Window> {
    prop_oneof![
        (1u32..=crate::tiers::window::MAX_WINDOW_DAYS)
            .prop_map(|days| Window::RollingDays { days }),
        Just(Window::CalendarYear),
    ]
}

/// Valid ladders of one to seven levels: thresholds strictly increase, retention lies between
/// the previous level's retention and the level's own threshold.
fn arb_ladder() -> impl Strategy<Value = TierLadder> {
    let steps = prop::collection::vec((1i64..5000, 0i64..=1000), 0..7);
    let evaluation = prop_oneof![Just(Evaluation::WindowEnd), Just(Evaluation::YearEnd)];
    (steps, arb_window(), evaluation).prop_map(|(steps, window, evaluation)| {
        let mut levels = vec![level("l0", "级0", 0, 0, Benefits::default())];
        let (mut threshold, mut retention) = (0, 0);
        for (i, (increase, permille)) in steps.into_iter().enumerate() {
            threshold += increase;
            retention += (threshold - retention) * permille / 1000;
            let code = format!("l{}", i + 1);
            levels.push(level(
                &code,
                &code,
                threshold,
                retention,
                Benefits::default(),
            ));
        }
        TierLadder {
            basis: Basis::TierPoints,
            window,
            evaluation,
            levels,
        }
    })
}

fn zones() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(shanghai()),
        Just(TimeZone::get("America/New_York").unwrap()),
        Just(TimeZone::UTC),
    ]
}

/// A state on level `pick % levels` since `since`, with an evaluation due at `due` if any.
fn state_on(
    ladder: &TierLadder,
    pick: usize,
    since: OffsetDateTime,
    due: Option<OffsetDateTime>,
) -> TierState {
    let code = &ladder.levels[pick % ladder.levels.len()].code;
    TierState {
        next_evaluation_at: due,
        ..TierState::new(code.clone(), since)
    }
}

fn local_time(at: OffsetDateTime, tz: &TimeZone) -> jiff::Zoned {
    jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos())
        .unwrap()
        .to_zoned(tz.clone())
}

proptest! {
    #[test]
    fn generated_ladders_are_valid(ladder in arb_ladder()) {
        prop_assert_eq!(ladder.validate(), Ok(()));
    }

    /// Activity only ever upgrades, to the highest level the total reaches, and deciding again
    /// on the new state changes nothing.
    #[test]
    fn on_activity_never_lowers_the_level(
        ladder in arb_ladder(), pick in 0usize..8, total in -1000i64..40_000,
        since in arb_instant(), at in arb_instant(), tz in zones(),
    ) {
        let state = state_on(&ladder, pick, since, None);
        let before = ladder.rank(&state.level_code).unwrap();
        match ladder.on_activity(&state, total, at, &tz) {
            None => prop_assert!(ladder.qualifying_rank(total) <= before),
            Some(change) => {
                let after = ladder.rank(&change.to).unwrap();
                prop_assert!(after > before);
                prop_assert_eq!(change.reason, ChangeReason::Upgrade);
                prop_assert!(ladder.levels[after].threshold <= total);
                prop_assert!(ladder.levels.get(after + 1).is_none_or(|next| next.threshold > total));
                let next = state.apply(&change);
                prop_assert!(next.next_evaluation_at.is_none_or(|due| due > at));
                prop_assert_eq!(ladder.on_activity(&next, total, at, &tz), None);
            }
        }
    }

    /// An evaluation lands on a ladder level the total justifies — its threshold, or its
    /// retention when the member held it — never below a level whose retention they met, and
    /// re-evaluating at the same instant with the same total records nothing more.
    #[test]
    fn on_evaluation_lands_on_a_justified_level_once(
        ladder in arb_ladder(), pick in 0usize..8, total in -1000i64..40_000,
        since in arb_instant(), late_s in 0i64..400 * 86_400, tz in zones(),
    ) {
        let due = since + time::Duration::days(1);
        let evaluation_at = due + time::Duration::seconds(late_s);
        let state = state_on(&ladder, pick, since, Some(due));
        let current = ladder.rank(&state.level_code).unwrap();
        let change = ladder.on_evaluation(&state, total, evaluation_at, &tz).unwrap();
        let to = ladder.rank(&change.to).unwrap();
        let justified = |rank: usize| {
            let level = &ladder.levels[rank];
            rank == 0 || level.threshold <= total || (rank <= current && level.retention <= total)
        };
        prop_assert!(justified(to));
        prop_assert!((to + 1..ladder.levels.len()).all(|higher| !justified(higher)));
        if ladder.levels[current].retention <= total {
            prop_assert!(to >= current);
        }
        let expected = match to.cmp(&current) {
            std::cmp::Ordering::Less => ChangeReason::Downgrade,
            std::cmp::Ordering::Equal => ChangeReason::Retained,
            std::cmp::Ordering::Greater => ChangeReason::Upgrade,
        };
        prop_assert_eq!(change.reason, expected);
        prop_assert_eq!(change.at, evaluation_at);
        prop_assert_eq!(change.next_evaluation_at.is_none(), to == 0);
        let next = state.apply(&change);
        prop_assert!(next.next_evaluation_at.is_none_or(|again| again > evaluation_at));
        prop_assert_eq!(ladder.on_evaluation(&next, total, evaluation_at, &tz), None);
        // Before it is due, nothing happens at all.
        prop_assert_eq!(ladder.on_evaluation(&state, total, due - time::Duration::SECOND, &tz), None);
    }

    /// Between evaluations, any sequence of totals (orders, refunds, repurchases) only moves a
    /// member up, at most once per level.
    #[test]
    fn activity_between_evaluations_never_flaps(
        ladder in arb_ladder(), start in arb_instant(),
        totals in prop::collection::vec(-1000i64..40_000, 1..30),
    ) {
        let tz = shanghai();
        let mut state = ladder.initial_state(start).unwrap();
        let mut changes = 0;
        for (hour, total) in totals.into_iter().enumerate() {
            let at = start + time::Duration::hours(hour as i64);
            let before = ladder.rank(&state.level_code).unwrap();
            if let Some(change) = ladder.on_activity(&state, total, at, &tz) {
                state = state.apply(&change);
                changes += 1;
            }
            prop_assert!(ladder.rank(&state.level_code).unwrap() >= before);
        }
        prop_assert!(changes < ladder.levels.len());
    }

    /// A window starts at a local midnight at or before the instant and spans the configured
    /// local days or the local calendar year; the next evaluation is a later local midnight
    /// whose judged period (for `window_end`) covers the instant.
    #[test]
    fn windows_and_evaluations_are_local_days(
        window in arb_window(), at in arb_instant(), tz in zones(),
    ) {
        let start = window.start(at, &tz).unwrap();
        prop_assert!(start <= at);
        let local_start = local_time(start, &tz);
        let local_at = local_time(at, &tz);
        prop_assert_eq!(local_start.time(), jiff::civil::Time::midnight());
        match window {
            Window::RollingDays { days } => {
                let span = local_start.date().until(local_at.date()).unwrap().get_days();
                prop_assert_eq!(i64::from(span), i64::from(days) - 1);
            }
            Window::CalendarYear => {
                prop_assert_eq!(local_start.date(), jiff::civil::date(local_at.year(), 1, 1));
            }
        }
        let next = Evaluation::WindowEnd.next_after(window, at, &tz).unwrap();
        prop_assert!(next > at);
        prop_assert_eq!(local_time(next, &tz).time(), jiff::civil::Time::midnight());
        prop_assert!(window.period_start(next, &tz).unwrap() <= at);
        let year_end = Evaluation::YearEnd.next_after(window, at, &tz).unwrap();
        prop_assert!(year_end > at);
        prop_assert_eq!(local_time(year_end, &tz).date(), jiff::civil::date(local_at.year() + 1, 1, 1));
    }
}
