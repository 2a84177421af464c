//! Idempotency keys: claim, complete, replay, mismatch, roll back, expire.

use crate::fixtures::seed_tenant;
use crate::harness::TestDb;
use huiyuan_domain::ids::TenantId;
use huiyuan_store::idempotency::{self, Claim, RETENTION, StoredResponse};
use huiyuan_store::utc_now;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

on_both!(
    idempotency_keys_replay_stored_responses,
    expired_idempotency_keys_are_purged
);

async fn claim(
    db: &TestDb,
    tenant: TenantId,
    actor: Uuid,
    key: &str,
    hash: &str,
    now: OffsetDateTime,
) -> Claim {
    let mut s = db.write().await;
    let claim = idempotency::claim(&mut s, tenant, actor, key, hash, now)
        .await
        .expect("claim");
    s.commit().await.unwrap();
    claim
}

async fn idempotency_keys_replay_stored_responses(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (actor, someone_else) = (Uuid::now_v7(), Uuid::now_v7());
    let now = utc_now();
    let response = StoredResponse {
        status_code: 201,
        body: serde_json::json!({ "id": "mbr_1", "name": "会员", "points": 12, "tags": [], "note": null }),
    };

    // First use: claim and store the response in the same transaction.
    let mut s = db.write().await;
    assert!(matches!(
        idempotency::claim(&mut s, tenant, actor, "k1", "h1", now)
            .await
            .unwrap(),
        Claim::New
    ));
    idempotency::complete(&mut s, tenant, actor, "k1", &response)
        .await
        .unwrap();
    s.commit().await.unwrap();

    match claim(&db, tenant, actor, "k1", "h1", now).await {
        Claim::Replay(stored) => assert_eq!(stored, response),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(matches!(
        claim(&db, tenant, actor, "k1", "h2", now).await,
        Claim::Mismatch
    ));
    // Keys belong to one actor in one tenant.
    assert!(matches!(
        claim(&db, tenant, someone_else, "k1", "h2", now).await,
        Claim::New
    ));
    assert!(matches!(
        claim(&db, seed_tenant(&db).await, actor, "k1", "h2", now).await,
        Claim::New
    ));

    // A claim whose transaction rolls back leaves nothing behind: the retry runs again.
    let mut s = db.write().await;
    assert!(matches!(
        idempotency::claim(&mut s, tenant, actor, "k2", "h", now)
            .await
            .unwrap(),
        Claim::New
    ));
    idempotency::complete(&mut s, tenant, actor, "k2", &response)
        .await
        .unwrap();
    drop(s);
    assert!(matches!(
        claim(&db, tenant, actor, "k2", "h", now).await,
        Claim::New
    ));

    // Completing overwrites the in-flight marker with any status and body.
    let accepted = StoredResponse {
        status_code: 202,
        body: serde_json::Value::Null,
    };
    let mut s = db.write().await;
    idempotency::complete(&mut s, tenant, actor, "k2", &accepted)
        .await
        .unwrap();
    s.commit().await.unwrap();
    match claim(&db, tenant, actor, "k2", "h", now).await {
        Claim::Replay(stored) => assert_eq!(stored, accepted),
        other => panic!("expected a replay, got {other:?}"),
    }
}

async fn expired_idempotency_keys_are_purged(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let actor = Uuid::now_v7();
    let now = utc_now();
    let old = now - RETENTION - Duration::seconds(1);
    let fresh = now - RETENTION + Duration::seconds(1);
    for (t, key, at) in [
        (tenant, "old-1", old),
        (tenant, "old-2", old),
        (other, "old-3", old),
        (tenant, "fresh", fresh),
    ] {
        assert!(matches!(
            claim(&db, t, actor, key, "h", at).await,
            Claim::New
        ));
    }

    // A small batch takes part of the expired keys; the next takes the rest, across tenants.
    let mut s = db.write().await;
    assert_eq!(idempotency::purge_expired(&mut s, now, 2).await.unwrap(), 2);
    assert_eq!(idempotency::purge_expired(&mut s, now, 2).await.unwrap(), 1);
    assert_eq!(idempotency::purge_expired(&mut s, now, 2).await.unwrap(), 0);
    s.commit().await.unwrap();

    // Purged keys can be claimed anew; the fresh one still replays.
    assert!(matches!(
        claim(&db, tenant, actor, "old-1", "h", now).await,
        Claim::New
    ));
    assert!(matches!(
        claim(&db, tenant, actor, "old-2", "other", now).await,
        Claim::New
    ));
    assert!(matches!(
        claim(&db, other, actor, "old-3", "h", now).await,
        Claim::New
    ));
    assert!(matches!(
        claim(&db, tenant, actor, "fresh", "h", now).await,
        Claim::Replay(_)
    ));
    assert!(matches!(
        claim(&db, tenant, actor, "fresh", "h2", now).await,
        Claim::Mismatch
    ));
}
