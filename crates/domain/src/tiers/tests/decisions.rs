use super::*;
use time::macros::datetime;

#[test]
fn upgrade_then_retention_then_downgrade_across_evaluation_dates() {
    let ladder = ladder();
    let tz = shanghai();
    let joined = datetime!(2025-03-10 10:00 +8);
    let member = ladder.initial_state(joined).unwrap();
    assert_eq!(
        (member.level_code.as_str(), member.next_evaluation_at),
        ("normal", None)
    );
    assert_eq!(
        ladder.on_evaluation(&member, 0, datetime!(2026-03-10 00:00 +8), &tz),
        None
    );

    // 升级: 1200 tier points within the window reach 银卡 at once.
    let upgraded_at = datetime!(2025-03-15 12:00 +8);
    let (silver, upgrade) = applied(&member, ladder.on_activity(&member, 1200, upgraded_at, &tz));
    assert_eq!(
        (upgrade.from.as_str(), upgrade.to.as_str(), upgrade.reason),
        ("normal", "silver", ChangeReason::Upgrade)
    );
    assert_eq!(upgrade.qualifying_total, Some(1200));
    assert_eq!(silver.since, upgraded_at);
    assert_eq!(
        silver.next_evaluation_at,
        Some(datetime!(2026-03-15 00:00 +8))
    );
    assert_eq!(
        ladder.effective_level(&silver, upgraded_at).unwrap().name,
        "银卡"
    );

    // Not due a minute before the anniversary.
    assert_eq!(
        ladder.on_evaluation(&silver, 0, datetime!(2026-03-14 23:59 +8), &tz),
        None
    );
    assert_eq!(silver.evaluation_due(datetime!(2026-03-14 23:59 +8)), None);

    // 保级: 700 over the year meets silver's retention of 600 (not its threshold of 1000).
    let due = silver
        .evaluation_due(datetime!(2026-03-15 03:00 +8))
        .unwrap();
    assert_eq!(due, datetime!(2026-03-15 00:00 +8));
    let (kept, retained) = applied(&silver, ladder.on_evaluation(&silver, 700, due, &tz));
    assert_eq!(
        (
            retained.from.as_str(),
            retained.to.as_str(),
            retained.reason
        ),
        ("silver", "silver", ChangeReason::Retained)
    );
    assert_eq!(kept.since, upgraded_at, "retention is not a tier change");
    assert_eq!(
        kept.next_evaluation_at,
        Some(datetime!(2027-03-15 00:00 +8))
    );

    // 降级: 300 the next year misses it; the lowest level has no evaluation.
    let due = datetime!(2027-03-15 00:00 +8);
    let (normal, downgrade) = applied(&kept, ladder.on_evaluation(&kept, 300, due, &tz));
    assert_eq!(
        (downgrade.to.as_str(), downgrade.reason),
        ("normal", ChangeReason::Downgrade)
    );
    assert_eq!((normal.since, normal.next_evaluation_at), (due, None));
}

#[test]
fn activity_can_jump_several_levels_at_once() {
    let ladder = ladder();
    let tz = shanghai();
    let at = datetime!(2025-06-18 20:00 +8);
    let member = ladder.initial_state(at).unwrap();
    let change = ladder.on_activity(&member, 6000, at, &tz).unwrap();
    assert_eq!(
        (change.from.as_str(), change.to.as_str()),
        ("normal", "gold")
    );
    let change = ladder.on_activity(&member, 25_000, at, &tz).unwrap();
    assert_eq!(change.to, "diamond");
    // Exactly on a threshold counts.
    assert_eq!(
        ladder.on_activity(&member, 5000, at, &tz).unwrap().to,
        "gold"
    );
    assert_eq!(ladder.on_activity(&member, 999, at, &tz), None);
    // A higher level's upgrade restarts the evaluation clock.
    let (silver, _) = applied(&member, ladder.on_activity(&member, 1000, at, &tz));
    let later = datetime!(2025-09-01 10:00 +8);
    let (gold, _) = applied(&silver, ladder.on_activity(&silver, 5500, later, &tz));
    assert_eq!(
        gold.next_evaluation_at,
        Some(datetime!(2026-09-01 00:00 +8))
    );
}

