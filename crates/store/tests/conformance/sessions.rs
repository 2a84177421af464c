//! Login sessions: a token hash grants its account's permissions and scope until the session
//! expires or is revoked, and only while the account is active.

use crate::fixtures::{role, seed_tenant, staff};
use crate::harness::TestDb;
use huiyuan_domain::auth::{DataScope, Permission, PermissionSet};
use huiyuan_domain::ids::{FormatId, SessionId, StaffId, TenantId};
use huiyuan_store::{StoreError, auth, utc_now};
use std::collections::BTreeSet;
use time::Duration;

on_both!(sessions_grant_until_expiry_or_revocation);

async fn sessions_grant_until_expiry_or_revocation(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let permissions: PermissionSet = [Permission::OrgRead, Permission::AuditRead]
        .into_iter()
        .collect();
    let manager = role("manager", &permissions.iter().collect::<Vec<_>>());
    let scope = DataScope::Formats {
        format_ids: BTreeSet::from([FormatId::new()]),
    };
    let alice = staff("alice", manager.id, scope.clone());
    let bob = staff("bob", manager.id, DataScope::Tenant);
    let now = utc_now();
    let expires_at = now + Duration::hours(8);
    let (first, second, bobs) = (SessionId::new(), SessionId::new(), SessionId::new());
    let mut s = db.write().await;
    auth::insert_role(&mut s, tenant, &manager).await.unwrap();
    auth::insert_staff(&mut s, tenant, &alice, "x")
        .await
        .unwrap();
    auth::insert_staff(&mut s, tenant, &bob, "x").await.unwrap();
    auth::insert_session(&mut s, tenant, first, alice.id, "hash-1", now, expires_at)
        .await
        .unwrap();
    auth::insert_session(&mut s, tenant, second, alice.id, "hash-2", now, expires_at)
        .await
        .unwrap();
    auth::insert_session(&mut s, tenant, bobs, bob.id, "hash-3", now, expires_at)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    let grant = auth::find_session(&mut s, tenant, "hash-1", now)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(
        (grant.session_id, grant.staff_id, grant.expires_at),
        (first, alice.id, expires_at)
    );
    assert_eq!((grant.permissions, grant.scope), (permissions, scope));
    assert!(
        auth::find_session(&mut s, tenant, "hash-1", expires_at - Duration::seconds(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        auth::find_session(&mut s, tenant, "hash-1", expires_at)
            .await
            .unwrap()
            .is_none(),
        "ends at expiry"
    );
    assert!(
        auth::find_session(&mut s, tenant, "hash-1", expires_at + Duration::days(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_session(&mut s, tenant, "hash-x", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_session(&mut s, TenantId::new(), "hash-1", now)
            .await
            .unwrap()
            .is_none()
    );
    drop(s);

    // The token hash is unique per tenant.
    let mut s = db.write().await;
    let error = auth::insert_session(
        &mut s,
        tenant,
        SessionId::new(),
        bob.id,
        "hash-1",
        now,
        expires_at,
    )
    .await;
    assert!(
        matches!(error, Err(StoreError::Conflict { .. })),
        "{error:?}"
    );
    drop(s);
    let mut s = db.write().await;
    let error = auth::insert_session(
        &mut s,
        tenant,
        SessionId::new(),
        StaffId::new(),
        "hash-9",
        now,
        expires_at,
    );
    assert!(matches!(error.await, Err(StoreError::MissingReference)));
    drop(s);

    // Revocation: once, then the grant is gone.
    let mut s = db.write().await;
    assert!(
        auth::revoke_session(&mut s, tenant, first, now)
            .await
            .unwrap()
    );
    assert!(
        !auth::revoke_session(&mut s, tenant, first, now)
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(
        !auth::revoke_session(&mut s, tenant, SessionId::new(), now)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert!(
        auth::find_session(&mut s, tenant, "hash-1", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_session(&mut s, tenant, "hash-2", now)
            .await
            .unwrap()
            .is_some()
    );
    drop(s);

    // A deactivated account's sessions stop granting, and come back if it is reactivated.
    let mut inactive = bob.clone();
    inactive.active = false;
    let mut s = db.write().await;
    auth::update_staff(&mut s, tenant, &inactive).await.unwrap();
    s.commit().await.unwrap();
    assert!(
        auth::find_session(&mut db.read().await, tenant, "hash-3", now)
            .await
            .unwrap()
            .is_none()
    );
    let mut s = db.write().await;
    auth::update_staff(&mut s, tenant, &bob).await.unwrap();
    s.commit().await.unwrap();
    assert!(
        auth::find_session(&mut db.read().await, tenant, "hash-3", now)
            .await
            .unwrap()
            .is_some()
    );

    // Ending all of one account's sessions leaves other accounts' alone.
    let mut s = db.write().await;
    assert_eq!(
        auth::revoke_staff_sessions(&mut s, tenant, alice.id, now)
            .await
            .unwrap(),
        1,
        "one was still live"
    );
    assert_eq!(
        auth::revoke_staff_sessions(&mut s, tenant, alice.id, now)
            .await
            .unwrap(),
        0
    );
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert!(
        auth::find_session(&mut s, tenant, "hash-2", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::find_session(&mut s, tenant, "hash-3", now)
            .await
            .unwrap()
            .is_some()
    );
}
