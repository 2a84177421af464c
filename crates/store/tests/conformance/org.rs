//! Formats, stores and channels: writes, reads, unique codes, references and existence counts.

use crate::fixtures::{
    channel, format, name, seed_channel, seed_format, seed_store, seed_tenant, store,
};
use crate::harness::{TestDb, assert_same, walk_pages};
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::ids::{ChannelId, FormatId, StoreId};
use huiyuan_domain::org::{ChannelKind, StoreKind};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::{StoreError, org, utc_now};
use time::Duration;

on_both!(
    formats_round_trip,
    stores_round_trip,
    channels_round_trip,
    codes_are_unique_per_tenant,
    stores_need_an_existing_format,
    existing_ids_are_counted,
);

async fn formats_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut retail = seed_format(&db, tenant, "retail").await;
    let hotel = seed_format(&db, tenant, "hotel").await;

    let mut s = db.read().await;
    assert_same(
        &org::get_format(&mut s, tenant, retail.id)
            .await
            .unwrap()
            .expect("found"),
        &retail,
    );
    assert!(
        org::get_format(&mut s, tenant, FormatId::new())
            .await
            .unwrap()
            .is_none()
    );
    let page = org::list_formats(&mut s, tenant, &ScopePredicate::Any, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![retail.id, hotel.id],
        "ordered by id"
    );
    assert_eq!(page.next_cursor, None);
    drop(s);

    retail.name = name("零售 Retail");
    retail.archived = true;
    retail.updated_at = utc_now() + Duration::minutes(5);
    let mut changed = retail.clone();
    changed.code = crate::fixtures::code("ignored"); // update never writes the code
    changed.created_at = utc_now() + Duration::days(1); // …nor created_at
    let mut s = db.write().await;
    org::update_format(&mut s, tenant, &changed).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &org::get_format(&mut s, tenant, retail.id)
            .await
            .unwrap()
            .unwrap(),
        &retail,
    );
    assert_same(
        &org::get_format(&mut s, tenant, hotel.id)
            .await
            .unwrap()
            .unwrap(),
        &hotel,
    );
}

async fn stores_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let retail = seed_format(&db, tenant, "retail").await;
    let mall = seed_format(&db, tenant, "mall").await;
    let mut first = seed_store(&db, tenant, retail.id, "SH-001").await;
    let mut merchant = store(mall.id, "M-01");
    merchant.kind = StoreKind::Merchant;
    merchant.address = String::new();
    let mut s = db.write().await;
    org::insert_store(&mut s, tenant, &merchant).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &org::get_store(&mut s, tenant, first.id)
            .await
            .unwrap()
            .expect("found"),
        &first,
    );
    assert_same(
        &org::get_store(&mut s, tenant, merchant.id)
            .await
            .unwrap()
            .expect("found"),
        &merchant,
    );
    assert_same(
        &org::get_store_by_code(&mut s, tenant, "M-01")
            .await
            .unwrap()
            .expect("found by code"),
        &merchant,
    );
    assert!(
        org::get_store_by_code(&mut s, tenant, "m-01")
            .await
            .unwrap()
            .is_none(),
        "codes are case-sensitive"
    );
    assert!(
        org::get_store(&mut s, tenant, StoreId::new())
            .await
            .unwrap()
            .is_none()
    );

    let all = org::list_stores(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        None,
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(
        all.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![first.id, merchant.id]
    );
    let of_mall = org::list_stores(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        Some(mall.id),
        PageRequest::first(10),
    );
    let of_mall = of_mall.await.unwrap();
    assert_eq!(of_mall.items.len(), 1);
    assert_same(&of_mall.items[0], &merchant);
    drop(s);

    first.name = name("新名字");
    first.address = "88 Huaihai Road".to_owned();
    first.archived = true;
    first.updated_at = utc_now() + Duration::seconds(90);
    let mut changed = first.clone();
    changed.format_id = mall.id; // update keeps the store in its format
    changed.kind = StoreKind::Merchant;
    let mut s = db.write().await;
    org::update_store(&mut s, tenant, &changed).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &org::get_store(&mut s, tenant, first.id)
            .await
            .unwrap()
            .unwrap(),
        &first,
    );
}

async fn channels_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let retail = seed_format(&db, tenant, "retail").await;
    let mut pos = channel("pos", None);
    pos.kind = ChannelKind::Pos;
    pos.app_id = None;
    let mut s = db.write().await;
    org::insert_channel(&mut s, tenant, &pos).await.unwrap();
    s.commit().await.unwrap();
    let mut mini = seed_channel(&db, tenant, "retail-mini", Some(retail.id)).await;

    let mut s = db.read().await;
    assert_same(
        &org::get_channel(&mut s, tenant, pos.id)
            .await
            .unwrap()
            .expect("found"),
        &pos,
    );
    assert_same(
        &org::get_channel(&mut s, tenant, mini.id)
            .await
            .unwrap()
            .expect("found"),
        &mini,
    );
    assert_same(
        &org::get_channel_by_code(&mut s, tenant, "retail-mini")
            .await
            .unwrap()
            .expect("by code"),
        &mini,
    );
    assert!(
        org::get_channel_by_code(&mut s, tenant, "nope")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        org::get_channel(&mut s, tenant, ChannelId::new())
            .await
            .unwrap()
            .is_none()
    );
    let page = org::list_channels(&mut s, tenant, &ScopePredicate::Any, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![pos.id, mini.id]
    );
    drop(s);

    mini.name = name("Mini 2");
    mini.app_id = None;
    mini.archived = true;
    mini.updated_at = utc_now() + Duration::seconds(3);
    let mut changed = mini.clone();
    changed.kind = ChannelKind::App; // kind and format are fixed at creation
    changed.format_id = None;
    let mut s = db.write().await;
    org::update_channel(&mut s, tenant, &changed).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &org::get_channel(&mut s, tenant, mini.id)
            .await
            .unwrap()
            .unwrap(),
        &mini,
    );
    assert_same(
        &org::get_channel(&mut s, tenant, pos.id)
            .await
            .unwrap()
            .unwrap(),
        &pos,
    );
}

