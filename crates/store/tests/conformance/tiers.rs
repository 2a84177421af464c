//! Tier storage: the ladder round-trips and is replaced, member states change only at the
//! version read, the evaluation job's work list, the history pages oldest first, and qualifying
//! totals count earning less claw-backs (never spending, expiry or adjustments) and net spend.

use crate::fixtures::seed_tenant;
use crate::harness::{TestDb, walk_pages};
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use huiyuan_domain::tiers::{
    Basis, Benefits, ChangeReason, Evaluation, Override, TierChange, TierLadder, TierLevel,
    TierState, Window,
};
use huiyuan_store::ledger::{self, Entry};
use huiyuan_store::orders::{self, StoredOrder};
use huiyuan_store::tiers;
use huiyuan_store::utc_now;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

on_both!(
    the_ladder_round_trips_and_is_replaced,
    states_change_only_at_the_version_read,
    due_members_are_those_to_evaluate_or_with_expired_overrides,
    the_history_pages_oldest_first,
    tier_points_count_earning_less_clawbacks,
    spend_counts_money_paid_less_refunds,
);

fn ladder(basis: Basis) -> TierLadder {
    let level = |code: &str, name: &str, threshold: i64, retention: i64| TierLevel {
        code: code.to_owned(),
        name: name.to_owned(),
        threshold,
        retention,
        benefits: Benefits::default(),
    };
    TierLadder {
        basis,
        window: Window::RollingDays { days: 365 },
        evaluation: Evaluation::WindowEnd,
        levels: vec![
            level("normal", "普通", 0, 0),
            level("silver", "银卡", 1000, 600),
            level("gold", "金卡", 5000, 3000),
        ],
    }
}

fn state(level: &str, next: Option<OffsetDateTime>, manual: Option<Override>) -> TierState {
    TierState {
        level_code: level.to_owned(),
        since: datetime!(2026-01-10 04:00 UTC),
        next_evaluation_at: next,
        r#override: manual,
    }
}

async fn the_ladder_round_trips_and_is_replaced(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let mut s = db.write().await;
    assert_eq!(tiers::ladder(&mut s, tenant).await.unwrap(), None);
    let now = utc_now();
    tiers::put_ladder(&mut s, tenant, &ladder(Basis::TierPoints), now)
        .await
        .unwrap();
    let stored = tiers::ladder(&mut s, tenant).await.unwrap().unwrap();
    assert_eq!(
        (stored.ladder, stored.updated_at),
        (ladder(Basis::TierPoints), now)
    );
    tiers::put_ladder(&mut s, tenant, &ladder(Basis::SpendFen), now)
        .await
        .unwrap();
    let replaced = tiers::ladder(&mut s, tenant).await.unwrap().unwrap();
    assert_eq!(replaced.ladder.basis, Basis::SpendFen);
    assert_eq!(
        tiers::ladder(&mut s, other).await.unwrap(),
        None,
        "per tenant"
    );
    s.commit().await.unwrap();
}

async fn states_change_only_at_the_version_read(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let member = MemberId::new();
    let now = utc_now();
    let mut s = db.write().await;
    assert_eq!(tiers::state(&mut s, tenant, member).await.unwrap(), None);
    let initial = state("normal", None, None);
    assert!(
        tiers::insert_state(&mut s, tenant, member, &initial, now)
            .await
            .unwrap()
    );
    assert!(
        !tiers::insert_state(&mut s, tenant, member, &state("gold", None, None), now)
            .await
            .unwrap(),
        "a stored state is never replaced by an insert"
    );
    let stored = tiers::state(&mut s, tenant, member).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.version), (initial.clone(), 1));

    let manual = Override {
        level_code: "gold".to_owned(),
        expires_at: datetime!(2026-03-01 16:00 UTC),
        reason: "VIP 试用".to_owned(),
    };
    let gold = state(
        "silver",
        Some(datetime!(2027-01-09 16:00 UTC)),
        Some(manual),
    );
    assert!(
        tiers::update_state(&mut s, tenant, member, 1, &gold, now)
            .await
            .unwrap()
    );
    assert!(
        !tiers::update_state(&mut s, tenant, member, 1, &initial, now)
            .await
            .unwrap(),
        "a writer holding an old version changes nothing"
    );
    let stored = tiers::state(&mut s, tenant, member).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.version), (gold, 2));
    assert!(
        !tiers::update_state(&mut s, other, member, 2, &initial, now)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
}

