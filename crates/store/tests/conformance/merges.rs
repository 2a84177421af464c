//! Merging members in the store: member-owned rows move to the survivor and exactly those move
//! back, the merge log round-trips, rows written for a merged member land on its survivor, every
//! registered table is shaped for the registry, and locks keep a merge and other writes apart.

use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_store::backend::Backend;
use huiyuan_store::members::merges::{self, MEMBER_OWNED, MovedRows, StoredMerge};
use huiyuan_store::members::{self, StoredConsent, StoredIdentifier, StoredMember};
use huiyuan_store::{Session, utc_now};
use time::macros::date;
use uuid::Uuid;

on_both!(
    merge_moves_rows_and_undo_moves_exactly_those_back,
    the_merge_log_round_trips,
    rows_written_for_a_merged_member_land_on_the_survivor,
    every_member_owned_table_is_keyed_by_member_and_follows_merges,
    locked_members_hold_off_merges_and_writes,
);

fn member(seq: i64) -> StoredMember {
    let now = utc_now();
    StoredMember {
        id: MemberId::new(),
        seq,
        member_no: format!("{seq:09}"),
        status: "active".to_owned(),
        merged_into: None,
        name_enc: Some(format!("sealed-name-{seq}")),
        name_index: Some(format!("name-index-{seq}")),
        gender: Some("female".to_owned()),
        birthday: Some(date!(1990 - 05 - 01)),
        province: None,
        city: Some("上海".to_owned()),
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
        referral_code: format!("REF{seq:05}"),
        referred_by: None,
        created_at: now,
        updated_at: now,
        erased_at: None,
    }
}

fn identifier(member: MemberId, kind: &str, index: &str, matchable: bool) -> StoredIdentifier {
    StoredIdentifier {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        value_index: index.to_owned(),
        value_enc: format!("sealed-{index}"),
        matchable,
        created_at: utc_now(),
    }
}

fn consent(member: MemberId, channel: &str) -> StoredConsent {
    StoredConsent {
        id: Uuid::now_v7(),
        member_id: member,
        channel: channel.to_owned(),
        granted: true,
        source_channel_id: None,
        recorded_at: utc_now(),
    }
}

async fn insert_members(db: &TestDb, tenant: TenantId, rows: &[&StoredMember]) {
    let mut s = db.write().await;
    for row in rows {
        members::insert_member(&mut s, tenant, row).await.unwrap();
    }
    s.commit().await.unwrap();
}

async fn insert_identifiers(db: &TestDb, tenant: TenantId, rows: &[&StoredIdentifier]) {
    let mut s = db.write().await;
    for row in rows {
        assert!(
            members::try_insert_identifier(&mut s, tenant, row)
                .await
                .unwrap()
        );
    }
    s.commit().await.unwrap();
}

fn ids_of(identifiers: &[StoredIdentifier]) -> Vec<Uuid> {
    identifiers.iter().map(|i| i.id).collect()
}

/// Marks `source` merged into `survivor` (what the server does after moving rows).
async fn mark_merged(s: &mut Session, tenant: TenantId, source: &StoredMember, survivor: MemberId) {
    let mut merged = source.clone();
    merged.status = "merged".to_owned();
    merged.merged_into = Some(survivor);
    members::update_member(s, tenant, &merged).await.unwrap();
}

