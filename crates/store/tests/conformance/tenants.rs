//! Tenants.

use crate::fixtures::{tenant, unique_slug};
use crate::harness::{TestDb, assert_same};
use huiyuan_domain::ids::TenantId;
use huiyuan_store::{StoreError, tenants};
use time::Duration;

on_both!(tenants_round_trip, tenant_slugs_are_unique);

async fn tenants_round_trip(db: TestDb) {
    // Distinct whole-second steps keep `list`'s created_at order unambiguous.
    let first = tenant(&unique_slug("first"));
    let mut second = tenant(&unique_slug("second"));
    second.created_at = first.created_at + Duration::seconds(1);
    let mut s = db.write().await;
    // Inserted newest first, so the order `list` returns is not the insertion order.
    tenants::insert(&mut s, &second).await.unwrap();
    tenants::insert(&mut s, &first).await.unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &tenants::get(&mut s, first.id)
            .await
            .unwrap()
            .expect("found by id"),
        &first,
    );
    assert_same(
        &tenants::get_by_slug(&mut s, second.slug.as_str())
            .await
            .unwrap()
            .expect("found by slug"),
        &second,
    );
    assert!(
        tenants::get(&mut s, TenantId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tenants::get_by_slug(&mut s, "no-such-tenant")
            .await
            .unwrap()
            .is_none()
    );

    let listed = tenants::list(&mut s, 10).await.unwrap();
    let ids: Vec<TenantId> = listed.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![first.id, second.id], "oldest first");
    assert_same(&listed[0], &first);
    assert_eq!(
        tenants::list(&mut s, 1).await.unwrap().len(),
        1,
        "limit applies"
    );
}

async fn tenant_slugs_are_unique(db: TestDb) {
    let existing = tenant(&unique_slug("taken"));
    let mut s = db.write().await;
    tenants::insert(&mut s, &existing).await.unwrap();
    s.commit().await.unwrap();

    let mut again = tenant(existing.slug.as_str());
    again.name = crate::fixtures::name("Someone else");
    let mut s = db.write().await;
    let error = tenants::insert(&mut s, &again)
        .await
        .expect_err("the slug is taken");
    assert!(tenants::is_slug_conflict(&error), "{error:?}");
    assert!(matches!(error, StoreError::Conflict { .. }));
    drop(s);

    // The same id again is a conflict too, but not a slug conflict.
    let mut same_id = tenant(&unique_slug("other"));
    same_id.id = existing.id;
    let mut s = db.write().await;
    let error = tenants::insert(&mut s, &same_id)
        .await
        .expect_err("the id is taken");
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    assert!(!tenants::is_slug_conflict(&error), "{error:?}");
    drop(s);

    let mut s = db.read().await;
    assert_eq!(
        tenants::list(&mut s, 10).await.unwrap().len(),
        1,
        "nothing was written by the failed inserts"
    );
}
