//! The two interpreters of the one access rule agree: every list query returns exactly the rows
//! that `ScopePredicate::matches` accepts, and cursor pagination visits each of them once.

use crate::fixtures::{seed_channel, seed_format, seed_store, seed_tenant};
use crate::harness::{TestDb, walk_pages};
use huiyuan_domain::auth::{Access, DataScope, Placement, RecordClass, ScopePredicate};
use huiyuan_domain::ids::{FormatId, StaffId, StoreId, TenantId};
use huiyuan_domain::org::{Channel, Format, Store};
use huiyuan_store::org;
use std::collections::BTreeSet;
use uuid::Uuid;

on_both!(
    list_queries_apply_the_scope_rule,
    pages_visit_every_row_once
);

/// Two formats with three stores each, plus group-wide and format channels.
struct Org {
    tenant: TenantId,
    formats: Vec<Format>,
    stores: Vec<Store>,
    channels: Vec<Channel>,
}

async fn seed_org(db: &TestDb) -> Org {
    let tenant = seed_tenant(db).await;
    let mut formats = Vec::new();
    let mut stores = Vec::new();
    let mut channels = vec![seed_channel(db, tenant, "group-app", None).await];
    for f in ["retail", "hotel"] {
        let format = seed_format(db, tenant, f).await;
        for n in 1..=3 {
            stores.push(seed_store(db, tenant, format.id, &format!("{f}-{n}")).await);
        }
        channels.push(seed_channel(db, tenant, &format!("{f}-mini"), Some(format.id)).await);
        formats.push(format);
    }
    channels.push(seed_channel(db, tenant, "group-pos", None).await);
    // Another tenant's rows must never leak into the lists either.
    let other = seed_tenant(db).await;
    let foreign = seed_format(db, other, "retail").await;
    seed_store(db, other, foreign.id, "retail-1").await;
    seed_channel(db, other, "group-app", None).await;
    Org {
        tenant,
        formats,
        stores,
        channels,
    }
}

/// Scopes worth comparing: every kind, with ids of this tenant, of nobody, and mixed.
fn scopes(org: &Org) -> Vec<DataScope> {
    let (f, s) = (&org.formats, &org.stores);
    let formats = |ids: &[FormatId]| DataScope::Formats {
        format_ids: ids.iter().copied().collect(),
    };
    let stores = |ids: &[StoreId]| DataScope::Stores {
        store_ids: ids.iter().copied().collect(),
    };
    let guide = |ids: &[StoreId]| DataScope::OwnMembers {
        store_ids: ids.iter().copied().collect(),
    };
    vec![
        DataScope::Tenant,
        formats(&[f[0].id]),
        formats(&[f[1].id]),
        formats(&[f[0].id, f[1].id]),
        formats(&[FormatId::new()]),
        formats(&[]),
        stores(&[s[0].id]),
        stores(&[s[1].id, s[4].id]),
        stores(&[StoreId::new(), s[5].id]),
        stores(&[]),
        guide(&[s[2].id]),
        guide(&[s[0].id, s[3].id, s[5].id]),
    ]
}

/// Every predicate the scopes produce, for both accesses, both record classes, with and without
/// a staff id, plus hand-made trees the scopes never build.
fn predicates(org: &Org) -> Vec<ScopePredicate> {
    use ScopePredicate as P;
    let mut all = Vec::new();
    for scope in scopes(org) {
        for access in [Access::Read, Access::Write] {
            for class in [RecordClass::Org, RecordClass::MemberData] {
                for me in [None, Some(StaffId::new())] {
                    all.push(scope.predicate(access, class, me));
                }
            }
        }
    }
    let (f, s) = (&org.formats, &org.stores);
    all.extend([
        P::Nothing,
        P::FormatIsNull,
        P::StoreIsNull,
        P::And(vec![]),
        P::Or(vec![]),
        P::And(vec![
            P::FormatIn(BTreeSet::from([f[0].id])),
            P::StoreIn(BTreeSet::from([s[0].id, s[4].id])),
        ]),
        P::Or(vec![
            P::StoreIn(BTreeSet::from([s[1].id])),
            P::And(vec![P::FormatIn(BTreeSet::from([f[1].id]))]),
        ]),
        P::Or(vec![P::GuideIs(StaffId::new()), P::FormatIsNull]),
    ]);
    all
}

