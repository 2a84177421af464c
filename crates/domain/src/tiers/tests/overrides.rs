use super::*;
use time::macros::datetime;

fn trial(level_code: &str, expires_at: OffsetDateTime) -> Override {
    Override {
        level_code: level_code.into(),
        expires_at,
        reason: " 钻石体验卡 ".into(),
    }
}

#[test]
fn an_override_wins_until_it_expires_then_the_computed_level_applies() {
    let ladder = ladder();
    let tz = shanghai();
    let set_at = datetime!(2025-06-01 10:00 +8);
    let expires_at = datetime!(2025-09-01 00:00 +8);
    let silver = {
        let mut state = TierState::new("silver", datetime!(2025-03-15 12:00 +8));
        state.next_evaluation_at = Some(datetime!(2026-03-15 00:00 +8));
        state
    };
    let set = ladder
        .set_override(&silver, trial("diamond", expires_at), set_at)
        .unwrap();
    assert_eq!(
        (set.from.as_str(), set.to.as_str(), set.reason),
        ("silver", "diamond", ChangeReason::OverrideSet)
    );
    assert_eq!(set.r#override.as_ref().unwrap().reason, "钻石体验卡");
    assert!(set.changes_effective_level(&silver));
    let overridden = silver.apply(&set);
    assert_eq!(
        overridden.level_code, "silver",
        "the computed level is untouched"
    );
    assert_eq!(overridden.effective_level_code(set_at), "diamond");
    let hotel = ladder
        .effective_benefits(&overridden, set_at, Some("hotel"))
        .unwrap();
    assert_eq!(hotel.discount_permille, 850);

    // Activity during the override still moves the computed level, invisibly for now.
    let during = datetime!(2025-07-01 10:00 +8);
    let upgrade = ladder.on_activity(&overridden, 5000, during, &tz).unwrap();
    assert!(!upgrade.changes_effective_level(&overridden));
    let gold_underneath = overridden.apply(&upgrade);
    assert_eq!(gold_underneath.effective_level_code(during), "diamond");
    assert!(gold_underneath.r#override.is_some());

    // From the expiry instant on, reads see the computed level even before expiry is recorded.
    assert_eq!(
        gold_underneath.effective_level_code(expires_at - time::Duration::SECOND),
        "diamond"
    );
    assert_eq!(gold_underneath.effective_level_code(expires_at), "gold");
    assert_eq!(
        ladder.expire_override(&gold_underneath, expires_at - time::Duration::SECOND),
        None
    );
    // A worker running a day late dates the record at the expiry.
    let expired = ladder
        .expire_override(&gold_underneath, datetime!(2025-09-02 03:00 +8))
        .unwrap();
    assert_eq!(
        (
            expired.from.as_str(),
            expired.to.as_str(),
            expired.reason,
            expired.at
        ),
        ("diamond", "gold", ChangeReason::OverrideExpired, expires_at)
    );
    let after = gold_underneath.apply(&expired);
    assert_eq!(after.r#override, None);
    assert_eq!(after.level_code, "gold");
    assert_eq!(
        after.next_evaluation_at,
        Some(datetime!(2026-07-01 00:00 +8))
    );
    assert_eq!(
        ladder.expire_override(&after, datetime!(2025-09-03 00:00 +8)),
        None
    );
}

#[test]
fn the_computed_level_after_an_override_is_what_the_evaluations_decided() {
    // A gold member given a diamond override is evaluated meanwhile and drops to silver: when the
    // override ends, silver applies, not gold and not diamond.
    let ladder = ladder();
    let tz = shanghai();
    let mut gold = TierState::new("gold", datetime!(2025-01-10 10:00 +8));
    gold.next_evaluation_at = Some(datetime!(2026-01-10 00:00 +8));
    let expires_at = datetime!(2026-06-01 00:00 +8);
    let set = ladder
        .set_override(
            &gold,
            trial("diamond", expires_at),
            datetime!(2025-12-01 10:00 +8),
        )
        .unwrap();
    let overridden = gold.apply(&set);
    let due = overridden.next_evaluation_at.unwrap();
    let evaluation = ladder.on_evaluation(&overridden, 900, due, &tz).unwrap();
    assert_eq!(evaluation.reason, ChangeReason::Downgrade);
    assert!(!evaluation.changes_effective_level(&overridden));
    let downgraded = overridden.apply(&evaluation);
    assert_eq!(downgraded.effective_level_code(due), "diamond");
    let expired = ladder.expire_override(&downgraded, expires_at).unwrap();
    assert_eq!(expired.to, "silver");
    assert_eq!(
        downgraded.apply(&expired).effective_level_code(expires_at),
        "silver"
    );
}

#[test]
fn an_override_may_demote_and_may_be_cleared_early() {
    let ladder = ladder();
    let at = datetime!(2025-06-01 10:00 +8);
    let gold = TierState::new("gold", datetime!(2025-01-10 10:00 +8));
    let demoted = gold.apply(
        &ladder
            .set_override(&gold, trial("normal", datetime!(2025-12-01 00:00 +8)), at)
            .unwrap(),
    );
    assert_eq!(demoted.effective_level_code(at), "normal");
    assert_eq!(
        ladder
            .effective_benefits(&demoted, at, None)
            .unwrap()
            .discount_permille,
        1000
    );
    let later = datetime!(2025-07-01 10:00 +8);
    let cleared = ladder.clear_override(&demoted, later).unwrap();
    assert_eq!(
        (
            cleared.from.as_str(),
            cleared.to.as_str(),
            cleared.reason,
            cleared.at
        ),
        ("normal", "gold", ChangeReason::OverrideCleared, later)
    );
    let restored = demoted.apply(&cleared);
    assert_eq!(restored.effective_level_code(later), "gold");
    assert_eq!(ladder.clear_override(&restored, later), None);
}

#[test]
fn overrides_are_checked_before_they_are_set() {
    let ladder = ladder();
    let at = datetime!(2025-06-01 10:00 +8);
    let state = TierState::new("silver", at);
    let codes = |manual: Override| -> Vec<(String, &'static str)> {
        ladder
            .set_override(&state, manual, at)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    };
    let bad = Override {
        level_code: "platinum".into(),
        expires_at: at,
        reason: "  ".into(),
    };
    assert_eq!(
        codes(bad),
        [
            ("level_code".to_owned(), "unknown_level"),
            ("expires_at".to_owned(), "out_of_range"),
            ("reason".to_owned(), "required"),
        ]
    );
    let too_far = trial("gold", at + time::Duration::days(3661));
    assert_eq!(codes(too_far), [("expires_at".to_owned(), "out_of_range")]);
    let long_reason = Override {
        reason: "因".repeat(501),
        ..trial("gold", at + time::Duration::days(30))
    };
    assert_eq!(codes(long_reason), [("reason".to_owned(), "too_long")]);
    assert!(
        ladder
            .set_override(&state, trial("gold", at + time::Duration::days(3660)), at)
            .is_ok()
    );
}

#[test]
fn the_history_rebuilds_the_state() {
    let ladder = ladder();
    let tz = shanghai();
    let start = ladder
        .initial_state(datetime!(2025-01-01 10:00 +8))
        .unwrap();
    let mut state = start.clone();
    let mut history = Vec::new();
    let mut record = |state: &mut TierState, change: Option<TierChange>| {
        let change = change.unwrap();
        *state = state.apply(&change);
        history.push(change);
    };
    let change = ladder.on_activity(&state, 1500, datetime!(2025-02-01 10:00 +8), &tz);
    record(&mut state, change);
    let manual = trial("diamond", datetime!(2025-05-01 00:00 +8));
    let change = ladder.set_override(&state, manual, datetime!(2025-03-01 10:00 +8));
    record(&mut state, change.ok());
    let change = ladder.expire_override(&state, datetime!(2025-05-01 00:00 +8));
    record(&mut state, change);
    let due = state.next_evaluation_at.unwrap();
    let change = ladder.on_evaluation(&state, 650, due, &tz);
    record(&mut state, change);
    let reasons: Vec<&str> = history.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["upgrade", "override_set", "override_expired", "retained"]
    );
    // Stored as JSON and replayed, the history gives the same state.
    let json = serde_json::to_string(&history).unwrap();
    let replayed: Vec<TierChange> = serde_json::from_str(&json).unwrap();
    let rebuilt = replayed
        .iter()
        .fold(start, |state, change| state.apply(change));
    assert_eq!(rebuilt, state);
}