async fn due_members_are_those_to_evaluate_or_with_expired_overrides(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let now = datetime!(2027-01-10 00:00 UTC);
    let manual = |expires_at| Override {
        level_code: "gold".to_owned(),
        expires_at,
        reason: "trial".to_owned(),
    };
    let (due_early, due_now, later, expired, lowest) = (
        MemberId::new(),
        MemberId::new(),
        MemberId::new(),
        MemberId::new(),
        MemberId::new(),
    );
    let mut s = db.write().await;
    let rows = [
        (due_now, state("gold", Some(now), None)),
        (
            due_early,
            state("gold", Some(now - time::Duration::days(3)), None),
        ),
        (
            later,
            state(
                "gold",
                Some(now + time::Duration::seconds(1)),
                Some(manual(now + time::Duration::days(1))),
            ),
        ),
        (
            expired,
            state("normal", None, Some(manual(now - time::Duration::hours(1)))),
        ),
        (lowest, state("normal", None, None)),
    ];
    for (member, row) in &rows {
        tiers::insert_state(&mut s, tenant, *member, row, now)
            .await
            .unwrap();
    }
    tiers::insert_state(
        &mut s,
        other,
        MemberId::new(),
        &state("gold", Some(now), None),
        now,
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let due = tiers::due_members(&mut s, tenant, now, 10).await.unwrap();
    assert_eq!(
        due,
        [due_early, due_now, expired],
        "evaluations by due date, then expired overrides"
    );
    assert_eq!(
        tiers::due_members(&mut s, tenant, now, 2).await.unwrap(),
        [due_early, due_now]
    );
    assert_eq!(
        tiers::due_members(&mut s, tenant, now - time::Duration::days(4), 10)
            .await
            .unwrap(),
        Vec::<MemberId>::new()
    );
}

fn change(reason: ChangeReason, from: &str, to: &str, at: OffsetDateTime) -> TierChange {
    TierChange {
        from: from.to_owned(),
        to: to.to_owned(),
        reason,
        at,
        qualifying_total: Some(5000),
        next_evaluation_at: Some(at + time::Duration::days(365)),
        r#override: None,
    }
}

async fn the_history_pages_oldest_first(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let member = MemberId::new();
    let at = datetime!(2026-01-10 04:00 UTC);
    let mut expected = vec![
        change(ChangeReason::Upgrade, "normal", "silver", at),
        change(
            ChangeReason::Upgrade,
            "silver",
            "gold",
            at + time::Duration::days(30),
        ),
        change(
            ChangeReason::Retained,
            "gold",
            "gold",
            at + time::Duration::days(395),
        ),
        change(
            ChangeReason::Downgrade,
            "gold",
            "silver",
            at + time::Duration::days(760),
        ),
    ];
    expected.push(TierChange {
        from: "silver".to_owned(),
        to: "gold".to_owned(),
        reason: ChangeReason::OverrideSet,
        at: at + time::Duration::days(800),
        qualifying_total: None,
        next_evaluation_at: None,
        r#override: Some(Override {
            level_code: "gold".to_owned(),
            expires_at: at + time::Duration::days(830),
            reason: "补偿".to_owned(),
        }),
    });
    let mut s = db.write().await;
    for item in &expected {
        tiers::insert_change(&mut s, tenant, member, Uuid::now_v7(), item, utc_now())
            .await
            .unwrap();
    }
    tiers::insert_change(
        &mut s,
        tenant,
        MemberId::new(),
        Uuid::now_v7(),
        &expected[0],
        utc_now(),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let db = &db;
    let listed = walk_pages(2, |page| async move {
        let mut s = db.read().await;
        tiers::list_changes(&mut s, tenant, member, page).await
    })
    .await;
    let changes: Vec<TierChange> = listed.into_iter().map(|stored| stored.change).collect();
    assert_eq!(changes, expected);
    let mut s = db.read().await;
    let recent = tiers::recent_changes(&mut s, tenant, member, 2)
        .await
        .unwrap();
    let reasons: Vec<ChangeReason> = recent.iter().map(|stored| stored.change.reason).collect();
    assert_eq!(
        reasons,
        [ChangeReason::OverrideSet, ChangeReason::Downgrade],
        "newest first"
    );
}

async fn post(
    s: &mut huiyuan_store::Session,
    tenant: TenantId,
    member: MemberId,
    kind: &str,
    amount: i64,
    (debit, credit): (&str, &str),
    at: OffsetDateTime,
) {
    let entry = Entry {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        amount,
        debit_account: debit.to_owned(),
        credit_account: credit.to_owned(),
        format_id: None,
        reference: None,
        reason: kind.to_owned(),
        draws: Vec::new(),
        natural_key: None,
        created_at: at,
    };
    assert!(ledger::insert_entry(s, tenant, &entry).await.unwrap());
}