async fn list_queries_apply_the_scope_rule(db: TestDb) {
    let db = &db;
    let org = seed_org(db).await;
    let tenant = org.tenant;
    // The comparison means something only if the predicates select many different subsets.
    let mut distinct_store_sets = BTreeSet::new();
    for predicate in predicates(&org) {
        let predicate = &predicate;

        let expected: Vec<Uuid> = org
            .stores
            .iter()
            .filter(|x| predicate.matches(&Placement::store(x.format_id, x.id)))
            .map(|x| x.id.0)
            .collect();
        let listed = walk_pages(2, |page| async move {
            let mut s = db.read().await;
            org::list_stores(&mut s, tenant, predicate, None, page).await
        });
        let listed: Vec<Uuid> = listed.await.iter().map(|x| x.id.0).collect();
        assert_eq!(
            sorted(listed),
            sorted(expected.clone()),
            "stores under {predicate:?}"
        );
        distinct_store_sets.insert(sorted(expected));

        let expected: Vec<Uuid> = org
            .formats
            .iter()
            .filter(|x| predicate.matches(&Placement::format(x.id)))
            .map(|x| x.id.0)
            .collect();
        let listed = walk_pages(1, |page| async move {
            let mut s = db.read().await;
            org::list_formats(&mut s, tenant, predicate, page).await
        });
        let listed: Vec<Uuid> = listed.await.iter().map(|x| x.id.0).collect();
        assert_eq!(
            sorted(listed),
            sorted(expected),
            "formats under {predicate:?}"
        );

        let expected: Vec<Uuid> = org
            .channels
            .iter()
            .filter(|x| {
                predicate.matches(&Placement {
                    format_id: x.format_id,
                    ..Placement::default()
                })
            })
            .map(|x| x.id.0)
            .collect();
        let listed = walk_pages(3, |page| async move {
            let mut s = db.read().await;
            org::list_channels(&mut s, tenant, predicate, page).await
        });
        let listed: Vec<Uuid> = listed.await.iter().map(|x| x.id.0).collect();
        assert_eq!(
            sorted(listed),
            sorted(expected),
            "channels under {predicate:?}"
        );
    }
    assert!(
        distinct_store_sets.len() >= 8,
        "only {} distinct store selections",
        distinct_store_sets.len()
    );
}

async fn pages_visit_every_row_once(db: TestDb) {
    let org = seed_org(&db).await;
    let tenant = org.tenant;
    let all: Vec<Uuid> = org.stores.iter().map(|x| x.id.0).collect();
    // Limits that divide the row count, leave a remainder, equal it and exceed it.
    for limit in [1, 2, 3, 4, 5, 6, 7, 200] {
        let walked = walk_pages(limit, |page| {
            let db = &db;
            async move {
                let mut s = db.read().await;
                org::list_stores(&mut s, tenant, &ScopePredicate::Any, None, page).await
            }
        });
        let walked: Vec<Uuid> = walked.await.iter().map(|x| x.id.0).collect();
        assert_eq!(
            walked,
            sorted(all.clone()),
            "limit {limit}: every row once, in id order"
        );
    }

    // A cursor is a position, not a row: it keeps working after its row is gone from the scope.
    let first = walk_first_page(&db, tenant, 2).await;
    let hotel_only = ScopePredicate::FormatIn(BTreeSet::from([org.formats[1].id]));
    let mut s = db.read().await;
    let page = huiyuan_domain::paging::PageRequest::parse(Some(10), first.as_deref()).unwrap();
    let rest = org::list_stores(&mut s, tenant, &hotel_only, None, page)
        .await
        .unwrap();
    assert_eq!(
        rest.items.len(),
        3,
        "the hotel stores all sort after the first two retail stores"
    );
    assert_eq!(rest.next_cursor, None);
}

async fn walk_first_page(db: &TestDb, tenant: TenantId, limit: u32) -> Option<String> {
    let mut s = db.read().await;
    let page = huiyuan_domain::paging::PageRequest::first(limit);
    org::list_stores(&mut s, tenant, &ScopePredicate::Any, None, page)
        .await
        .unwrap()
        .next_cursor
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}