#[test]
fn a_downgrade_goes_straight_to_the_level_the_total_keeps() {
    let ladder = ladder();
    let tz = shanghai();
    let due = datetime!(2026-05-01 00:00 +8);
    let mut diamond = TierState::new("diamond", datetime!(2025-05-01 10:00 +8));
    diamond.next_evaluation_at = Some(due);
    let to = |total| {
        let change = ladder.on_evaluation(&diamond, total, due, &tz).unwrap();
        (change.to, change.reason)
    };
    assert_eq!(to(12_000), ("diamond".into(), ChangeReason::Retained));
    // Below diamond's retention but above gold's: one level down.
    assert_eq!(to(3500), ("gold".into(), ChangeReason::Downgrade));
    // 800 keeps silver (retention 600) although it would not reach silver's threshold of 1000.
    assert_eq!(to(800), ("silver".into(), ChangeReason::Downgrade));
    assert_eq!(to(0), ("normal".into(), ChangeReason::Downgrade));
    assert_eq!(to(-500), ("normal".into(), ChangeReason::Downgrade));
}

#[test]
fn an_evaluation_upgrades_when_the_period_total_reaches_a_higher_threshold() {
    // Late offline orders posted with their original dates can lift a finished period.
    let ladder = ladder();
    let due = datetime!(2026-05-01 00:00 +8);
    let mut silver = TierState::new("silver", datetime!(2025-05-01 10:00 +8));
    silver.next_evaluation_at = Some(due);
    let change = ladder
        .on_evaluation(&silver, 6000, due, &shanghai())
        .unwrap();
    assert_eq!(
        (change.to.as_str(), change.reason),
        ("gold", ChangeReason::Upgrade)
    );
    assert_eq!(
        change.next_evaluation_at,
        Some(datetime!(2027-05-01 00:00 +8))
    );
}

#[test]
fn a_refund_before_the_evaluation_does_not_make_the_tier_flap() {
    let ladder = ladder();
    let tz = shanghai();
    let mut history = Vec::new();
    let mut state = ladder
        .initial_state(datetime!(2025-01-05 10:00 +8))
        .unwrap();
    // Orders, a refund, a repurchase: the window total goes 5200 → 4800 → 5100 → 2000.
    let steps = [
        (datetime!(2025-02-01 15:00 +8), 5200),
        (datetime!(2025-02-03 11:00 +8), 4800),
        (datetime!(2025-02-10 19:00 +8), 5100),
        (datetime!(2025-04-01 09:00 +8), 2000),
    ];
    for (at, window_total) in steps {
        if let Some(change) = ladder.on_activity(&state, window_total, at, &tz) {
            state = state.apply(&change);
            history.push(change);
        }
        assert_eq!(state.effective_level_code(at), "gold", "at {at}");
    }
    assert_eq!(history.len(), 1, "only the upgrade: {history:?}");
    // The refund is judged at the evaluation: 2000 over the year keeps silver (retention 600).
    let due = state.next_evaluation_at.unwrap();
    assert_eq!(due, datetime!(2026-02-01 00:00 +8));
    let change = ladder.on_evaluation(&state, 2000, due, &tz).unwrap();
    assert_eq!(
        (change.to.as_str(), change.reason),
        ("silver", ChangeReason::Downgrade)
    );
    // Had the member made up for the refund, the evaluation would keep gold.
    let change = ladder.on_evaluation(&state, 4800, due, &tz).unwrap();
    assert_eq!(change.reason, ChangeReason::Retained);
}

#[test]
fn deciding_twice_records_one_change() {
    let ladder = ladder();
    let tz = shanghai();
    let at = datetime!(2025-07-01 10:00 +8);
    let member = ladder.initial_state(at).unwrap();
    let (gold, _) = applied(&member, ladder.on_activity(&member, 5000, at, &tz));
    assert_eq!(ladder.on_activity(&gold, 5000, at, &tz), None);
    let due = gold.next_evaluation_at.unwrap();
    for total in [6000, 100] {
        let (after, _) = applied(&gold, ladder.on_evaluation(&gold, total, due, &tz));
        assert_eq!(ladder.on_evaluation(&after, total, due, &tz), None);
    }
}

#[test]
fn year_end_evaluation_with_a_rolling_window() {
    let ladder = TierLadder {
        evaluation: Evaluation::YearEnd,
        ..ladder()
    };
    let tz = shanghai();
    let at = datetime!(2025-07-01 10:00 +8);
    let member = ladder.initial_state(at).unwrap();
    let (gold, _) = applied(&member, ladder.on_activity(&member, 5000, at, &tz));
    let due = gold.next_evaluation_at.unwrap();
    assert_eq!(due, datetime!(2026-01-01 00:00 +8));
    // The period judged is the 365 days before the evaluation.
    assert_eq!(
        ladder.evaluation_period_start(due, &tz),
        Ok(datetime!(2025-01-01 00:00 +8))
    );
    let (kept, _) = applied(&gold, ladder.on_evaluation(&gold, 3000, due, &tz));
    assert_eq!(
        kept.next_evaluation_at,
        Some(datetime!(2027-01-01 00:00 +8))
    );
}

