//! The set-at-a-time member functions bulk import uses: sequence blocks, multi-row inserts that
//! cross their statement chunks, look-ups by lists of blind indexes, and the probable-duplicate
//! queries.

use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_store::members::{self, IndexColumn, StoredIdentifier, StoredMember};
use huiyuan_store::{StoreError, utc_now};
use std::collections::{BTreeMap, BTreeSet};
use time::Date;
use time::macros::date;
use uuid::Uuid;

on_both!(
    sequence_numbers_are_reserved_in_blocks,
    bulk_inserts_and_set_lookups_round_trip,
    a_taken_identifier_fails_the_bulk_insert,
    probable_duplicate_lookups,
    bulk_mode_is_entered_and_left,
);

fn member(seq: i64) -> StoredMember {
    let now = utc_now();
    StoredMember {
        id: MemberId::new(),
        seq,
        member_no: format!("{seq:09}"),
        status: "active".to_owned(),
        merged_into: None,
        name_enc: Some(format!("k1.name-{seq}")),
        name_index: Some(format!("name-{}", seq % 7)),
        gender: Some("female".to_owned()),
        birthday: Some(date!(1990 - 01 - 01)),
        province: Some("上海".to_owned()),
        city: Some("上海".to_owned()),
        district: None,
        address_enc: Some(format!("k1.address-{seq}")),
        address_index: Some(format!("address-{seq}")),
        id_card_enc: None,
        id_card_index: None,
        preferred_store_id: None,
        source_channel_id: None,
        source_format_id: None,
        source_store_id: None,
        guide_id: None,
        referral_code: format!("R{seq:07}"),
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
        value_enc: format!("k1.{index}"),
        matchable,
        created_at: utc_now(),
    }
}

/// Stores `rows` with a phone and a card each, in one transaction.
async fn seed_members(db: &TestDb, tenant: TenantId, rows: &[StoredMember]) {
    let identifiers: Vec<StoredIdentifier> = rows
        .iter()
        .flat_map(|m| {
            [
                identifier(m.id, "phone", &format!("phone-{}", m.seq), true),
                identifier(m.id, "card_no", &format!("card-{}", m.seq), true),
            ]
        })
        .collect();
    let mut s = db.write().await;
    members::insert_members(&mut s, tenant, rows).await.unwrap();
    members::insert_identifiers(&mut s, tenant, &identifiers)
        .await
        .unwrap();
    s.commit().await.unwrap();
}

async fn sequence_numbers_are_reserved_in_blocks(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let mut s = db.write().await;
    assert_eq!(
        members::reserve_member_seqs(&mut s, tenant, 3)
            .await
            .unwrap(),
        1
    );
    assert_eq!(members::next_member_seq(&mut s, tenant).await.unwrap(), 4);
    assert_eq!(
        members::reserve_member_seqs(&mut s, tenant, 5)
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        members::reserve_member_seqs(&mut s, tenant, 0)
            .await
            .unwrap(),
        10,
        "zero answers the next free number"
    );
    assert_eq!(members::next_member_seq(&mut s, tenant).await.unwrap(), 10);
    assert_eq!(
        members::reserve_member_seqs(&mut s, other, 2)
            .await
            .unwrap(),
        1,
        "each tenant counts its own"
    );
    s.commit().await.unwrap();
}

async fn bulk_inserts_and_set_lookups_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    // More rows than one INSERT or one IN list carries.
    let rows: Vec<StoredMember> = (1..=1_234).map(member).collect();
    seed_members(&db, tenant, &rows).await;
    let tokens: Vec<(MemberId, String)> = rows
        .iter()
        .flat_map(|m| [(m.id, "tok-a".to_owned()), (m.id, format!("tok-{}", m.seq))])
        .collect();
    let mut s = db.write().await;
    members::insert_search_tokens(&mut s, tenant, &tokens)
        .await
        .unwrap();
    // Adding tokens a member already has is harmless.
    members::insert_search_tokens(&mut s, tenant, &tokens[..10])
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let ids: Vec<MemberId> = rows.iter().map(|m| m.id).collect();
    let mut wanted = ids.clone();
    wanted.push(MemberId::new());
    let mut found = members::get_members(&mut s, tenant, &wanted).await.unwrap();
    found.sort_by_key(|m| m.id);
    let mut expected = rows.clone();
    expected.sort_by_key(|m| m.id);
    assert_eq!(
        found, expected,
        "every column round-trips; unknown ids are absent"
    );
    assert!(
        members::get_members(&mut s, other, &ids)
            .await
            .unwrap()
            .is_empty(),
        "another tenant sees none"
    );

    let mut phones: Vec<String> = (1..=1_234).map(|seq| format!("phone-{seq}")).collect();
    phones.push("phone-unknown".to_owned());
    let holders: BTreeMap<String, MemberId> =
        members::find_members_by_identifiers(&mut s, tenant, "phone", &phones)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(holders.len(), 1_234);
    assert_eq!(holders["phone-17"], rows[16].id);
    assert!(
        members::find_members_by_identifiers(&mut s, tenant, "card_no", &phones)
            .await
            .unwrap()
            .is_empty(),
        "kinds do not mix"
    );
    assert!(
        members::find_members_by_identifiers(&mut s, other, "phone", &phones)
            .await
            .unwrap()
            .is_empty()
    );

    let keys = members::identifier_keys_of_members(&mut s, tenant, &ids)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2 * 1_234);
    let of_first: BTreeSet<(String, String)> = keys
        .iter()
        .filter(|(member, _, _)| *member == rows[0].id)
        .map(|(_, kind, index)| (kind.clone(), index.clone()))
        .collect();
    assert_eq!(
        of_first,
        BTreeSet::from([
            ("card_no".to_owned(), "card-1".to_owned()),
            ("phone".to_owned(), "phone-1".to_owned())
        ])
    );

    let codes = vec![
        rows[0].referral_code.clone(),
        "NOTACODE".to_owned(),
        rows[1_000].referral_code.clone(),
    ];
    let taken: BTreeSet<String> = members::existing_referral_codes(&mut s, tenant, &codes)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        taken,
        BTreeSet::from([
            rows[0].referral_code.clone(),
            rows[1_000].referral_code.clone()
        ])
    );
    let listed = members::list_members(
        &mut s,
        tenant,
        &huiyuan_domain::auth::ScopePredicate::Any,
        Some("tok-5"),
        huiyuan_domain::paging::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(
        listed.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [rows[4].id],
        "search tokens find their member"
    );
}