async fn merge_moves_rows_and_undo_moves_exactly_those_back(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (survivor, source, other) = (member(1), member(2), member(3));
    insert_members(&db, tenant, &[&survivor, &source, &other]).await;
    let survivor_phone = identifier(survivor.id, "phone", "phone-a", true);
    let source_phone = identifier(source.id, "phone", "phone-b", true);
    let source_device = identifier(source.id, "device_id", "device-b", true);
    // A shared value both hold (unmatchable, so the unique index allows it): the survivor keeps
    // its own and the source's stays with the source.
    let shared_on_survivor = identifier(survivor.id, "phone", "front-desk", false);
    let shared_on_source = identifier(source.id, "phone", "front-desk", false);
    let bystander = identifier(other.id, "phone", "phone-c", true);
    insert_identifiers(
        &db,
        tenant,
        &[
            &survivor_phone,
            &source_phone,
            &source_device,
            &shared_on_survivor,
            &shared_on_source,
            &bystander,
        ],
    )
    .await;
    let (sms, email) = (consent(source.id, "sms"), consent(source.id, "email"));
    let mut s = db.write().await;
    members::insert_consent(&mut s, tenant, &sms).await.unwrap();
    members::insert_consent(&mut s, tenant, &email)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.write().await;
    merges::lock_members(&mut s, tenant, &[survivor.id, source.id])
        .await
        .unwrap();
    let moved = merges::move_member_owned(&mut s, tenant, source.id, survivor.id)
        .await
        .unwrap();
    let mut expected_ids = vec![source_phone.id, source_device.id];
    expected_ids.sort();
    let expected = MovedRows::from([
        ("member_identifiers".to_owned(), expected_ids),
        ("member_consents".to_owned(), vec![sms.id, email.id]),
        ("orders".to_owned(), vec![]),
        ("rule_accruals".to_owned(), vec![]),
        ("coupons".to_owned(), vec![]),
        ("reward_redemptions".to_owned(), vec![]),
        ("reward_limit_counters".to_owned(), vec![]),
        ("checkouts".to_owned(), vec![]),
    ]);
    assert_eq!(moved, expected);
    let identifiers_table = merges::member_owned("member_identifiers").unwrap();
    assert_eq!(
        merges::count_rows(&mut s, tenant, identifiers_table, source.id)
            .await
            .unwrap(),
        1,
        "the repeated shared value stays with the source"
    );
    s.commit().await.unwrap();

    let mut r = db.read().await;
    let on_survivor = members::list_identifiers(&mut r, tenant, survivor.id)
        .await
        .unwrap();
    assert_eq!(on_survivor.len(), 4, "{on_survivor:#?}");
    assert!(
        on_survivor
            .iter()
            .all(|i| i.member_id == survivor.id && i.id != shared_on_source.id)
    );
    let on_source = members::list_identifiers(&mut r, tenant, source.id)
        .await
        .unwrap();
    assert_eq!(ids_of(&on_source), [shared_on_source.id]);
    let survivor_consents = members::list_consents(&mut r, tenant, survivor.id)
        .await
        .unwrap();
    assert_eq!(survivor_consents.len(), 2);
    assert_eq!(
        members::find_member_by_identifier(&mut r, tenant, "phone", "phone-b")
            .await
            .unwrap(),
        Some(survivor.id)
    );
    drop(r);

    // The survivor drops one moved identifier before the undo: the rest go back, that one is gone.
    let mut s = db.write().await;
    assert!(
        members::delete_identifier(&mut s, tenant, survivor.id, source_device.id)
            .await
            .unwrap()
    );
    let back = merges::move_member_owned_back(&mut s, tenant, &moved, survivor.id, source.id)
        .await
        .unwrap();
    assert_eq!(back["member_identifiers"], 1);
    assert_eq!(back["member_consents"], 2);
    s.commit().await.unwrap();

    let mut r = db.read().await;
    let mut expected_source = vec![source_phone.clone(), shared_on_source.clone()];
    expected_source.sort_by_key(|i| i.id);
    assert_eq!(
        members::list_identifiers(&mut r, tenant, source.id)
            .await
            .unwrap(),
        expected_source,
        "the rows come back unchanged"
    );
    assert_eq!(
        members::list_identifiers(&mut r, tenant, survivor.id)
            .await
            .unwrap(),
        vec![survivor_phone.clone(), shared_on_survivor.clone()],
    );
    assert_eq!(
        members::list_consents(&mut r, tenant, source.id)
            .await
            .unwrap(),
        vec![sms, email]
    );
    assert_eq!(
        members::list_identifiers(&mut r, tenant, other.id)
            .await
            .unwrap(),
        vec![bystander],
        "nobody else's rows move"
    );
}