#[test]
fn a_level_removed_from_the_ladder_is_replaced_at_the_next_evaluation() {
    let ladder = ladder();
    let tz = shanghai();
    let due = datetime!(2026-01-01 00:00 +8);
    let mut platinum = TierState::new("platinum", datetime!(2025-01-01 10:00 +8));
    platinum.next_evaluation_at = Some(due);
    // Until then the member gets the lowest level's benefits and can still be upgraded.
    assert_eq!(
        ladder.effective_level(&platinum, due).unwrap().code,
        "normal"
    );
    assert_eq!(ladder.on_activity(&platinum, 999, due, &tz), None);
    assert_eq!(
        ladder.on_activity(&platinum, 1000, due, &tz).unwrap().to,
        "silver"
    );
    let change = ladder.on_evaluation(&platinum, 5000, due, &tz).unwrap();
    assert_eq!(
        (change.to.as_str(), change.reason),
        ("gold", ChangeReason::Upgrade)
    );
    let change = ladder.on_evaluation(&platinum, 10, due, &tz).unwrap();
    assert_eq!(
        (change.to.as_str(), change.reason),
        ("normal", ChangeReason::Downgrade)
    );
}

#[test]
fn benefits_follow_the_effective_level_and_the_format() {
    let ladder = ladder();
    let at = datetime!(2025-07-01 10:00 +8);
    let diamond = TierState::new("diamond", at);
    let group = ladder.effective_benefits(&diamond, at, None).unwrap();
    assert_eq!(
        (group.earning_multiplier_permille, group.discount_permille),
        (2000, 900)
    );
    assert_eq!(group.birthday_gift.as_deref(), Some("生日礼盒"));
    let hotel = ladder
        .effective_benefits(&diamond, at, Some("hotel"))
        .unwrap();
    assert_eq!(
        (hotel.earning_multiplier_permille, hotel.discount_permille),
        (3000, 850)
    );
    assert_eq!(hotel.extras["room_upgrade"], "免费升级房型");
    let mall = ladder
        .effective_benefits(&diamond, at, Some("mall"))
        .unwrap();
    assert_eq!(
        (mall.parking_hours, mall.earning_multiplier_permille),
        (8, 2000)
    );
    let normal = TierState::new("normal", at);
    assert_eq!(
        ladder
            .effective_benefits(&normal, at, Some("mall"))
            .unwrap()
            .parking_hours,
        0
    );
}

#[test]
fn merging_members_keeps_the_better_level() {
    let ladder = ladder();
    let at = datetime!(2025-07-01 10:00 +8);
    let mut gold = TierState::new("gold", datetime!(2025-02-01 10:00 +8));
    gold.next_evaluation_at = Some(datetime!(2026-02-01 00:00 +8));
    let silver = TierState::new("silver", datetime!(2025-03-01 10:00 +8));
    assert_eq!(ladder.merge(&gold, &silver, at), None);
    let (merged, change) = applied(&silver, ladder.merge(&silver, &gold, at));
    assert_eq!(
        (change.from.as_str(), change.reason),
        ("silver", ChangeReason::Upgrade)
    );
    assert_eq!(merged.level_code, "gold");
    assert_eq!(merged.next_evaluation_at, gold.next_evaluation_at);
}

#[test]
fn progress_shows_what_is_missing() {
    let ladder = ladder();
    let silver = TierState::new("silver", datetime!(2025-03-01 10:00 +8));
    let progress = ladder.progress(&silver, 3200, 450).unwrap();
    assert_eq!(progress.next_level_code.as_deref(), Some("gold"));
    assert_eq!(
        (progress.to_next_level, progress.to_retain),
        (Some(1800), 150)
    );
    let diamond = TierState::new("diamond", datetime!(2025-03-01 10:00 +8));
    let top = ladder.progress(&diamond, 30_000, 15_000).unwrap();
    assert_eq!(
        (top.next_level_code, top.to_next_level, top.to_retain),
        (None, None, 0)
    );
}
