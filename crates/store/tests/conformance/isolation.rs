//! Tenant isolation: one tenant's rows never appear in, and are never changed through, another's
//! reads and writes.

use crate::fixtures::{
    api_key, audit_entry, name, role, seed_channel, seed_format, seed_store, seed_tenant, staff,
};
use crate::harness::{TestDb, assert_same};
use huiyuan_domain::auth::{DataScope, Permission, ScopePredicate};
use huiyuan_domain::ids::SessionId;
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::audit::AuditFilter;
use huiyuan_store::idempotency::{self, Claim};
use huiyuan_store::{audit, auth, org, utc_now};
use time::Duration;

on_both!(tenants_see_only_their_own_rows);

async fn tenants_see_only_their_own_rows(db: TestDb) {
    let a = seed_tenant(&db).await;
    let b = seed_tenant(&db).await;
    let now = utc_now();

    let format = seed_format(&db, a, "retail").await;
    let store = seed_store(&db, a, format.id, "S1").await;
    let channel = seed_channel(&db, a, "pos", Some(format.id)).await;
    let admin = role("admin", &[Permission::OrgRead]);
    let clerk = staff("clerk", admin.id, DataScope::Tenant);
    let key = api_key("POS key", channel.id, Some(store.id));
    let session = SessionId::new();
    let actor = clerk.id.0;
    let mut s = db.write().await;
    auth::insert_role(&mut s, a, &admin).await.unwrap();
    auth::insert_staff(&mut s, a, &clerk, "hash").await.unwrap();
    auth::insert_session(
        &mut s,
        a,
        session,
        clerk.id,
        "token-a",
        now,
        now + Duration::hours(1),
    )
    .await
    .unwrap();
    auth::insert_api_key(&mut s, a, &key, "key-a")
        .await
        .unwrap();
    audit::append(
        &mut s,
        a,
        &audit_entry(Some(actor), "store.created", ("store", "S1"), now),
    )
    .await
    .unwrap();
    assert!(matches!(
        idempotency::claim(&mut s, a, actor, "k", "h", now)
            .await
            .unwrap(),
        Claim::New
    ));
    s.commit().await.unwrap();

    // Reads through tenant B find nothing of A's.
    let mut s = db.read().await;
    let first = PageRequest::first(50);
    assert!(
        org::get_format(&mut s, b, format.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(org::get_store(&mut s, b, store.id).await.unwrap().is_none());
    assert!(
        org::get_store_by_code(&mut s, b, "S1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        org::get_channel(&mut s, b, channel.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        org::get_channel_by_code(&mut s, b, "pos")
            .await
            .unwrap()
            .is_none()
    );
    assert!(auth::get_role(&mut s, b, admin.id).await.unwrap().is_none());
    assert!(
        auth::get_role_by_name(&mut s, b, "admin")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::get_staff(&mut s, b, clerk.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_login(&mut s, b, "clerk")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_session(&mut s, b, "token-a", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::get_api_key(&mut s, b, key.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_api_key(&mut s, b, "key-a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        org::list_formats(&mut s, b, &ScopePredicate::Any, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        org::list_stores(&mut s, b, &ScopePredicate::Any, None, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        org::list_channels(&mut s, b, &ScopePredicate::Any, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        auth::list_roles(&mut s, b, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        auth::list_staff(&mut s, b, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        auth::list_api_keys(&mut s, b, first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        audit::list(&mut s, b, &AuditFilter::default(), first)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        org::count_existing_stores(&mut s, b, &[store.id])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        org::count_existing_formats(&mut s, b, &[format.id])
            .await
            .unwrap(),
        0
    );
    // …while tenant A sees each of them.
    assert_eq!(
        org::list_stores(&mut s, a, &ScopePredicate::Any, None, first)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        audit::list(&mut s, a, &AuditFilter::default(), first)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    drop(s);

    // Writes through tenant B change nothing of A's.
    let later = now + Duration::minutes(1);
    let mut renamed_format = format.clone();
    renamed_format.name = name("hijacked");
    let mut renamed_store = store.clone();
    renamed_store.name = name("hijacked");
    let mut renamed_channel = channel.clone();
    renamed_channel.archived = true;
    let mut renamed_role = admin.clone();
    renamed_role.permissions = Permission::ALL.iter().copied().collect();
    let mut renamed_staff = clerk.clone();
    renamed_staff.active = false;
    let mut s = db.write().await;
    org::update_format(&mut s, b, &renamed_format)
        .await
        .unwrap();
    org::update_store(&mut s, b, &renamed_store).await.unwrap();
    org::update_channel(&mut s, b, &renamed_channel)
        .await
        .unwrap();
    auth::update_role(&mut s, b, &renamed_role).await.unwrap();
    auth::update_staff(&mut s, b, &renamed_staff).await.unwrap();
    auth::set_password_hash(&mut s, b, clerk.id, "other", later)
        .await
        .unwrap();
    assert!(
        !auth::revoke_session(&mut s, b, session, later)
            .await
            .unwrap()
    );
    assert_eq!(
        auth::revoke_staff_sessions(&mut s, b, clerk.id, later)
            .await
            .unwrap(),
        0
    );
    assert!(
        !auth::revoke_api_key(&mut s, b, key.id, later)
            .await
            .unwrap()
    );
    auth::touch_api_key(&mut s, b, key.id, later).await.unwrap();
    assert!(matches!(
        idempotency::claim(&mut s, b, actor, "k", "other", now)
            .await
            .unwrap(),
        Claim::New
    ));
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &org::get_format(&mut s, a, format.id)
            .await
            .unwrap()
            .unwrap(),
        &format,
    );
    assert_same(
        &org::get_store(&mut s, a, store.id).await.unwrap().unwrap(),
        &store,
    );
    assert_same(
        &org::get_channel(&mut s, a, channel.id)
            .await
            .unwrap()
            .unwrap(),
        &channel,
    );
    assert_same(
        &auth::get_role(&mut s, a, admin.id).await.unwrap().unwrap(),
        &admin,
    );
    assert_same(
        &auth::get_staff(&mut s, a, clerk.id).await.unwrap().unwrap(),
        &clerk,
    );
    assert_eq!(
        auth::find_login(&mut s, a, "clerk")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash"
    );
    assert!(
        auth::find_session(&mut s, a, "token-a", now)
            .await
            .unwrap()
            .is_some()
    );
    assert_same(
        &auth::find_api_key(&mut s, a, "key-a")
            .await
            .unwrap()
            .expect("still live"),
        &key,
    );
    drop(s);

    // The same tenant-scoped keys are free in B: every unique key starts with the tenant.
    let b_format = seed_format(&db, b, "retail").await;
    seed_store(&db, b, b_format.id, "S1").await;
    let b_channel = seed_channel(&db, b, "pos", None).await;
    let b_role = role("admin", &[]);
    let mut s = db.write().await;
    auth::insert_role(&mut s, b, &b_role).await.unwrap();
    let b_staff = staff("clerk", b_role.id, DataScope::Tenant);
    auth::insert_staff(&mut s, b, &b_staff, "hash")
        .await
        .unwrap();
    auth::insert_session(
        &mut s,
        b,
        SessionId::new(),
        b_staff.id,
        "token-a",
        now,
        later,
    )
    .await
    .unwrap();
    auth::insert_api_key(&mut s, b, &api_key("k", b_channel.id, None), "key-a")
        .await
        .unwrap();
    s.commit().await.unwrap();
}
