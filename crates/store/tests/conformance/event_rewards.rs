//! Event rewards' storage: slots claimed once per member, kind, subject, day and number (also
//! across tenants kept apart), counts by day range, outcomes, the birthday work list and the
//! per-tenant configuration.

use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::MemberId;
use huiyuan_store::event_rewards::{self, MemberEvent, StoredConfig};
use huiyuan_store::members::{self, StoredMember};
use huiyuan_store::utc_now;
use serde_json::json;
use time::Date;
use time::macros::date;
use uuid::Uuid;

on_both!(
    a_slot_is_claimed_once,
    counts_and_outcomes_round_trip,
    birthdays_due_today_without_a_reward_this_year,
    the_configuration_round_trips,
);

fn event(member: MemberId, kind: &str, subject: &str, day: Date, seq: i64) -> MemberEvent {
    let now = utc_now();
    MemberEvent {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        local_day: day,
        seq,
        occurred_at: now,
        streak: 1,
        points: 0,
        outcome: serde_json::Value::Null,
        created_at: now,
    }
}

pub(crate) fn member(seq: i64, birthday: Option<Date>, status: &str) -> StoredMember {
    let now = utc_now();
    StoredMember {
        id: MemberId::new(),
        seq,
        member_no: format!("{seq:09}"),
        status: status.to_owned(),
        merged_into: None,
        name_enc: None,
        name_index: None,
        gender: None,
        birthday,
        province: None,
        city: None,
        district: None,
        address_enc: None,
        address_index: None,
        id_card_enc: None,
        id_card_index: None,
        preferred_store_id: None,
        source_channel_id: None,
        source_format_id: None,
        source_store_id: None,
        guide_id: None,
        referral_code: format!("E{seq:07}"),
        referred_by: None,
        created_at: now,
        updated_at: now,
        erased_at: None,
    }
}

async fn a_slot_is_claimed_once(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let member = MemberId::new();
    let day = date!(2026 - 11 - 21);
    let mut s = db.write().await;
    let first = event(member, "sign_in", "", day, 1);
    assert!(event_rewards::claim(&mut s, tenant, &first).await.unwrap());
    assert!(
        !event_rewards::claim(&mut s, tenant, &event(member, "sign_in", "", day, 1))
            .await
            .unwrap(),
        "the same day again"
    );
    assert!(
        event_rewards::claim(&mut s, tenant, &event(member, "sign_in", "", day, 2))
            .await
            .unwrap(),
        "another slot"
    );
    assert!(
        event_rewards::claim(
            &mut s,
            tenant,
            &event(member, "sign_in", "", date!(2026 - 11 - 22), 1)
        )
        .await
        .unwrap()
    );
    assert!(
        event_rewards::claim(
            &mut s,
            tenant,
            &event(member, "check_in", "store-a", day, 1)
        )
        .await
        .unwrap()
    );
    assert!(
        event_rewards::claim(
            &mut s,
            tenant,
            &event(member, "check_in", "store-b", day, 1)
        )
        .await
        .unwrap()
    );
    assert!(
        event_rewards::claim(&mut s, other, &event(member, "sign_in", "", day, 1))
            .await
            .unwrap(),
        "tenants apart"
    );
    s.commit().await.unwrap();
    let mut s = db.read().await;
    let found = event_rewards::get_slot(&mut s, tenant, member, "sign_in", "", day, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, first);
    assert!(
        event_rewards::get_slot(
            &mut s,
            tenant,
            member,
            "sign_in",
            "",
            date!(2026 - 11 - 20),
            1
        )
        .await
        .unwrap()
        .is_none()
    );
}

