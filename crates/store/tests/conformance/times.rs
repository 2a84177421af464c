//! Timestamps: stored and read back to the microsecond, and compared as instants.

use crate::fixtures::{
    api_key, audit_entry, format, role, seed_channel, seed_tenant, staff, tenant, unique_slug,
};
use crate::harness::TestDb;
use huiyuan_domain::auth::DataScope;
use huiyuan_domain::ids::SessionId;
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::audit::AuditFilter;
use huiyuan_store::{audit, auth, org, tenants, utc_now};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

on_both!(
    times_round_trip_exactly,
    times_compare_as_instants_within_a_second,
);

/// Instants whose text forms differ in length: no fraction, one digit, six digits, trailing zeros.
fn awkward_instants() -> Vec<OffsetDateTime> {
    vec![
        utc_now(),
        datetime!(2026-03-01 12:00:00 UTC),
        datetime!(2026-03-01 12:00:00.000001 UTC),
        datetime!(2026-03-01 12:00:00.1 UTC),
        datetime!(2026-03-01 12:00:00.12345 UTC),
        datetime!(2026-03-01 23:59:59.999999 UTC),
        datetime!(1999-12-31 23:59:59.5 UTC),
        datetime!(2100-01-01 00:00:00.000010 UTC),
    ]
}

async fn times_round_trip_exactly(db: TestDb) {
    let tenant_id = seed_tenant(&db).await;
    let channel = seed_channel(&db, tenant_id, "pos", None).await;
    let admin = role("admin", &[]);
    let clerk = staff("clerk", admin.id, DataScope::Tenant);
    let mut s = db.write().await;
    auth::insert_role(&mut s, tenant_id, &admin).await.unwrap();
    auth::insert_staff(&mut s, tenant_id, &clerk, "x")
        .await
        .unwrap();
    s.commit().await.unwrap();

    for (n, at) in awkward_instants().into_iter().enumerate() {
        let mut t = tenant(&unique_slug("time"));
        t.created_at = at;
        let mut f = format(&format!("f{n}"));
        (f.created_at, f.updated_at) = (at, at + Duration::microseconds(1));
        let mut key = api_key("k", channel.id, None);
        key.created_at = at;
        let entry = audit_entry(None, "time.checked", ("format", f.code.as_str()), at);
        let (session, token) = (SessionId::new(), format!("token-{n}"));
        let mut s = db.write().await;
        tenants::insert(&mut s, &t).await.unwrap();
        org::insert_format(&mut s, tenant_id, &f).await.unwrap();
        auth::insert_api_key(&mut s, tenant_id, &key, &format!("hash-{n}"))
            .await
            .unwrap();
        auth::touch_api_key(&mut s, tenant_id, key.id, at)
            .await
            .unwrap();
        auth::revoke_api_key(&mut s, tenant_id, key.id, at)
            .await
            .unwrap();
        auth::insert_session(
            &mut s,
            tenant_id,
            session,
            clerk.id,
            &token,
            at - Duration::days(1),
            at,
        )
        .await
        .unwrap();
        audit::append(&mut s, tenant_id, &entry).await.unwrap();
        s.commit().await.unwrap();

        let mut s = db.read().await;
        assert_eq!(
            tenants::get(&mut s, t.id)
                .await
                .unwrap()
                .unwrap()
                .created_at,
            at
        );
        let stored = org::get_format(&mut s, tenant_id, f.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.created_at, stored.updated_at),
            (f.created_at, f.updated_at)
        );
        let stored = auth::get_api_key(&mut s, tenant_id, key.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.created_at, stored.last_used_at, stored.revoked_at),
            (at, Some(at), Some(at))
        );
        let grant = auth::find_session(&mut s, tenant_id, &token, at - Duration::days(1))
            .await
            .unwrap();
        assert_eq!(grant.expect("live a day before expiry").expires_at, at);
        let filter = AuditFilter {
            target_id: Some(entry.target_id.clone()),
            ..Default::default()
        };
        let listed = audit::list(&mut s, tenant_id, &filter, PageRequest::first(5))
            .await
            .unwrap();
        assert_eq!(
            listed
                .items
                .iter()
                .map(|e| e.created_at)
                .collect::<Vec<_>>(),
            vec![at]
        );
    }
}

/// Comparisons and ordering must follow the instant, not the text: within one second, `12:00:00Z`
/// comes before `12:00:00.5Z`, and `.1` before `.123456`.
async fn times_compare_as_instants_within_a_second(db: TestDb) {
    let tenant_id = seed_tenant(&db).await;
    let admin = role("admin", &[]);
    let clerk = staff("clerk", admin.id, DataScope::Tenant);
    let second = datetime!(2026-03-01 12:00:00 UTC);
    let mut s = db.write().await;
    auth::insert_role(&mut s, tenant_id, &admin).await.unwrap();
    auth::insert_staff(&mut s, tenant_id, &clerk, "x")
        .await
        .unwrap();
    let half_past = second + Duration::milliseconds(500);
    auth::insert_session(
        &mut s,
        tenant_id,
        SessionId::new(),
        clerk.id,
        "ends-half-past",
        second,
        half_past,
    )
    .await
    .unwrap();
    let tenth = second + Duration::milliseconds(100);
    auth::insert_session(
        &mut s,
        tenant_id,
        SessionId::new(),
        clerk.id,
        "ends-at-a-tenth",
        second,
        tenth,
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    // Every expectation is checked, so a failure lists all the comparisons that went wrong.
    let mut wrong = Vec::new();
    let mut s = db.read().await;
    if auth::find_session(&mut s, tenant_id, "ends-half-past", second)
        .await
        .unwrap()
        .is_none()
    {
        wrong.push("a session ending at 12:00:00.5 is live at 12:00:00");
    }
    let later = second + Duration::microseconds(123_456);
    if auth::find_session(&mut s, tenant_id, "ends-at-a-tenth", later)
        .await
        .unwrap()
        .is_some()
    {
        wrong.push("a session ending at 12:00:00.1 is over at 12:00:00.123456");
    }
    drop(s);

    let (mut late, mut early) = (tenant(&unique_slug("late")), tenant(&unique_slug("early")));
    (late.created_at, early.created_at) = (half_past, second);
    let mut s = db.write().await;
    tenants::insert(&mut s, &late).await.unwrap();
    tenants::insert(&mut s, &early).await.unwrap();
    audit::append(
        &mut s,
        tenant_id,
        &audit_entry(None, "x", ("t", "1"), half_past),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    let mut s = db.read().await;
    let listed: Vec<_> = tenants::list(&mut s, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let position = |id| listed.iter().position(|x| *x == id).unwrap();
    if position(early.id) > position(late.id) {
        wrong.push("tenants created at 12:00:00 list before those created at 12:00:00.5");
    }
    let filter = AuditFilter {
        from: Some(second),
        until: Some(second + Duration::seconds(1)),
        ..Default::default()
    };
    if audit::list(&mut s, tenant_id, &filter, PageRequest::first(5))
        .await
        .unwrap()
        .items
        .len()
        != 1
    {
        wrong.push("an audit entry at 12:00:00.5 lies within [12:00:00, 12:00:01)");
    }
    assert!(
        wrong.is_empty(),
        "{} compares timestamps wrongly:\n  {}",
        db.backend(),
        wrong.join("\n  ")
    );
}