async fn the_merge_log_round_trips(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (survivor, first, second) = (member(1), member(2), member(3));
    insert_members(&db, tenant, &[&survivor, &first, &second]).await;
    let mut before = survivor.clone();
    before.name_enc = None;
    before.name_index = None;
    before.birthday = None;
    before.erased_at = Some(utc_now());
    let log = |source: MemberId| StoredMerge {
        id: Uuid::now_v7(),
        survivor_id: survivor.id,
        source_id: source,
        moved: MovedRows::from([
            ("member_identifiers".to_owned(), vec![Uuid::now_v7()]),
            ("member_consents".to_owned(), vec![]),
        ]),
        survivor_before: before.clone(),
        created_at: utc_now(),
        undone_at: None,
    };
    let (older, newer) = (log(first.id), log(second.id));

    let mut s = db.write().await;
    assert_eq!(
        merges::merges_in_effect(&mut s, tenant, survivor.id, 5)
            .await
            .unwrap(),
        (0, vec![])
    );
    assert_eq!(
        merges::latest_open_merge(&mut s, tenant, survivor.id)
            .await
            .unwrap(),
        None
    );
    merges::insert_merge(&mut s, tenant, &older).await.unwrap();
    merges::insert_merge(&mut s, tenant, &newer).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.write().await;
    let read = merges::get_merge(&mut s, tenant, survivor.id, older.id)
        .await
        .unwrap();
    assert_eq!(
        read.as_ref(),
        Some(&older),
        "the snapshot comes back exactly"
    );
    assert_eq!(
        merges::get_merge(&mut s, tenant, first.id, older.id)
            .await
            .unwrap(),
        None,
        "a merge is found through its survivor"
    );
    assert_eq!(
        merges::latest_open_merge(&mut s, tenant, survivor.id)
            .await
            .unwrap()
            .map(|m| m.id),
        Some(newer.id)
    );
    let (count, latest) = merges::merges_in_effect(&mut s, tenant, survivor.id, 1)
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(
        latest.iter().map(|m| m.source_id).collect::<Vec<_>>(),
        [second.id]
    );

    let at = utc_now();
    assert!(
        merges::mark_undone(&mut s, tenant, survivor.id, newer.id, at)
            .await
            .unwrap()
    );
    assert!(
        !merges::mark_undone(&mut s, tenant, survivor.id, newer.id, at)
            .await
            .unwrap(),
        "undone once"
    );
    s.commit().await.unwrap();

    let mut r = db.read().await;
    let undone = merges::get_merge(&mut r, tenant, survivor.id, newer.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(undone.undone_at, Some(at));
    assert_eq!(
        merges::latest_open_merge(&mut r, tenant, survivor.id)
            .await
            .unwrap()
            .map(|m| m.id),
        Some(older.id)
    );
    let (count, latest) = merges::merges_in_effect(&mut r, tenant, survivor.id, 5)
        .await
        .unwrap();
    assert_eq!((count, latest.len()), (1, 1));
    assert_eq!(latest[0].source_id, first.id);
    assert_eq!(latest[0].created_at, older.created_at);
}

async fn rows_written_for_a_merged_member_land_on_the_survivor(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (survivor, source) = (member(1), member(2));
    insert_members(&db, tenant, &[&survivor, &source]).await;
    let mut s = db.write().await;
    mark_merged(&mut s, tenant, &source, survivor.id).await;
    s.commit().await.unwrap();

    // A writer that looked the source up before the merge committed still names the source.
    let late = identifier(source.id, "phone", "late-phone", true);
    let late_consent = consent(source.id, "sms");
    let mut s = db.write().await;
    assert!(
        members::try_insert_identifier(&mut s, tenant, &late)
            .await
            .unwrap()
    );
    members::insert_consent(&mut s, tenant, &late_consent)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut r = db.read().await;
    assert_eq!(
        members::find_member_by_identifier(&mut r, tenant, "phone", "late-phone")
            .await
            .unwrap(),
        Some(survivor.id)
    );
    assert!(
        members::list_identifiers(&mut r, tenant, source.id)
            .await
            .unwrap()
            .is_empty()
    );
    let consents = members::list_consents(&mut r, tenant, survivor.id)
        .await
        .unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].id, late_consent.id);

    // Rows of an active member, and of one not stored yet (registration writes identifiers
    // first), stay where they were written.
    let active = identifier(survivor.id, "email", "own-email", true);
    let newcomer = MemberId::new();
    let early = identifier(newcomer, "phone", "newcomer-phone", true);
    insert_identifiers(&db, tenant, &[&active, &early]).await;
    let mut r = db.read().await;
    assert_eq!(
        members::find_member_by_identifier(&mut r, tenant, "phone", "newcomer-phone")
            .await
            .unwrap(),
        Some(newcomer)
    );
}

