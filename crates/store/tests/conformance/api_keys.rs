//! Channel API keys: stored by hash, found only while live on a live channel.

use crate::fixtures::{api_key, seed_channel, seed_format, seed_store, seed_tenant};
use crate::harness::{TestDb, assert_same, walk_pages};
use huiyuan_domain::ids::{ApiKeyId, ChannelId, StoreId};
use huiyuan_store::{StoreError, auth, org, utc_now};
use time::Duration;

on_both!(
    api_keys_round_trip,
    api_keys_stop_working_when_revoked_or_channel_archived
);

async fn api_keys_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let format = seed_format(&db, tenant, "retail").await;
    let shop = seed_store(&db, tenant, format.id, "S1").await;
    let channel = seed_channel(&db, tenant, "pos", Some(format.id)).await;
    let store_key = api_key("Store POS", channel.id, Some(shop.id));
    let mut group_key = api_key("Group", channel.id, None);
    group_key.created_by = None;
    group_key.permissions = Default::default();
    let mut s = db.write().await;
    auth::insert_api_key(&mut s, tenant, &store_key, "hash-store")
        .await
        .unwrap();
    auth::insert_api_key(&mut s, tenant, &group_key, "hash-group")
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &auth::get_api_key(&mut s, tenant, store_key.id)
            .await
            .unwrap()
            .expect("found"),
        &store_key,
    );
    assert_same(
        &auth::get_api_key(&mut s, tenant, group_key.id)
            .await
            .unwrap()
            .expect("found"),
        &group_key,
    );
    assert!(
        auth::get_api_key(&mut s, tenant, ApiKeyId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert_same(
        &auth::find_api_key(&mut s, tenant, "hash-store")
            .await
            .unwrap()
            .expect("by hash"),
        &store_key,
    );
    assert_same(
        &auth::find_api_key(&mut s, tenant, "hash-group")
            .await
            .unwrap()
            .expect("by hash"),
        &group_key,
    );
    assert!(
        auth::find_api_key(&mut s, tenant, "hash-other")
            .await
            .unwrap()
            .is_none()
    );
    drop(s);
    let listed = walk_pages(1, |page| {
        let db = &db;
        async move { auth::list_api_keys(&mut db.read().await, tenant, page).await }
    });
    let listed: Vec<ApiKeyId> = listed.await.iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![store_key.id, group_key.id]);

    // Touching records the last use, exactly, and changes nothing else.
    let used_at = utc_now() + Duration::milliseconds(1);
    let mut s = db.write().await;
    auth::touch_api_key(&mut s, tenant, store_key.id, used_at)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut touched = store_key.clone();
    touched.last_used_at = Some(used_at);
    let mut s = db.read().await;
    assert_same(
        &auth::get_api_key(&mut s, tenant, store_key.id)
            .await
            .unwrap()
            .unwrap(),
        &touched,
    );
    assert_eq!(
        auth::find_api_key(&mut s, tenant, "hash-store")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(used_at)
    );
    drop(s);

    // Hashes are unique per tenant; channel and store must exist.
    let mut s = db.write().await;
    let error = auth::insert_api_key(
        &mut s,
        tenant,
        &api_key("dup", channel.id, None),
        "hash-store",
    )
    .await;
    assert!(
        matches!(error, Err(StoreError::Conflict { .. })),
        "{error:?}"
    );
    drop(s);
    let mut s = db.write().await;
    let error = auth::insert_api_key(
        &mut s,
        tenant,
        &api_key("x", ChannelId::new(), None),
        "hash-x",
    )
    .await;
    assert!(
        matches!(error, Err(StoreError::MissingReference)),
        "{error:?}"
    );
    drop(s);
    let mut s = db.write().await;
    let error = auth::insert_api_key(
        &mut s,
        tenant,
        &api_key("x", channel.id, Some(StoreId::new())),
        "hash-x",
    )
    .await;
    assert!(
        matches!(error, Err(StoreError::MissingReference)),
        "{error:?}"
    );
}

async fn api_keys_stop_working_when_revoked_or_channel_archived(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let pos = seed_channel(&db, tenant, "pos", None).await;
    let app = seed_channel(&db, tenant, "app", None).await;
    let (revoked, on_app, live) = (
        api_key("r", pos.id, None),
        api_key("a", app.id, None),
        api_key("l", pos.id, None),
    );
    let mut s = db.write().await;
    auth::insert_api_key(&mut s, tenant, &revoked, "hash-r")
        .await
        .unwrap();
    auth::insert_api_key(&mut s, tenant, &on_app, "hash-a")
        .await
        .unwrap();
    auth::insert_api_key(&mut s, tenant, &live, "hash-l")
        .await
        .unwrap();
    s.commit().await.unwrap();

    let revoked_at = utc_now();
    let mut s = db.write().await;
    assert!(
        auth::revoke_api_key(&mut s, tenant, revoked.id, revoked_at)
            .await
            .unwrap()
    );
    assert!(
        !auth::revoke_api_key(&mut s, tenant, revoked.id, revoked_at + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(
        !auth::revoke_api_key(&mut s, tenant, ApiKeyId::new(), revoked_at)
            .await
            .unwrap()
    );
    let mut archived = app.clone();
    archived.archived = true;
    org::update_channel(&mut s, tenant, &archived)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert!(
        auth::find_api_key(&mut s, tenant, "hash-r")
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    assert!(
        auth::find_api_key(&mut s, tenant, "hash-a")
            .await
            .unwrap()
            .is_none(),
        "its channel is archived"
    );
    assert!(
        auth::find_api_key(&mut s, tenant, "hash-l")
            .await
            .unwrap()
            .is_some()
    );
    let stored = auth::get_api_key(&mut s, tenant, revoked.id)
        .await
        .unwrap()
        .expect("revoked keys stay listed");
    assert_eq!(
        stored.revoked_at,
        Some(revoked_at),
        "the first revocation's time stays"
    );
    let stored = auth::get_api_key(&mut s, tenant, on_app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.revoked_at, None,
        "archiving the channel does not revoke the key"
    );
    drop(s);

    // Unarchiving the channel brings its keys back.
    let mut s = db.write().await;
    org::update_channel(&mut s, tenant, &app).await.unwrap();
    s.commit().await.unwrap();
    assert!(
        auth::find_api_key(&mut db.read().await, tenant, "hash-a")
            .await
            .unwrap()
            .is_some()
    );
}