async fn a_taken_identifier_fails_the_bulk_insert(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let rows = vec![member(1), member(2)];
    seed_members(&db, tenant, &rows).await;

    let mut s = db.write().await;
    let taken = vec![
        identifier(rows[1].id, "email", "fresh", true),
        identifier(rows[1].id, "phone", "phone-1", true),
    ];
    let error = members::insert_identifiers(&mut s, tenant, &taken)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    drop(s);

    // Shared (non-matchable) values may repeat.
    let mut s = db.write().await;
    let shared = vec![
        identifier(rows[0].id, "phone", "counter-phone", false),
        identifier(rows[1].id, "phone", "counter-phone", false),
    ];
    members::insert_identifiers(&mut s, tenant, &shared)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert!(
        members::find_members_by_identifiers(&mut s, tenant, "phone", &["counter-phone".into()])
            .await
            .unwrap()
            .is_empty(),
        "shared values never match"
    );
    assert!(
        members::find_members_by_identifiers(&mut s, tenant, "email", &["fresh".into()])
            .await
            .unwrap()
            .is_empty(),
        "the failed statement left nothing"
    );
}

async fn probable_duplicate_lookups(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let birthday = |day: u8| Date::from_calendar_date(1990, time::Month::May, day).unwrap();
    let mut rows = Vec::new();
    for (seq, name, day, address) in [
        (1, "wang", 1, "road-1"),
        (2, "wang", 2, "road-1"),
        (3, "li", 1, "road-2"),
        (4, "li", 2, "road-3"),
        (5, "wang", 1, "road-1"),
    ] {
        let mut row = member(seq);
        row.name_index = Some(name.to_owned());
        row.birthday = Some(birthday(day));
        row.address_index = Some(address.to_owned());
        rows.push(row);
    }
    rows[4].status = "merged".to_owned();
    seed_members(&db, tenant, &rows).await;

    let mut s = db.read().await;
    let pairs = vec![
        ("wang".to_owned(), birthday(1)),
        ("li".to_owned(), birthday(2)),
    ];
    let found = members::duplicate_candidates_by_name_and_birthday(&mut s, tenant, &pairs, 100)
        .await
        .unwrap();
    let numbers: Vec<&str> = found.iter().map(|m| m.member_no.as_str()).collect();
    assert_eq!(
        numbers,
        ["000000001", "000000004"],
        "exact pairs only (not wang/2 or li/1), active members only"
    );

    let addresses = vec![
        "road-1".to_owned(),
        "road-3".to_owned(),
        "nowhere".to_owned(),
    ];
    let found = members::duplicate_candidates_by_index(
        &mut s,
        tenant,
        IndexColumn::Address,
        &addresses,
        100,
    )
    .await
    .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|m| m.member_no.as_str())
            .collect::<Vec<_>>(),
        ["000000001", "000000002", "000000004"]
    );
    assert_eq!(found[0].name_enc.as_deref(), Some("k1.name-1"));
    let capped =
        members::duplicate_candidates_by_index(&mut s, tenant, IndexColumn::Address, &addresses, 2)
            .await
            .unwrap();
    assert_eq!(capped.len(), 2, "the limit holds");
    let other = seed_tenant(&db).await;
    assert!(
        members::duplicate_candidates_by_index(
            &mut s,
            other,
            IndexColumn::Address,
            &addresses,
            100
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn bulk_mode_is_entered_and_left(db: TestDb) {
    let settings = || async {
        (
            pragma(&db, "cache_size").await,
            pragma(&db, "wal_autocheckpoint").await,
        )
    };
    let before = settings().await;
    let mut s = db.write().await;
    let tuning = members::enter_bulk_mode(&mut s).await.unwrap();
    s.commit().await.unwrap();
    assert_eq!(
        tuning.is_some(),
        db.backend() == "sqlite",
        "only SQLite is tuned"
    );
    if db.backend() == "sqlite" {
        // The pool's one writer connection keeps the settings between transactions.
        assert_eq!(settings().await, (-131_072, 100_000));
    }
    let mut s = db.write().await;
    members::leave_bulk_mode(&mut s, tuning).await.unwrap();
    s.commit().await.unwrap();
    assert_eq!(settings().await, before);
}

/// A PRAGMA's value on the writer connection (0 on PostgreSQL).
async fn pragma(db: &TestDb, name: &str) -> i64 {
    let mut s = db.write().await;
    let value: i64 = match s.backend().await.unwrap() {
        huiyuan_store::backend::Backend::Sqlite(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                .fetch_one(&mut *c)
                .await
                .unwrap()
        }
        huiyuan_store::backend::Backend::Postgres(_) => 0,
    };
    s.commit().await.unwrap();
    value
}