async fn every_member_owned_table_is_keyed_by_member_and_follows_merges(db: TestDb) {
    let mut s = db.read().await;
    for entry in MEMBER_OWNED {
        let table = entry.table;
        let trigger = format!("{table}_follow_merge");
        let (columns, triggers): (Vec<String>, i64) = match s.backend().await.unwrap() {
            Backend::Sqlite(c) => (
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(&mut *c)
                    .await
                    .unwrap(),
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = $1 AND tbl_name = $2",
                )
                .bind(&trigger)
                .bind(table)
                .fetch_one(&mut *c)
                .await
                .unwrap(),
            ),
            Backend::Postgres(c) => (
                sqlx::query_scalar(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(&mut *c)
                .await
                .unwrap(),
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_trigger WHERE tgname = $1 AND tgrelid = CAST($2 AS regclass)",
                )
                .bind(&trigger)
                .bind(table)
                .fetch_one(&mut *c)
                .await
                .unwrap(),
            ),
        };
        for column in ["tenant_id", "member_id", "id"]
            .iter()
            .chain(entry.unique_per_member)
        {
            assert!(
                columns.iter().any(|c| c == column),
                "{}: member-owned table {table} has no column {column}",
                db.backend()
            );
        }
        assert_eq!(
            triggers,
            1,
            "{}: member-owned table {table} needs the trigger {trigger}",
            db.backend()
        );
    }
}

/// Sets how long a PostgreSQL statement waits for a lock in this transaction.
async fn lock_timeout(s: &mut Session, timeout: &str) {
    if let Backend::Postgres(c) = s.backend().await.unwrap() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{timeout}'"
        )))
        .execute(&mut *c)
        .await
        .unwrap();
    }
}

async fn locked_members_hold_off_merges_and_writes(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (survivor, source) = (member(1), member(2));
    insert_members(&db, tenant, &[&survivor, &source]).await;
    let mut merging = db.write().await;
    // Either order of naming locks in the same (id) order.
    merges::lock_members(&mut merging, tenant, &[source.id, survivor.id])
        .await
        .unwrap();
    if db.backend() == "sqlite" {
        // One writer: no other write transaction can even begin until this one ends.
        return;
    }

    // Meanwhile, another merge of the pair and a write for the source both wait.
    let mut other = db.write().await;
    lock_timeout(&mut other, "200ms").await;
    assert!(
        merges::lock_members(&mut other, tenant, &[survivor.id, source.id])
            .await
            .is_err(),
        "a second merge of the pair waits for the first"
    );
    drop(other);
    let mut writer = db.write().await;
    lock_timeout(&mut writer, "200ms").await;
    let waiting = identifier(source.id, "phone", "during-merge", true);
    assert!(
        members::try_insert_identifier(&mut writer, tenant, &waiting)
            .await
            .is_err(),
        "an identifier for a member being merged waits for the merge"
    );
    drop(writer);

    // A write that waited sees the merge once it committed, and follows it.
    merges::move_member_owned(&mut merging, tenant, source.id, survivor.id)
        .await
        .unwrap();
    mark_merged(&mut merging, tenant, &source, survivor.id).await;
    let writer = tokio::spawn({
        let waiting = waiting.clone();
        let mut writer = db.write().await;
        async move {
            let inserted = members::try_insert_identifier(&mut writer, tenant, &waiting).await;
            writer.commit().await.unwrap();
            inserted.unwrap()
        }
    });
    merging.commit().await.unwrap();
    assert!(writer.await.unwrap());
    let mut r = db.read().await;
    assert_eq!(
        members::find_member_by_identifier(&mut r, tenant, "phone", "during-merge")
            .await
            .unwrap(),
        Some(survivor.id)
    );
}