async fn tier_points_count_earning_less_clawbacks(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (member, other) = (MemberId::new(), MemberId::new());
    let t = datetime!(2026-06-01 04:00 UTC);
    let day = time::Duration::days(1);
    let mut s = db.write().await;
    post(
        &mut s,
        tenant,
        member,
        "earn",
        1000,
        ("issuance:group", "member.available"),
        t - day * 400,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "earn",
        3000,
        ("issuance:group", "member.available"),
        t,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "reward",
        200,
        ("issuance:group", "member.pending"),
        t + day,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "earn",
        50,
        ("issuance:group", "member.available"),
        t + day * 2,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "clawback",
        500,
        ("member.available", "issuance:group"),
        t + day * 3,
    )
    .await;
    // None of these qualify: spending, expiry, adjustments, releases.
    post(
        &mut s,
        tenant,
        member,
        "spend",
        2000,
        ("member.available", "redemption:group"),
        t + day,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "expire",
        300,
        ("member.available", "expiry"),
        t + day,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "adjust",
        9000,
        ("adjustment", "member.available"),
        t + day,
    )
    .await;
    post(
        &mut s,
        tenant,
        member,
        "release",
        200,
        ("member.pending", "member.available"),
        t + day * 2,
    )
    .await;
    post(
        &mut s,
        tenant,
        other,
        "earn",
        7000,
        ("issuance:group", "member.available"),
        t,
    )
    .await;
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let sum = |from: OffsetDateTime, until: OffsetDateTime| (from, until);
    let cases = [
        // The event reward (200) does not qualify: only order earnings are tier points.
        (sum(t - day * 365, t + day * 10), 3000 + 50 - 500),
        (sum(t - day * 500, t + day * 10), 1000 + 3000 + 50 - 500),
        // `[from, until)`: an entry at `until` is out, one at `from` is in.
        (sum(t, t + day * 2), 3000),
        (sum(t + time::Duration::microseconds(1), t + day * 3), 50),
        (sum(t + day * 4, t + day * 5), 0),
    ];
    for ((from, until), expected) in cases {
        let total = tiers::tier_points_between(&mut s, tenant, member, from, until)
            .await
            .unwrap();
        assert_eq!(total, expected, "[{from}, {until})");
    }
}

fn order(
    member: Option<MemberId>,
    total: i64,
    points: i64,
    coupons: i64,
    refunded: i64,
    at: OffsetDateTime,
) -> StoredOrder {
    StoredOrder {
        id: OrderId::new(),
        member_id: member,
        channel_id: Uuid::now_v7(),
        external_id: Uuid::now_v7().to_string(),
        store_id: None,
        format_id: Uuid::now_v7(),
        guide_id: None,
        occurred_at: at,
        total_fen: total,
        paid_by_points_fen: points,
        paid_by_coupons_fen: coupons,
        refunded_fen: refunded,
        status: "completed".to_owned(),
        points_earned: 0,
        points_reversed: 0,
        accrual: None,
        claimed_at: None,
        created_at: at,
        updated_at: at,
    }
}

async fn spend_counts_money_paid_less_refunds(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let member = MemberId::new();
    let t = datetime!(2026-06-01 04:00 UTC);
    let day = time::Duration::days(1);
    let mut s = db.write().await;
    for row in [
        order(Some(member), 12_900, 0, 0, 0, t),
        order(Some(member), 10_000, 1_000, 2_000, 3_000, t + day),
        // Refunded beyond the money paid: counts as nothing, never negative.
        order(Some(member), 5_000, 4_000, 0, 5_000, t + day),
        order(Some(member), 99_900, 0, 0, 0, t - day * 400),
        order(None, 50_000, 0, 0, 0, t),
        order(Some(MemberId::new()), 50_000, 0, 0, 0, t),
    ] {
        orders::insert_order(&mut s, tenant, &row, &[], &[])
            .await
            .unwrap();
    }
    s.commit().await.unwrap();
    let mut s = db.read().await;
    let window = tiers::spend_fen_between(&mut s, tenant, member, t - day * 364, t + day * 2)
        .await
        .unwrap();
    assert_eq!(window, 12_900 + 4_000);
    let from_next_day = tiers::spend_fen_between(&mut s, tenant, member, t + day, t + day * 2)
        .await
        .unwrap();
    assert_eq!(from_next_day, 4_000);
}
