//! Re-sealing after a key rotation (walks over every sealed value, guarded replacement), and the
//! erasure helpers that remove what identifies a member.

use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_store::members::merges::{self, StoredMerge};
use huiyuan_store::members::{self, StoredIdentifier, StoredMember};
use huiyuan_store::reseal::{self, MemberSealedColumn, RowKey, SealedIdentifier, SealedMember};
use huiyuan_store::utc_now;
use uuid::Uuid;

on_both!(
    walks_visit_every_sealed_value_once_across_tenants,
    resealing_replaces_only_unchanged_values,
    merge_snapshots_are_walked_and_replaced,
    erasure_helpers_remove_what_identifies_a_member
);

fn member(
    seq: i64,
    name: Option<&str>,
    address: Option<&str>,
    id_card: Option<&str>,
) -> StoredMember {
    let now = utc_now();
    StoredMember {
        id: MemberId::new(),
        seq,
        member_no: format!("M{seq:08}"),
        status: "active".to_owned(),
        merged_into: None,
        name_enc: name.map(str::to_owned),
        name_index: name.map(|_| format!("name-index-{seq}")),
        gender: Some("female".to_owned()),
        birthday: None,
        province: Some("上海".to_owned()),
        city: None,
        district: None,
        address_enc: address.map(str::to_owned),
        address_index: address.map(|_| format!("address-index-{seq}")),
        id_card_enc: id_card.map(str::to_owned),
        id_card_index: id_card.map(|_| format!("id-card-index-{seq}")),
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

fn identifier(member: MemberId, kind: &str, index: &str, sealed: &str) -> StoredIdentifier {
    StoredIdentifier {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        value_index: index.to_owned(),
        value_enc: sealed.to_owned(),
        matchable: true,
        created_at: utc_now(),
    }
}

fn merge(
    id: Uuid,
    survivor_id: MemberId,
    source_id: MemberId,
    before: &StoredMember,
) -> StoredMerge {
    StoredMerge {
        id,
        survivor_id,
        source_id,
        moved: Default::default(),
        survivor_before: StoredMember {
            id: survivor_id,
            ..before.clone()
        },
        created_at: utc_now(),
        undone_at: None,
    }
}

async fn insert(db: &TestDb, tenant: TenantId, rows: &[StoredMember], ids: &[StoredIdentifier]) {
    let mut s = db.write().await;
    for row in rows {
        members::insert_member(&mut s, tenant, row).await.unwrap();
    }
    for identifier in ids {
        assert!(
            members::try_insert_identifier(&mut s, tenant, identifier)
                .await
                .unwrap()
        );
    }
    s.commit().await.unwrap();
}

async fn walk_members(db: &TestDb, limit: i64) -> Vec<SealedMember> {
    let (mut all, mut after) = (Vec::new(), None);
    for _ in 0..1_000 {
        let batch = reseal::sealed_members(&mut db.read().await, after, limit)
            .await
            .unwrap();
        assert!(
            batch.len() as i64 <= limit,
            "a batch holds at most its limit"
        );
        let Some(last) = batch.last() else {
            return all;
        };
        after = Some(last.key());
        all.extend(batch);
    }
    panic!("the member walk did not end");
}

async fn walk_identifiers(db: &TestDb, limit: i64) -> Vec<SealedIdentifier> {
    let (mut all, mut after) = (Vec::new(), None);
    for _ in 0..1_000 {
        let batch = reseal::sealed_identifiers(&mut db.read().await, after, limit)
            .await
            .unwrap();
        assert!(batch.len() as i64 <= limit);
        let Some(last) = batch.last() else {
            return all;
        };
        after = Some(last.key());
        all.extend(batch);
    }
    panic!("the identifier walk did not end");
}

async fn walks_visit_every_sealed_value_once_across_tenants(db: TestDb) {
    let (a, b) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let a_rows: Vec<StoredMember> = (1..=4)
        .map(|seq| member(seq, Some(&format!("k1.name{seq}")), None, Some("k1.card")))
        .collect();
    let bare = member(5, None, None, None);
    let b_rows = vec![
        member(1, None, Some("k1.address"), None),
        member(2, Some("k1.b-name"), Some("k1.b-address"), None),
    ];
    let a_ids: Vec<StoredIdentifier> = a_rows
        .iter()
        .enumerate()
        .map(|(n, row)| {
            identifier(
                row.id,
                "phone",
                &format!("phone-{n}"),
                &format!("k1.phone{n}"),
            )
        })
        .chain([identifier(a_rows[0].id, "email", "email-0", "k1.email")])
        .collect();
    let b_ids = vec![identifier(b_rows[0].id, "phone", "phone-0", "k1.b-phone")];
    insert(
        &db,
        a,
        &[a_rows.clone(), vec![bare.clone()]].concat(),
        &a_ids,
    )
    .await;
    insert(&db, b, &b_rows, &b_ids).await;

    for limit in [1, 2, 3, 500] {
        let walked = walk_members(&db, limit).await;
        let keys: Vec<RowKey> = walked.iter().map(SealedMember::key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "key order, each row once (limit {limit})");
        assert_eq!(walked.len(), 6, "members without sealed values are skipped");
        assert!(!walked.iter().any(|m| m.id == bare.id));
        let second = walked.iter().find(|m| m.id == b_rows[1].id).unwrap();
        assert_eq!(second.tenant_id, b.0);
        let values: Vec<(MemberSealedColumn, &str)> = second.values().collect();
        assert_eq!(
            values,
            vec![
                (MemberSealedColumn::Name, "k1.b-name"),
                (MemberSealedColumn::Address, "k1.b-address")
            ]
        );

        let walked = walk_identifiers(&db, limit).await;
        let keys: Vec<RowKey> = walked.iter().map(SealedIdentifier::key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "key order, each row once (limit {limit})");
        assert_eq!(walked.len(), a_ids.len() + b_ids.len());
        let email = walked.iter().find(|i| i.id == a_ids[4].id).unwrap();
        assert_eq!(
            (email.tenant_id, email.member_id, email.value_enc.as_str()),
            (a.0, a_rows[0].id, "k1.email")
        );
    }
    // Out-of-range batch sizes are clamped, not refused.
    assert_eq!(
        reseal::sealed_members(&mut db.read().await, None, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        reseal::sealed_members(&mut db.read().await, None, i64::MAX)
            .await
            .unwrap()
            .len(),
        6
    );
}

async fn resealing_replaces_only_unchanged_values(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let row = member(1, Some("k1.name"), Some("k1.address"), Some("k1.card"));
    let phone = identifier(row.id, "phone", "phone-index", "k1.phone");
    insert(
        &db,
        tenant,
        std::slice::from_ref(&row),
        std::slice::from_ref(&phone),
    )
    .await;

    let mut s = db.write().await;
    assert!(
        reseal::reseal_member_value(
            &mut s,
            tenant,
            row.id,
            MemberSealedColumn::Name,
            "k1.name",
            "k2.name"
        )
        .await
        .unwrap()
    );
    assert!(
        reseal::reseal_member_value(
            &mut s,
            tenant,
            row.id,
            MemberSealedColumn::IdCard,
            "k1.card",
            "k2.card"
        )
        .await
        .unwrap()
    );
    // A value that changed since it was read stays as it is now.
    assert!(
        !reseal::reseal_member_value(
            &mut s,
            tenant,
            row.id,
            MemberSealedColumn::Address,
            "k1.other",
            "k2.address"
        )
        .await
        .unwrap()
    );
    assert!(
        !reseal::reseal_member_value(
            &mut s,
            TenantId::new(),
            row.id,
            MemberSealedColumn::Address,
            "k1.address",
            "k2.address"
        )
        .await
        .unwrap()
    );
    assert!(
        reseal::reseal_identifier_value(&mut s, tenant, row.id, phone.id, "k1.phone", "k2.phone")
            .await
            .unwrap()
    );
    assert!(
        !reseal::reseal_identifier_value(&mut s, tenant, row.id, phone.id, "k1.phone", "k3.phone")
            .await
            .unwrap()
    );
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let stored = members::get_member(&mut s, tenant, row.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name_enc.as_deref(), Some("k2.name"));
    assert_eq!(stored.address_enc.as_deref(), Some("k1.address"));
    assert_eq!(stored.id_card_enc.as_deref(), Some("k2.card"));
    assert_eq!(
        stored.name_index, row.name_index,
        "blind indexes are untouched"
    );
    let ids = members::list_identifiers(&mut s, tenant, row.id)
        .await
        .unwrap();
    assert_eq!(ids[0].value_enc, "k2.phone");
    assert_eq!(ids[0].value_index, "phone-index");
}

async fn erasure_helpers_remove_what_identifies_a_member(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let survivor = member(1, Some("k1.name"), None, None);
    let other = member(2, Some("k1.other"), None, None);
    let mut alias = member(3, Some("k1.alias"), None, None);
    alias.status = "merged".to_owned();
    alias.merged_into = Some(survivor.id);
    let ids = vec![
        identifier(survivor.id, "phone", "p1", "k1.p1"),
        identifier(survivor.id, "email", "e1", "k1.e1"),
        identifier(other.id, "phone", "p2", "k1.p2"),
    ];
    insert(
        &db,
        tenant,
        &[survivor.clone(), other.clone(), alias.clone()],
        &ids,
    )
    .await;
    let (merge_id, unrelated_merge) = (Uuid::now_v7(), Uuid::now_v7());
    let mut s = db.write().await;
    for (id, survivor_id, source_id) in [
        (merge_id, survivor.id, alias.id),
        (unrelated_merge, other.id, MemberId::new()),
    ] {
        merges::insert_merge(
            &mut s,
            tenant,
            &merge(id, survivor_id, source_id, &survivor),
        )
        .await
        .unwrap();
    }
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let aliases = members::list_merged_into(&mut s, tenant, survivor.id, 10)
        .await
        .unwrap();
    assert_eq!(
        aliases.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![alias.id]
    );
    assert!(
        members::list_merged_into(&mut s, tenant, other.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    for involved in [survivor.id, alias.id] {
        let merges = members::list_merges_involving(&mut s, tenant, involved, 10)
            .await
            .unwrap();
        assert_eq!(merges.len(), 1);
        assert_eq!(
            (merges[0].id, merges[0].survivor_id, merges[0].source_id),
            (merge_id, survivor.id, alias.id)
        );
        assert_eq!(merges[0].undone_at, None);
    }
    drop(s);

    let mut s = db.write().await;
    assert_eq!(
        members::delete_identifiers_of(&mut s, tenant, survivor.id)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        members::delete_identifiers_of(&mut s, tenant, survivor.id)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        members::delete_merges_involving(&mut s, tenant, survivor.id)
            .await
            .unwrap(),
        1
    );
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert!(
        members::list_identifiers(&mut s, tenant, survivor.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        members::list_identifiers(&mut s, tenant, other.id)
            .await
            .unwrap()
            .len(),
        1,
        "other members keep theirs"
    );
    assert!(
        members::find_member_by_identifier(&mut s, tenant, "phone", "p1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        members::list_merges_involving(&mut s, tenant, alias.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        members::list_merges_involving(&mut s, tenant, other.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn merge_snapshots_are_walked_and_replaced(db: TestDb) {
    let (a, b) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let before = member(1, Some("k1.name"), Some("k1.address"), None);
    let mut written = Vec::new();
    for tenant in [a, a, a, b] {
        let mut s = db.write().await;
        let entry = merge(Uuid::now_v7(), MemberId::new(), MemberId::new(), &before);
        merges::insert_merge(&mut s, tenant, &entry).await.unwrap();
        s.commit().await.unwrap();
        written.push((tenant, entry));
    }
    for limit in [1, 3, 100] {
        let (mut walked, mut after) = (Vec::new(), None);
        loop {
            let batch = reseal::merge_snapshots(&mut db.read().await, after, limit)
                .await
                .unwrap();
            assert!(batch.len() as i64 <= limit);
            let Some(last) = batch.last() else { break };
            after = Some(last.key());
            walked.extend(batch);
        }
        let keys: Vec<RowKey> = walked.iter().map(|m| m.key()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "key order, each row once (limit {limit})");
        assert_eq!(walked.len(), written.len());
        for (tenant, entry) in &written {
            let found = walked.iter().find(|m| m.id == entry.id).unwrap();
            assert_eq!(found.tenant_id, tenant.0);
            assert_eq!(found.survivor_id, entry.survivor_id);
            assert_eq!(
                found.survivor_before, entry.survivor_before,
                "the snapshot round-trips"
            );
        }
    }

    let (tenant, entry) = &written[3];
    let mut fresh = entry.survivor_before.clone();
    fresh.name_enc = Some("k2.name".to_owned());
    fresh.address_enc = Some("k2.address".to_owned());
    let mut s = db.write().await;
    assert!(
        reseal::replace_merge_snapshot(&mut s, *tenant, entry.survivor_id, entry.id, &fresh)
            .await
            .unwrap()
    );
    assert!(
        !reseal::replace_merge_snapshot(&mut s, *tenant, MemberId::new(), entry.id, &fresh)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let stored = merges::get_merge(&mut db.read().await, *tenant, entry.survivor_id, entry.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.survivor_before, fresh);
    assert_eq!(
        stored.source_id, entry.source_id,
        "the rest of the merge is untouched"
    );
}