async fn codes_are_unique_per_tenant(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let retail = seed_format(&db, tenant, "retail").await;
    seed_store(&db, tenant, retail.id, "S1").await;
    seed_channel(&db, tenant, "pos", None).await;

    let mut s = db.write().await;
    let error = org::insert_format(&mut s, tenant, &format("retail"))
        .await
        .expect_err("format code taken");
    assert!(org::is_format_code_conflict(&error), "{error:?}");
    assert!(!org::is_store_code_conflict(&error) && !org::is_channel_code_conflict(&error));
    drop(s);

    let mut s = db.write().await;
    let error = org::insert_store(&mut s, tenant, &store(retail.id, "S1"))
        .await
        .expect_err("store code taken");
    assert!(org::is_store_code_conflict(&error), "{error:?}");
    assert!(!org::is_format_code_conflict(&error) && !org::is_channel_code_conflict(&error));
    drop(s);

    let mut s = db.write().await;
    let error = org::insert_channel(&mut s, tenant, &channel("pos", None))
        .await
        .expect_err("channel code taken");
    assert!(org::is_channel_code_conflict(&error), "{error:?}");
    assert!(!org::is_format_code_conflict(&error) && !org::is_store_code_conflict(&error));
    drop(s);

    // A store code may repeat a format's or channel's code, and another tenant may reuse them all.
    let mut s = db.write().await;
    org::insert_store(&mut s, tenant, &store(retail.id, "pos"))
        .await
        .expect("codes are per table");
    s.commit().await.unwrap();
    let other_retail = seed_format(&db, other, "retail").await;
    seed_store(&db, other, other_retail.id, "S1").await;
    seed_channel(&db, other, "pos", None).await;
}

async fn stores_need_an_existing_format(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let foreign = seed_format(&db, other, "retail").await;

    let mut s = db.write().await;
    let error = org::insert_store(&mut s, tenant, &store(FormatId::new(), "S1"))
        .await
        .expect_err("no such format");
    assert!(matches!(error, StoreError::MissingReference), "{error:?}");
    drop(s);

    let mut s = db.write().await;
    let error = org::insert_store(&mut s, tenant, &store(foreign.id, "S1"))
        .await
        .expect_err("format of another tenant");
    assert!(matches!(error, StoreError::MissingReference), "{error:?}");
    drop(s);

    let mut s = db.write().await;
    let error = org::insert_channel(&mut s, tenant, &channel("c", Some(FormatId::new())))
        .await
        .expect_err("no format");
    assert!(matches!(error, StoreError::MissingReference), "{error:?}");
    drop(s);

    let mut s = db.read().await;
    let page = org::list_stores(
        &mut s,
        tenant,
        &ScopePredicate::Any,
        None,
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert!(page.items.is_empty());
}

async fn existing_ids_are_counted(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let retail = seed_format(&db, tenant, "retail").await;
    let hotel = seed_format(&db, tenant, "hotel").await;
    let foreign_format = seed_format(&db, other, "retail").await;
    let a = seed_store(&db, tenant, retail.id, "A").await;
    let b = seed_store(&db, tenant, hotel.id, "B").await;
    let foreign_store = seed_store(&db, other, foreign_format.id, "A").await;

    let mut s = db.read().await;
    assert_eq!(
        org::count_existing_stores(&mut s, tenant, &[])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        org::count_existing_stores(&mut s, tenant, &[a.id, b.id])
            .await
            .unwrap(),
        2
    );
    let mixed = [a.id, StoreId::new(), foreign_store.id, b.id];
    assert_eq!(
        org::count_existing_stores(&mut s, tenant, &mixed)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        org::count_existing_stores(&mut s, other, &mixed)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        org::count_existing_formats(&mut s, tenant, &[])
            .await
            .unwrap(),
        0
    );
    let formats = [retail.id, hotel.id, foreign_format.id, FormatId::new()];
    assert_eq!(
        org::count_existing_formats(&mut s, tenant, &formats)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        org::count_existing_formats(&mut s, other, &formats)
            .await
            .unwrap(),
        1
    );

    // Many ids in one call: each becomes one bind parameter.
    let many: Vec<StoreId> = (0..500).map(|_| StoreId::new()).chain([a.id]).collect();
    assert_eq!(
        org::count_existing_stores(&mut s, tenant, &many)
            .await
            .unwrap(),
        1
    );
    drop(s);

    // Pagination walks stores of one format only.
    let walked = walk_pages(1, |page| {
        let db = &db;
        async move {
            let mut s = db.read().await;
            org::list_stores(&mut s, tenant, &ScopePredicate::Any, Some(hotel.id), page).await
        }
    })
    .await;
    assert_eq!(walked.iter().map(|x| x.id).collect::<Vec<_>>(), vec![b.id]);
}
