//! The audit log: appended entries read back whole, through each filter and page by page.

use crate::fixtures::{audit_entry, seed_tenant};
use crate::harness::{TestDb, assert_same, walk_pages};
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::ids::AuditEntryId;
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::audit::{self, AuditFilter};
use huiyuan_store::{StoreError, utc_now};
use time::Duration;
use uuid::Uuid;

on_both!(audit_entries_round_trip, audit_filters_select_and_paginate);

async fn audit_entries_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let now = utc_now();
    let full = audit_entry(
        Some(Uuid::now_v7()),
        "store.created",
        ("store", "0190-abc"),
        now,
    );
    let mut bare = audit_entry(None, "tenant.bootstrapped", ("tenant", "t"), now);
    bare.request_id = None;
    bare.summary = serde_json::json!({ "before": null, "after": { "nested": [1, 2.5, "三"] } });
    let mut s = db.write().await;
    audit::append(&mut s, tenant, &full).await.unwrap();
    audit::append(&mut s, tenant, &bare).await.unwrap();
    s.commit().await.unwrap();

    let page = audit::list(
        &mut db.read().await,
        tenant,
        &AuditFilter::default(),
        PageRequest::first(10),
    )
    .await;
    let page = page.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_same(&page.items[0], &full);
    assert_same(&page.items[1], &bare);
    assert_eq!(page.next_cursor, None);

    // Entries are never overwritten: appending the same id again fails.
    let mut s = db.write().await;
    let error = audit::append(&mut s, tenant, &full)
        .await
        .expect_err("the id exists");
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
}

async fn audit_filters_select_and_paginate(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    // Whole seconds apart, so the time filters' boundaries are unambiguous.
    let start = utc_now();
    let at = |second: i64| start + Duration::seconds(second);
    let entries: Vec<AuditEntry> = vec![
        audit_entry(Some(alice), "store.created", ("store", "s1"), at(0)),
        audit_entry(Some(alice), "store.updated", ("store", "s1"), at(1)),
        audit_entry(Some(bob), "store.updated", ("store", "s2"), at(2)),
        audit_entry(Some(bob), "staff.created", ("staff", "s1"), at(3)),
        audit_entry(None, "store.updated", ("store", "s1"), at(4)),
        audit_entry(Some(alice), "format.created", ("format", "f1"), at(5)),
    ];
    let mut s = db.write().await;
    for entry in &entries {
        audit::append(&mut s, tenant, entry).await.unwrap();
    }
    audit::append(
        &mut s,
        other,
        &audit_entry(Some(alice), "store.created", ("store", "s1"), at(0)),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let ids = |picked: &[usize]| {
        picked
            .iter()
            .map(|&i| entries[i].id)
            .collect::<Vec<AuditEntryId>>()
    };
    let cases: Vec<(&str, AuditFilter, Vec<AuditEntryId>)> = vec![
        (
            "everything",
            AuditFilter::default(),
            ids(&[0, 1, 2, 3, 4, 5]),
        ),
        (
            "actor",
            AuditFilter {
                actor_id: Some(alice),
                ..Default::default()
            },
            ids(&[0, 1, 5]),
        ),
        (
            "unknown actor",
            AuditFilter {
                actor_id: Some(Uuid::now_v7()),
                ..Default::default()
            },
            ids(&[]),
        ),
        (
            "target type",
            AuditFilter {
                target_type: Some("store".into()),
                ..Default::default()
            },
            ids(&[0, 1, 2, 4]),
        ),
        (
            "target",
            AuditFilter {
                target_type: Some("store".into()),
                target_id: Some("s1".into()),
                ..Default::default()
            },
            ids(&[0, 1, 4]),
        ),
        (
            "target id alone",
            AuditFilter {
                target_id: Some("s1".into()),
                ..Default::default()
            },
            ids(&[0, 1, 3, 4]),
        ),
        (
            "action",
            AuditFilter {
                action: Some("store.updated".into()),
                ..Default::default()
            },
            ids(&[1, 2, 4]),
        ),
        (
            "from (inclusive)",
            AuditFilter {
                from: Some(at(3)),
                ..Default::default()
            },
            ids(&[3, 4, 5]),
        ),
        (
            "until (exclusive)",
            AuditFilter {
                until: Some(at(2)),
                ..Default::default()
            },
            ids(&[0, 1]),
        ),
        (
            "window",
            AuditFilter {
                from: Some(at(1)),
                until: Some(at(4)),
                ..Default::default()
            },
            ids(&[1, 2, 3]),
        ),
        (
            "empty window",
            AuditFilter {
                from: Some(at(4)),
                until: Some(at(4)),
                ..Default::default()
            },
            ids(&[]),
        ),
        (
            "all at once",
            AuditFilter {
                actor_id: Some(alice),
                target_type: Some("store".into()),
                target_id: Some("s1".into()),
                action: Some("store.updated".into()),
                from: Some(at(1)),
                until: Some(at(2)),
            },
            ids(&[1]),
        ),
    ];
    for (label, filter, expected) in cases {
        for limit in [1, 2, 50] {
            let filter = &filter;
            let listed = walk_pages(limit, |page| {
                let db = &db;
                async move { audit::list(&mut db.read().await, tenant, filter, page).await }
            });
            let listed: Vec<AuditEntryId> = listed.await.iter().map(|e| e.id).collect();
            assert_eq!(listed, expected, "filter {label}, limit {limit}");
        }
    }
}