async fn counts_and_outcomes_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let member = MemberId::new();
    let mut s = db.write().await;
    for (day, seq) in [
        (date!(2026 - 10 - 31), 1),
        (date!(2026 - 11 - 01), 1),
        (date!(2026 - 11 - 01), 2),
        (date!(2026 - 11 - 30), 1),
        (date!(2026 - 12 - 01), 1),
    ] {
        assert!(
            event_rewards::claim(&mut s, tenant, &event(member, "share", "", day, seq))
                .await
                .unwrap()
        );
    }
    let named = event(member, "custom", "survey", date!(2026 - 11 - 02), 1);
    assert!(event_rewards::claim(&mut s, tenant, &named).await.unwrap());
    let outcome = json!({ "points": 15, "grants": [{ "reason": "survey" }] });
    assert!(
        event_rewards::set_outcome(&mut s, tenant, member, named.id, 15, &outcome)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let mut s = db.read().await;
    let november = event_rewards::count_between(
        &mut s,
        tenant,
        member,
        "share",
        "",
        date!(2026 - 11 - 01),
        date!(2026 - 11 - 30),
    )
    .await
    .unwrap();
    assert_eq!(november, 3);
    let first = event_rewards::count_between(
        &mut s,
        tenant,
        member,
        "share",
        "",
        date!(2026 - 11 - 01),
        date!(2026 - 11 - 01),
    )
    .await
    .unwrap();
    assert_eq!(first, 2);
    assert_eq!(
        event_rewards::count_all(&mut s, tenant, member, "share", "")
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        event_rewards::count_all(&mut s, tenant, member, "custom", "survey")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        event_rewards::count_all(&mut s, tenant, member, "custom", "other")
            .await
            .unwrap(),
        0
    );
    let stored = event_rewards::get_slot(
        &mut s,
        tenant,
        member,
        "custom",
        "survey",
        date!(2026 - 11 - 02),
        1,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((stored.points, stored.outcome), (15, outcome));
    let recent = event_rewards::recent(&mut s, tenant, member, 2)
        .await
        .unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].id, named.id, "newest first");
}

async fn birthdays_due_today_without_a_reward_this_year(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let born_today = member(1, Some(date!(1990 - 11 - 21)), "active");
    let rewarded = member(2, Some(date!(1985 - 11 - 21)), "active");
    let rewarded_last_year = member(3, Some(date!(2000 - 11 - 21)), "active");
    let leap = member(4, Some(date!(2000 - 02 - 29)), "active");
    let other_day = member(5, Some(date!(1990 - 11 - 22)), "active");
    let erased = member(6, Some(date!(1990 - 11 - 21)), "erased");
    let unknown = member(7, None, "active");
    let mut s = db.write().await;
    for m in [
        &born_today,
        &rewarded,
        &rewarded_last_year,
        &leap,
        &other_day,
        &erased,
        &unknown,
    ] {
        members::insert_member(&mut s, tenant, m).await.unwrap();
    }
    assert!(
        event_rewards::claim(
            &mut s,
            tenant,
            &event(rewarded.id, "birthday", "", date!(2026 - 11 - 21), 1)
        )
        .await
        .unwrap()
    );
    assert!(
        event_rewards::claim(
            &mut s,
            tenant,
            &event(
                rewarded_last_year.id,
                "birthday",
                "",
                date!(2025 - 11 - 21),
                1
            )
        )
        .await
        .unwrap()
    );
    s.commit().await.unwrap();
    let mut s = db.read().await;
    let year = date!(2026 - 01 - 01);
    let due =
        event_rewards::members_due_birthday(&mut s, tenant, &["11-21".to_owned()], year, None, 100)
            .await
            .unwrap();
    let mut expected = vec![born_today.id, rewarded_last_year.id];
    expected.sort();
    assert_eq!(due, expected);
    let page = event_rewards::members_due_birthday(
        &mut s,
        tenant,
        &["11-21".to_owned()],
        year,
        Some(expected[0]),
        100,
    )
    .await
    .unwrap();
    assert_eq!(page, vec![expected[1]]);
    let feb = event_rewards::members_due_birthday(
        &mut s,
        tenant,
        &["02-28".to_owned(), "02-29".to_owned()],
        year,
        None,
        100,
    )
    .await
    .unwrap();
    assert_eq!(feb, vec![leap.id]);
    let other = seed_tenant(&db).await;
    assert!(
        event_rewards::members_due_birthday(&mut s, other, &["11-21".to_owned()], year, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_configuration_round_trips(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut s = db.write().await;
    assert!(
        event_rewards::config(&mut s, tenant)
            .await
            .unwrap()
            .is_none()
    );
    let first = StoredConfig {
        config: json!({ "registration_points": 100 }),
        updated_at: utc_now(),
    };
    event_rewards::put_config(&mut s, tenant, &first)
        .await
        .unwrap();
    let second = StoredConfig {
        config: json!({ "registration_points": 50, "custom": [{ "name": "survey" }] }),
        updated_at: utc_now(),
    };
    event_rewards::put_config(&mut s, tenant, &second)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert_eq!(
        event_rewards::config(&mut s, tenant).await.unwrap(),
        Some(second)
    );
}
